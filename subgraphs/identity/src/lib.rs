//! The identity subgraph (port 8211): users, roles and permissions, login with ES256 access
//! tokens and rotating refresh tokens, API keys for services, the JWKS document, the
//! revocation list, and the versioned configuration service with feature flags.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (use cases), `domain/` (pure rules),
//! `store.rs` (the only database access), `keys.rs` (signing keys), `revocations.rs` (revoked
//! tokens and API keys).

pub mod config;
pub mod domain;
mod error;
pub mod keys;
pub mod revocations;
pub mod schema;
pub mod service;
pub mod store;

pub use config::IdentityConfig;
pub use error::IdentityError;
pub use service::IdentityService;

use async_graphql::SDLExportOptions;
use async_graphql_axum::{GraphQLRequest, rejection::GraphQLRejection};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use looma_auth::{Authenticator, ForwardedPrincipalCodec};
use looma_cache::Cache;
use looma_db::DatabaseConnection;
use looma_server::ReadinessCheck;
use schema::IdentitySchema;
use std::sync::Arc;

pub const COMPONENT: &str = "identity";

/// Starts the identity service: seeds roles, loads signing keys and the revocation list, and
/// re-reads both periodically so another replica's rotation or revocation is picked up.
pub async fn start(
    db: DatabaseConnection,
    cache: Arc<dyn Cache>,
    config: IdentityConfig,
) -> Result<IdentityService, IdentityError> {
    let reload_every = std::time::Duration::from_secs(config.key_reload_secs);
    let revocation_reload_every = std::time::Duration::from_millis(config.revocation_reload_ms);
    let service = IdentityService::start(store::IdentityStore::new(db), cache, config).await?;
    let keys = service.keys().clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(reload_every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(error) = keys.reload().await {
                tracing::warn!(%error, "could not reload signing keys");
            }
        }
    });
    service.spawn_revocation_reloader(revocation_reload_every);
    Ok(service)
}

#[derive(Clone)]
struct AppState {
    schema: IdentitySchema,
    service: IdentityService,
    authenticator: Authenticator,
}

/// The HTTP routes: `/graphql`, `/.well-known/jwks.json`, `/revocations`, `/health`, `/ready`.
/// `forwarded` is the codec for the router's principal header; `None` trusts no router.
pub fn router(service: IdentityService, forwarded: Option<ForwardedPrincipalCodec>) -> Router {
    let authenticator = Authenticator::new(Arc::new(service.clone()), forwarded);
    let state = AppState {
        schema: schema::build_schema(service.clone()),
        service: service.clone(),
        authenticator,
    };
    let db = service.store().connection().clone();
    let cache_service = service.clone();
    let checks = vec![
        ReadinessCheck::new("database", move || {
            let db = db.clone();
            Box::pin(async move { looma_db::ping(&db).await.map_err(|e| e.to_string()) })
        }),
        ReadinessCheck::new("cache", move || {
            let service = cache_service.clone();
            Box::pin(async move { service.ping_cache().await })
        }),
    ];
    let routes = Router::new()
        .route("/graphql", post(graphql))
        .route("/.well-known/jwks.json", get(jwks))
        .route(looma_auth::revocation::REVOCATIONS_PATH, get(revocations))
        .with_state(state)
        .merge(looma_server::health_routes(COMPONENT, checks));
    looma_server::with_edge_layers(routes, looma_server::DEFAULT_BODY_LIMIT_BYTES)
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    looma_server::execute_graphql(
        &state.schema,
        &state.authenticator,
        &headers,
        request,
        |req| schema::attach_loaders(req, &state.service),
    )
    .await
}

async fn jwks(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.service.jwks()),
    )
}

/// The revocation list for verifiers, who poll it every second or so: `304 Not Modified` when
/// they already hold the current version (`If-None-Match`). Public, like the JWKS: it names
/// users and keys only by digest.
async fn revocations(State(state): State<AppState>, headers: HeaderMap) -> Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let published = state.service.revocations().current();
    let etag = format!("\"{}\"", published.list.version);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim() == etag);
    let response_headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache".to_owned()),
    ];
    if unchanged {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    (response_headers, Json(published.list.clone())).into_response()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    async_graphql::Schema::build(
        schema::Query,
        schema::Mutation,
        async_graphql::EmptySubscription,
    )
    .enable_federation()
    .finish()
    .sdl_with_options(SDLExportOptions::new().federation())
}
