use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    #[error("the file is {size} bytes; the limit is {limit} bytes")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("unsupported file: {0}")]
    UnsupportedFormat(String),
    #[error("resume `{0}` not found")]
    NotFound(String),
    #[error("{0}")]
    ModelUnavailable(String),
    #[error("resume uploads and processing are turned off (feature flag `resume_processing`)")]
    FeatureDisabled,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

impl ResumeError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ResumeError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl CodedError for ResumeError {
    fn code(&self) -> ErrorCode {
        use ResumeError::*;
        match self {
            InvalidInput { .. } | FileTooLarge { .. } | UnsupportedFormat(_) => {
                ErrorCode::BadUserInput
            }
            NotFound(_) => ErrorCode::NotFound,
            ModelUnavailable(_) => ErrorCode::ModelUnavailable,
            FeatureDisabled => ErrorCode::FeatureDisabled,
            Auth(error) => error.code(),
            Storage(_) | Internal(_) => ErrorCode::Internal,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        match self {
            ResumeError::FileTooLarge { .. } => Some("FILE_TOO_LARGE"),
            ResumeError::UnsupportedFormat(_) => Some("UNSUPPORTED_FORMAT"),
            _ => None,
        }
    }
}
