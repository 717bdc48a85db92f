//! The HTTP shell every component shares: `/health` and `/ready`, edge layers (body limit,
//! panic catching, request tracing), authentication of the caller, the lock-down that admits
//! only the router and services (`require_trusted_callers`), and GraphQL execution that
//! guarantees every error carries an `extensions.code`.
//!
//! A subgraph's `lib.rs` builds its schema and calls these helpers; it never re-implements
//! them. Nothing here knows about any one subgraph's types.

mod feature_flags;
mod graphql;
pub mod graphql_ws;
mod health;
pub mod metrics;
mod remote_verifier;
mod schema;
mod service_client;
mod subgraph;
pub mod trace_context;
pub mod trace_export;
mod trusted_callers;
pub mod usage;

pub use feature_flags::FeatureFlags;
pub use graphql::{
    CSRF_PREFLIGHT_HEADERS, UploadLimits, caller, execute_graphql, execute_graphql_with_uploads,
    graphql_error_response, require,
};
pub use health::{ReadinessCheck, health_routes};
pub use remote_verifier::RemoteVerifier;
pub use schema::{ErrorStages, MAX_COMPLEXITY, MAX_DEPTH, subgraph_schema};
pub use service_client::{ServiceCallError, ServiceClient};
pub use subgraph::{SubgraphShell, federation_sdl};
pub use trusted_callers::{
    PUBLIC_PATHS, ROUTER_MARKER_HEADER, require_trusted_callers, router_marker,
};

use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnResponse, OnResponse, TraceLayer};

/// Request body limit for components that take no uploads.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// The process's one HTTP client pool, for every outgoing call (service calls, feature flags,
/// JWKS, API key checks, the revocation list): connections to a peer are reused across all of
/// them. It has no overall timeout — each request sets its own (`RequestBuilder::timeout`), as
/// callers differ in how long they may wait. Cloning is cheap (the pool is shared).
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new).clone()
}

/// Wraps a component's routes in the layers every component needs, and serves `/metrics`
/// beside them (refreshed by `collectors` before each answer).
pub fn with_edge_layers(
    component: &'static str,
    router: Router,
    body_limit_bytes: usize,
    collectors: Vec<metrics::Collector>,
) -> Router {
    let router = metrics::http_layer(router.merge(metrics::routes(collectors)), component);
    router
        // The explicit limit below governs; axum's own 2 MB extractor default must not.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(body_limit_bytes))
        .layer(axum::middleware::map_response(graphql_shaped_limit_errors))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |request: &axum::http::Request<axum::body::Body>| {
                    trace_context::request_span(component, request)
                })
                .on_response(
                    |response: &axum::http::Response<_>, latency, span: &tracing::Span| {
                        trace_context::record_status(response.status(), span);
                        DefaultOnResponse::new().on_response(response, latency, span);
                    },
                ),
        )
        .layer(axum::middleware::map_request(trace_context::attach))
}

/// Binds `addr` (port 0 picks a free port). Separate from [`serve`] so callers learn the real
/// address before the server runs.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves `router` until `shutdown` resolves, then drains in-flight requests. Handlers may
/// read the peer's address (`axum::extract::ConnectInfo<SocketAddr>`), as the router's
/// per-client limits do.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The body limit layer answers 413 in plain text; clients of a GraphQL API get a GraphQL error
/// with a code instead.
async fn graphql_shaped_limit_errors(
    response: axum::response::Response,
) -> axum::response::Response {
    if response.status() != axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return response;
    }
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if is_json {
        return response;
    }
    graphql_error_response(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        looma_core::ErrorCode::BadUserInput,
        "PAYLOAD_TOO_LARGE",
        "the request body is larger than this endpoint accepts",
    )
}
