//! Automatic persisted queries (Apollo's APQ protocol, version 1): a client may send only the
//! SHA-256 of an operation it sent before. Texts are kept on this router within
//! `apq_cache_bytes` and, when the shared cache is Redis and the text is small enough, there
//! too, so every replica knows a query once one has seen it.
//!
//! A text is registered only after its operation validates (the caller decides when, with
//! [`PendingRegistration`]), so the store never fills with garbage. Nothing here parses GraphQL.

use crate::config::RouterConfig;
use crate::error::RequestError;
use crate::pipeline::{self, GraphqlRequest};
use looma_cache::Cache;
use looma_core::ErrorCode;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long a persisted query is remembered after it was last registered.
const APQ_TTL: Duration = Duration::from_secs(24 * 3600);

fn shared_key(hash: &str) -> String {
    format!("router:apq:{hash}")
}

/// The persisted query texts this router knows, by lowercase hex SHA-256.
pub(super) struct PersistedQueries {
    local: moka::future::Cache<String, Arc<str>>,
    shared: Arc<dyn Cache>,
    shared_max_bytes: usize,
}

/// A persisted query sent with its text: stored once its operation has validated.
pub(super) struct PendingRegistration {
    hash: String,
    query: Arc<str>,
}

/// What the `persistedQuery` extension of a request asks for.
pub(super) enum Resolved {
    /// No `persistedQuery` extension, or one sent with its text: run the request as it is.
    AsSent(Option<PendingRegistration>),
    /// Only the hash was sent and the text is known: run this request instead.
    Found(GraphqlRequest),
}

impl PersistedQueries {
    pub(super) fn new(config: &RouterConfig, shared: Arc<dyn Cache>) -> Self {
        let local = moka::future::Cache::builder()
            .max_capacity(config.apq_cache_bytes)
            .weigher(|hash: &String, query: &Arc<str>| {
                u32::try_from(hash.len() + query.len() + 64).unwrap_or(u32::MAX)
            })
            .time_to_idle(APQ_TTL)
            .build();
        PersistedQueries {
            local,
            shared,
            shared_max_bytes: config.apq_shared_max_bytes,
        }
    }

    /// A request may carry only the hash of a query sent before (→ the request with its text);
    /// one carrying both has its hash checked and is registered only after its operation
    /// validates (→ the pending registration).
    pub(super) async fn resolve(&self, request: &GraphqlRequest) -> Result<Resolved, RequestError> {
        let Some(persisted) = request
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
        else {
            return Ok(Resolved::AsSent(None));
        };
        if persisted.get("version").and_then(Value::as_i64) != Some(1) {
            return Err(RequestError::new(
                ErrorCode::PersistedQueryNotSupported,
                "only version 1 of automatic persisted queries is supported",
            ));
        }
        let Some(hash) = persisted.get("sha256Hash").and_then(Value::as_str) else {
            return Err(RequestError::new(
                ErrorCode::BadUserInput,
                "persistedQuery needs a sha256Hash",
            ));
        };
        let hash = hash.to_ascii_lowercase();
        match request.query.as_deref() {
            Some(query) => {
                let actual: String = pipeline::query_hash(query)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if actual != hash {
                    return Err(RequestError::new(
                        ErrorCode::PersistedQueryHashMismatch,
                        "the query does not match its sha256Hash",
                    ));
                }
                Ok(Resolved::AsSent(Some(PendingRegistration {
                    hash,
                    query: Arc::from(query),
                })))
            }
            None => match self.lookup(&hash).await {
                Some(query) => {
                    apq_metric("hit");
                    Ok(Resolved::Found(GraphqlRequest {
                        query: Some(query.to_string()),
                        ..request.clone()
                    }))
                }
                None => {
                    apq_metric("miss");
                    Err(RequestError::new(
                        ErrorCode::PersistedQueryNotFound,
                        "PersistedQueryNotFound",
                    ))
                }
            },
        }
    }

    async fn lookup(&self, hash: &str) -> Option<Arc<str>> {
        // Anything but 64 hex digits is no SHA-256: it can match no text and is never looked up.
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        if let Some(query) = self.local.get(hash).await {
            return Some(query);
        }
        if self.shared.backend() == "local" {
            return None;
        }
        // A cache outage reads as "not found": the client then sends the full text.
        let stored = self.shared.get(&shared_key(hash)).await.ok().flatten()?;
        let query: Arc<str> = Arc::from(String::from_utf8(stored).ok()?);
        self.local.insert(hash.to_owned(), query.clone()).await;
        // Evict over-weight entries now rather than in moka's batched housekeeping, so
        // stored texts never exceed `apq_cache_bytes` for long.
        self.local.run_pending_tasks().await;
        Some(query)
    }

    pub(super) async fn register(&self, registration: PendingRegistration) {
        apq_metric("registered");
        let PendingRegistration { hash, query } = registration;
        // An in-process shared cache would only hold a second copy of what `local` holds.
        if self.shared.backend() != "local"
            && query.len() <= self.shared_max_bytes
            && let Err(error) = self
                .shared
                .set(&shared_key(&hash), query.as_bytes(), APQ_TTL)
                .await
        {
            tracing::warn!(%error, "could not store a persisted query");
        }
        self.local.insert(hash, query).await;
        // Evict over-weight entries now rather than in moka's batched housekeeping, so
        // stored texts never exceed `apq_cache_bytes` for long.
        self.local.run_pending_tasks().await;
    }
}

/// `looma_router_apq_total{result}`: `hit` (text found by hash), `miss` (hash unknown: the
/// client resends the text), `registered` (text stored under its hash).
fn apq_metric(result: &'static str) {
    metrics::counter!(
        "looma_router_apq_total",
        "component" => super::COMPONENT,
        "result" => result
    )
    .increment(1);
}
