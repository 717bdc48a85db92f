//! The resume subgraph (port 8207): uploads (multipart and base64), the processing pipeline
//! (`RECEIVED → PARSED → INDEXED`, or `FAILED`/`NEEDS_OCR`), bilingual parsing into a
//! candidate profile, embeddings, and reliable indexing into search through an outbox.
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (use cases, worker, outbox dispatcher),
//! `domain/` (pure: format detection, text extraction, parsing, PII), `store.rs` (the only
//! database access), `indexer.rs` (the search client), `eval.rs` (`looma eval resumes`).

pub mod config;
pub mod domain;
mod error;
pub mod eval;
pub mod indexer;
pub mod schema;
pub mod service;
pub mod store;

pub use config::ResumeConfig;
pub use error::ResumeError;
pub use service::ResumeService;

use async_graphql::SDLExportOptions;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec};
use looma_db::DatabaseConnection;
use looma_embed::EmbeddingService;
use looma_server::{ReadinessCheck, UploadLimits};
use schema::ResumeSchema;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub const COMPONENT: &str = "resume";

/// Builds the service and, when configured, starts its background worker and outbox, which
/// run until `stop` turns true. Uploads and reprocessing honour the `resume_processing` flag.
pub fn start(
    db: DatabaseConnection,
    config: ResumeConfig,
    embedder: EmbeddingService,
    forwarded: Option<ForwardedPrincipalCodec>,
    flags: looma_server::FeatureFlags,
    stop: tokio::sync::watch::Receiver<bool>,
) -> ResumeService {
    let indexer = match (&config.search_url, forwarded) {
        (Some(url), Some(codec)) => Some(indexer::SearchIndexer::new(url.clone(), codec)),
        (Some(_), None) => {
            tracing::warn!(
                "resume.search_url is set but server.router_secret is not: index updates wait in the outbox"
            );
            None
        }
        _ => None,
    };
    let worker = config.worker_enabled;
    let service = ResumeService::new(store::ResumeStore::new(db), config, embedder, indexer)
        .with_feature_flags(flags);
    if worker {
        service.spawn_background(stop);
    }
    service
}

#[derive(Clone)]
struct AppState {
    schema: ResumeSchema,
    service: ResumeService,
    authenticator: Authenticator,
    limits: UploadLimits,
}

/// The HTTP routes: `/graphql`, `/metrics`, `/health`, `/ready`.
pub fn router(
    service: ResumeService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
) -> Router {
    let max_file = service.config().max_upload_bytes as usize;
    // Base64 inflates by 4/3; leave room for the rest of the request.
    let max_body = max_file / 3 * 4 + 2 * 1024 * 1024;
    let state = AppState {
        schema: schema::build_schema(service.clone()),
        service: service.clone(),
        authenticator: Authenticator::new(verifier, forwarded),
        limits: UploadLimits {
            max_body_bytes: max_body,
            max_file_bytes: max_file,
            max_files: 1,
        },
    };
    let db = service.store().connection().clone();
    let checks = vec![ReadinessCheck::new("database", move || {
        let db = db.clone();
        Box::pin(async move { looma_db::ping(&db).await.map_err(|e| e.to_string()) })
    })];
    let routes = Router::new()
        .route("/graphql", post(graphql))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(looma_server::health_routes(COMPONENT, checks));
    looma_server::with_edge_layers(routes, max_body)
}

async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    looma_server::execute_graphql_with_uploads(
        &state.schema,
        &state.authenticator,
        request,
        state.limits,
        |req| schema::attach_loaders(req, &state.service),
    )
    .await
}

/// Prometheus text exposition of the resume store's statement counters and outbox depth.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let counters = state.service.store().counters();
    let outbox = state.service.store().outbox_len().await.unwrap_or(0);
    let body = format!(
        "# TYPE looma_resume_sql_statements_total counter\n\
         looma_resume_sql_statements_total {}\n\
         # TYPE looma_resume_sql_lookups_by_id_total counter\n\
         looma_resume_sql_lookups_by_id_total {}\n\
         # TYPE looma_resume_outbox_pending gauge\n\
         looma_resume_outbox_pending {}\n",
        counters.total.load(Ordering::Relaxed),
        counters.resume_lookups_by_id.load(Ordering::Relaxed),
        outbox,
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
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
