//! Sentence embeddings computed in-process: all-MiniLM-L6-v2 (384 dimensions) on candle.
//!
//! Services hold an [`EmbeddingService`]: cheap to clone, loads the model lazily, runs inference
//! off the async runtime with bounded concurrency and caches recent single-text embeddings.
//! [`MiniLmEmbedder`] is the model itself behind the [`Embedder`] trait, so tests and benches
//! can swap in other embedders.
//!
//! The model files are not part of the repository: `scripts/install-model` puts them into
//! [`DEFAULT_MODEL_DIR`] (or another directory). While they are missing every call answers
//! [`EmbedError::ModelUnavailable`], whose message names that script.
//!
//! Vectors follow sentence-transformers semantics: WordPiece tokens truncated at
//! [`MAX_SEQUENCE_TOKENS`], mean pooling over the attention mask, then L2 normalisation.

mod batching;
mod error;
mod minilm;
mod service;

use std::path::PathBuf;

pub use error::EmbedError;
pub use minilm::{MAX_SEQUENCE_TOKENS, MiniLmEmbedder, TokenizedBatch};
pub use service::{EmbedConfig, EmbeddingService};

/// Width of every all-MiniLM-L6-v2 vector.
pub const MINILM_DIMENSION: usize = 384;

/// Where `scripts/install-model` puts the model, relative to the repository root.
pub const DEFAULT_MODEL_DIR: &str = "data/models/all-MiniLM-L6-v2";

/// Something that turns texts into fixed-width vectors.
pub trait Embedder: Send + Sync {
    /// Stable name of the model, stored next to vectors so indexes can tell models apart.
    fn model_id(&self) -> &str;

    /// Width of every vector this embedder returns.
    fn dimension(&self) -> usize;

    /// L2-normalised vectors, one per text, in the order of `texts` (sentence-transformers
    /// semantics: mean pooling over the attention mask, then normalisation).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

fn model_unavailable(path: impl Into<PathBuf>, reason: impl Into<String>) -> EmbedError {
    EmbedError::ModelUnavailable {
        path: path.into(),
        reason: reason.into(),
    }
}
