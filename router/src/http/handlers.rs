//! The GraphQL endpoints: request decoding for `POST` (JSON or multipart; a POST accepting an
//! event stream goes to [`crate::subscription`]) and `GET` (a WebSocket upgrade goes there
//! too), the checks made before anything runs (CSRF prevention for "simple" POSTs,
//! `max_request_bytes` for every non-multipart body, a preflight header and size limits for
//! uploads), then edge auth and the service. Every refusal is a [`RequestError`]; nothing here knows GraphQL beyond the request
//! envelope.

use super::{HttpMethod, RouterService, body_limit, edge_auth::REQUEST_ID};
use crate::config::RouterConfig;
use crate::error::RequestError;
use crate::pipeline::{GraphqlRequest, ResponseBody};
use crate::subscription::{StreamFormat, Subscriber, graphql_ws, respond_streaming};
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use looma_core::ErrorCode;
use serde_json::Value;
use std::sync::Arc;

/// `extensions.reason` of a "simple" POST without a preflight-forcing header.
const CSRF_PREFLIGHT_REQUIRED: &str = "CSRF_PREFLIGHT_REQUIRED";
/// `extensions.reason` of a body or query over `max_request_bytes`.
const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";

/// Content types a browser sends cross-site without a CORS preflight ("simple requests").
fn is_simple_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "" | "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
    )
}

/// CSRF prevention as Apollo Router does it: a request a browser could send from another
/// site without a preflight must prove it was not, by a header only a preflight allows.
fn csrf_refusal(config: &RouterConfig, headers: &HeaderMap) -> Option<RequestError> {
    if config.csrf_required_headers.is_empty() || !is_simple_content_type(headers) {
        return None;
    }
    if config
        .csrf_required_headers
        .iter()
        .any(|name| headers.contains_key(name.as_str()))
    {
        return None;
    }
    Some(
        RequestError::new(
            ErrorCode::BadUserInput,
            format!(
                "this request could have been sent by a page on another site: send it with \
                 `content-type: application/json`, or add one of these headers: {}",
                config.csrf_required_headers.join(", ")
            ),
        )
        .with_reason(CSRF_PREFLIGHT_REQUIRED)
        .with_status(StatusCode::BAD_REQUEST),
    )
}

fn payload_too_large(limit: usize, what: &str) -> RequestError {
    RequestError::new(
        ErrorCode::BadUserInput,
        format!("{what} is larger than the {limit} bytes this router accepts"),
    )
    .with_reason(PAYLOAD_TOO_LARGE)
    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

/// Reads a body of at most `limit` bytes. A longer one is read to its end (and dropped, never
/// kept) before it is refused: answering while the client is still sending breaks its pipe
/// and it never sees the 413. The edge layer caps how much is ever read that way.
async fn read_body_within(body: axum::body::Body, limit: usize) -> Result<Bytes, ()> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ())?;
        total = total.saturating_add(chunk.len());
        if total <= limit {
            kept.extend_from_slice(&chunk);
        }
    }
    if total > limit {
        Err(())
    } else {
        Ok(Bytes::from(kept))
    }
}

pub(super) async fn graphql_post(
    State(service): State<Arc<RouterService>>,
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers().clone();
    let peer = peer_ip(request.extensions());
    if let Some(refusal) = csrf_refusal(&service.config, &headers) {
        return refusal.into_response();
    }
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/"));
    // Only multipart uploads get the upload limit (enforced by the edge layer); everything
    // else gets `max_request_bytes`.
    let limit = if multipart {
        body_limit(&service.config)
    } else {
        service.config.max_request_bytes
    };
    let body = match read_body_within(request.into_body(), limit).await {
        Ok(body) => body,
        Err(()) => return payload_too_large(limit, "the request body").into_response(),
    };
    if multipart {
        return graphql_multipart(service, headers, peer, body).await;
    }
    let request: GraphqlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return RequestError::new(
                ErrorCode::BadRequest,
                format!("the body is not a GraphQL JSON request: {error}"),
            )
            .with_status(StatusCode::BAD_REQUEST)
            .into_response();
        }
    };
    if let Some(format) = StreamFormat::from_accept(&headers) {
        let principal = match service.edge_auth.authenticate(&headers).await {
            Ok(principal) => principal,
            Err(refusal) => return refusal.into_response(),
        };
        let subscriber = Subscriber::new(principal, peer, headers.get(REQUEST_ID).cloned());
        return respond_streaming(service, request, subscriber, format, &headers).await;
    }
    let (forwarded, client) = match service.admit(&headers, peer).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.into_response(),
    };
    respond(&service, &request, &forwarded, HttpMethod::Post, &client).await
}

/// The client's address, when the server was started with connection info.
fn peer_ip(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// A GraphQL multipart request (file uploads): CSRF preflight header required, file sizes
/// limited, files forwarded only to the subgraph whose fetch uses them.
async fn graphql_multipart(
    service: Arc<RouterService>,
    headers: HeaderMap,
    peer: Option<std::net::IpAddr>,
    body: Bytes,
) -> Response {
    // Multipart is a "simple" content type: `csrf_refusal` already required a preflight
    // header, unless CSRF prevention was switched off, in which case uploads still need one.
    if !looma_server::CSRF_PREFLIGHT_HEADERS
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return RequestError::new(
            ErrorCode::BadUserInput,
            "multipart requests must carry an `apollo-require-preflight` (or `x-looma-csrf`) header",
        )
        .with_status(StatusCode::BAD_REQUEST)
        .into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(service.config.max_upload_bytes)
        .max_num_files(4);
    let parsed =
        async_graphql::http::receive_body(content_type, futures::io::Cursor::new(body), options)
            .await;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
            return RequestError::new(
                ErrorCode::BadUserInput,
                format!(
                    "a file exceeds the {} byte upload limit",
                    service.config.max_upload_bytes
                ),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response();
        }
        Err(error) => {
            return RequestError::new(
                ErrorCode::BadUserInput,
                format!("not a valid GraphQL multipart request: {error}"),
            )
            .with_status(StatusCode::BAD_REQUEST)
            .into_response();
        }
    };
    let uploads: Vec<crate::transport::UploadedFile> = parsed
        .uploads
        .iter()
        .map(|u| crate::transport::UploadedFile {
            filename: u.filename.clone(),
            content_type: u.content_type.clone(),
            bytes: u.content.clone(),
        })
        .collect();
    let request = GraphqlRequest {
        query: Some(parsed.query.clone()),
        operation_name: parsed.operation_name.clone(),
        variables: serde_json::to_value(&parsed.variables).ok(),
        extensions: None,
    };
    let (forwarded, client) = match service.admit(&headers, peer).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.into_response(),
    };
    // Uploads are mutations: counted as such, whatever the document says.
    if let Err(refusal) = service
        .check_rate(&client, apollo_compiler::ast::OperationType::Mutation)
        .await
    {
        return refusal.into_response();
    }
    let started = std::time::Instant::now();
    let body = service
        .handle_with_uploads(&request, &forwarded, Arc::new(uploads))
        .await;
    log_request(
        &request,
        &forwarded,
        None,
        &body,
        started,
        "graphql multipart request",
    );
    json_body(StatusCode::OK, body)
}

/// Executes and answers, logging the outcome. (The edge layer echoes the request id.)
async fn respond(
    service: &RouterService,
    request: &GraphqlRequest,
    forwarded: &HeaderMap,
    method: HttpMethod,
    client: &super::rate_limit::Client,
) -> Response {
    let started = std::time::Instant::now();
    let (status, body) = service
        .handle(request, forwarded, method, Some(client))
        .await;
    log_request(
        request,
        forwarded,
        Some(client),
        &body,
        started,
        "graphql request",
    );
    json_body(status, body)
}

/// The request's log line (request id, trace id, caller, operation, errors, time; the
/// request span adds method and path), its metrics, and its outcome on the request span.
fn log_request(
    request: &GraphqlRequest,
    forwarded: &HeaderMap,
    client: Option<&super::rate_limit::Client>,
    body: &ResponseBody,
    started: std::time::Instant,
    what: &'static str,
) {
    let operation = body
        .operation_name
        .as_deref()
        .or(request.operation_name.as_deref());
    looma_server::metrics::observe_graphql(
        super::COMPONENT,
        operation,
        started.elapsed(),
        body.errors.iter().map(|error| {
            error["extensions"]["code"]
                .as_str()
                .unwrap_or("INTERNAL_SERVER_ERROR")
        }),
    );
    looma_server::trace_context::record_graphql(
        operation,
        client.and_then(|client| client.as_str().strip_prefix("p:")),
        body.errors.len(),
    );
    tracing::info!(
        request_id = forwarded
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        trace_id = looma_server::trace_context::trace_id(forwarded).unwrap_or(""),
        client = client.map_or("", |client| client.as_str()),
        operation = operation.unwrap_or(""),
        errors = body.errors.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "{what}"
    );
}

fn json_body(status: StatusCode, body: ResponseBody) -> Response {
    let retry_after = body.retry_after;
    let bytes = body.into_bytes();
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

pub(super) async fn graphql_get(
    State(service): State<Arc<RouterService>>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    Query(params): Query<GetParams>,
) -> Response {
    if is_websocket_upgrade(&headers) {
        return graphql_ws(service, &headers, peer_ip(&extensions), upgrade);
    }
    if params.query.is_none() && crate::graphiql::wants_html(&headers) {
        return crate::graphiql::page().await;
    }
    match graphql_get_request(&service.config, params) {
        Ok(request) => {
            let (forwarded, client) = match service.admit(&headers, peer_ip(&extensions)).await {
                Ok(admitted) => admitted,
                Err(refusal) => return refusal.into_response(),
            };
            // Whether the operation is a query is decided after parsing, on the selected
            // operation.
            respond(&service, &request, &forwarded, HttpMethod::Get, &client).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// A GET asking to become a WebSocket (`Upgrade: websocket`).
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The request a GET's query parameters describe.
fn graphql_get_request(
    config: &RouterConfig,
    params: GetParams,
) -> Result<GraphqlRequest, RequestError> {
    let variables = json_param("variables", params.variables.as_deref())?;
    let extensions = json_param("extensions", params.extensions.as_deref())?;
    if params.query.is_none() && extensions.is_none() {
        return Err(
            RequestError::new(ErrorCode::BadRequest, "GET needs a `query` parameter")
                .with_status(StatusCode::BAD_REQUEST),
        );
    }
    if params
        .query
        .as_ref()
        .is_some_and(|q| q.len() > config.max_request_bytes)
    {
        return Err(payload_too_large(config.max_request_bytes, "the query"));
    }
    Ok(GraphqlRequest {
        query: params.query,
        operation_name: params.operation_name,
        variables,
        extensions,
    })
}

/// A JSON-encoded query parameter (`variables`, `extensions`) of a GET request.
fn json_param(name: &str, value: Option<&str>) -> Result<Option<Value>, RequestError> {
    match value.map(serde_json::from_str::<Value>) {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some(value)),
        Some(Err(_)) => Err(RequestError::new(
            ErrorCode::BadRequest,
            format!("`{name}` is not JSON"),
        )
        .with_status(StatusCode::BAD_REQUEST)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn simple_posts_need_a_preflight_header() {
        let config = RouterConfig::default();
        let refused = csrf_refusal(&config, &headers(&[("content-type", "text/plain")]))
            .expect("a text/plain POST could come from another site");
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.to_json()["errors"][0]["extensions"]["reason"],
            CSRF_PREFLIGHT_REQUIRED
        );
        assert!(csrf_refusal(&config, &headers(&[("content-type", "application/json")])).is_none());
        assert!(
            csrf_refusal(
                &config,
                &headers(&[
                    ("content-type", "text/plain"),
                    ("apollo-require-preflight", "1")
                ])
            )
            .is_none()
        );
    }

    #[test]
    fn get_parameters_must_be_json_and_within_the_limit() {
        let config = RouterConfig {
            max_request_bytes: 16,
            ..RouterConfig::default()
        };
        let params = |query: &str, variables: &str| GetParams {
            query: Some(query.into()),
            operation_name: None,
            variables: Some(variables.into()),
            extensions: None,
        };
        let not_json = graphql_get_request(&config, params("{ a }", "{")).unwrap_err();
        assert_eq!(not_json.code, ErrorCode::BadRequest);
        let too_large =
            graphql_get_request(&config, params("{ aaaaaaaaaaaaaaaaaaaa }", "{}")).unwrap_err();
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.reason, Some(PAYLOAD_TOO_LARGE));
        assert!(graphql_get_request(&config, params("{ a }", "{}")).is_ok());
    }
}
