use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};
use looma_server::ServiceCallError;

#[derive(Debug, thiserror::Error)]
pub enum MatchingError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("job matching is turned off (feature flag `job_matching`)")]
    FeatureDisabled,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Dependency(String),
    #[error("storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

impl MatchingError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MatchingError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<ServiceCallError> for MatchingError {
    fn from(error: ServiceCallError) -> Self {
        MatchingError::Dependency(error.to_string())
    }
}

impl CodedError for MatchingError {
    fn code(&self) -> ErrorCode {
        use MatchingError::*;
        match self {
            InvalidInput { .. } => ErrorCode::BadUserInput,
            NotFound { .. } => ErrorCode::NotFound,
            FeatureDisabled => ErrorCode::FeatureDisabled,
            Auth(error) => error.code(),
            Dependency(_) => ErrorCode::SubgraphUnavailable,
            Storage(_) | Internal(_) => ErrorCode::Internal,
        }
    }
}
