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

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use looma_auth::{Authenticator, ForwardedPrincipalCodec};
use looma_cache::Cache;
use looma_db::DatabaseConnection;
use looma_server::{ReadinessCheck, SubgraphShell};
use std::sync::Arc;

pub const COMPONENT: &str = "identity";

/// Starts the identity service: seeds roles, loads signing keys and the revocation list, and
/// re-reads both periodically so another replica's rotation or revocation is picked up.
pub async fn start(
    db: DatabaseConnection,
    cache: Arc<dyn Cache>,
    config: IdentityConfig,
    keyring: Arc<looma_core::envelope::Keyring>,
) -> Result<IdentityService, IdentityError> {
    let reload_every = std::time::Duration::from_secs(config.key_reload_secs);
    let revocation_reload_every = std::time::Duration::from_millis(config.revocation_reload_ms);
    let store = store::IdentityStore::with_keyring(db, keyring);
    let service = IdentityService::start(store, cache, config).await?;
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

/// The HTTP routes: `/graphql`, `/.well-known/jwks.json`, `/revocations`, `/metrics`,
/// `/health`, `/ready`.
/// `forwarded` is the codec for the router's principal header; `None` trusts no router.
pub fn router(service: IdentityService, forwarded: Option<ForwardedPrincipalCodec>) -> Router {
    let authenticator = Authenticator::new(Arc::new(service.clone()), forwarded);
    let db = service.store().connection().clone();
    let cache_service = service.clone();
    let checks = vec![ReadinessCheck::new("cache", move || {
        let service = cache_service.clone();
        Box::pin(async move { service.ping_cache().await })
    })];
    let own_routes = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route(looma_auth::revocation::REVOCATIONS_PATH, get(revocations))
        .with_state(service.clone());
    let loaders = service.clone();
    SubgraphShell::new(COMPONENT, schema::build_schema(service), authenticator)
        .per_request(move |request| schema::attach_loaders(request, &loaders))
        .database(db)
        .readiness(checks)
        .routes(own_routes)
        .into_router()
}

async fn jwks(State(service): State<IdentityService>) -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
        Json(service.jwks()),
    )
}

/// The revocation list for verifiers, who poll it every second or so: `304 Not Modified` when
/// they already hold the current version (`If-None-Match`). Public, like the JWKS: it names
/// users and keys only by digest.
async fn revocations(State(service): State<IdentityService>, headers: HeaderMap) -> Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let published = service.revocations().current();
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
    looma_server::federation_sdl(schema::Query, schema::Mutation)
}
