//! How the router reaches subgraphs: the [`SubgraphTransport`] trait the executor sends
//! every subgraph request through, its HTTP implementation ([`HttpTransport`], pooled,
//! timeouts per subgraph; subscriptions over `graphql-transport-ws`, see `ws_client`), and
//! the uploaded files a request may forward (multipart).
//! [`TracedTransport`] gives each fetch a span when traces are exported.
//! Knows nothing of plans; `execute`, `uploads` and `subscription` build on it.

mod dedup;
pub mod entity_cache;
mod http_transport;
mod traced;
pub mod traffic;
mod ws_client;

pub use dedup::DedupTransport;
pub use entity_cache::EntityCacheTransport;
pub use http_transport::{HttpTransport, Routes};
pub use traced::TracedTransport;

use crate::supergraph::Subgraph;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::Value;

/// A subgraph subscription's events: each item a `next` payload (`{data, errors}`), or why
/// the subscription failed (the last item). Dropping the stream completes the subscription
/// at the subgraph and closes its connection.
pub type SubgraphEvents = BoxStream<'static, Result<Value, String>>;

/// A file a client uploaded, held in memory until the subgraph that takes it is called.
#[derive(Clone, Debug)]
pub struct UploadedFile {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: bytes::Bytes,
}

/// One GraphQL request to a subgraph: its JSON body, serialized once by whoever built it (the
/// executor writes it straight into this buffer), and whether it may be repeated.
#[derive(Clone, Debug)]
pub struct SubgraphRequest {
    pub body: Bytes,
    /// A query: it may be retried and shared with identical fetches in flight. Mutations are
    /// never.
    pub idempotent: bool,
    /// An entity fetch to a subgraph whose entities are cached: where its representations
    /// sit in `body` (see [`EntityCacheTransport`]).
    pub entities: Option<EntityBatch>,
}

/// An entity fetch's representations as they sit in its body: the bytes between the list's
/// `[` and `]`, and each representation's bytes, type and key fields.
#[derive(Clone, Debug, Default)]
pub struct EntityBatch {
    pub list: std::ops::Range<usize>,
    pub representations: Vec<EntityRepresentation>,
}

#[derive(Clone, Debug)]
pub struct EntityRepresentation {
    pub span: std::ops::Range<usize>,
    pub typename: String,
    /// The key fields (`{"id": …}`) of one of the type's keys in the subgraph; `None` when
    /// the representation holds none (it is then never cached).
    pub key: Option<Value>,
}

impl EntityBatch {
    /// `body` asking only for the representations at `indices` (in that order).
    pub fn body_with(&self, body: &[u8], indices: &[usize]) -> Bytes {
        let mut out = Vec::with_capacity(body.len());
        out.extend_from_slice(&body[..self.list.start]);
        for (n, &i) in indices.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&body[self.representations[i].span.clone()]);
        }
        out.extend_from_slice(&body[self.list.end..]);
        Bytes::from(out)
    }
}

impl SubgraphRequest {
    /// A request from a JSON body (`{query, variables}`); idempotent unless it is a mutation.
    pub fn from_json(body: &Value) -> Self {
        SubgraphRequest {
            body: Bytes::from(body.to_string()),
            idempotent: traffic::is_idempotent(body),
            entities: None,
        }
    }
}

/// Whether a body can be a GraphQL JSON response (its first non-blank byte opens an object):
/// the transports' cheap check, the executor parses it.
pub(crate) fn looks_like_json_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{')
}

/// Sends one GraphQL request to a subgraph. Implemented over HTTP by [`HttpTransport`]; tests
/// may count or fail requests.
#[async_trait::async_trait]
pub trait SubgraphTransport: Send + Sync {
    /// Whether entity fetches to `subgraph` may be answered from the entity cache: the
    /// executor then describes their representations in [`SubgraphRequest::entities`].
    fn caches_entities(&self, subgraph: &str) -> bool {
        let _ = subgraph;
        false
    }

    /// The subgraph's answer as it came (a JSON object, checked cheaply; the
    /// executor parses it).
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String>;

    /// Sends a request whose variables carry files (GraphQL multipart request spec).
    async fn send_with_files(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
        files: &[(String, UploadedFile)],
    ) -> Result<Bytes, String> {
        let _ = (body, headers, files);
        Err(format!(
            "file uploads to subgraph `{}` are not supported by this transport",
            subgraph.name
        ))
    }

    /// Opens a subscription (`body` is its request) on a subgraph; `Err` when it could not be
    /// opened. `headers` carry the forwarded principal, sent with `connection_init`.
    async fn subscribe(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
    ) -> Result<SubgraphEvents, String> {
        let _ = (body, headers);
        Err(format!(
            "subscriptions to subgraph `{}` are not supported by this transport",
            subgraph.name
        ))
    }
}
