//! Vector compaction: a graph whose points were updated (leaving tombstones) is rebuilt from
//! its live points while writes go on; recall@10 against an exact scan is measured before and
//! after. Bounded size here; `benches/compaction.rs` measures 100k × 384.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use looma_search_engine::embedded::{AnnVectorIndex, AnnVectorOptions};
use looma_search_engine::{
    Collection, DocumentFields, Filters, Metric, VectorIndex, VectorPoint, VectorQuery,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIMENSION: usize = 32;
const POINTS: usize = 4_000;
const QUERIES: usize = 100;

fn unit_vector(rng: &mut StdRng) -> Vec<f32> {
    let v: Vec<f32> = (0..DIMENSION)
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.into_iter().map(|x| x / norm).collect()
}

fn point(id: String, vector: Vec<f32>) -> VectorPoint {
    VectorPoint {
        id,
        vector,
        fields: DocumentFields::default(),
    }
}

fn query(vector: Vec<f32>, top_k: usize) -> VectorQuery {
    VectorQuery {
        collection: Collection::Resumes,
        vector,
        top_k,
        filters: Filters::default(),
        metric: Metric::Cosine,
    }
}

/// Mean share of the exact top 10 (by cosine over `truth`) the index returns.
async fn recall_at_10(
    index: &AnnVectorIndex,
    truth: &HashMap<String, Vec<f32>>,
    queries: &[Vec<f32>],
) -> f64 {
    let mut found = 0usize;
    for q in queries {
        let mut exact: Vec<(f32, &String)> = truth
            .iter()
            .map(|(id, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), id))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let wanted: Vec<&String> = exact.iter().take(10).map(|(_, id)| *id).collect();
        let hits = index.search(&query(q.clone(), 10)).await.expect("search");
        found += hits.iter().filter(|h| wanted.contains(&&h.id)).count();
    }
    found as f64 / (queries.len() * 10) as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_drops_tombstones_keeps_recall_and_replays_writes_made_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let options = AnnVectorOptions {
        // The graph answers (not the exact scan) and nothing compacts by itself.
        exact_scan_below: 10,
        compact_tombstone_share: 2.0,
        ..AnnVectorOptions::default()
    };
    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options.clone()).unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut truth: HashMap<String, Vec<f32>> = HashMap::new();
    let initial: Vec<VectorPoint> = (0..POINTS)
        .map(|i| point(format!("p{i}"), unit_vector(&mut rng)))
        .collect();
    for p in &initial {
        truth.insert(p.id.clone(), p.vector.clone());
    }
    index.upsert(Collection::Resumes, &initial).await.unwrap();
    // 30% updated: new vectors under the same ids.
    let updated: Vec<VectorPoint> = (0..POINTS * 3 / 10)
        .map(|i| point(format!("p{}", i * 3), unit_vector(&mut rng)))
        .collect();
    for p in &updated {
        truth.insert(p.id.clone(), p.vector.clone());
    }
    index.upsert(Collection::Resumes, &updated).await.unwrap();
    let queries: Vec<Vec<f32>> = (0..QUERIES).map(|_| unit_vector(&mut rng)).collect();
    let before = recall_at_10(&index, &truth, &queries).await;

    // Writes keep arriving while the graph is rebuilt.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let index = index.clone();
        let writing = Arc::clone(&writing);
        let mut rng = StdRng::seed_from_u64(11);
        tokio::spawn(async move {
            let mut late = Vec::new();
            let mut n = 0;
            while writing.load(Ordering::Acquire) || n < 5 {
                let p = point(format!("late{n}"), unit_vector(&mut rng));
                index
                    .upsert(Collection::Resumes, std::slice::from_ref(&p))
                    .await
                    .unwrap();
                late.push(p);
                n += 1;
                tokio::task::yield_now().await;
            }
            late
        })
    };
    let done = index
        .compact(Collection::Resumes)
        .await
        .unwrap()
        .expect("compacted");
    writing.store(false, Ordering::Release);
    let late = writer.await.unwrap();
    assert_eq!(done.removed_tombstones, updated.len() as u64, "{done:?}");
    assert!(done.points >= POINTS as u64, "{done:?}");
    for p in &late {
        truth.insert(p.id.clone(), p.vector.clone());
    }
    assert_eq!(
        index.count(Collection::Resumes).await.unwrap(),
        truth.len() as u64,
        "no write made during the rebuild is lost"
    );
    for p in &late {
        let hits = index.search(&query(p.vector.clone(), 1)).await.unwrap();
        assert_eq!(
            hits[0].id, p.id,
            "a write made during the rebuild is searchable"
        );
    }
    let after = recall_at_10(&index, &truth, &queries).await;
    eprintln!(
        "recall@10 at {POINTS}×{DIMENSION}, 30% updated: before {before:.4}, after compaction {after:.4} ({:.2} s, {} writes replayed)",
        done.seconds, done.replayed_writes
    );
    assert!(after >= 0.95, "recall after compaction {after}");
    assert!(
        after + 0.01 >= before,
        "compaction lost recall: {before} → {after}"
    );

    // The compacted graph is what a restart loads, with every point.
    drop(index);
    let reopened = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options).unwrap();
    assert_eq!(
        reopened.count(Collection::Resumes).await.unwrap(),
        truth.len() as u64
    );
    let again = recall_at_10(&reopened, &truth, &queries).await;
    assert!((again - after).abs() < 0.01, "{again} vs {after}");
}

#[tokio::test]
async fn past_the_tombstone_share_a_compaction_starts_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let options = AnnVectorOptions {
        compact_tombstone_share: 0.2,
        compact_min_tombstones: 50,
        ..AnnVectorOptions::default()
    };
    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let points: Vec<VectorPoint> = (0..200)
        .map(|i| point(format!("p{i}"), unit_vector(&mut rng)))
        .collect();
    index.upsert(Collection::Jobs, &points).await.unwrap();
    // 60 replaced of 200 live: 60 / 260 > 0.2, and at least 50.
    let replaced: Vec<VectorPoint> = (0..60)
        .map(|i| point(format!("p{i}"), unit_vector(&mut rng)))
        .collect();
    index.upsert(Collection::Jobs, &replaced).await.unwrap();
    // The background compaction ends with a snapshot (none was due otherwise).
    let snapshot = dir.path().join("jobs/v1/CURRENT");
    for _ in 0..250 {
        if snapshot.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(snapshot.exists(), "the background compaction ran");
    let done = index
        .compact(Collection::Jobs)
        .await
        .unwrap()
        .expect("compacted");
    assert_eq!(
        done.removed_tombstones, 0,
        "nothing left for an explicit one"
    );
    assert_eq!(index.count(Collection::Jobs).await.unwrap(), 200);
}
