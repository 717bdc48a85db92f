//! Sentences per second of all-MiniLM-L6-v2 on candle for batch sizes 1, 8 and 32, over ~200
//! recruiting sentences (job titles and resume lines, English and Chinese).
//!
//! Run: `cargo bench -p looma-embed` (needs `scripts/install-model`). The thread count candle
//! uses follows `RAYON_NUM_THREADS` (default: the physical cores); compare with
//! `RAYON_NUM_THREADS=1 cargo bench -p looma-embed`. `EMBED_BENCH_SECONDS` sets the time
//! spent per batch size (default 5). `scripts/bench/embed_st.py` measures sentence-transformers
//! on the same sentences.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use looma_embed::{DEFAULT_MODEL_DIR, Embedder, MiniLmEmbedder};

const SENTENCES: &str = include_str!("recruiting_sentences.txt");
const BATCH_SIZES: [usize; 3] = [1, 8, 32];

fn model_dir() -> PathBuf {
    match std::env::var_os("LOOMA_EMBED__MODEL_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_MODEL_DIR),
    }
}

fn main() {
    let seconds_per_size: f64 = std::env::var("EMBED_BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5.0);
    let sentences: Vec<&str> = SENTENCES.lines().filter(|line| !line.is_empty()).collect();

    let load_started = Instant::now();
    let embedder = match MiniLmEmbedder::load(&model_dir()) {
        Ok(embedder) => embedder,
        Err(error) => {
            eprintln!("embed_throughput: {error}");
            std::process::exit(1);
        }
    };
    println!(
        "model loaded in {:.0} ms; {} sentences; RAYON_NUM_THREADS={}",
        load_started.elapsed().as_secs_f64() * 1000.0,
        sentences.len(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".to_owned())
    );

    embed_all(&embedder, &sentences, 32); // warm-up: page in weights, size allocations
    for batch_size in BATCH_SIZES {
        let budget = Duration::from_secs_f64(seconds_per_size);
        let started = Instant::now();
        let mut embedded = 0usize;
        while started.elapsed() < budget {
            embedded += embed_all(&embedder, &sentences, batch_size);
        }
        let rate = embedded as f64 / started.elapsed().as_secs_f64();
        println!("batch {batch_size:>2}: {rate:7.1} sentences/s ({embedded} sentences)");
    }
}

fn embed_all(embedder: &MiniLmEmbedder, sentences: &[&str], batch_size: usize) -> usize {
    let mut embedded = 0;
    for batch in sentences.chunks(batch_size) {
        match embedder.embed(batch) {
            Ok(vectors) => embedded += vectors.len(),
            Err(error) => {
                eprintln!("embed_throughput: {error}");
                std::process::exit(1);
            }
        }
    }
    embedded
}
