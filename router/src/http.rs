//! The router's HTTP face: `POST /graphql` (and `GET` for queries), `/health`, `/ready`, and
//! supergraph hot reload. Everything GraphQL happens in [`crate::pipeline`].

use crate::config::RouterConfig;
use crate::execute::{HttpTransport, SubgraphTransport};
use crate::pipeline::{self, GraphqlRequest, LoadedSupergraph, ResponseBody};
use crate::supergraph::Supergraph;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use looma_auth::{Authenticator, ForwardedPrincipalCodec};
use looma_cache::Cache;
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
    /// Automatic persisted queries (Apollo APQ protocol): operation text by SHA-256, in the
    /// shared cache so every router replica knows a query once one has seen it.
    persisted: Arc<dyn Cache>,
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
        Arc::new(RouterService {
            current: RwLock::new(Arc::new(LoadedSupergraph::new(
                supergraph,
                config.plan_cache_size,
            ))),
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
            self.config.plan_cache_size,
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
                match self.transport.send(subgraph, body, &HeaderMap::new()).await {
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

    pub async fn handle(&self, request: &GraphqlRequest, headers: &HeaderMap) -> ResponseBody {
        let resolved;
        let request = match self.resolve_persisted(request).await {
            Ok(Some(with_query)) => {
                resolved = with_query;
                &resolved
            }
            Ok(None) => request,
            Err(body) => return ResponseBody::from_request_error(body),
        };
        let loaded = self.current();
        pipeline::execute(
            &loaded,
            &self.config,
            self.transport.as_ref(),
            request,
            headers,
        )
        .await
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
    /// before; one carrying both registers the text after checking the hash.
    async fn resolve_persisted(
        &self,
        request: &GraphqlRequest,
    ) -> Result<Option<GraphqlRequest>, Value> {
        let Some(persisted) = request
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
        else {
            return Ok(None);
        };
        if persisted.get("version").and_then(Value::as_i64) != Some(1) {
            return Err(pipeline::request_error(
                "PERSISTED_QUERY_NOT_SUPPORTED",
                "only version 1 of automatic persisted queries is supported",
            ));
        }
        let Some(hash) = persisted.get("sha256Hash").and_then(Value::as_str) else {
            return Err(pipeline::request_error(
                "BAD_USER_INPUT",
                "persistedQuery needs a sha256Hash",
            ));
        };
        let hash = hash.to_ascii_lowercase();
        match request.query.as_deref() {
            Some(query) => {
                use sha2::Digest;
                let actual: String = sha2::Sha256::digest(query.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if actual != hash {
                    return Err(pipeline::request_error(
                        "PERSISTED_QUERY_HASH_MISMATCH",
                        "the query does not match its sha256Hash",
                    ));
                }
                if let Err(error) = self
                    .persisted
                    .set(&apq_key(&hash), query.as_bytes(), APQ_TTL)
                    .await
                {
                    tracing::warn!(%error, "could not store a persisted query");
                }
                Ok(None)
            }
            None => {
                // A cache outage reads as "not found": the client then sends the full text.
                let stored = self.persisted.get(&apq_key(&hash)).await.ok().flatten();
                match stored.and_then(|bytes| String::from_utf8(bytes).ok()) {
                    Some(query) => Ok(Some(GraphqlRequest {
                        query: Some(query),
                        ..request.clone()
                    })),
                    None => Err(pipeline::request_error(
                        "PERSISTED_QUERY_NOT_FOUND",
                        "PersistedQueryNotFound",
                    )),
                }
            }
        }
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

/// The largest body accepted: ordinary requests, or an upload (multipart, or base64 in JSON,
/// which inflates by 4/3) of up to `max_upload_bytes`.
fn body_limit(config: &RouterConfig) -> usize {
    config
        .max_request_bytes
        .max(config.max_upload_bytes / 3 * 4 + 2 * 1024 * 1024)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn graphql_post(
    State(service): State<Arc<RouterService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/"));
    if multipart {
        return graphql_multipart(service, headers, body).await;
    }
    let request: GraphqlRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                pipeline::request_error(
                    "BAD_REQUEST",
                    format!("the body is not a GraphQL JSON request: {error}"),
                ),
            );
        }
    };
    let forwarded = match service.subgraph_headers(&headers).await {
        Ok(forwarded) => forwarded,
        Err(response) => return response,
    };
    respond(&service, &request, &forwarded).await
}

/// A GraphQL multipart request (file uploads): CSRF preflight header required, file sizes
/// limited, files forwarded only to the subgraph whose fetch uses them.
async fn graphql_multipart(
    service: Arc<RouterService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !looma_server::CSRF_PREFLIGHT_HEADERS
        .iter()
        .any(|h| headers.contains_key(*h))
    {
        return json_response(
            StatusCode::BAD_REQUEST,
            pipeline::request_error(
                "BAD_USER_INPUT",
                "multipart requests must carry an `apollo-require-preflight` (or `x-looma-csrf`) header",
            ),
        );
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
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                pipeline::request_error(
                    "BAD_USER_INPUT",
                    format!(
                        "a file exceeds the {} byte upload limit",
                        service.config.max_upload_bytes
                    ),
                ),
            );
        }
        Err(error) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                pipeline::request_error(
                    "BAD_USER_INPUT",
                    format!("not a valid GraphQL multipart request: {error}"),
                ),
            );
        }
    };
    let uploads: Vec<crate::uploads::UploadedFile> = parsed
        .uploads
        .iter()
        .map(|u| crate::uploads::UploadedFile {
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
) -> Response {
    let started = std::time::Instant::now();
    let body = service.handle(request, forwarded).await;
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
        StatusCode::OK,
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
        return json_response(
            StatusCode::BAD_REQUEST,
            pipeline::request_error("BAD_REQUEST", "GET needs a `query` parameter"),
        );
    }
    if params
        .query
        .as_deref()
        .is_some_and(|q| q.trim_start().starts_with("mutation"))
    {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            pipeline::request_error("BAD_REQUEST", "mutations must be sent with POST"),
        );
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
    respond(&service, &request, &forwarded).await
}

/// A JSON-encoded query parameter (`variables`, `extensions`) of a GET request.
fn json_param(name: &str, value: Option<&str>) -> Result<Option<Value>, Box<Response>> {
    match value.map(serde_json::from_str::<Value>) {
        None => Ok(None),
        Some(Ok(value)) => Ok(Some(value)),
        Some(Err(_)) => Err(Box::new(json_response(
            StatusCode::BAD_REQUEST,
            pipeline::request_error("BAD_REQUEST", format!("`{name}` is not JSON")),
        ))),
    }
}
