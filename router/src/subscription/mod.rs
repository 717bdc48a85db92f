//! Subscriptions through the router, end to end.
//!
//! A subscription is planned like a query (`plan/`): its one root field is the source, opened
//! on the owning subgraph over `graphql-transport-ws` (`transport/`); each event the subgraph
//! sends runs through the rest of the plan — entity fetches for fields other subgraphs own —
//! and is shaped like a query response (`pipeline::execute_event`). Clients reach it over a
//! WebSocket on the GraphQL path (`ws.rs`, graphql-transport-ws) or over HTTP POST streams
//! (`http_stream.rs`: graphql-sse's distinct connections mode, Apollo's multipart
//! subscriptions). Authentication, validation, limits and persisted queries are the same as
//! for queries; subscriptions are also counted per client and in total ([`limits`]).
//!
//! Dropping a stream (the client went away) drops the subgraph subscription with it, which
//! completes it at the subgraph at once.

mod http_stream;
pub mod limits;
mod ws;

pub(crate) use http_stream::{StreamFormat, respond_streaming};
pub use limits::{SubscriptionLimits, SubscriptionPermit};
pub(crate) use ws::graphql_ws;

use crate::error::RequestError;
use crate::execute::{root_request, unavailable_error};
use crate::http::{HttpMethod, RouterService};
use crate::pipeline::{self, LoadedSupergraph, PreparedOperation, ResponseBody};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{HeaderMap, HeaderValue};
use looma_auth::Principal;
use looma_core::ErrorCode;
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A forwarded principal is valid for a minute; events of a long subscription sign it again
/// well before that.
const RESIGN_AFTER: Duration = Duration::from_secs(20);

/// Who opened a stream, as established at the edge (request headers, or a WebSocket's
/// `connection_init`).
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// `None`: anonymous.
    pub principal: Option<Principal>,
    /// Whose limit the subscription counts against: the principal, else the IP address.
    pub client: String,
    pub request_id: Option<HeaderValue>,
}

impl Subscriber {
    pub fn new(
        principal: Option<Principal>,
        peer: Option<IpAddr>,
        request_id: Option<HeaderValue>,
    ) -> Self {
        let client = match (&principal, peer) {
            (Some(principal), _) => format!("principal:{}", principal.subject),
            (None, Some(ip)) => format!("ip:{ip}"),
            (None, None) => "ip:unknown".to_owned(),
        };
        Subscriber {
            principal,
            client,
            request_id,
        }
    }
}

/// One item of a stream.
#[derive(Debug)]
pub enum StreamItem {
    /// A response (`{data, errors}`), one per event.
    Next(Value),
    /// The source failed (subgraph unreachable, closed, lost): these errors, then the end.
    Failed(Vec<Value>),
}

impl StreamItem {
    /// The item as a GraphQL response body.
    pub fn into_response(self) -> Value {
        match self {
            StreamItem::Next(response) => response,
            StreamItem::Failed(errors) => serde_json::json!({ "errors": errors }),
        }
    }
}

/// What opening an operation as a stream gives.
pub enum Opened {
    /// A query or mutation: its one response.
    Single(Value),
    /// A subscription: its responses, one per event, until the source completes or fails.
    Events(BoxStream<'static, StreamItem>),
}

fn body_to_json(body: &ResponseBody) -> Value {
    body.to_json()
}

impl RouterService {
    /// Opens `request` for a streaming client: the events of a subscription, or the one
    /// response of a query or mutation (the WebSocket carries those too). `Err` is a request
    /// error (unreadable, invalid, over a limit) answered before anything runs.
    pub async fn open_stream(
        self: &Arc<Self>,
        request: &pipeline::GraphqlRequest,
        subscriber: &Subscriber,
    ) -> Result<Opened, RequestError> {
        let (request, loaded, prepared) = self.prepare_operation(request, HttpMethod::Post).await?;
        let headers = self.edge_auth.forwarded_headers(
            subscriber.principal.as_ref(),
            subscriber.request_id.as_ref(),
        );
        if let Some(usage) = self.usage() {
            usage.record(&prepared.usage, &headers);
        }
        let Some(source) = prepared.plan.subscription_source() else {
            if prepared.kind() == apollo_compiler::ast::OperationType::Subscription {
                return Err(RequestError::new(
                    ErrorCode::QueryPlanningFailed,
                    "the subscription has no source field",
                ));
            }
            let body = pipeline::execute_prepared(
                &loaded,
                self.transport.as_ref(),
                &request,
                &prepared,
                &headers,
            )
            .await;
            return Ok(Opened::Single(body_to_json(&body)));
        };
        let variables = pipeline::subscription_variables(&loaded, &request, &prepared)?;
        let Some(subgraph) = loaded.supergraph.subgraphs.get(source.graph).cloned() else {
            return Err(RequestError::new(
                ErrorCode::QueryPlanningFailed,
                "the subscription's subgraph is not in the supergraph",
            ));
        };
        let permit = self.subscriptions.acquire(&subscriber.client)?;
        let body = root_request(source, &variables);
        let upstream = match self.transport.subscribe(&subgraph, body, &headers).await {
            Ok(upstream) => upstream,
            Err(reason) => {
                tracing::warn!(subgraph = %subgraph.name, %reason, "subscription not opened");
                let failed =
                    StreamItem::Failed(vec![unavailable_error(&subgraph.name, &reason, None)]);
                return Ok(Opened::Events(
                    futures::stream::once(async move { failed }).boxed(),
                ));
            }
        };
        tracing::info!(
            request_id = subscriber
                .request_id
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            subgraph = %subgraph.name,
            "subscription opened"
        );
        let state = Events {
            service: self.clone(),
            loaded,
            prepared,
            variables,
            principal: subscriber.principal.clone(),
            request_id: subscriber.request_id.clone(),
            headers,
            signed_at: Instant::now(),
            upstream,
            subgraph: subgraph.name,
            finished: false,
            _permit: permit,
        };
        Ok(Opened::Events(
            futures::stream::unfold(state, |mut state| async move {
                let item = state.next().await?;
                Some((item, state))
            })
            .boxed(),
        ))
    }
}

/// A subscription in progress: its source and what each event needs to run the rest of the
/// plan. Dropping it drops the source (completing it at the subgraph) and frees its place.
struct Events {
    service: Arc<RouterService>,
    loaded: Arc<LoadedSupergraph>,
    prepared: Arc<PreparedOperation>,
    variables: Map<String, Value>,
    principal: Option<Principal>,
    request_id: Option<HeaderValue>,
    /// The headers entity fetches carry, signed at `signed_at`.
    headers: HeaderMap,
    signed_at: Instant,
    upstream: crate::transport::SubgraphEvents,
    subgraph: String,
    finished: bool,
    _permit: SubscriptionPermit,
}

impl Events {
    async fn next(&mut self) -> Option<StreamItem> {
        if self.finished {
            return None;
        }
        match self.upstream.next().await {
            None => None,
            Some(Ok(event)) => {
                if self.signed_at.elapsed() > RESIGN_AFTER {
                    self.headers = self
                        .service
                        .edge_auth
                        .forwarded_headers(self.principal.as_ref(), self.request_id.as_ref());
                    self.signed_at = Instant::now();
                }
                let body = pipeline::execute_event(
                    &self.loaded,
                    self.service.transport.as_ref(),
                    &self.prepared,
                    &self.variables,
                    &self.headers,
                    event,
                )
                .await;
                Some(StreamItem::Next(body_to_json(&body)))
            }
            Some(Err(reason)) => {
                self.finished = true;
                Some(StreamItem::Failed(vec![unavailable_error(
                    &self.subgraph,
                    &reason,
                    None,
                )]))
            }
        }
    }
}
