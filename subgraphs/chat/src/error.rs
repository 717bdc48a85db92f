use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};
use looma_llm::LlmError;
use looma_server::ServiceCallError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("the assistant is turned off (feature flag `ai_chat`)")]
    FeatureDisabled,
    #[error("unsupported document: {0}")]
    UnsupportedDocument(String),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("{0}")]
    ModelUnavailable(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Dependency(String),
    #[error("storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

impl ChatError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ChatError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        ChatError::NotFound {
            what,
            id: id.into(),
        }
    }
}

impl From<ServiceCallError> for ChatError {
    fn from(error: ServiceCallError) -> Self {
        ChatError::Dependency(error.to_string())
    }
}

impl From<looma_search_client::SearchClientError> for ChatError {
    fn from(error: looma_search_client::SearchClientError) -> Self {
        ChatError::Dependency(error.to_string())
    }
}

impl From<looma_embed::EmbedError> for ChatError {
    fn from(error: looma_embed::EmbedError) -> Self {
        match error {
            looma_embed::EmbedError::ModelUnavailable { .. } => {
                ChatError::ModelUnavailable(error.to_string())
            }
            looma_embed::EmbedError::InvalidInput(reason) => ChatError::invalid("text", reason),
            looma_embed::EmbedError::Inference(reason) => ChatError::Internal(reason),
        }
    }
}

impl CodedError for ChatError {
    fn code(&self) -> ErrorCode {
        use ChatError::*;
        match self {
            InvalidInput { .. } | UnsupportedDocument(_) => ErrorCode::BadUserInput,
            NotFound { .. } => ErrorCode::NotFound,
            FeatureDisabled => ErrorCode::FeatureDisabled,
            Llm(error) => error.code(),
            ModelUnavailable(_) => ErrorCode::ModelUnavailable,
            Auth(error) => error.code(),
            Dependency(_) => ErrorCode::SubgraphUnavailable,
            Storage(_) | Internal(_) => ErrorCode::Internal,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        match self {
            ChatError::UnsupportedDocument(_) => Some("UNSUPPORTED_DOCUMENT"),
            ChatError::Llm(error) => error.reason(),
            _ => None,
        }
    }
}
