use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// Every composition error, one per line (subgraph, type, field); nothing was changed.
    #[error("the schemas do not compose; nothing was changed:\n{}", .0.join("\n"))]
    Composition(Vec<String>),
    /// Breaking changes that client operations used within the usage window.
    #[error("breaking changes that clients used (publish with `force` to override):\n{}", .0.join("\n"))]
    Breaking(Vec<String>),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
}

impl RegistryError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        RegistryError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl CodedError for RegistryError {
    fn code(&self) -> ErrorCode {
        match self {
            RegistryError::InvalidInput { .. } => ErrorCode::BadUserInput,
            RegistryError::NotFound(_) => ErrorCode::NotFound,
            RegistryError::Forbidden(_) => ErrorCode::Forbidden,
            RegistryError::Composition(_) => ErrorCode::CompositionFailed,
            RegistryError::Breaking(_) => ErrorCode::Conflict,
            RegistryError::Auth(error) => error.code(),
            RegistryError::Storage(_) => ErrorCode::Internal,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        match self {
            RegistryError::Breaking(_) => Some("BREAKING_CHANGE"),
            _ => None,
        }
    }
}
