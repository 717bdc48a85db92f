//! The one error type of this crate.

use std::path::PathBuf;

/// Why an embedding could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The model files are missing or unreadable; installing them fixes it without a restart.
    #[error(
        "embedding model not installed at {} ({reason}); run `scripts/install-model {}`",
        path.display(),
        path.display()
    )]
    ModelUnavailable { path: PathBuf, reason: String },

    /// The caller's input cannot be embedded (for example, the tokenizer rejected it).
    #[error("invalid embedding input: {0}")]
    InvalidInput(String),

    /// The model failed while running; not the caller's fault.
    #[error("embedding inference failed: {0}")]
    Inference(String),
}
