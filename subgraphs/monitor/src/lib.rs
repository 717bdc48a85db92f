//! The monitor subgraph (port 8212): the platform's health (`systemHealth`: every component's
//! readiness, version, uptime and dependencies), alert rules judged in-process on every
//! component's `/metrics` with their history (`alerts`, `alertRules`) and a signed webhook,
//! and per-feature usage for the CRM's dashboard (`usage`, `usageByUser`), platform-wide in
//! hourly buckets and per user as the components report it (`reportUserUsage`), hourly
//! folded into days.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (probing, the watch loop, usage),
//! `domain/` (pure: the exposition format, rules, the alert book, webhook signing),
//! `store.rs` (the only database access). The same rules ship for Prometheus in
//! `docker/prometheus/rules/looma.yml`.

pub mod config;
pub mod domain;
mod error;
pub mod schema;
pub mod service;
pub mod store;

pub use config::{MonitorConfig, MonitorTarget};
pub use error::MonitorError;
pub use service::MonitorService;

use axum::Router;
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec, permission};
use looma_db::DatabaseConnection;
use looma_server::{ServiceClient, SubgraphShell};
use std::sync::Arc;

pub const COMPONENT: &str = "monitor";

/// Builds the service over `targets` and, when configured, starts the watch loop (until
/// `stop`). The alert rules are read from identity (at `identity_url`, as a signed service)
/// when a router secret is configured.
pub fn start(
    db: DatabaseConnection,
    config: MonitorConfig,
    targets: Vec<MonitorTarget>,
    forwarded: Option<ForwardedPrincipalCodec>,
    identity_url: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> MonitorService {
    let identity = forwarded.map(|codec| {
        ServiceClient::signed(
            "identity",
            identity_url,
            codec,
            COMPONENT,
            &[permission::CONFIG_READ],
        )
    });
    let worker = config.worker_enabled;
    let service = MonitorService::new(store::MonitorStore::new(db), config, targets, identity);
    if worker {
        service.spawn_watch(stop);
    }
    service
}

/// The HTTP routes: `/graphql`, `/metrics`, `/health`, `/ready`.
pub fn router(
    service: MonitorService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
) -> Router {
    let db = service.store().connection().clone();
    SubgraphShell::new(
        COMPONENT,
        schema::build_schema(service),
        Authenticator::new(verifier, forwarded),
    )
    .database(db)
    .into_router()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    looma_server::federation_sdl(schema::Query, schema::Mutation)
}
