//! The router's HTTP face: `POST /graphql` (and `GET` for queries), `/health`, `/ready`, and
//! supergraph hot reload. Everything GraphQL happens in [`crate::pipeline`].

use crate::config::RouterConfig;
use crate::error::RequestError;
use crate::pipeline::{self, GraphqlRequest, LoadedSupergraph, ResponseBody};
use crate::supergraph::Supergraph;
use crate::transport::{HttpTransport, SubgraphTransport};
use apollo_compiler::ast::OperationType;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use looma_auth::{Authenticator, ForwardedPrincipalCodec};
use looma_cache::Cache;
use looma_core::ErrorCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

pub const COMPONENT: &str = "router";
/// How long a persisted query is remembered after it was last registered.
const APQ_TTL: Duration = Duration::from_secs(24 * 3600);

fn apq_key(hash: &str) -> String {
    format!("router:apq:{hash}")
}
/// Accepted from clients (or generated), logged, forwarded to subgraphs, and echoed back.
const REQUEST_ID: &str = "x-request-id";

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    #[error("cannot read the supergraph file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("supergraph {path}: {source}")]
    Supergraph {
        path: PathBuf,
        source: crate::supergraph::SupergraphError,
    },
}

pub struct RouterService {
    current: RwLock<Arc<LoadedSupergraph>>,
    config: RouterConfig,
    transport: Arc<dyn SubgraphTransport>,
    authenticator: Authenticator,
    /// Signs the verified principal for subgraphs; `None` forwards no principal.
    forwarded: Option<ForwardedPrincipalCodec>,
    /// Automatic persisted queries (Apollo APQ protocol): operation text by SHA-256, kept
    /// here within `apq_cache_bytes`, and in the shared cache (Redis) when it is small enough,
    /// so every router replica knows a query once one has seen it.
    apq: moka::future::Cache<String, Arc<str>>,
    persisted: Arc<dyn Cache>,
}

/// Whether the HTTP method lets the operation change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// Queries only: a GET can be triggered cross-site by a link or an `<img>`.
    Get,
    Post,
}

/// A persisted query sent with its text: stored once its operation has validated.
struct PendingRegistration {
    hash: String,
    query: Arc<str>,
}

impl RouterService {
    pub fn new(
        supergraph: Supergraph,
        config: RouterConfig,
        forwarded: Option<ForwardedPrincipalCodec>,
        cache: Arc<dyn Cache>,
    ) -> Arc<Self> {
        let timeouts = config
            .subgraph_timeouts_ms
            .iter()
            .map(|(name, ms)| (name.clone(), Duration::from_millis(*ms)))
            .collect();
        let transport = Arc::new(HttpTransport::new(
            Duration::from_millis(config.subgraph_timeout_ms),
            timeouts,
        ));
        Self::with_transport(supergraph, config, forwarded, cache, transport)
    }

    pub fn with_transport(
        supergraph: Supergraph,
        config: RouterConfig,
        forwarded: Option<ForwardedPrincipalCodec>,
        cache: Arc<dyn Cache>,
        transport: Arc<dyn SubgraphTransport>,
    ) -> Arc<Self> {
        let verifier = looma_server::RemoteVerifier::new(
            config.jwks_url.clone(),
            config.identity_url.clone(),
            &config.token_issuer,
            &config.token_audience,
        );
        // Clients never get to present a forwarded principal: the edge trusts none.
        let authenticator = Authenticator::new(Arc::new(verifier), None);
        let apq = moka::future::Cache::builder()
            .max_capacity(config.apq_cache_bytes)
            .weigher(|hash: &String, query: &Arc<str>| {
                u32::try_from(hash.len() + query.len() + 64).unwrap_or(u32::MAX)
            })
            .time_to_idle(APQ_TTL)
            .build();
        Arc::new(RouterService {
            current: RwLock::new(Arc::new(LoadedSupergraph::new(
                supergraph,
                config.plan_cache_bytes,
            ))),
            apq,
            config,
            transport,
            authenticator,
            forwarded,
            persisted: cache,
        })
    }

    /// Authenticates the caller and builds the headers subgraphs receive; `Err` is the
    /// response to send instead (no subgraph is called).
    pub async fn subgraph_headers(&self, incoming: &HeaderMap) -> Result<HeaderMap, Response> {
        let mut out = HeaderMap::new();
        let request_id = incoming
            .get(REQUEST_ID)
            .filter(|v| v.len() <= 128)
            .cloned()
            .or_else(|| HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).ok());
        if let Some(value) = request_id {
            out.insert(REQUEST_ID, value);
        }
        match self.authenticator.authenticate(incoming).await {
            Ok(caller) => {
                if let (Some(principal), Some(codec)) = (caller.principal(), &self.forwarded)
                    && let Ok(value) = HeaderValue::from_str(&codec.encode(principal))
                {
                    out.insert(looma_auth::FORWARDED_PRINCIPAL_HEADER, value);
                }
                // An anonymous caller still came through the router: subgraphs in lock-down
                // (`server.require_trusted_callers`) need to know.
                if caller.principal().is_none()
                    && let Some(codec) = &self.forwarded
                    && let Ok(value) = HeaderValue::from_str(&looma_server::router_marker(codec))
                {
                    out.insert(looma_server::ROUTER_MARKER_HEADER, value);
                }
                Ok(out)
            }
            Err(error) => {
                use looma_core::CodedError;
                let status = if error.code() == looma_core::ErrorCode::Internal {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::UNAUTHORIZED
                };
                let body = serde_json::json!({"errors": [{
                    "message": error.to_string(),
                    "extensions": {"code": error.code().as_str(), "reason": error.reason()},
                }]});
                Err(json_response(status, body))
            }
        }
    }

    /// The supergraph in force; requests keep the one they started with across a reload.
    pub fn current(&self) -> Arc<LoadedSupergraph> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, supergraph: Supergraph) {
        let loaded = Arc::new(LoadedSupergraph::new(
            supergraph,
            self.config.plan_cache_bytes,
        ));
        match self.current.write() {
            Ok(mut guard) => *guard = loaded,
            Err(poisoned) => *poisoned.into_inner() = loaded,
        }
    }

    /// Every subgraph of the current supergraph answers `{ __typename }`.
    pub async fn check_subgraphs(&self) -> Result<(), String> {
        let loaded = self.current();
        let probes = loaded
            .supergraph
            .subgraphs
            .iter()
            .map(|subgraph| async move {
                let body = serde_json::json!({"query": "{ __typename }"});
                // Signed like an anonymous request through the router, so subgraphs in
                // lock-down execute the probe instead of refusing it.
                let mut headers = HeaderMap::new();
                if let Some(codec) = &self.forwarded
                    && let Ok(value) = HeaderValue::from_str(&looma_server::router_marker(codec))
                {
                    headers.insert(looma_server::ROUTER_MARKER_HEADER, value);
                }
                match self.transport.send(subgraph, body, &headers).await {
                    Ok(_) => None,
                    Err(reason) => Some(format!("{}: {reason}", subgraph.name)),
                }
            });
        let failures: Vec<String> = futures::future::join_all(probes)
            .await
            .into_iter()
            .flatten()
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Runs one request: persisted query lookup, prepare (cached), the method check on the
    /// parsed and selected operation, persisted query registration, execution.
    pub async fn handle(
        &self,
        request: &GraphqlRequest,
        headers: &HeaderMap,
        method: HttpMethod,
    ) -> (StatusCode, ResponseBody) {
        let (request, registration) = match self.resolve_persisted(request).await {
            Ok((Some(with_query), registration)) => {
                (std::borrow::Cow::Owned(with_query), registration)
            }
            Ok((None, registration)) => (std::borrow::Cow::Borrowed(request), registration),
            Err(error) => return (error.status, ResponseBody::from_request_error(error)),
        };
        let loaded = self.current();
        let prepared = match pipeline::prepare_request(&loaded, &self.config, &request) {
            Ok(prepared) => prepared,
            Err(error) => return (error.status, ResponseBody::from_request_error(error)),
        };
        if method == HttpMethod::Get && prepared.kind() != OperationType::Query {
            let error = RequestError::new(
                ErrorCode::BadRequest,
                format!(
                    "{} operations must be sent with POST",
                    prepared.kind().name()
                ),
            )
            .with_status(StatusCode::METHOD_NOT_ALLOWED);
            return (error.status, ResponseBody::from_request_error(error));
        }
        if let Some(registration) = registration {
            self.register_persisted(registration).await;
        }
        let body = pipeline::execute_prepared(
            &loaded,
            self.transport.as_ref(),
            &request,
            &prepared,
            headers,
        )
        .await;
        (StatusCode::OK, body)
    }

    /// Executes a request whose variables carry uploaded files (multipart).
    pub async fn handle_with_uploads(
        &self,
        request: &GraphqlRequest,
        headers: &HeaderMap,
        uploads: crate::uploads::Uploads,
    ) -> ResponseBody {
        let transport = crate::uploads::UploadingTransport {
            inner: self.transport.clone(),
            uploads,
        };
        let loaded = self.current();
        pipeline::execute(&loaded, &self.config, &transport, request, headers).await
    }

    /// Automatic persisted queries: a request may carry only the hash of a query sent
    /// before (→ the request with its text); one carrying both has its hash checked and is
    /// registered only after its operation validates (→ the pending registration).
    async fn resolve_persisted(
        &self,
        request: &GraphqlRequest,
    ) -> Result<(Option<GraphqlRequest>, Option<PendingRegistration>), RequestError> {
        let Some(persisted) = request
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
        else {
            return Ok((None, None));
        };
        if persisted.get("version").and_then(Value::as_i64) != Some(1) {
            return Err(RequestError::new(
                ErrorCode::PersistedQueryNotSupported,
                "only version 1 of automatic persisted queries is supported",
            ));
        }
        let Some(hash) = persisted.get("sha256Hash").and_then(Value::as_str) else {
            return Err(RequestError::new(
                ErrorCode::BadUserInput,
                "persistedQuery needs a sha256Hash",
            ));
        };
        let hash = hash.to_ascii_lowercase();
        // Anything but 64 hex digits is no SHA-256: it can match no text and is never looked up.
        let well_formed = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        match request.query.as_deref() {
            Some(query) => {
                let actual: String = pipeline::query_hash(query)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if actual != hash {
                    return Err(RequestError::new(
                        ErrorCode::PersistedQueryHashMismatch,
                        "the query does not match its sha256Hash",
                    ));
                }
                let registration = PendingRegistration {
                    hash,
                    query: Arc::from(query),
                };
                Ok((None, Some(registration)))
            }
            None if !well_formed => Err(RequestError::new(
                ErrorCode::PersistedQueryNotFound,
                "PersistedQueryNotFound",
            )),
            None => match self.lookup_persisted(&hash).await {
                Some(query) => Ok((
                    Some(GraphqlRequest {
                        query: Some(query.to_string()),
                        ..request.clone()
                    }),
                    None,
                )),
                None => Err(RequestError::new(
                    ErrorCode::PersistedQueryNotFound,
                    "PersistedQueryNotFound",
                )),
            },
        }
    }

    async fn lookup_persisted(&self, hash: &str) -> Option<Arc<str>> {
        if let Some(query) = self.apq.get(hash).await {
            return Some(query);
        }
        if self.persisted.backend() == "local" {
            return None;
        }
        // A cache outage reads as "not found": the client then sends the full text.
        let stored = self.persisted.get(&apq_key(hash)).await.ok().flatten()?;
        let query: Arc<str> = Arc::from(String::from_utf8(stored).ok()?);
        self.apq.insert(hash.to_owned(), query.clone()).await;
        Some(query)
    }

    async fn register_persisted(&self, registration: PendingRegistration) {
        let PendingRegistration { hash, query } = registration;
        // An in-process shared cache would only hold a second copy of what `apq` holds.
        if self.persisted.backend() != "local"
            && query.len() <= self.config.apq_shared_max_bytes
            && let Err(error) = self
                .persisted
                .set(&apq_key(&hash), query.as_bytes(), APQ_TTL)
                .await
        {
            tracing::warn!(%error, "could not store a persisted query");
        }
        self.apq.insert(hash, query).await;
    }
}

pub fn read_supergraph(path: &Path) -> Result<Supergraph, RouterError> {
    let sdl = std::fs::read_to_string(path).map_err(|source| RouterError::Read {
        path: path.to_owned(),
        source,
    })?;
    Supergraph::parse(&sdl).map_err(|source| RouterError::Supergraph {
        path: path.to_owned(),
        source,
    })
}

/// Polls the supergraph file and swaps in a new version when it changes and parses; a broken
/// file is logged and the previous supergraph keeps serving.
pub fn spawn_reloader(service: Arc<RouterService>, path: PathBuf) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_millis(service.config.reload_interval_ms.max(100));
    tokio::spawn(async move {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut last: Option<SystemTime> = modified(&path);
        let mut last_sdl = service.current().supergraph.sdl.clone();
        loop {
            tokio::time::sleep(interval).await;
            let now = modified(&path);
            if now == last {
                continue;
            }
            last = now;
            let Ok(sdl) = std::fs::read_to_string(&path) else {
                tracing::warn!(path = %path.display(), "supergraph file unreadable; keeping the current one");
                continue;
            };
            if sdl == last_sdl {
                continue;
            }
            match Supergraph::parse(&sdl) {
                Ok(supergraph) => {
                    service.replace(supergraph);
                    last_sdl = sdl;
                    tracing::info!(path = %path.display(), "supergraph reloaded");
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "new supergraph rejected; keeping the current one");
                }
            }
        }
    })
}

pub fn router(service: Arc<RouterService>) -> Router {
    let limit = body_limit(&service.config);
    let ready_service = service.clone();
    let checks = vec![looma_server::ReadinessCheck::new("subgraphs", move || {
        let service = ready_service.clone();
        Box::pin(async move { service.check_subgraphs().await })
    })];
    let routes = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/", get(crate::graphiql::page).post(graphql_post))
        .route("/graphiql/{asset}", get(crate::graphiql::asset))
        .with_state(service)
        .merge(looma_server::health_routes(COMPONENT, checks));
    looma_server::with_edge_layers(routes, limit)
}

/// The largest body the edge layer lets through: a multipart upload, read in full up to half
/// again `max_upload_bytes` so that a file somewhat over the limit gets the multipart parser's
/// precise GraphQL error (a body cut short only breaks the client's pipe). Every other body is
/// held to `max_request_bytes` in `graphql_post`.
fn body_limit(config: &RouterConfig) -> usize {
    config
        .max_request_bytes
        .max(config.max_upload_bytes + config.max_upload_bytes / 2 + 1024 * 1024)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

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
fn csrf_refusal(config: &RouterConfig, headers: &HeaderMap) -> Option<Response> {
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
    Some(looma_server::graphql_error_response(
        StatusCode::BAD_REQUEST,
        looma_core::ErrorCode::BadUserInput,
        "CSRF_PREFLIGHT_REQUIRED",
        &format!(
            "this request could have been sent by a page on another site: send it with \
             `content-type: application/json`, or add one of these headers: {}",
            config.csrf_required_headers.join(", ")
        ),
    ))
}

fn payload_too_large(limit: usize, what: &str) -> Response {
    looma_server::graphql_error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        looma_core::ErrorCode::BadUserInput,
        "PAYLOAD_TOO_LARGE",
        &format!("{what} is larger than the {limit} bytes this router accepts"),
    )
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

async fn graphql_post(
    State(service): State<Arc<RouterService>>,
    request: axum::extract::Request,
) -> Response {
    let headers = request.headers().clone();
    if let Some(refusal) = csrf_refusal(&service.config, &headers) {
        return refusal;
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
        Err(()) => return payload_too_large(limit, "the request body"),
    };
    if multipart {
        return graphql_multipart(service, headers, body).await;
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
    let forwarded = match service.subgraph_headers(&headers).await {
        Ok(forwarded) => forwarded,
        Err(response) => return response,
    };
    respond(&service, &request, &forwarded, HttpMethod::Post).await
}

/// A GraphQL multipart request (file uploads): CSRF preflight header required, file sizes
/// limited, files forwarded only to the subgraph whose fetch uses them.
async fn graphql_multipart(
    service: Arc<RouterService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Multipart is a "simple" content type: `csrf_refusal` already required a preflight
    // header, unless CSRF prevention was switched off, in which case uploads still need one.
    if !looma_server::CSRF_PREFLIGHT_HEADERS
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return RequestError::new(ErrorCode::BadUserInput, "multipart requests must carry an `apollo-require-preflight` (or `x-looma-csrf`) header")
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
    let forwarded = match service.subgraph_headers(&headers).await {
        Ok(forwarded) => forwarded,
        Err(response) => return response,
    };
    let started = std::time::Instant::now();
    let body = service
        .handle_with_uploads(&request, &forwarded, Arc::new(uploads))
        .await;
    tracing::info!(
        operation = request.operation_name.as_deref().unwrap_or(""),
        errors = body.errors.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "graphql multipart request"
    );
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// Executes and answers, echoing the request id and logging the outcome.
async fn respond(
    service: &RouterService,
    request: &GraphqlRequest,
    forwarded: &HeaderMap,
    method: HttpMethod,
) -> Response {
    let started = std::time::Instant::now();
    let (status, body) = service.handle(request, forwarded, method).await;
    let request_id = forwarded.get(REQUEST_ID).cloned();
    tracing::info!(
        request_id = request_id
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        operation = request.operation_name.as_deref().unwrap_or(""),
        errors = body.errors.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response();
    if let Some(value) = request_id {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

async fn graphql_get(
    State(service): State<Arc<RouterService>>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> Response {
    if params.query.is_none() && crate::graphiql::wants_html(&headers) {
        return crate::graphiql::page().await;
    }
    let (variables, extensions) = match (
        json_param("variables", params.variables.as_deref()),
        json_param("extensions", params.extensions.as_deref()),
    ) {
        (Ok(variables), Ok(extensions)) => (variables, extensions),
        (Err(response), _) | (_, Err(response)) => return *response,
    };
    if params.query.is_none() && extensions.is_none() {
        return RequestError::new(ErrorCode::BadRequest, "GET needs a `query` parameter")
            .with_status(StatusCode::BAD_REQUEST)
            .into_response();
    }
    if params
        .query
        .as_ref()
        .is_some_and(|q| q.len() > service.config.max_request_bytes)
    {
        return payload_too_large(service.config.max_request_bytes, "the query");
    }
    let request = GraphqlRequest {
        query: params.query,
        operation_name: params.operation_name,
        variables,
        extensions,
    };
    let forwarded = match service.subgraph_headers(&headers).await {
        Ok(forwarded) => forwarded,
        Err(response) => return response,
    };
    // Whether the operation is a query is decided after parsing, on the selected operation.
    respond(&service, &request, &forwarded, HttpMethod::Get).await
}

/// A JSON-encoded query parameter (`variables`, `extensions`) of a GET request.
fn json_param(name: &str, value: Option<&str>) -> Result<Option<Value>, Box<Response>> {
    match value.map(serde_json::from_str::<Value>) {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some(value)),
        Some(Err(_)) => Err(Box::new(
            RequestError::new(ErrorCode::BadRequest, format!("`{name}` is not JSON"))
                .with_status(StatusCode::BAD_REQUEST)
                .into_response(),
        )),
    }
}
