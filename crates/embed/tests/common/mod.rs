//! Finding the installed model for tests that need it. Such tests fail, never skip, when it
//! is missing: CI installs it with `scripts/install-model` before running them.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use looma_embed::{DEFAULT_MODELS_DIR, E5Embedder, EmbedModel, MiniLmEmbedder};

/// `LOOMA_EMBED__MODELS_DIR` if set, else the default directory under the workspace root.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("LOOMA_EMBED__MODELS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_MODELS_DIR),
    }
}

/// The directory of all-MiniLM-L6-v2.
pub fn model_dir() -> PathBuf {
    models_dir().join(EmbedModel::AllMiniLmL6V2.directory_name())
}

/// The directory of multilingual-e5-small.
pub fn e5_dir() -> PathBuf {
    models_dir().join(EmbedModel::MultilingualE5Small.directory_name())
}

fn needs_model(error: impl std::fmt::Display) -> ! {
    panic!(
        "this test needs the embedding model: {error}\n\
         (CI runs `scripts/install-model` first; set LOOMA_EMBED__MODELS_DIR to use another \
         directory)"
    )
}

/// all-MiniLM-L6-v2, loaded once per test binary. Panics with the install command when absent.
pub fn embedder() -> Arc<MiniLmEmbedder> {
    static EMBEDDER: OnceLock<Arc<MiniLmEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            Arc::new(MiniLmEmbedder::load(&model_dir()).unwrap_or_else(|e| needs_model(e)))
        })
        .clone()
}

/// multilingual-e5-small, loaded once per test binary. Panics with the install command when
/// absent.
pub fn e5() -> Arc<E5Embedder> {
    static EMBEDDER: OnceLock<Arc<E5Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(E5Embedder::load(&e5_dir()).unwrap_or_else(|e| needs_model(e))))
        .clone()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn norm(vector: &[f32]) -> f32 {
    cosine(vector, vector).sqrt()
}

pub fn max_abs_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "vectors of different widths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
