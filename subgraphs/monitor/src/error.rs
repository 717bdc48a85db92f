use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("usage reports need service credentials holding `usage:report`")]
    ServiceOnly,
    #[error("only your own usage without `monitor:read`")]
    OthersUsage,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
}

impl MonitorError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MonitorError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl CodedError for MonitorError {
    fn code(&self) -> ErrorCode {
        match self {
            MonitorError::InvalidInput { .. } => ErrorCode::BadUserInput,
            MonitorError::ServiceOnly | MonitorError::OthersUsage => ErrorCode::Forbidden,
            MonitorError::Auth(error) => error.code(),
            MonitorError::Storage(_) => ErrorCode::Internal,
        }
    }
}
