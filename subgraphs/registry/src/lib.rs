//! The schema registry subgraph (port 8213): every subgraph's published SDL versions (who,
//! when, commit), the composed supergraph versions and which each router serves, schema checks
//! that know which operations clients used, and live registration — instances that publish
//! their SDL and URL at start and heartbeat; routers follow it by long poll and swap
//! supergraphs without a restart.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (publish, check, instances, the router
//! poll, usage), `domain.rs` (pure: names, URLs, which changes operations touched),
//! `store.rs` (the only database access). Composition and the change classification are the
//! router's (`looma_router::compose`, `looma_router::schema_diff`).

pub mod config;
pub mod domain;
mod error;
pub mod schema;
pub mod service;
pub mod store;

pub use config::RegistryConfig;
pub use error::RegistryError;
pub use service::RegistryService;

use axum::Router;
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec};
use looma_db::DatabaseConnection;
use looma_server::SubgraphShell;
use std::sync::Arc;

pub const COMPONENT: &str = "registry";

/// Builds the service and, when `worker_enabled`, starts the sweeper (until `stop`).
pub fn start(
    db: DatabaseConnection,
    config: RegistryConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> RegistryService {
    let worker = config.worker_enabled;
    let service = RegistryService::new(store::RegistryStore::new(db), config);
    if worker {
        service.spawn_sweeper(stop);
    }
    service
}

/// The HTTP routes: `/graphql`, `/metrics`, `/health`, `/ready`.
pub fn router(
    service: RegistryService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
) -> Router {
    let db = service.store().connection().clone();
    let collected = service.clone();
    let collector = looma_server::metrics::collector(move || {
        let service = collected.clone();
        async move { service.record_metrics().await }
    });
    SubgraphShell::new(
        COMPONENT,
        schema::build_schema(service),
        Authenticator::new(verifier, forwarded),
    )
    .database(db)
    .metrics(collector)
    .into_router()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    looma_server::federation_sdl(schema::Query, schema::Mutation)
}
