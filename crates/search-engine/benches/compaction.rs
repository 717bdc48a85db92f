//! Vector compaction at scale: recall@10 against an exact scan before and after compacting a
//! graph whose points were 30% updated, and how long inserts, updates and the rebuild take.
//!
//! Run: `cargo bench -p looma-search-engine --bench compaction` (vectors:
//! `LOOMA_BENCH_VECTORS`, default 100000; dimensions 384; queries: `LOOMA_BENCH_QUERIES`,
//! default 200). Prints the numbers; nothing is asserted.

use std::collections::HashMap;
use std::time::Instant;

use looma_search_engine::embedded::{AnnVectorIndex, AnnVectorOptions};
use looma_search_engine::{
    Collection, DocumentFields, Filters, Metric, VectorIndex, VectorPoint, VectorQuery,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIMENSION: usize = 384;
const BATCH: usize = 5_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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
        exact.select_nth_unstable_by(10, |a, b| b.0.total_cmp(&a.0));
        let wanted: Vec<&String> = exact[..10].iter().map(|(_, id)| *id).collect();
        let hits = index
            .search(&VectorQuery {
                collection: Collection::Resumes,
                vector: q.clone(),
                top_k: 10,
                filters: Filters::default(),
                metric: Metric::Cosine,
            })
            .await
            .expect("search");
        found += hits.iter().filter(|h| wanted.contains(&&h.id)).count();
    }
    found as f64 / (queries.len() * 10) as f64
}

#[tokio::main]
async fn main() {
    let vectors = env_usize("LOOMA_BENCH_VECTORS", 100_000);
    let queries = env_usize("LOOMA_BENCH_QUERIES", 200);
    let dir = tempfile::tempdir().expect("tempdir");
    let options = AnnVectorOptions {
        exact_scan_below: 0,
        compact_tombstone_share: 2.0,
        ..AnnVectorOptions::default()
    };
    let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options).expect("open");
    let mut rng = StdRng::seed_from_u64(42);
    let mut truth: HashMap<String, Vec<f32>> = HashMap::with_capacity(vectors);

    let started = Instant::now();
    for start in (0..vectors).step_by(BATCH) {
        let batch: Vec<VectorPoint> = (start..(start + BATCH).min(vectors))
            .map(|i| point(format!("p{i}"), unit_vector(&mut rng)))
            .collect();
        for p in &batch {
            truth.insert(p.id.clone(), p.vector.clone());
        }
        index
            .upsert(Collection::Resumes, &batch)
            .await
            .expect("upsert");
    }
    let insert = started.elapsed().as_secs_f64();

    let updates = vectors * 3 / 10;
    let started = Instant::now();
    let ids: Vec<usize> = (0..vectors)
        .step_by(10)
        .flat_map(|i| [i, i + 3, i + 6])
        .collect();
    for chunk in ids.iter().take(updates).collect::<Vec<_>>().chunks(BATCH) {
        let batch: Vec<VectorPoint> = chunk
            .iter()
            .filter(|i| ***i < vectors)
            .map(|i| point(format!("p{i}"), unit_vector(&mut rng)))
            .collect();
        for p in &batch {
            truth.insert(p.id.clone(), p.vector.clone());
        }
        index
            .upsert(Collection::Resumes, &batch)
            .await
            .expect("update");
    }
    let update = started.elapsed().as_secs_f64();

    let probes: Vec<Vec<f32>> = (0..queries).map(|_| unit_vector(&mut rng)).collect();
    let before = recall_at_10(&index, &truth, &probes).await;
    let done = index
        .compact(Collection::Resumes)
        .await
        .expect("compact")
        .expect("compacted");
    let after = recall_at_10(&index, &truth, &probes).await;

    println!("vectors {vectors} × {DIMENSION}, {updates} updated (30%), {queries} queries");
    println!(
        "insert      {insert:>8.2} s  {:>8.0} vectors/s",
        vectors as f64 / insert
    );
    println!(
        "update      {update:>8.2} s  {:>8.0} vectors/s",
        updates as f64 / update
    );
    println!(
        "compaction  {:>8.2} s  {} points, {} tombstones dropped",
        done.seconds, done.points, done.removed_tombstones
    );
    println!("recall@10   before {before:.4}  after {after:.4}");
}
