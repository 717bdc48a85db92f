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
    #[error("{0}")]
    Conflict(String),
    /// A subgraph matching called refused the request with a code the client can act on.
    #[error("{message}")]
    Upstream { code: ErrorCode, message: String },
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
        let passed_through = match error.code() {
            Some("BAD_USER_INPUT") => Some(ErrorCode::BadUserInput),
            Some("FEATURE_DISABLED") => Some(ErrorCode::FeatureDisabled),
            Some("MODEL_UNAVAILABLE") => Some(ErrorCode::ModelUnavailable),
            _ => None,
        };
        match (passed_through, &error) {
            (Some(code), ServiceCallError::Refused { message, .. }) => MatchingError::Upstream {
                code,
                message: message.clone(),
            },
            _ => MatchingError::Dependency(error.to_string()),
        }
    }
}

impl CodedError for MatchingError {
    fn code(&self) -> ErrorCode {
        use MatchingError::*;
        match self {
            InvalidInput { .. } => ErrorCode::BadUserInput,
            NotFound { .. } => ErrorCode::NotFound,
            FeatureDisabled => ErrorCode::FeatureDisabled,
            Conflict(_) => ErrorCode::Conflict,
            Upstream { code, .. } => *code,
            Auth(error) => error.code(),
            Dependency(_) => ErrorCode::SubgraphUnavailable,
            Storage(_) | Internal(_) => ErrorCode::Internal,
        }
    }
}
