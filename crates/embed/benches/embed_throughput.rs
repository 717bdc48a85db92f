//! Sentences per second of each embedding model (multilingual-e5-small, all-MiniLM-L6-v2) for
//! batch sizes 1, 8 and 32, over ~200 recruiting sentences (job titles and resume lines,
//! English and Chinese), embedded as passages.
//!
//! Run: `cargo bench -p looma-embed` (needs `scripts/install-model`); `EMBED_BENCH_MODEL=e5`
//! or `=minilm` measures one model only. The thread count candle
//! uses follows `RAYON_NUM_THREADS` (default: the physical cores); compare with
//! `RAYON_NUM_THREADS=1 cargo bench -p looma-embed`. `EMBED_BENCH_SECONDS` sets the time
//! spent per batch size (default 5). `scripts/bench/embed_st.py` measures sentence-transformers
//! on the same sentences.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use looma_embed::{
    DEFAULT_MODELS_DIR, E5Embedder, EmbedError, EmbedModel, Embedder, MiniLmEmbedder, TextKind,
};

const SENTENCES: &str = include_str!("recruiting_sentences.txt");
const BATCH_SIZES: [usize; 3] = [1, 8, 32];

fn model_dir(model: EmbedModel) -> PathBuf {
    let root = match std::env::var_os("LOOMA_EMBED__MODELS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_MODELS_DIR),
    };
    root.join(model.directory_name())
}

fn load(model: EmbedModel) -> Result<Box<dyn Embedder>, EmbedError> {
    let dir = model_dir(model);
    Ok(match model {
        EmbedModel::MultilingualE5Small => Box::new(E5Embedder::load(&dir)?),
        EmbedModel::AllMiniLmL6V2 => Box::new(MiniLmEmbedder::load(&dir)?),
    })
}

fn main() {
    let seconds_per_size: f64 = std::env::var("EMBED_BENCH_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5.0);
    let sentences: Vec<&str> = SENTENCES.lines().filter(|line| !line.is_empty()).collect();
    let only = std::env::var("EMBED_BENCH_MODEL").unwrap_or_default();
    for (name, model) in [
        ("e5", EmbedModel::MultilingualE5Small),
        ("minilm", EmbedModel::AllMiniLmL6V2),
    ] {
        if only.is_empty() || only == name {
            measure(model, &sentences, seconds_per_size);
        }
    }
}

fn measure(model: EmbedModel, sentences: &[&str], seconds_per_size: f64) {
    let load_started = Instant::now();
    let embedder = match load(model) {
        Ok(embedder) => embedder,
        Err(error) => {
            eprintln!("embed_throughput: {error}");
            std::process::exit(1);
        }
    };
    println!(
        "{}: loaded in {:.0} ms; {} sentences; RAYON_NUM_THREADS={}",
        embedder.model_id(),
        load_started.elapsed().as_secs_f64() * 1000.0,
        sentences.len(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "unset".to_owned())
    );

    embed_all(embedder.as_ref(), sentences, 32); // warm-up: page in weights, size allocations
    for batch_size in BATCH_SIZES {
        let budget = Duration::from_secs_f64(seconds_per_size);
        let started = Instant::now();
        let mut embedded = 0usize;
        while started.elapsed() < budget {
            embedded += embed_all(embedder.as_ref(), sentences, batch_size);
        }
        let rate = embedded as f64 / started.elapsed().as_secs_f64();
        println!("batch {batch_size:>2}: {rate:7.1} sentences/s ({embedded} sentences)");
    }
}

fn embed_all(embedder: &dyn Embedder, sentences: &[&str], batch_size: usize) -> usize {
    let mut embedded = 0;
    for batch in sentences.chunks(batch_size) {
        match embedder.embed(batch, TextKind::Passage) {
            Ok(vectors) => embedded += vectors.len(),
            Err(error) => {
                eprintln!("embed_throughput: {error}");
                std::process::exit(1);
            }
        }
    }
    embedded
}
