//! The chat subgraph (port 8209): a recruiting assistant. Conversations and messages owned by
//! their user, answers streamed token by token (`messageStream`) or whole (`sendMessage`),
//! retrieval from the knowledge base through search's KNOWLEDGE collection with numbered
//! citations, and any language model behind `looma_llm::ChatModel` (the embedded SmolLM2 by
//! default, OpenAI-compatible and Anthropic providers with retries, breaker and fallback).
//!
//! Rooms: `schema.rs` (GraphQL, thin), `service.rs` (use cases: a turn, the knowledge base,
//! the outbox delivery), `domain/` (pure: chunking, prompt within the window, citations),
//! `store.rs` (the only database access), `clients.rs` (search and identity as a signed
//! service).

pub mod clients;
pub mod config;
pub mod domain;
mod error;
pub mod eval;
pub mod schema;
pub mod service;
pub mod store;
pub mod tools;

pub use config::ChatConfig;
pub use error::ChatError;
pub use service::ChatService;

use axum::Router;
use looma_auth::{Authenticator, CredentialVerifier, ForwardedPrincipalCodec};
use looma_db::DatabaseConnection;
use looma_embed::EmbeddingService;
use looma_llm::ChatModel;
use looma_server::{SubgraphShell, UploadLimits};
use std::sync::Arc;

pub const COMPONENT: &str = "chat";

/// URLs of the subgraphs chat calls.
pub struct Peers {
    pub identity_url: String,
    pub search_url: String,
    /// The router, which the assistant's tools call as the asking user.
    pub router_url: String,
}

/// Builds the service and, when configured, starts the knowledge outbox dispatcher (until
/// `stop`). Chat honours the `ai_chat` flag in `flags`.
#[allow(clippy::too_many_arguments)]
pub fn start(
    db: DatabaseConnection,
    config: ChatConfig,
    model: Arc<dyn ChatModel>,
    embedder: EmbeddingService,
    forwarded: Option<ForwardedPrincipalCodec>,
    peers: Peers,
    flags: looma_server::FeatureFlags,
    stop: tokio::sync::watch::Receiver<bool>,
) -> ChatService {
    let clients = match forwarded {
        Some(codec) => Some(clients::Clients::new(
            codec,
            peers.identity_url,
            peers.search_url,
            peers.router_url,
        )),
        None => {
            tracing::warn!(
                "server.router_secret is not set: chat answers without knowledge retrieval"
            );
            None
        }
    };
    let worker = config.worker_enabled;
    let service = ChatService::new(
        store::ChatStore::new(db),
        config,
        model,
        embedder,
        clients,
        flags,
    );
    if worker {
        service.spawn_background(stop);
    }
    service
}

/// The HTTP routes: `/graphql` (with multipart uploads and subscriptions), `/metrics`,
/// `/health`, `/ready`.
pub fn router(
    service: ChatService,
    verifier: Arc<dyn CredentialVerifier>,
    forwarded: Option<ForwardedPrincipalCodec>,
    usage: Option<looma_server::usage::UsageLedger>,
) -> Router {
    let db = service.store().connection().clone();
    let max_file = usize::try_from(service.config().max_document_bytes).unwrap_or(usize::MAX);
    let max_body = max_file.saturating_add(64 * 1024);
    let limits = UploadLimits {
        max_body_bytes: max_body,
        max_file_bytes: max_file,
        max_files: 1,
    };
    let collected = service.clone();
    let collector = looma_server::metrics::collector(move || {
        let service = collected.clone();
        async move { service.record_metrics().await }
    });
    // Each language model of the chain, on `/ready` and in `systemHealth`; none makes chat
    // unready (conversations, history and the knowledge base work without them).
    let model = service.model().clone();
    let providers = looma_server::ReadinessCheck::advisory("llm", move || {
        let health = model.health();
        Box::pin(async move {
            health
                .into_iter()
                .map(|p| {
                    let item = format!("{} ({})", p.provider, p.model);
                    (item, p.unavailable.map_or(Ok(()), Err))
                })
                .collect()
        })
    });
    SubgraphShell::new(
        COMPONENT,
        schema::build_schema(service),
        Authenticator::new(verifier, forwarded),
    )
    .readiness(vec![providers])
    .uploads(limits)
    .body_limit(max_body)
    .database(db)
    .metrics(collector)
    .usage(usage)
    .into_router()
}

/// The subgraph's federation SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    async_graphql::Schema::build(schema::Query, schema::Mutation, schema::SubscriptionRoot)
        .enable_federation()
        .enable_subscription_in_federation()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().federation())
}
