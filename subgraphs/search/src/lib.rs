//! The search subgraph (port 8210): full-text, vector, semantic and hybrid search plus
//! suggestions over resumes, jobs and knowledge documents, with index writes from the
//! owning subgraphs.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (use cases), `domain/` (pure: rank
//! fusion, cursors, validation), `engines.rs` (embedded tantivy + usearch by default,
//! Elasticsearch / Qdrant when configured), `eval.rs` (`looma eval search`), `corpus.rs`
//! (generated documents for benchmarks).

pub mod config;
pub mod corpus;
pub mod domain;
pub mod engines;
mod error;
pub mod eval;
mod in_process;
pub mod schema;
pub mod service;

pub use config::SearchConfig;
pub use engines::Engines;
pub use error::SearchError;
pub use service::SearchService;

use axum::Router;
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec};
use looma_embed::EmbeddingService;
use looma_server::{ReadinessCheck, SubgraphShell};
use std::sync::Arc;

pub const COMPONENT: &str = "search";

/// Largest request body: a batch of documents with their vectors.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Opens the configured engines and builds the service; `flags` gate the query kinds.
pub fn start(
    config: SearchConfig,
    embedder: EmbeddingService,
    flags: looma_server::FeatureFlags,
) -> Result<SearchService, SearchError> {
    let engines = Engines::open(&config, embedder.dimension(), &embedder.model_id())?;
    tracing::info!(
        text = engines.text.backend(),
        vector = engines.vector.backend(),
        "search engines open"
    );
    Ok(SearchService::with_flags(engines, embedder, config, flags))
}

/// The HTTP routes: `/graphql`, `/metrics`, `/health`, `/ready`.
pub fn router(
    service: SearchService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
    usage: Option<looma_server::usage::UsageLedger>,
) -> Router {
    let schema = schema::build_schema(service.clone());
    let collected = service.clone();
    let collector = looma_server::metrics::collector(move || {
        let service = collected.clone();
        async move { service.record_metrics().await }
    });
    let checks = vec![ReadinessCheck::new("indexes", move || {
        let service = service.clone();
        Box::pin(async move { service.stats().await.map(|_| ()).map_err(|e| e.to_string()) })
    })];
    SubgraphShell::new(COMPONENT, schema, Authenticator::new(verifier, forwarded))
        .body_limit(MAX_BODY_BYTES)
        .readiness(checks)
        .metrics(collector)
        .usage(usage)
        .into_router()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    looma_server::federation_sdl(schema::Query, schema::Mutation)
}
