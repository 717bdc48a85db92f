//! In-flight de-duplication: identical idempotent fetches to one subgraph that overlap in time
//! are sent once, and every caller gets the one answer. "Identical" means the same subgraph,
//! request body and forwarded credentials (the signed principal), so an answer is never shared
//! between callers who could see different data; the request id and trace context are left
//! out of the key (one of the callers' ids reaches the subgraph). Mutations and uploads are always sent as asked.

use super::{SubgraphEvents, SubgraphRequest, SubgraphTransport, UploadedFile};
use crate::supergraph::Subgraph;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The one answer every identical caller gets: bytes, so sharing it copies nothing.
type Pending = Shared<BoxFuture<'static, Result<Bytes, String>>>;

/// Wraps a transport so overlapping identical fetches share one request.
pub struct DedupTransport {
    inner: Arc<dyn SubgraphTransport>,
    in_flight: Arc<Mutex<HashMap<[u8; 32], Pending>>>,
}

impl DedupTransport {
    pub fn new(inner: Arc<dyn SubgraphTransport>) -> Self {
        DedupTransport {
            inner,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

/// The headers that decide what a subgraph answers: everything but the request id and trace
/// context.
fn key(subgraph: &Subgraph, body: &[u8], headers: &http::HeaderMap) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(subgraph.name.as_bytes());
    hash.update([0]);
    hash.update(body);
    let mut names: Vec<(&str, &[u8])> = headers
        .iter()
        .filter(|(name, _)| {
            *name != crate::http::edge_auth::REQUEST_ID
                && name.as_str() != looma_server::trace_context::TRACEPARENT
        })
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    names.sort();
    for (name, value) in names {
        hash.update([0]);
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(value);
    }
    hash.finalize().into()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait::async_trait]
impl SubgraphTransport for DedupTransport {
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        if !request.idempotent {
            return self.inner.send(subgraph, request, headers).await;
        }
        let key = key(subgraph, &request.body, headers);
        let (pending, leader) = {
            let mut in_flight = lock(&self.in_flight);
            match in_flight.get(&key) {
                Some(pending) => (pending.clone(), false),
                None => {
                    let inner = self.inner.clone();
                    let subgraph = subgraph.clone();
                    let headers = headers.clone();
                    let table = self.in_flight.clone();
                    // Sent by a task of its own, so it finishes (and leaves the table) even when
                    // every caller waiting for it has gone away.
                    let task = tokio::spawn(async move {
                        let outcome = inner.send(&subgraph, request, &headers).await;
                        // Later identical fetches go out afresh.
                        lock(&table).remove(&key);
                        outcome
                    });
                    let pending = async move {
                        task.await
                            .unwrap_or_else(|error| Err(format!("the fetch failed: {error}")))
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, pending.clone());
                    (pending, true)
                }
            }
        };
        if !leader {
            metrics::counter!(
                "looma_router_deduplicated_fetches_total",
                "component" => crate::http::COMPONENT,
                "subgraph" => subgraph.name.clone()
            )
            .increment(1);
        }
        // Each caller parses the shared bytes into its own response.
        pending.await
    }

    async fn send_with_files(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
        files: &[(String, UploadedFile)],
    ) -> Result<Bytes, String> {
        self.inner
            .send_with_files(subgraph, body, headers, files)
            .await
    }

    async fn subscribe(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
    ) -> Result<SubgraphEvents, String> {
        self.inner.subscribe(subgraph, body, headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Answers after a pause, counting what it was sent.
    struct Slow(AtomicUsize);

    #[async_trait::async_trait]
    impl SubgraphTransport for Slow {
        async fn send(
            &self,
            _subgraph: &Subgraph,
            request: SubgraphRequest,
            _headers: &http::HeaderMap,
        ) -> Result<Bytes, String> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let echo: Value = serde_json::from_slice(&request.body).unwrap();
            Ok(Bytes::from(
                serde_json::json!({"data": {"n": n, "echo": echo}}).to_string(),
            ))
        }

        async fn subscribe(
            &self,
            _subgraph: &Subgraph,
            _body: Value,
            _headers: &http::HeaderMap,
        ) -> Result<SubgraphEvents, String> {
            Err("no subscriptions".into())
        }
    }

    fn subgraph() -> Subgraph {
        Subgraph {
            name: "reviews".into(),
            url: "http://reviews/graphql".into(),
            enum_value: apollo_compiler::Name::new("REVIEWS").unwrap(),
        }
    }

    fn headers(principal: &str, request_id: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-looma-principal", principal.parse().unwrap());
        headers.insert("x-request-id", request_id.parse().unwrap());
        headers
    }

    #[tokio::test]
    async fn overlapping_identical_queries_are_sent_once() {
        let slow = Arc::new(Slow(AtomicUsize::new(0)));
        let dedup = DedupTransport::new(slow.clone());
        let subgraph = subgraph();
        let body = SubgraphRequest::from_json(&serde_json::json!({"query": "{ reviews { id } }"}));
        let answers = futures::future::join_all((0..5).map(|i| {
            let headers = headers("alice", &format!("request-{i}"));
            let dedup = &dedup;
            let subgraph = &subgraph;
            let body = body.clone();
            async move { dedup.send(subgraph, body, &headers).await }
        }))
        .await;
        assert_eq!(slow.0.load(Ordering::SeqCst), 1);
        for answer in answers {
            let answer: Value = serde_json::from_slice(&answer.unwrap()).unwrap();
            assert_eq!(answer["data"]["n"], 0);
        }
        // Done: the next identical query is sent again.
        dedup
            .send(&subgraph, body.clone(), &headers("alice", "later"))
            .await
            .unwrap();
        assert_eq!(slow.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn other_callers_and_mutations_are_never_shared() {
        let slow = Arc::new(Slow(AtomicUsize::new(0)));
        let dedup = DedupTransport::new(slow.clone());
        let subgraph = subgraph();
        let query = SubgraphRequest::from_json(&serde_json::json!({"query": "{ me { id } }"}));
        let mutation =
            SubgraphRequest::from_json(&serde_json::json!({"query": "mutation { bump }"}));
        let (h1, h2, h3, h4) = (
            headers("alice", "1"),
            headers("bob", "2"),
            headers("alice", "3"),
            headers("alice", "4"),
        );
        let (alice, bob, m1, m2) = tokio::join!(
            dedup.send(&subgraph, query.clone(), &h1),
            dedup.send(&subgraph, query.clone(), &h2),
            dedup.send(&subgraph, mutation.clone(), &h3),
            dedup.send(&subgraph, mutation.clone(), &h4),
        );
        for answer in [alice, bob, m1, m2] {
            answer.unwrap();
        }
        assert_eq!(slow.0.load(Ordering::SeqCst), 4);
    }
}
