//! Request errors: why the router answers a request without running it (unreadable body, CSRF,
//! refused credentials, unknown persisted query, parse/validation failure, a limit, no plan).
//! Each is tagged with its [`ErrorCode`] (and, where it helps, a `reason`) where it arises and
//! rendered once, as `{"errors": [...]}` with `extensions.code`, by [`RequestError::to_json`] /
//! [`RequestError::into_response`].
//!
//! Errors found while running a plan (a subgraph down, errors a subgraph returns) are not
//! request errors: they travel in the response next to partial data.

use apollo_compiler::validation::DiagnosticList;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use looma_core::ErrorCode;
use serde_json::{Value, json};
use std::fmt;

#[derive(Clone, Debug)]
pub struct RequestError {
    pub code: ErrorCode,
    /// The first (usually only) message.
    pub message: String,
    /// The HTTP status to answer with: 200 for a GraphQL error in a readable request.
    pub status: StatusCode,
    /// A finer, stable `extensions.reason` (`CSRF_PREFLIGHT_REQUIRED`, `TOKEN_EXPIRED`, ...).
    pub reason: Option<&'static str>,
    /// Parse or validation diagnostics (`message` and `locations` each); when present, one
    /// error per diagnostic is rendered, all with `code`.
    diagnostics: Vec<Value>,
    /// Seconds to wait before trying again (`Retry-After`), for `RATE_LIMITED`.
    pub retry_after: Option<u64>,
}

impl RequestError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError {
            code,
            message: message.into(),
            status: StatusCode::OK,
            reason: None,
            diagnostics: Vec::new(),
            retry_after: None,
        }
    }

    /// Answers with `Retry-After: seconds`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Answers with `status` instead of 200.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds `extensions.reason`.
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// apollo-compiler's diagnostics, with their source locations.
    pub fn from_diagnostics(code: ErrorCode, list: &DiagnosticList) -> Self {
        let diagnostics: Vec<Value> = list
            .iter()
            .map(|d| {
                serde_json::to_value(d.unstable_to_json_compat()).unwrap_or_else(|_| json!({}))
            })
            .collect();
        let message = diagnostics
            .first()
            .and_then(|d| d["message"].as_str())
            .unwrap_or_default()
            .to_owned();
        RequestError {
            code,
            message,
            status: StatusCode::OK,
            reason: None,
            diagnostics,
            retry_after: None,
        }
    }

    /// The GraphQL errors of the response.
    pub fn errors(&self) -> Vec<Value> {
        let mut extensions = json!({"code": self.code.as_str()});
        if let Some(reason) = self.reason {
            extensions["reason"] = Value::from(reason);
        }
        if self.diagnostics.is_empty() {
            return vec![json!({"message": self.message, "extensions": extensions})];
        }
        self.diagnostics
            .iter()
            .map(|diagnostic| {
                let mut error = diagnostic.clone();
                error["extensions"] = extensions.clone();
                error
            })
            .collect()
    }

    /// The response body: `{"errors": [...]}`, no `data`.
    pub fn to_json(&self) -> Value {
        json!({"errors": self.errors()})
    }

    /// The HTTP response: `status` and the JSON body.
    pub fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.to_json())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<RequestError> for Value {
    fn from(error: RequestError) -> Value {
        error.to_json()
    }
}

/// Displays as the response body (`{:#}` pretty-prints it), as `looma plan` shows it.
impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_json(), f)
    }
}

impl std::error::Error for RequestError {}
