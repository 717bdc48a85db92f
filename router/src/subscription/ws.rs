//! The router's WebSocket: `graphql-transport-ws` on the GraphQL path (GET + Upgrade), served
//! by looma-server's protocol loop (the one subgraphs use). Credentials are read at
//! `connection_init` (payload `authorization` / `x-api-key`, or the upgrade request's
//! headers) and verified by the router's edge auth; a refusal closes the socket with 4403.
//! Every operation — subscriptions, and queries and mutations, which the protocol allows —
//! goes through [`RouterService::open_stream`], so limits, validation and persisted queries
//! are those of HTTP.

use super::{Opened, StreamItem, Subscriber};
use crate::http::RouterService;
use crate::http::edge_auth::REQUEST_ID;
use crate::pipeline::GraphqlRequest;
use async_graphql::{Data, Executor};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use futures::stream::BoxStream;
use looma_server::graphql_ws::{
    InitRefusal, close_code, credential_headers, serve_graphql_ws, upgrade_graphql_ws,
};
use serde_json::Value;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// `GET /graphql` with an upgrade: the subscription WebSocket.
pub(crate) fn graphql_ws(
    service: Arc<RouterService>,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade_headers = headers.clone();
    let init_timeout = Duration::from_millis(service.config().subscriptions.init_timeout_ms);
    upgrade_graphql_ws(upgrade, headers, move |socket| async move {
        let subscriber = Arc::new(OnceLock::new());
        let executor = RouterExecutor {
            service: service.clone(),
            subscriber: subscriber.clone(),
        };
        serve_graphql_ws(socket, executor, init_timeout, move |payload| async move {
            let credentials = credential_headers(&upgrade_headers, &payload);
            match service.edge_auth.authenticate(&credentials).await {
                Ok(principal) => {
                    let request_id = upgrade_headers.get(REQUEST_ID).cloned();
                    let _ = subscriber.set(Subscriber::new(principal, peer, request_id));
                    Ok(())
                }
                Err(refusal) => Err(InitRefusal {
                    code: if refusal.status == StatusCode::SERVICE_UNAVAILABLE {
                        close_code::INTERNAL_ERROR
                    } else {
                        close_code::FORBIDDEN
                    },
                    reason: refusal.message,
                }),
            }
        })
        .await;
    })
}

/// Runs a connection's operations through the router, as the subscriber authenticated at
/// `connection_init`.
#[derive(Clone)]
struct RouterExecutor {
    service: Arc<RouterService>,
    subscriber: Arc<OnceLock<Subscriber>>,
}

impl Executor for RouterExecutor {
    fn execute(
        &self,
        request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send {
        let mut responses = self.execute_stream(request, None);
        async move { responses.next().await.unwrap_or_default() }
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        _session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let service = self.service.clone();
        // The protocol runs no operation before `connection_init` succeeded.
        let subscriber = self.subscriber.get().cloned();
        let request = graphql_request(request);
        futures::stream::once(async move {
            let Some(subscriber) = subscriber else {
                let refused = serde_json::json!({"errors": [{
                    "message": "the connection is not initialised",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }]});
                return futures::stream::once(async move { refused }).boxed();
            };
            match service.open_stream(&request, &subscriber).await {
                Ok(Opened::Single(body)) => futures::stream::once(async move { body }).boxed(),
                Ok(Opened::Events(events)) => events.map(StreamItem::into_response).boxed(),
                Err(error) => {
                    let body = error.to_json();
                    futures::stream::once(async move { body }).boxed()
                }
            }
        })
        .flatten()
        .map(graphql_response)
        .boxed()
    }
}

/// The router's request from the protocol's `subscribe` payload.
fn graphql_request(request: async_graphql::Request) -> GraphqlRequest {
    let extensions = serde_json::to_value(&request.extensions)
        .ok()
        .filter(|e| e.as_object().is_some_and(|o| !o.is_empty()));
    GraphqlRequest {
        query: Some(request.query).filter(|q| !q.is_empty()),
        operation_name: request.operation_name,
        variables: serde_json::to_value(&request.variables).ok(),
        extensions,
    }
}

/// A response body as the protocol's `next` payload.
fn graphql_response(body: Value) -> async_graphql::Response {
    serde_json::from_value(body).unwrap_or_else(|error| {
        async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(
            format!("the router could not encode a response: {error}"),
            None,
        )])
    })
}
