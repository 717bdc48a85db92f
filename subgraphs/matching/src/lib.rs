//! The matching subgraph (port 8208): jobs, explainable weighted matching in both directions
//! (candidate generation through search, exact scoring here) and the match history.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (use cases, job outbox), `domain/` (pure:
//! score and explanations, weights, hard filters), `store.rs` (the only database access),
//! `clients.rs` (identity, resume and search as a signed service), `eval.rs`
//! (`looma eval matching`).

pub mod clients;
pub mod config;
pub mod domain;
mod error;
pub mod eval;
pub mod schema;
pub mod service;
pub mod store;

pub use config::MatchingConfig;
pub use error::MatchingError;
pub use service::MatchingService;

use axum::Router;
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec};
use looma_db::DatabaseConnection;
use looma_embed::EmbeddingService;
use looma_server::SubgraphShell;
use std::sync::Arc;

pub const COMPONENT: &str = "matching";

/// URLs of the subgraphs matching calls.
pub struct Peers {
    pub identity_url: String,
    pub resume_url: String,
    pub search_url: String,
}

/// Builds the service and, when configured, starts the job outbox dispatcher (until `stop`).
/// Matching honours the `job_matching` flag in `flags`; every change to a job is reported to
/// the router's entity cache through `entity_cache`.
#[allow(clippy::too_many_arguments)]
pub fn start(
    db: DatabaseConnection,
    config: MatchingConfig,
    embedder: EmbeddingService,
    forwarded: Option<ForwardedPrincipalCodec>,
    peers: Peers,
    flags: looma_server::FeatureFlags,
    entity_cache: Arc<dyn looma_cache::Cache>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> MatchingService {
    let clients = match forwarded {
        Some(codec) => Some(clients::Clients::new(
            codec,
            peers.identity_url,
            peers.resume_url,
            peers.search_url,
        )),
        None => {
            tracing::warn!(
                "server.router_secret is not set: matching cannot call search, resume or identity"
            );
            None
        }
    };
    let worker = config.worker_enabled;
    let service = MatchingService::new(store::MatchingStore::new(db), config, embedder, clients)
        .with_feature_flags(flags)
        .with_entity_cache(entity_cache);
    if worker {
        service.spawn_background(stop);
    }
    service
}

/// The HTTP routes: `/graphql`, `/metrics`, `/health`, `/ready`.
pub fn router(
    service: MatchingService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
    usage: Option<looma_server::usage::UsageLedger>,
) -> Router {
    let db = service.store().connection().clone();
    let loaders = service.clone();
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
    .per_request(move |request| schema::attach_loaders(request, &loaders))
    .database(db)
    .metrics(collector)
    .usage(usage)
    .into_router()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    looma_server::federation_sdl(schema::Query, schema::Mutation)
}
