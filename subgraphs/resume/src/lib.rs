//! The resume subgraph (port 8207): uploads (multipart and base64), the processing pipeline
//! (`RECEIVED → PARSED → INDEXED`, or `FAILED`/`NEEDS_OCR`), bilingual parsing into a
//! candidate profile, embeddings, and reliable indexing into search through an outbox.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (use cases, worker, outbox dispatcher),
//! `domain/` (pure: format detection, text extraction, parsing, PII), `store.rs` (the only
//! database access), `eval.rs` (`looma eval resumes`). Search is called through
//! `looma_search_client`, the outbox dispatched by `looma_outbox`.

pub mod config;
pub mod domain;
mod error;
pub mod eval;
pub mod schema;
pub mod service;
pub mod store;

pub use config::ResumeConfig;
pub use error::ResumeError;
pub use service::ResumeService;

use axum::Router;
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec};
use looma_db::DatabaseConnection;
use looma_embed::EmbeddingService;
use looma_server::{SubgraphShell, UploadLimits};
use std::sync::Arc;

pub const COMPONENT: &str = "resume";

/// Builds the service (uploaded files sealed at rest with `keyring`) and, when configured,
/// starts its background worker and outbox, which run until `stop` turns true. Uploads and
/// reprocessing honour the `resume_processing` flag; every change to a resume is reported to
/// the router's entity cache through `entity_cache`.
#[allow(clippy::too_many_arguments)]
pub fn start(
    db: DatabaseConnection,
    config: ResumeConfig,
    embedder: EmbeddingService,
    forwarded: Option<ForwardedPrincipalCodec>,
    flags: looma_server::FeatureFlags,
    keyring: Arc<looma_core::envelope::Keyring>,
    entity_cache: Arc<dyn looma_cache::Cache>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> ResumeService {
    let indexer = match (&config.search_url, forwarded) {
        (Some(url), Some(codec)) => Some(looma_search_client::SearchClient::signed(
            url.clone(),
            codec,
            "resume-indexer",
        )),
        (Some(_), None) => {
            tracing::warn!(
                "resume.search_url is set but server.router_secret is not: index updates wait in the outbox"
            );
            None
        }
        _ => None,
    };
    let worker = config.worker_enabled;
    let store = store::ResumeStore::new(db).with_keyring(keyring);
    let service = ResumeService::new(store, config, embedder, indexer, Some(entity_cache))
        .with_feature_flags(flags);
    if worker {
        service.spawn_background(stop);
    }
    service
}

/// The HTTP routes: `/graphql`, `/metrics` (the shell's, with the store's and outbox's
/// counters), `/health`, `/ready`.
pub fn router(
    service: ResumeService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
    usage: Option<looma_server::usage::UsageLedger>,
) -> Router {
    let max_file = service.config().max_upload_bytes as usize;
    // Base64 inflates by 4/3; leave room for the rest of the request.
    let max_body = max_file / 3 * 4 + 2 * 1024 * 1024;
    let limits = UploadLimits {
        max_body_bytes: max_body,
        max_file_bytes: max_file,
        max_files: 1,
    };
    let db = service.store().connection().clone();
    let collected = service.clone();
    let collector = looma_server::metrics::collector(move || {
        let service = collected.clone();
        async move { service.record_metrics().await }
    });
    let loaders = service.clone();
    SubgraphShell::new(
        COMPONENT,
        schema::build_schema(service),
        Authenticator::new(verifier, forwarded),
    )
    .per_request(move |request| schema::attach_loaders(request, &loaders))
    .uploads(limits)
    .body_limit(max_body)
    .database(db)
    .metrics(collector)
    .usage(usage)
    .into_router()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    looma_server::federation_sdl(schema::Query, schema::Mutation)
}
