use async_graphql::{ObjectType, Schema, SubscriptionType};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse, rejection::GraphQLRejection};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use looma_auth::Authenticator;
use looma_core::ErrorCode;
use looma_core::error::{coded_error, ensure_error_codes, to_graphql_error};

/// Authenticates the caller, attaches it (and whatever `attach` adds, such as per-request
/// DataLoaders) to the request, executes it, and gives every error a code.
///
/// Credentials that are present but invalid fail the whole request with `UNAUTHENTICATED`
/// before any resolver runs.
pub async fn execute_graphql<Q, M, S>(
    component: &'static str,
    schema: &Schema<Q, M, S>,
    authenticator: &Authenticator,
    headers: &HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
    attach: impl FnOnce(async_graphql::Request) -> async_graphql::Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let request = match request {
        Ok(request) => request.into_inner(),
        Err(rejection) => return rejection_response(rejection),
    };
    execute_request(component, schema, authenticator, headers, request, attach).await
}

/// Limits for components that accept file uploads (GraphQL multipart request spec).
#[derive(Clone, Copy, Debug)]
pub struct UploadLimits {
    /// Largest whole request body.
    pub max_body_bytes: usize,
    /// Largest single file.
    pub max_file_bytes: usize,
    pub max_files: usize,
}

/// Headers that prove a multipart request was not sent by a plain HTML form from another
/// site (a "simple" cross-origin request cannot set them), as Apollo's CSRF prevention does.
pub const CSRF_PREFLIGHT_HEADERS: &[&str] = &[
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
    "x-looma-csrf",
];

/// [`execute_graphql`] for components that take uploads: JSON bodies as usual; multipart
/// bodies only with a CSRF preflight header, within `limits` (the multipart parser itself
/// has no limits).
pub async fn execute_graphql_with_uploads<Q, M, S>(
    component: &'static str,
    schema: &Schema<Q, M, S>,
    authenticator: &Authenticator,
    request: axum::extract::Request,
    limits: UploadLimits,
    attach: impl FnOnce(async_graphql::Request) -> async_graphql::Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let multipart = content_type
        .as_deref()
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/"));
    if multipart
        && !CSRF_PREFLIGHT_HEADERS
            .iter()
            .any(|h| headers.contains_key(*h))
    {
        return graphql_error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "CSRF_PREFLIGHT_REQUIRED",
            "multipart requests must carry an `apollo-require-preflight` (or `x-looma-csrf`) header",
        );
    }
    let bytes = match axum::body::to_bytes(body, limits.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return graphql_error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BadUserInput,
                "FILE_TOO_LARGE",
                &format!("the request body exceeds {} bytes", limits.max_body_bytes),
            );
        }
    };
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(limits.max_file_bytes)
        .max_num_files(limits.max_files);
    let parsed =
        async_graphql::http::receive_body(content_type, futures::io::Cursor::new(bytes), options)
            .await;
    let request = match parsed {
        Ok(request) => request,
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
            return graphql_error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BadUserInput,
                "FILE_TOO_LARGE",
                &format!("a file exceeds {} bytes", limits.max_file_bytes),
            );
        }
        Err(error) => {
            return graphql_error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                "INVALID_REQUEST",
                &format!("the request is not a GraphQL request: {error}"),
            );
        }
    };
    execute_request(component, schema, authenticator, &headers, request, attach).await
}

async fn execute_request<Q, M, S>(
    component: &'static str,
    schema: &Schema<Q, M, S>,
    authenticator: &Authenticator,
    headers: &HeaderMap,
    request: async_graphql::Request,
    attach: impl FnOnce(async_graphql::Request) -> async_graphql::Request,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let started = std::time::Instant::now();
    let operation = request.operation_name.clone();
    let caller = match authenticator.authenticate(headers).await {
        Ok(caller) => caller,
        Err(error) => {
            let response =
                async_graphql::Response::from_errors(vec![request_error(to_graphql_error(&error))]);
            observe(component, operation.as_deref(), None, started, &response);
            return GraphQLResponse::from(response).into_response();
        }
    };
    let principal = caller.principal().map(|p| p.subject.clone());
    let mut response = schema.execute(attach(request.data(caller))).await;
    ensure_error_codes(&mut response.errors);
    observe(
        component,
        operation.as_deref(),
        principal.as_deref(),
        started,
        &response,
    );
    GraphQLResponse::from(response).into_response()
}

/// The operation's metrics, and its outcome on the request span.
fn observe(
    component: &'static str,
    operation: Option<&str>,
    principal: Option<&str>,
    started: std::time::Instant,
    response: &async_graphql::Response,
) {
    crate::trace_context::record_graphql(operation, principal, response.errors.len());
    let codes = response.errors.iter().map(|error| {
        match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) => code.as_str(),
            _ => "OTHER",
        }
    });
    crate::metrics::observe_graphql(component, operation, started.elapsed(), codes);
}

fn rejection_response(rejection: GraphQLRejection) -> Response {
    let message = format!("the request is not a GraphQL request: {}", rejection.0);
    graphql_error_response(
        StatusCode::BAD_REQUEST,
        ErrorCode::BadUserInput,
        "INVALID_REQUEST",
        &message,
    )
}

/// A GraphQL-shaped error body (`{"errors": [...]}`) for failures outside execution.
pub fn graphql_error_response(
    status: StatusCode,
    code: ErrorCode,
    reason: &str,
    message: &str,
) -> Response {
    let error = coded_error(code, Some(reason), message);
    let response = async_graphql::Response::from_errors(vec![request_error(error)]);
    let mut http = GraphQLResponse::from(response).into_response();
    *http.status_mut() = status;
    http
}

/// An error about the request as a whole: no source location, no path.
fn request_error(error: async_graphql::Error) -> async_graphql::ServerError {
    let mut server_error = error.into_server_error(async_graphql::Pos::default());
    server_error.locations.clear();
    server_error
}

/// The caller a request was authenticated as (anonymous when none was attached).
pub fn caller<'a>(ctx: &async_graphql::Context<'a>) -> &'a looma_auth::Caller {
    static ANONYMOUS: std::sync::LazyLock<looma_auth::Caller> =
        std::sync::LazyLock::new(looma_auth::Caller::anonymous);
    ctx.data_opt::<looma_auth::Caller>().unwrap_or(&ANONYMOUS)
}

/// The caller's principal if it holds `permission`, else a coded GraphQL error.
pub fn require<'a>(
    ctx: &async_graphql::Context<'a>,
    permission: &str,
) -> async_graphql::Result<&'a looma_auth::Principal> {
    caller(ctx)
        .require(permission)
        .map_err(|error| looma_core::error::to_graphql_error(&error))
}
