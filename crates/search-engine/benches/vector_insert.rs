//! Vector indexing throughput and recall: how fast [`AnnVectorIndex`] takes batches of upserts
//! (write-ahead log, fsync and graph inserts included), how much of that is the HNSW graph
//! itself, and recall@10 of the resulting index against an exact scan of the same vectors.
//!
//! Run: `cargo bench -p looma-search-engine --bench vector_insert`. Settings (environment):
//! `LOOMA_BENCH_VECTORS` (default 100000), `LOOMA_BENCH_BATCH` (1000), `LOOMA_BENCH_QUERIES`
//! (200), `LOOMA_BENCH_DATA` (`clustered`, `uniform` or `both`, default `both`),
//! `LOOMA_BENCH_GRAPH_ONLY` (`1`: also time bare usearch inserts, no log, same parameters),
//! and the HNSW parameters `LOOMA_BENCH_CONNECTIVITY`, `LOOMA_BENCH_EXPANSION_ADD`,
//! `LOOMA_BENCH_EXPANSION_SEARCH` (default: [`AnnVectorOptions::default`]).
//!
//! Data (384 dimensions, unit vectors): `clustered` is what `looma_search::corpus` makes for
//! the search benchmarks (24 random centroids, each vector a centroid plus 0.35 of a random
//! unit direction; queries at 0.5); `uniform` is uniformly random directions, the hardest case
//! for a graph index (no structure at all). Both are synthetic: real embeddings have a lower
//! intrinsic dimension, so their recall is usually higher than `uniform`'s. Prints the numbers;
//! nothing is asserted.

use std::time::Instant;

use looma_search_engine::embedded::{AnnVectorIndex, AnnVectorOptions};
use looma_search_engine::{
    Collection, DocumentFields, Filters, Metric, VectorIndex, VectorPoint, VectorQuery,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DIMENSION: usize = 384;
const CENTROIDS: usize = 24;

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn unit_vector(rng: &mut StdRng) -> Vec<f32> {
    normalized(
        (0..DIMENSION)
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect(),
    )
}

fn near(centroid: &[f32], noise: f32, rng: &mut StdRng) -> Vec<f32> {
    let jitter = unit_vector(rng);
    normalized(
        centroid
            .iter()
            .zip(jitter)
            .map(|(c, j)| c + noise * j)
            .collect(),
    )
}

/// `count` data vectors and `queries` query vectors of one kind of data.
fn data_set(kind: &str, count: usize, queries: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = StdRng::seed_from_u64(2026);
    match kind {
        "uniform" => (
            (0..count).map(|_| unit_vector(&mut rng)).collect(),
            (0..queries).map(|_| unit_vector(&mut rng)).collect(),
        ),
        _ => {
            let centroids: Vec<Vec<f32>> = (0..CENTROIDS).map(|_| unit_vector(&mut rng)).collect();
            let data = (0..count)
                .map(|i| near(&centroids[i % CENTROIDS], 0.35, &mut rng))
                .collect();
            let probes = (0..queries)
                .map(|_| {
                    let c = rng.gen_range(0..CENTROIDS);
                    near(&centroids[c], 0.5, &mut rng)
                })
                .collect();
            (data, probes)
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The exact 10 nearest (by cosine; all vectors are unit length) of every query, on two threads.
fn exact_top10(data: &[Vec<f32>], queries: &[Vec<f32>]) -> Vec<Vec<usize>> {
    let half = queries.len().div_ceil(2).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = queries
            .chunks(half)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|q| {
                            let mut scored: Vec<(f32, usize)> = data
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (dot(q, v), i))
                                .collect();
                            let k = 10.min(scored.len() - 1);
                            scored.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
                            scored[..10.min(scored.len())].iter().map(|s| s.1).collect()
                        })
                        .collect::<Vec<Vec<usize>>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().expect("exact scan"))
            .collect()
    })
}

/// CPU time this process used so far (user + system, from `/proc/self/stat`; Linux only, in
/// clock ticks of 1/100 s). On a machine shared with other work, CPU seconds per vector say
/// more than wall time does.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

fn options() -> AnnVectorOptions {
    let defaults = AnnVectorOptions::default();
    AnnVectorOptions {
        connectivity: env_usize("LOOMA_BENCH_CONNECTIVITY").unwrap_or(defaults.connectivity),
        expansion_add: env_usize("LOOMA_BENCH_EXPANSION_ADD").unwrap_or(defaults.expansion_add),
        expansion_search: env_usize("LOOMA_BENCH_EXPANSION_SEARCH")
            .unwrap_or(defaults.expansion_search),
        ..defaults
    }
}

/// Bare usearch inserts with the same parameters (and the same bfloat16 graph) from two
/// threads: the graph's share of the indexing time.
fn graph_only(data: &[Vec<f32>], options: &AnnVectorOptions) -> (f64, f64) {
    let graph = usearch::Index::new(&usearch::IndexOptions {
        dimensions: DIMENSION,
        metric: usearch::MetricKind::IP,
        quantization: usearch::ScalarKind::BF16,
        connectivity: options.connectivity,
        expansion_add: options.expansion_add,
        expansion_search: options.expansion_search,
        multi: false,
    })
    .expect("graph");
    graph
        .reserve_capacity_and_threads(data.len(), 2)
        .expect("reserve");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let half = data.len().div_ceil(2).max(1);
    std::thread::scope(|scope| {
        for (part, chunk) in data.chunks(half).enumerate() {
            let graph = &graph;
            scope.spawn(move || {
                for (i, v) in chunk.iter().enumerate() {
                    graph.add((part * half + i) as u64, v).expect("add");
                }
            });
        }
    });
    let cpu = cpu_before
        .zip(cpu_seconds())
        .map(|(before, after)| after - before);
    (started.elapsed().as_secs_f64(), cpu.unwrap_or(f64::NAN))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count = env_usize("LOOMA_BENCH_VECTORS").unwrap_or(100_000);
    let batch = env_usize("LOOMA_BENCH_BATCH").unwrap_or(1_000);
    let queries = env_usize("LOOMA_BENCH_QUERIES").unwrap_or(200);
    let kinds: Vec<&str> = match std::env::var("LOOMA_BENCH_DATA").as_deref() {
        Ok("clustered") => vec!["clustered"],
        Ok("uniform") => vec!["uniform"],
        _ => vec!["clustered", "uniform"],
    };
    let options = options();
    println!(
        "{count} vectors × {DIMENSION}, batches of {batch}, {queries} queries; connectivity {}, \
         expansion_add {}, expansion_search {}",
        options.connectivity, options.expansion_add, options.expansion_search
    );
    for kind in kinds {
        let (data, probes) = data_set(kind, count, queries);
        let dir = tempfile::tempdir().expect("tempdir");
        let index = AnnVectorIndex::open_with_options(dir.path(), DIMENSION, options.clone())
            .expect("open");
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        for (n, chunk) in data.chunks(batch).enumerate() {
            let points: Vec<VectorPoint> = chunk
                .iter()
                .enumerate()
                .map(|(i, v)| VectorPoint {
                    id: format!("p{}", n * batch + i),
                    vector: v.clone(),
                    fields: DocumentFields::default(),
                })
                .collect();
            index
                .upsert(Collection::Resumes, &points)
                .await
                .expect("upsert");
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu = cpu_before
            .zip(cpu_seconds())
            .map(|(before, after)| after - before);

        let truth = exact_top10(&data, &probes);
        let mut found = 0usize;
        let started = Instant::now();
        for (q, wanted) in probes.iter().zip(&truth) {
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
            found += hits
                .iter()
                .filter(|h| wanted.iter().any(|w| h.id == format!("p{w}")))
                .count();
        }
        let search_ms = started.elapsed().as_secs_f64() * 1000.0 / probes.len().max(1) as f64;
        let recall = found as f64 / (probes.len() * 10).max(1) as f64;
        println!(
            "{kind:<9}  index {:>7.0} vectors/s ({seconds:.1} s wall, {} CPU)  recall@10 \
             {recall:.4}  search {search_ms:.2} ms/query",
            count as f64 / seconds,
            cpu.map_or("?".to_string(), |cpu| format!("{cpu:.1} s")),
        );
        drop(index);
        if std::env::var("LOOMA_BENCH_GRAPH_ONLY").as_deref() == Ok("1") {
            let (seconds, cpu) = graph_only(&data, &options);
            println!(
                "{kind:<9}  bare usearch inserts {:>7.0} vectors/s ({seconds:.1} s wall, \
                 {cpu:.1} s CPU)",
                count as f64 / seconds
            );
        }
    }
}
