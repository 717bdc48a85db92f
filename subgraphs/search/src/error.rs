use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};
use looma_search_engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("invalid `{field}`: the vector has {got} dimensions; this index expects {expected}")]
    DimensionMismatch {
        field: String,
        expected: usize,
        got: usize,
    },
    #[error("{0}")]
    ModelUnavailable(String),
    #[error("{0} is turned off (feature flag `{1}`)")]
    FeatureDisabled(&'static str, &'static str),
    #[error("index writes need service credentials (an API key holding `search:index`)")]
    ServiceOnly,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(
        "no reindex `{0}` is in progress (committed, aborted, or replaced by a newer reindex of \
         the collection, or search restarted); begin a new one"
    )]
    ReindexNotFound(String),
    #[error("{0}")]
    BackendUnavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl SearchError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SearchError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<EngineError> for SearchError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::InvalidQuery(reason) => SearchError::invalid("query", reason),
            EngineError::DimensionMismatch { expected, got } => SearchError::DimensionMismatch {
                field: "vector".into(),
                expected,
                got,
            },
            EngineError::Unavailable(message) => SearchError::BackendUnavailable(message),
            EngineError::Internal(message) => SearchError::Internal(message),
        }
    }
}

impl From<looma_embed::EmbedError> for SearchError {
    fn from(error: looma_embed::EmbedError) -> Self {
        match error {
            looma_embed::EmbedError::ModelUnavailable { .. } => {
                SearchError::ModelUnavailable(error.to_string())
            }
            looma_embed::EmbedError::InvalidInput(reason) => SearchError::invalid("query", reason),
            other => SearchError::Internal(format!("embedding failed: {other}")),
        }
    }
}

impl From<looma_analytics::AnalyzeError> for SearchError {
    fn from(error: looma_analytics::AnalyzeError) -> Self {
        match error {
            looma_analytics::AnalyzeError::ModelMismatch { .. } => {
                SearchError::ModelUnavailable(error.to_string())
            }
            looma_analytics::AnalyzeError::Embed(error) => SearchError::from(error),
        }
    }
}

impl CodedError for SearchError {
    fn code(&self) -> ErrorCode {
        use SearchError::*;
        match self {
            InvalidInput { .. } | DimensionMismatch { .. } => ErrorCode::BadUserInput,
            ModelUnavailable(_) => ErrorCode::ModelUnavailable,
            ServiceOnly => ErrorCode::Forbidden,
            ReindexNotFound(_) => ErrorCode::NotFound,
            FeatureDisabled(..) => ErrorCode::FeatureDisabled,
            Auth(error) => error.code(),
            BackendUnavailable(_) => ErrorCode::BackendUnavailable,
            Internal(_) => ErrorCode::Internal,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        match self {
            SearchError::DimensionMismatch { .. } => Some("DIMENSION_MISMATCH"),
            SearchError::ServiceOnly => Some("SERVICE_CREDENTIALS_REQUIRED"),
            SearchError::ReindexNotFound(_) => Some("REINDEX_NOT_FOUND"),
            _ => None,
        }
    }
}
