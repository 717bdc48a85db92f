//! A client span per subgraph fetch while spans are exported (`log.otlp_endpoint`): the
//! request's `traceparent` (the router's request span, see `looma_server::trace_context`) is
//! its parent, and the subgraph receives the fetch span as its own parent, so a trace reads
//! router request → fetch → subgraph request. With no exporter running, or a request without
//! trace context (readiness probes), fetches go out untouched. A fetch de-duplicated into an
//! identical one in flight still gets its span, but the subgraph's request span is the child
//! of the fetch that was sent.

use super::{SubgraphEvents, SubgraphRequest, SubgraphTransport, UploadedFile};
use crate::supergraph::Subgraph;
use bytes::Bytes;
use looma_server::trace_context::{self, TRACEPARENT};
use serde_json::Value;
use std::sync::Arc;
use tracing::Instrument;

/// Wraps the transport every fetch of a request goes through (outside de-duplication, so each
/// request's fetch gets its own span; inside the entity cache, so an answer from the cache is
/// no fetch).
pub struct TracedTransport {
    inner: Arc<dyn SubgraphTransport>,
}

impl TracedTransport {
    pub fn new(inner: Arc<dyn SubgraphTransport>) -> Self {
        TracedTransport { inner }
    }
}

/// One fetch's span and the headers naming it as the subgraph's parent.
struct FetchSpan {
    span: tracing::Span,
    headers: http::HeaderMap,
}

impl FetchSpan {
    fn open(subgraph: &str, headers: &http::HeaderMap) -> Option<FetchSpan> {
        if !looma_core::telemetry::span_export_enabled() {
            return None;
        }
        let parent = trace_context::parse(headers)?;
        let span_id = trace_context::new_span_id();
        let traceparent = format!("00-{}-{span_id}-{}", parent.trace_id, parent.flags);
        let span = tracing::info_span!(
            "subgraph_fetch",
            component = crate::http::COMPONENT,
            otel.kind = "client",
            otel.name = format!("fetch {subgraph}").as_str(),
            subgraph,
            trace_id = parent.trace_id,
            span_id = span_id.as_str(),
            parent_span_id = parent.span_id,
            error = tracing::field::Empty,
        );
        let mut headers = headers.clone();
        headers.insert(TRACEPARENT, http::HeaderValue::from_str(&traceparent).ok()?);
        Some(FetchSpan { span, headers })
    }

    fn finish<T>(self, result: &Result<T, String>) {
        if let Err(reason) = result {
            self.span.record("error", reason.as_str());
        }
    }
}

#[async_trait::async_trait]
impl SubgraphTransport for TracedTransport {
    async fn send(
        &self,
        subgraph: &Subgraph,
        request: SubgraphRequest,
        headers: &http::HeaderMap,
    ) -> Result<Bytes, String> {
        let Some(fetch) = FetchSpan::open(&subgraph.name, headers) else {
            return self.inner.send(subgraph, request, headers).await;
        };
        let result = self
            .inner
            .send(subgraph, request, &fetch.headers)
            .instrument(fetch.span.clone())
            .await;
        fetch.finish(&result);
        result
    }

    async fn send_with_files(
        &self,
        subgraph: &Subgraph,
        body: Value,
        headers: &http::HeaderMap,
        files: &[(String, UploadedFile)],
    ) -> Result<Bytes, String> {
        let Some(fetch) = FetchSpan::open(&subgraph.name, headers) else {
            return self
                .inner
                .send_with_files(subgraph, body, headers, files)
                .await;
        };
        let result = self
            .inner
            .send_with_files(subgraph, body, &fetch.headers, files)
            .instrument(fetch.span.clone())
            .await;
        fetch.finish(&result);
        result
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
