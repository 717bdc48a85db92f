//! The router's HTTP face: the routes (`/graphql` POST and GET — a GET that upgrades is the
//! subscription WebSocket —, `/` GraphiQL, `/graphiql/*`, `/health`, `/ready`), the edge
//! layers, and [`RouterService`], the state every request shares: the supergraph in force,
//! the subgraph transport, edge auth, persisted queries and subscription limits.
//! Everything GraphQL happens in [`crate::pipeline`]; this module only decides what reaches it.
//!
//! One room per concern:
//! - `handlers.rs` — request decoding (JSON, multipart, GET), CSRF prevention, body limits;
//! - `edge_auth.rs` — credentials verified once, the headers subgraphs receive;
//! - `apq.rs` — automatic persisted queries;
//! - `reload.rs` — reading the supergraph file and hot reload.

mod apq;
pub(crate) mod edge_auth;
mod handlers;
pub mod rate_limit;
mod reload;

pub use reload::{SupergraphFileError, read_supergraph, spawn_reloader};

use crate::config::RouterConfig;
use crate::error::RequestError;
use crate::pipeline::{self, GraphqlRequest, LoadedSupergraph, ResponseBody};
use crate::supergraph::Supergraph;
use crate::transport::{DedupTransport, EntityCacheTransport, HttpTransport, SubgraphTransport};
use apollo_compiler::ast::OperationType;
use arc_swap::ArcSwap;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use looma_auth::ForwardedPrincipalCodec;
use looma_cache::Cache;
use looma_core::ErrorCode;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub const COMPONENT: &str = "router";

/// A client's request id longer than this is replaced by a generated one: it is logged and
/// sent to every subgraph.
const MAX_REQUEST_ID_BYTES: usize = 128;

pub struct RouterService {
    /// Swapped whole on reload; a request keeps the one it started with.
    current: ArcSwap<LoadedSupergraph>,
    config: RouterConfig,
    pub(crate) transport: Arc<dyn SubgraphTransport>,
    pub(crate) edge_auth: edge_auth::EdgeAuth,
    persisted: apq::PersistedQueries,
    /// Open subscriptions, per client and in total.
    pub(crate) subscriptions: crate::subscription::SubscriptionLimits,
    /// Operations per client and window, when `router.rate_limit.enabled`.
    rate_limiter: Option<rate_limit::RateLimiter>,
    /// The HTTP transport's route table (`None` with a substituted transport).
    routes: Option<crate::transport::Routes>,
    /// Operations counted per client for the registry, when following one with
    /// `report_usage`.
    usage: Option<Arc<crate::usage::UsageRecorder>>,
}

/// Whether the HTTP method lets the operation change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMethod {
    /// Queries only: a GET can be triggered cross-site by a link or an `<img>`.
    Get,
    Post,
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
        let http = HttpTransport::new(
            Duration::from_millis(config.subgraph_timeout_ms),
            timeouts,
            config.traffic.clone(),
        );
        let routes = http.routes();
        let http: Arc<dyn SubgraphTransport> = Arc::new(http);
        let transport: Arc<dyn SubgraphTransport> = if config.traffic.deduplicate {
            Arc::new(DedupTransport::new(http))
        } else {
            http
        };
        Self::build(
            supergraph,
            config,
            forwarded,
            cache,
            transport,
            Some(routes),
        )
    }

    pub fn with_transport(
        supergraph: Supergraph,
        config: RouterConfig,
        forwarded: Option<ForwardedPrincipalCodec>,
        cache: Arc<dyn Cache>,
        transport: Arc<dyn SubgraphTransport>,
    ) -> Arc<Self> {
        Self::build(supergraph, config, forwarded, cache, transport, None)
    }

    fn build(
        supergraph: Supergraph,
        config: RouterConfig,
        forwarded: Option<ForwardedPrincipalCodec>,
        cache: Arc<dyn Cache>,
        transport: Arc<dyn SubgraphTransport>,
        routes: Option<crate::transport::Routes>,
    ) -> Arc<Self> {
        let usage = (config.registry.url.is_some() && config.registry.report_usage)
            .then(|| Arc::new(crate::usage::UsageRecorder::default()));
        // Outermost the entity cache (a cached entity is no fetch), then a span per fetch.
        let transport: Arc<dyn SubgraphTransport> =
            Arc::new(crate::transport::TracedTransport::new(transport));
        let transport: Arc<dyn SubgraphTransport> = match EntityCacheTransport::wrap(
            transport.clone(),
            cache.clone(),
            &config.entity_cache,
            forwarded.clone(),
        ) {
            Some(cached) => Arc::new(cached),
            None => transport,
        };
        Arc::new(RouterService {
            routes,
            usage,
            current: ArcSwap::from_pointee(LoadedSupergraph::new(
                supergraph,
                config.plan_cache_bytes,
            )),
            edge_auth: edge_auth::EdgeAuth::new(&config, forwarded),
            rate_limiter: rate_limit::RateLimiter::new(config.rate_limit.clone(), cache.clone()),
            persisted: apq::PersistedQueries::new(&config, cache),
            subscriptions: crate::subscription::SubscriptionLimits::new(
                config.subscriptions.max_per_client,
                config.subscriptions.max_total,
            ),
            config,
            transport,
        })
    }

    /// Authenticates the caller and builds the headers subgraphs receive; `Err` is the
    /// answer to send instead (no subgraph is called).
    pub async fn subgraph_headers(&self, incoming: &HeaderMap) -> Result<HeaderMap, RequestError> {
        self.edge_auth.subgraph_headers(incoming).await
    }

    /// `429 RATE_LIMITED` (with `Retry-After`) when `client` has used up its operations of
    /// `kind` for the window; `Ok` when rate limits are off.
    pub async fn check_rate(
        &self,
        client: &rate_limit::Client,
        kind: OperationType,
    ) -> Result<(), RequestError> {
        let Some(limiter) = &self.rate_limiter else {
            return Ok(());
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        limiter
            .check(client, kind, now_ms)
            .await
            .map_err(|seconds| {
                RequestError::new(
                    ErrorCode::RateLimited,
                    format!("too many operations; try again in {seconds} s"),
                )
                .with_status(StatusCode::TOO_MANY_REQUESTS)
                .with_retry_after(seconds)
            })
    }

    /// [`subgraph_headers`](Self::subgraph_headers), and who the request counts against for
    /// rate limiting (the verified principal, else `peer`).
    pub async fn admit(
        &self,
        incoming: &HeaderMap,
        peer: Option<std::net::IpAddr>,
    ) -> Result<(HeaderMap, rate_limit::Client), RequestError> {
        let principal = self.edge_auth.authenticate(incoming).await?;
        let client = rate_limit::Client::of(principal.as_ref(), peer);
        let mut headers = self
            .edge_auth
            .forwarded_headers(principal.as_ref(), incoming.get(edge_auth::REQUEST_ID));
        edge_auth::copy_traceparent(incoming, &mut headers);
        // Who the client says it is, for usage reports (and subgraphs' logs).
        for name in crate::usage::CLIENT_NAME_HEADERS
            .iter()
            .chain(crate::usage::CLIENT_VERSION_HEADERS)
        {
            if let Some(value) = incoming.get(*name) {
                headers.insert(*name, value.clone());
            }
        }
        Ok((headers, client))
    }

    /// The supergraph in force; requests keep the one they started with across a reload.
    pub fn current(&self) -> Arc<LoadedSupergraph> {
        self.current.load_full()
    }

    /// Sends each named subgraph's requests to these URLs from now on (the registry's healthy
    /// instances); an empty list fails its fetches fast. No effect with a substituted
    /// transport.
    pub fn set_routes(&self, routes: std::collections::HashMap<String, Vec<String>>) {
        if let Some(table) = &self.routes {
            table.store(Arc::new(routes));
        }
    }

    /// The routes in force (empty with a substituted transport).
    pub fn routes(&self) -> std::collections::HashMap<String, Vec<String>> {
        self.routes
            .as_ref()
            .map(|table| table.load().as_ref().clone())
            .unwrap_or_default()
    }

    /// Operations counted per client since the last report, when usage reporting is on.
    pub fn usage(&self) -> Option<&Arc<crate::usage::UsageRecorder>> {
        self.usage.as_ref()
    }

    /// Puts `supergraph` in force (with an empty plan cache) for the requests that start next.
    pub fn replace(&self, supergraph: Supergraph) {
        self.current.store(Arc::new(LoadedSupergraph::new(
            supergraph,
            self.config.plan_cache_bytes,
        )));
    }

    /// Every subgraph of the current supergraph answers `{ __typename }`.
    pub async fn check_subgraphs(&self) -> Result<(), String> {
        let loaded = self.current();
        // Signed like an anonymous request through the router, so subgraphs in lock-down
        // execute the probe instead of refusing it.
        let headers = self.edge_auth.router_marker();
        let probes = loaded.supergraph.subgraphs.iter().map(|subgraph| {
            let headers = &headers;
            async move {
                let request = crate::transport::SubgraphRequest::from_json(
                    &serde_json::json!({"query": "{ __typename }"}),
                );
                match self.transport.send(subgraph, request, headers).await {
                    Ok(_) => None,
                    Err(reason) => Some(format!("{}: {reason}", subgraph.name)),
                }
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
    /// parsed and selected operation, persisted query registration, execution. A
    /// subscription is refused here: it needs a streaming answer ([`crate::subscription`]).
    pub async fn handle(
        &self,
        request: &GraphqlRequest,
        headers: &HeaderMap,
        method: HttpMethod,
        client: Option<&rate_limit::Client>,
    ) -> (StatusCode, ResponseBody) {
        let (request, loaded, prepared) = match self.prepare_operation(request, method).await {
            Ok(prepared) => prepared,
            Err(error) => return (error.status, ResponseBody::from_request_error(error)),
        };
        if let Some(client) = client
            && let Err(error) = self.check_rate(client, prepared.kind()).await
        {
            return (error.status, ResponseBody::from_request_error(error));
        }
        if prepared.kind() == OperationType::Subscription {
            let error = RequestError::new(
                ErrorCode::BadRequest,
                "subscriptions stream their events: send this POST with `Accept: \
                 text/event-stream` (graphql-sse) or `Accept: multipart/mixed;\
                 subscriptionSpec=\"1.0\"` (Apollo multipart), or open a WebSocket \
                 (`graphql-transport-ws`) on this path",
            )
            .with_status(StatusCode::NOT_ACCEPTABLE);
            return (error.status, ResponseBody::from_request_error(error));
        }
        if let Some(usage) = &self.usage {
            usage.record(&prepared.usage, headers);
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

    /// The request's operation: its text found (persisted queries), prepared (cached) and
    /// checked against the method (only queries over GET); registered as a persisted query
    /// once it validated.
    pub(crate) async fn prepare_operation<'r>(
        &self,
        request: &'r GraphqlRequest,
        method: HttpMethod,
    ) -> Result<
        (
            Cow<'r, GraphqlRequest>,
            Arc<LoadedSupergraph>,
            Arc<pipeline::PreparedOperation>,
        ),
        RequestError,
    > {
        let (request, registration) = match self.persisted.resolve(request).await? {
            apq::Resolved::Found(with_query) => (Cow::Owned(with_query), None),
            apq::Resolved::AsSent(registration) => (Cow::Borrowed(request), registration),
        };
        let loaded = self.current();
        let prepared = pipeline::prepare_request(&loaded, &self.config, &request)?;
        if method == HttpMethod::Get && prepared.kind() != OperationType::Query {
            return Err(RequestError::new(
                ErrorCode::BadRequest,
                format!(
                    "{} operations must be sent with POST",
                    prepared.kind().name()
                ),
            )
            .with_status(StatusCode::METHOD_NOT_ALLOWED));
        }
        if let Some(registration) = registration {
            self.persisted.register(registration).await;
        }
        Ok((request, loaded, prepared))
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
        let prepared = match pipeline::prepare_request(&loaded, &self.config, request) {
            Ok(prepared) => prepared,
            Err(error) => return ResponseBody::from_request_error(error),
        };
        if let Some(usage) = &self.usage {
            usage.record(&prepared.usage, headers);
        }
        pipeline::execute_prepared(&loaded, &transport, request, &prepared, headers).await
    }
}

pub fn router(service: Arc<RouterService>) -> Router {
    let limit = body_limit(&service.config);
    let ready_service = service.clone();
    let checks = vec![looma_server::ReadinessCheck::new("subgraphs", move || {
        let service = ready_service.clone();
        Box::pin(async move { service.check_subgraphs().await })
    })];
    let routes = Router::new()
        .route(
            "/graphql",
            get(handlers::graphql_get).post(handlers::graphql_post),
        )
        .route("/", get(crate::graphiql::page).post(handlers::graphql_post))
        .route("/graphiql/{asset}", get(crate::graphiql::asset))
        .with_state(service)
        .merge(looma_server::health_routes(COMPONENT, checks));
    // Outermost last: an overlong client id is dropped, a missing one generated (UUID v4),
    // and the id in force echoed on every response.
    looma_server::with_edge_layers(COMPONENT, routes, limit, Vec::new())
        .layer(PropagateRequestIdLayer::new(edge_auth::REQUEST_ID))
        .layer(SetRequestIdLayer::new(
            edge_auth::REQUEST_ID,
            MakeRequestUuid,
        ))
        .layer(axum::middleware::map_request(drop_overlong_request_id))
}

async fn drop_overlong_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    if request
        .headers()
        .get(edge_auth::REQUEST_ID)
        .is_some_and(|id| id.len() > MAX_REQUEST_ID_BYTES)
    {
        request.headers_mut().remove(edge_auth::REQUEST_ID);
    }
    request
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
