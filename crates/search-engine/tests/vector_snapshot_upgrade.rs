//! A vector collection written before the graph went bfloat16 (snapshot format 1: an f32
//! usearch graph, `points-<gen>.json`, no directions file, `CURRENT` without `format`) opens
//! without loss: the layout is built here by hand, as the old code wrote it, with a tombstone
//! in the graph and a write-ahead log holding writes made after the snapshot.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use looma_search_engine::embedded::{AnnVectorIndex, AnnVectorOptions};
use looma_search_engine::{
    Collection, DocumentFields, Filters, Metric, VectorIndex, VectorPoint, VectorQuery,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIMENSION: usize = 32;
const POINTS: usize = 3_000;

fn random_vector(rng: &mut StdRng) -> Vec<f32> {
    // Norms between 0.5 and 2: dot and euclidean scores depend on them.
    let v: Vec<f32> = (0..DIMENSION)
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let scale = rng.gen_range(0.5f32..2.0) / norm;
    v.into_iter().map(|x| x * scale).collect()
}

fn split(vector: &[f32]) -> (Vec<f32>, f32) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    (vector.iter().map(|x| x / norm).collect(), norm)
}

fn fields(i: usize) -> DocumentFields {
    DocumentFields {
        city: Some(
            if i.is_multiple_of(10) {
                "Hangzhou"
            } else {
                "Beijing"
            }
            .into(),
        ),
        ..DocumentFields::default()
    }
}

/// One framed log record as `vector_log` writes it: `u32` length, `u64` FNV-1a, payload.
fn log_record(payload: &[u8], out: &mut Vec<u8>) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in payload {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&hash.to_le_bytes());
    out.extend_from_slice(payload);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn upsert_record(key: u64, id: &str, vector: &[f32], out: &mut Vec<u8>) {
    let (direction, norm) = split(vector);
    let mut payload = vec![1u8];
    payload.extend_from_slice(&key.to_le_bytes());
    put_str(&mut payload, id);
    put_str(
        &mut payload,
        &serde_json::to_string(&DocumentFields::default()).unwrap(),
    );
    payload.extend_from_slice(&norm.to_le_bytes());
    payload.extend_from_slice(&(direction.len() as u32).to_le_bytes());
    for value in direction {
        payload.extend_from_slice(&value.to_le_bytes());
    }
    log_record(&payload, out);
}

fn delete_record(id: &str, out: &mut Vec<u8>) {
    let mut payload = vec![2u8];
    put_str(&mut payload, id);
    log_record(&payload, out);
}

/// Writes generation 1 of version 1 of `resumes` in format 1 and returns the vectors the
/// collection holds once its log is replayed.
fn write_format_1(root: &Path, rng: &mut StdRng) -> HashMap<String, Vec<f32>> {
    let collection = root.join("resumes");
    let version = collection.join("v1");
    fs::create_dir_all(&version).unwrap();
    fs::write(collection.join("LIVE"), "1\n").unwrap();

    let graph = usearch::Index::new(&usearch::IndexOptions {
        dimensions: DIMENSION,
        metric: usearch::MetricKind::IP,
        quantization: usearch::ScalarKind::F32,
        connectivity: 16,
        expansion_add: 64,
        expansion_search: 96,
        multi: false,
    })
    .unwrap();
    graph.reserve(POINTS + 1).unwrap();
    let mut vectors = HashMap::new();
    let mut points = Vec::new();
    for i in 0..POINTS {
        let vector = random_vector(rng);
        let (direction, norm) = split(&vector);
        graph.add(i as u64, &direction).unwrap();
        points.push(serde_json::json!({
            "key": i, "id": format!("p{i}"), "norm": norm, "fields": fields(i),
        }));
        vectors.insert(format!("p{i}"), vector);
    }
    // A replaced point: its old copy stays in the graph as a tombstone.
    let replaced = random_vector(rng);
    graph.add(POINTS as u64, &split(&replaced).0).unwrap();
    graph.remove(POINTS as u64).unwrap();
    graph
        .save(&version.join("graph-1.usearch").to_string_lossy())
        .unwrap();
    fs::write(
        version.join("points-1.json"),
        serde_json::to_vec(&points).unwrap(),
    )
    .unwrap();
    fs::write(
        version.join("CURRENT"),
        format!(r#"{{"generation":1,"dimension":{DIMENSION},"tombstones":1}}"#),
    )
    .unwrap();

    // Writes after the snapshot: one new point, one removed.
    let mut log = Vec::new();
    let added = random_vector(rng);
    upsert_record(POINTS as u64 + 1, "added", &added, &mut log);
    delete_record("p7", &mut log);
    fs::write(version.join("log-1.bin"), log).unwrap();
    vectors.insert("added".into(), added);
    vectors.remove("p7");
    vectors
}

fn query(vector: &[f32], metric: Metric, filters: Filters) -> VectorQuery {
    VectorQuery {
        collection: Collection::Resumes,
        vector: vector.to_vec(),
        top_k: 10,
        filters,
        metric,
    }
}

/// The exact top 10 by `metric` over `vectors` (score as the index reports it).
fn exact_top10(
    vectors: &HashMap<String, Vec<f32>>,
    q: &[f32],
    metric: Metric,
    only: impl Fn(&str) -> bool,
) -> Vec<(String, f32)> {
    let (q_direction, q_norm) = split(q);
    let mut scored: Vec<(String, f32)> = vectors
        .iter()
        .filter(|(id, _)| only(id))
        .map(|(id, v)| {
            let (direction, norm) = split(v);
            let cosine: f32 = direction.iter().zip(&q_direction).map(|(a, b)| a * b).sum();
            let score = match metric {
                Metric::Cosine => cosine,
                Metric::Dot => cosine * norm * q_norm,
                Metric::Euclidean => {
                    let squared = norm * norm + q_norm * q_norm - 2.0 * cosine * norm * q_norm;
                    1.0 / (1.0 + squared.max(0.0).sqrt())
                }
            };
            (id.clone(), score)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored.truncate(10);
    scored
}

/// Every metric, with and without a filter, scanned exactly: the ids and scores of the
/// f32 vectors written, to f32 rounding (a bfloat16 copy would be off by ~1e-3).
async fn assert_exact(index: &AnnVectorIndex, vectors: &HashMap<String, Vec<f32>>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let hangzhou = Filters {
        cities: vec!["Hangzhou".into()],
        ..Filters::default()
    };
    for _ in 0..20 {
        let q = random_vector(&mut rng);
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            for filtered in [false, true] {
                let filters = if filtered {
                    hangzhou.clone()
                } else {
                    Filters::default()
                };
                let hits = index.search(&query(&q, metric, filters)).await.unwrap();
                let wanted = exact_top10(vectors, &q, metric, |id| {
                    !filtered
                        || id
                            .strip_prefix('p')
                            .and_then(|n| n.parse::<usize>().ok())
                            .is_some_and(|n| n.is_multiple_of(10))
                });
                let got: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
                let expected: Vec<&str> = wanted.iter().map(|(id, _)| id.as_str()).collect();
                assert_eq!(got, expected, "{metric:?}, filtered {filtered}");
                for (hit, (_, score)) in hits.iter().zip(&wanted) {
                    assert!(
                        (hit.score - score).abs() < 1e-5,
                        "{metric:?}: score {} for {}, exact {score}",
                        hit.score,
                        hit.id
                    );
                }
            }
        }
    }
}

/// Mean share of the exact cosine top 10 the graph path returns.
async fn graph_recall(index: &AnnVectorIndex, vectors: &HashMap<String, Vec<f32>>) -> f64 {
    let mut rng = StdRng::seed_from_u64(99);
    let mut found = 0;
    for _ in 0..50 {
        let q = random_vector(&mut rng);
        let wanted = exact_top10(vectors, &q, Metric::Cosine, |_| true);
        let hits = index
            .search(&query(&q, Metric::Cosine, Filters::default()))
            .await
            .unwrap();
        found += hits
            .iter()
            .filter(|h| wanted.iter().any(|(id, _)| *id == h.id))
            .count();
    }
    found as f64 / 500.0
}

fn current(root: &Path) -> serde_json::Value {
    let text = fs::read_to_string(root.join("resumes/v1/CURRENT")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_snapshot_with_an_f32_graph_opens_exactly_and_is_upgraded_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(2026);
    let vectors = write_format_1(dir.path(), &mut rng);
    let exact = AnnVectorOptions {
        exact_scan_below: 1_000_000,
        ..AnnVectorOptions::default()
    };
    let graph_only = AnnVectorOptions {
        exact_scan_below: 10,
        ..AnnVectorOptions::default()
    };

    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, exact.clone()).unwrap();
    assert_eq!(
        index.count(Collection::Resumes).await.unwrap(),
        POINTS as u64
    );
    assert_exact(&index, &vectors, 1).await;
    drop(index);

    // Upgraded at that open: a format-2 snapshot, the old generation gone; the rebuild
    // dropped the snapshot's tombstone, the logged delete (replayed after it) left one.
    let upgraded = current(dir.path());
    assert_eq!(upgraded["format"], 2);
    assert_eq!(upgraded["tombstones"], 1);
    let generation = upgraded["generation"].as_u64().unwrap();
    assert!(generation > 1);
    let version = dir.path().join("resumes/v1");
    assert!(
        version
            .join(format!("directions-{generation}.bin"))
            .exists()
    );
    assert!(!version.join("graph-1.usearch").exists());
    assert!(!version.join("log-1.bin").exists());

    // Reopened from the new format: the same answers, and the graph finds the neighbours.
    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, exact).unwrap();
    assert_eq!(
        index.count(Collection::Resumes).await.unwrap(),
        POINTS as u64
    );
    assert_exact(&index, &vectors, 1).await;
    drop(index);
    assert_eq!(
        current(dir.path())["generation"].as_u64(),
        Some(generation),
        "nothing to upgrade twice"
    );
    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, graph_only).unwrap();
    let recall = graph_recall(&index, &vectors).await;
    assert!(recall >= 0.9, "graph recall@10 {recall}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_directions_survive_snapshots_compaction_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = AnnVectorOptions {
        exact_scan_below: 1_000_000,
        compact_tombstone_share: 2.0,
        ..AnnVectorOptions::default()
    };
    let mut rng = StdRng::seed_from_u64(5);
    let mut vectors = HashMap::new();
    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options.clone()).unwrap();
    // A fresh random point `p{i}`, remembered as the truth.
    let mut point = |i: usize| {
        let vector = random_vector(&mut rng);
        vectors.insert(format!("p{i}"), vector.clone());
        VectorPoint {
            id: format!("p{i}"),
            vector,
            fields: fields(i),
        }
    };
    let points: Vec<VectorPoint> = (0..POINTS).map(&mut point).collect();
    // Replace a third, then compact: the rebuilt graph and its snapshot keep exact vectors.
    let replaced: Vec<VectorPoint> = (0..POINTS / 3).map(|n| point(n * 3)).collect();
    index.upsert(Collection::Resumes, &points).await.unwrap();
    index.flush().await.unwrap();
    index.upsert(Collection::Resumes, &replaced).await.unwrap();
    assert_exact(&index, &vectors, 2).await;
    let compaction = index.compact(Collection::Resumes).await.unwrap().unwrap();
    assert_eq!(compaction.points, POINTS as u64);
    assert_exact(&index, &vectors, 3).await;
    drop(index);

    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options).unwrap();
    assert_eq!(
        index.count(Collection::Resumes).await.unwrap(),
        POINTS as u64
    );
    assert_exact(&index, &vectors, 4).await;
}
