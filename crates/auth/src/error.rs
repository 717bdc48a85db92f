use looma_core::{CodedError, ErrorCode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required")]
    MissingCredentials,
    #[error("the access token has expired")]
    TokenExpired,
    #[error("the access token is not valid: {0}")]
    TokenInvalid(String),
    #[error("the access token was revoked; sign in again")]
    TokenRevoked,
    #[error("the access token was signed by an unknown key `{0}`")]
    UnknownSigningKey(String),
    #[error("the API key is not valid")]
    ApiKeyInvalid,
    #[error("the forwarded principal header is not valid: {0}")]
    ForwardedPrincipalInvalid(String),
    #[error("the delegation header is not valid: {0}")]
    DelegationInvalid(String),
    #[error("missing permission `{0}`")]
    MissingPermission(String),
    #[error("credentials could not be checked: {0}")]
    Unavailable(String),
}

impl CodedError for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            AuthError::MissingPermission(_) => ErrorCode::Forbidden,
            AuthError::Unavailable(_) => ErrorCode::Internal,
            _ => ErrorCode::Unauthenticated,
        }
    }

    /// A finer, stable reason for clients that want to react (refresh on `TOKEN_EXPIRED`).
    fn reason(&self) -> Option<&'static str> {
        Some(match self {
            AuthError::MissingCredentials => "MISSING_CREDENTIALS",
            AuthError::TokenExpired => "TOKEN_EXPIRED",
            AuthError::TokenInvalid(_) => "TOKEN_INVALID",
            AuthError::TokenRevoked => "TOKEN_REVOKED",
            AuthError::UnknownSigningKey(_) => "UNKNOWN_SIGNING_KEY",
            AuthError::ApiKeyInvalid => "API_KEY_INVALID",
            AuthError::ForwardedPrincipalInvalid(_) => "FORWARDED_PRINCIPAL_INVALID",
            AuthError::DelegationInvalid(_) => "DELEGATION_INVALID",
            AuthError::MissingPermission(_) => "MISSING_PERMISSION",
            AuthError::Unavailable(_) => "AUTH_UNAVAILABLE",
        })
    }
}
