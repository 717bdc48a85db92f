use looma_auth::AuthError;
use looma_core::{CodedError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid `{field}`: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    #[error("a user with email `{0}` already exists")]
    DuplicateEmail(String),
    #[error("password too weak: {0}")]
    WeakPassword(String),
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    #[error("role `{0}` already exists")]
    DuplicateRole(String),
    #[error("unknown permission `{0}`")]
    UnknownPermission(String),
    #[error("cannot grant `{0}`: you do not hold it yourself")]
    PermissionEscalation(String),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("too many failed attempts; try again in a few minutes")]
    TooManyAttempts,
    #[error("the refresh token is invalid, expired or revoked")]
    RefreshTokenInvalid,
    #[error("the refresh token was already used; every session of that login was revoked")]
    RefreshTokenReused,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    UnknownConfigKey(String),
    #[error("invalid value for `{key}`: {reason}")]
    InvalidConfigValue { key: String, reason: String },
    #[error("`{key}` is at version {current}, not {expected}; reload and retry")]
    VersionConflict {
        key: String,
        expected: i32,
        current: i32,
    },
    #[error("{0}")]
    NotAUser(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("storage: {0}")]
    Storage(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

impl IdentityError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        IdentityError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl CodedError for IdentityError {
    fn code(&self) -> ErrorCode {
        use IdentityError::*;
        match self {
            InvalidInput { .. }
            | WeakPassword(_)
            | UnknownRole(_)
            | UnknownPermission(_)
            | UnknownConfigKey(_)
            | InvalidConfigValue { .. } => ErrorCode::BadUserInput,
            DuplicateEmail(_) | DuplicateRole(_) | VersionConflict { .. } => ErrorCode::Conflict,
            PermissionEscalation(_) | NotAUser(_) => ErrorCode::Forbidden,
            InvalidCredentials | AccountDisabled | RefreshTokenInvalid | RefreshTokenReused => {
                ErrorCode::Unauthenticated
            }
            TooManyAttempts => ErrorCode::RateLimited,
            NotFound(_) => ErrorCode::NotFound,
            Auth(error) => error.code(),
            Storage(_) | Internal(_) => ErrorCode::Internal,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        use IdentityError::*;
        Some(match self {
            InvalidInput { .. } => "INVALID_INPUT",
            DuplicateEmail(_) => "DUPLICATE_EMAIL",
            WeakPassword(_) => "WEAK_PASSWORD",
            UnknownRole(_) => "UNKNOWN_ROLE",
            DuplicateRole(_) => "DUPLICATE_ROLE",
            UnknownPermission(_) => "UNKNOWN_PERMISSION",
            PermissionEscalation(_) => "PERMISSION_ESCALATION",
            InvalidCredentials => "INVALID_CREDENTIALS",
            AccountDisabled => "ACCOUNT_DISABLED",
            TooManyAttempts => "TOO_MANY_ATTEMPTS",
            RefreshTokenInvalid => "REFRESH_TOKEN_INVALID",
            RefreshTokenReused => "REFRESH_TOKEN_REUSED",
            NotFound(_) => "NOT_FOUND",
            UnknownConfigKey(_) => "UNKNOWN_CONFIG_KEY",
            InvalidConfigValue { .. } => "INVALID_CONFIG_VALUE",
            VersionConflict { .. } => "VERSION_CONFLICT",
            NotAUser(_) => "NOT_A_USER",
            Auth(error) => return error.reason(),
            Storage(_) | Internal(_) => return None,
        })
    }
}

/// True when the database refused a write because a unique key already exists.
pub use looma_db::is_unique_violation;
