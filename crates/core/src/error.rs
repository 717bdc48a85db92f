//! Stable `extensions.code` values and the helpers that put them on GraphQL errors.
//!
//! Every crate keeps its own error enum; each maps its variants onto one [`ErrorCode`] so that
//! clients can branch on a small, documented set of codes. A finer `extensions.reason` may say
//! which rule was broken (`DUPLICATE_EMAIL`, `TOKEN_EXPIRED`, ...).

use std::fmt;

/// The codes a client may see in `errors[].extensions.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request was well-formed GraphQL but an argument broke a rule.
    BadUserInput,
    /// No credentials, or credentials that do not verify.
    Unauthenticated,
    /// Verified caller without the permission a field needs.
    Forbidden,
    /// The referenced object does not exist (or the caller may not know it does).
    NotFound,
    /// The write conflicts with stored state (duplicate, concurrent update).
    Conflict,
    /// Too many attempts in a window.
    RateLimited,
    /// The feature flag guarding this capability is off.
    FeatureDisabled,
    /// A dependency subgraph could not be reached.
    SubgraphUnavailable,
    /// The operation text could not be parsed.
    GraphqlParseFailed,
    /// The operation does not validate against the schema.
    GraphqlValidationFailed,
    /// The operation is over a configured limit (depth, complexity, size).
    OperationLimit,
    /// A capability needs a model that is not installed; the message names the fix.
    ModelUnavailable,
    /// A backing server (search engine, vector store) cannot be reached; retry later.
    BackendUnavailable,
    /// A bug or an unavailable backing store; details are logged, not returned.
    Internal,
    /// The HTTP request itself is malformed (not GraphQL over HTTP, wrong method).
    BadRequest,
    /// An automatic persisted query hash the router does not know: send the text.
    PersistedQueryNotFound,
    /// An automatic persisted query whose text does not match its hash.
    PersistedQueryHashMismatch,
    /// An automatic persisted query protocol version the router does not speak.
    PersistedQueryNotSupported,
    /// The router found no way to fetch the operation from its subgraphs.
    QueryPlanningFailed,
    /// Introspection is switched off on this router.
    IntrospectionDisabled,
    /// No language model could answer (every provider down, timed out or circuit-open).
    LlmUnavailable,
    /// A provider refused for billing or quota (not a momentary rate limit).
    QuotaExceeded,
    /// Subgraph schemas that do not compose into a supergraph; nothing was changed.
    CompositionFailed,
}

impl ErrorCode {
    /// Every code, for lookups by name.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadUserInput,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::FeatureDisabled,
        ErrorCode::SubgraphUnavailable,
        ErrorCode::GraphqlParseFailed,
        ErrorCode::GraphqlValidationFailed,
        ErrorCode::OperationLimit,
        ErrorCode::ModelUnavailable,
        ErrorCode::BackendUnavailable,
        ErrorCode::Internal,
        ErrorCode::BadRequest,
        ErrorCode::PersistedQueryNotFound,
        ErrorCode::PersistedQueryHashMismatch,
        ErrorCode::PersistedQueryNotSupported,
        ErrorCode::QueryPlanningFailed,
        ErrorCode::IntrospectionDisabled,
        ErrorCode::LlmUnavailable,
        ErrorCode::QuotaExceeded,
        ErrorCode::CompositionFailed,
    ];

    /// The code whose `extensions.code` spelling is `code`.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::FeatureDisabled => "FEATURE_DISABLED",
            ErrorCode::SubgraphUnavailable => "SUBGRAPH_UNAVAILABLE",
            ErrorCode::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            ErrorCode::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            ErrorCode::OperationLimit => "OPERATION_LIMIT",
            ErrorCode::ModelUnavailable => "MODEL_UNAVAILABLE",
            ErrorCode::BackendUnavailable => "BACKEND_UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL_SERVER_ERROR",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            ErrorCode::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            ErrorCode::QueryPlanningFailed => "QUERY_PLANNING_FAILED",
            ErrorCode::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            ErrorCode::LlmUnavailable => "LLM_UNAVAILABLE",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::CompositionFailed => "COMPOSITION_FAILED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error enum whose variants map onto client-facing codes. Implement it for each crate's
/// error type and convert at the resolver edge with [`GraphqlResultExt::gql`].
pub trait CodedError: std::error::Error {
    fn code(&self) -> ErrorCode;

    /// A finer, stable reason (`DUPLICATE_EMAIL`), when one helps clients react.
    fn reason(&self) -> Option<&'static str> {
        None
    }
}

/// Converts a coded error into a GraphQL error. Internal errors are logged in full and reach
/// the client only as a generic message, so storage details never leak.
pub fn to_graphql_error<E: CodedError>(error: &E) -> async_graphql::Error {
    let code = error.code();
    if code == ErrorCode::Internal {
        tracing::error!(error = %error, "internal error");
        return coded_error(code, error.reason(), "internal error; see the server log");
    }
    coded_error(code, error.reason(), error.to_string())
}

pub trait GraphqlResultExt<T> {
    /// `result.gql()?` in a resolver keeps the error's code.
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T, E: CodedError> GraphqlResultExt<T> for Result<T, E> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|error| to_graphql_error(&error))
    }
}

/// Builds GraphQL errors that carry a code (and optionally a reason and extra fields).
pub trait GraphqlErrorExt {
    fn with_code(self, code: ErrorCode) -> async_graphql::Error;
}

impl<S: Into<String>> GraphqlErrorExt for S {
    fn with_code(self, code: ErrorCode) -> async_graphql::Error {
        coded_error(code, None, self)
    }
}

/// A GraphQL error with `extensions.code` and, when given, `extensions.reason`.
pub fn coded_error(
    code: ErrorCode,
    reason: Option<&str>,
    message: impl Into<String>,
) -> async_graphql::Error {
    let reason = reason.map(str::to_owned);
    async_graphql::ErrorExtensions::extend_with(
        async_graphql::Error::new(message),
        move |_, ext| {
            ext.set("code", code.as_str());
            if let Some(reason) = &reason {
                ext.set("reason", reason.as_str());
            }
        },
    )
}

/// Gives every error in a response a code: errors raised by our resolvers already carry one;
/// those raised by the GraphQL engine itself (parse, validation, argument coercion) and any
/// uncoded resolver error are classified here so clients never see an error without a code.
pub fn ensure_error_codes(errors: &mut [async_graphql::ServerError]) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if has_code {
            continue;
        }
        let code = classify_engine_error(error);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}

/// Classifies an uncoded engine error by its message. Subgraph schemas code parse and
/// validation errors where they arise (`looma_server::ErrorStages`), so what reaches this is
/// mostly argument coercion while executing, which async-graphql raises as a bare message with
/// no kind or source, from inside generated resolver code. The texts are kept for that and as
/// a fallback for a schema built without the extension; an async-graphql upgrade must be
/// checked against them (`engine_errors_get_codes` pins the mapping; an unknown text falls back
/// to a validation or internal code, never to none).
fn classify_engine_error(error: &async_graphql::ServerError) -> ErrorCode {
    let message = error.message.as_str();
    if message.starts_with(" -->") || message.contains("\n  = expected") {
        return ErrorCode::GraphqlParseFailed;
    }
    if message.starts_with("Query is nested too deep")
        || message.starts_with("Query is too complex")
        || message.starts_with("Too many")
    {
        return ErrorCode::OperationLimit;
    }
    if message.starts_with("Failed to parse")
        || message.starts_with("Invalid value for argument")
        || message.contains("Invalid value")
    {
        return ErrorCode::BadUserInput;
    }
    if error.path.is_empty() {
        return ErrorCode::GraphqlValidationFailed;
    }
    ErrorCode::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(message: &str, with_path: bool) -> async_graphql::ServerError {
        let mut error = async_graphql::ServerError::new(message, None);
        if with_path {
            error.path = vec![async_graphql::PathSegment::Field("me".into())];
        }
        error
    }

    fn code_of(error: &async_graphql::ServerError) -> String {
        let value = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        match value {
            Some(async_graphql::Value::String(code)) => code,
            other => panic!("no string code: {other:?}"),
        }
    }

    #[test]
    fn every_code_round_trips_through_its_spelling() {
        let mut spellings = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.as_str()), Some(*code));
            assert!(spellings.insert(code.as_str()), "{code} twice");
        }
        assert_eq!(ErrorCode::from_code("NOPE"), None);
    }

    #[test]
    fn engine_errors_get_codes() {
        let mut errors = vec![
            server_error(
                " --> 1:3\n  |\n1 | {{\n  |   ^---\n  |\n  = expected name",
                false,
            ),
            server_error("Unknown field \"nope\" on type \"Query\".", false),
            server_error("Failed to parse \"Int\": invalid digit", true),
            server_error("something broke", true),
        ];
        ensure_error_codes(&mut errors);
        let codes: Vec<String> = errors.iter().map(code_of).collect();
        assert_eq!(
            codes,
            [
                "GRAPHQL_PARSE_FAILED",
                "GRAPHQL_VALIDATION_FAILED",
                "BAD_USER_INPUT",
                "INTERNAL_SERVER_ERROR"
            ]
        );
    }

    #[test]
    fn existing_codes_are_kept() {
        let mut errors = vec![
            coded_error(ErrorCode::Forbidden, Some("MISSING_PERMISSION"), "no")
                .into_server_error(async_graphql::Pos::default()),
        ];
        ensure_error_codes(&mut errors);
        assert_eq!(code_of(&errors[0]), "FORBIDDEN");
    }
}
