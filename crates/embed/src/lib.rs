//! Sentence embeddings computed in-process: multilingual-e5-small (the default; Chinese,
//! English and ~100 more languages, 4-bit) or all-MiniLM-L6-v2 (English), both 384 dimensions.
//!
//! Services hold an [`EmbeddingService`]: cheap to clone, loads the model lazily, runs inference
//! off the async runtime with bounded concurrency and caches recent single-text embeddings.
//! [`E5Embedder`] and [`MiniLmEmbedder`] are the models behind the [`Embedder`] trait, so tests
//! and benches can swap in other embedders. [`EmbedModel`] names them in config.
//!
//! The model files are not part of the repository: `scripts/install-model` puts each model into
//! its own directory under [`DEFAULT_MODELS_DIR`] (or another directory). While they are missing every call answers
//! [`EmbedError::ModelUnavailable`], whose message names that script.
//!
//! Vectors are mean-pooled and L2-normalised. A text is embedded as a search [`TextKind::Query`]
//! or as a stored [`TextKind::Passage`]: e5 reads them with different prefixes, so a query
//! must never be embedded as a passage or the other way round.

mod batching;
mod e5;
mod error;
mod minilm;
mod service;

use std::path::PathBuf;

pub use e5::{E5_MODEL_ID, E5Embedder, MAX_WINDOWS};
pub use error::EmbedError;
pub use minilm::{MAX_SEQUENCE_TOKENS, MiniLmEmbedder, TokenizedBatch};
pub use service::{EmbedConfig, EmbedModel, EmbeddingService};

/// Width of every all-MiniLM-L6-v2 vector.
pub const MINILM_DIMENSION: usize = 384;

/// The model of vectors stored before models were recorded beside them (the only one then).
pub const LEGACY_MODEL_ID: &str = "all-MiniLM-L6-v2";

/// Width of every multilingual-e5-small vector.
pub const E5_DIMENSION: usize = 384;

/// Where `scripts/install-model` puts the models (one directory each), relative to the
/// repository root.
pub const DEFAULT_MODELS_DIR: &str = "data/models";

/// A vector as the owners store it (a database `BLOB`/`bytea`): little-endian f32s.
pub fn vector_to_bytes(vector: &[f32]) -> Vec<u8> {
    vector
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect()
}

/// The vector [`vector_to_bytes`] stored (a trailing partial value is ignored).
pub fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// What a text is to the model: e5 was trained with `query: ` and `passage: ` prefixes and
/// reads the two differently; models without prefixes read both alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// A search query or question.
    Query,
    /// A stored document: a résumé, a job, a knowledge chunk.
    Passage,
}

/// Something that turns texts into fixed-width vectors.
pub trait Embedder: Send + Sync {
    /// Stable name of the model, stored next to vectors so indexes can tell models apart.
    fn model_id(&self) -> &str;

    /// Width of every vector this embedder returns.
    fn dimension(&self) -> usize;

    /// L2-normalised vectors, one per text, in the order of `texts`, each read as `kind`.
    fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>, EmbedError>;
}

fn model_unavailable(path: impl Into<PathBuf>, reason: impl Into<String>) -> EmbedError {
    EmbedError::ModelUnavailable {
        path: path.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_vectors_round_trip_bit_for_bit() {
        let vector = [0.0f32, -1.5, f32::MIN_POSITIVE, 3.25e-7, 1.0];
        let bytes = vector_to_bytes(&vector);
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[4..8], &(-1.5f32).to_le_bytes());
        assert_eq!(vector_from_bytes(&bytes), vector);
        // A truncated blob loses only its partial value.
        assert_eq!(vector_from_bytes(&bytes[..7]), [0.0]);
    }
}
