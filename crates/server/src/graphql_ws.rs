//! GraphQL over WebSocket, the `graphql-transport-ws` subprotocol (connection_init/ack,
//! ping/pong, subscribe/next/error/complete), for every GraphQL endpoint that streams: the
//! subgraphs' (`SubgraphShell`, when the schema has a Subscription type) and the router's.
//!
//! The protocol itself is async-graphql's (`async_graphql::http::WebSocket`, driven by any
//! [`Executor`]); this module adds what it leaves open: credentials read at `connection_init`
//! (from the payload or the upgrade request's headers), the protocol's close codes for a
//! refused init (4403), an init that never comes (4408), a malformed or unknown message (4400)
//! and a subscribe before the handshake (4401), and every error coded like HTTP ones.

use crate::subgraph::Endpoint;
use async_graphql::http::{WebSocket as ProtocolStream, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, ObjectType, SubscriptionType};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::future::ready;
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use looma_auth::{Authenticator, Caller};
use looma_core::ErrorCode;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The subprotocol name, as sent in `Sec-WebSocket-Protocol`.
pub const GRAPHQL_TRANSPORT_WS: &str = "graphql-transport-ws";

/// Close codes of `graphql-transport-ws`.
pub mod close_code {
    /// A message that is not JSON or not a known message type.
    pub const BAD_REQUEST: u16 = 4400;
    /// `subscribe` before the connection was acknowledged.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `connection_init` carried credentials that did not verify.
    pub const FORBIDDEN: u16 = 4403;
    /// No `connection_init` within the allowed time.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// A second `connection_init`.
    pub const TOO_MANY_INITS: u16 = 4429;
    /// Credentials could not be checked (the verifier is unreachable).
    pub const INTERNAL_ERROR: u16 = 4500;
}

/// How long a connection may stay open without `connection_init`, unless configured.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a `connection_init` was refused: the close code and reason sent to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitRefusal {
    pub code: u16,
    pub reason: String,
}

impl InitRefusal {
    /// The refusal for an authentication error: 4403, or 4500 when the credentials could
    /// not be checked at all.
    pub fn from_auth_error(error: &looma_auth::AuthError) -> InitRefusal {
        use looma_core::CodedError;
        let code = if error.code() == ErrorCode::Internal {
            close_code::INTERNAL_ERROR
        } else {
            close_code::FORBIDDEN
        };
        InitRefusal {
            code,
            reason: error.to_string(),
        }
    }
}

/// Headers that may carry credentials, read from the upgrade request and the
/// `connection_init` payload.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    looma_auth::API_KEY_HEADER,
    looma_auth::FORWARDED_PRINCIPAL_HEADER,
    crate::ROUTER_MARKER_HEADER,
];

/// The credentials of a WebSocket connection as HTTP headers, for an `Authenticator`: those
/// of the upgrade request, overridden by string entries of the `connection_init` payload
/// (top level or under `headers`, names case-insensitive, as GraphiQL and graphql-ws clients
/// send them).
pub fn credential_headers(upgrade: &HeaderMap, payload: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in CREDENTIAL_HEADERS {
        if let Some(value) = upgrade.get(*name) {
            headers.insert(HeaderName::from_static(name), value.clone());
        }
    }
    let nested = payload.get("headers").filter(|h| h.is_object());
    for object in [Some(payload), nested].into_iter().flatten() {
        let Some(object) = object.as_object() else {
            continue;
        };
        for (key, value) in object {
            let Some(name) = CREDENTIAL_HEADERS
                .iter()
                .find(|name| name.eq_ignore_ascii_case(key))
            else {
                continue;
            };
            if let Some(value) = value.as_str().and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
    }
    headers
}

/// Whether the client offers `graphql-transport-ws` in `Sec-WebSocket-Protocol`.
pub fn offers_graphql_transport_ws(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(GRAPHQL_TRANSPORT_WS))
}

/// Upgrades to `graphql-transport-ws` and runs `serve` on the socket; a GET that is not a
/// WebSocket upgrade offering that subprotocol is refused with a coded 400.
pub fn upgrade_graphql_ws<F, Fut>(
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    headers: &HeaderMap,
    serve: F,
) -> Response
where
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return crate::graphql_error_response(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "WEBSOCKET_REQUIRED",
                &format!(
                    "GET on this endpoint is a WebSocket upgrade to `{GRAPHQL_TRANSPORT_WS}` \
                     (send queries with POST): {rejection}"
                ),
            );
        }
    };
    if !offers_graphql_transport_ws(headers) {
        return crate::graphql_error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "WEBSOCKET_PROTOCOL",
            &format!("offer the `{GRAPHQL_TRANSPORT_WS}` subprotocol (Sec-WebSocket-Protocol)"),
        );
    }
    upgrade
        .protocols([GRAPHQL_TRANSPORT_WS])
        .on_upgrade(serve)
        .into_response()
}

/// Serves `graphql-transport-ws` on an upgraded socket until either side closes. `on_init`
/// receives the `connection_init` payload; a refusal closes the connection with its code.
/// Operations run on `executor`; dropping the connection drops their streams (so a
/// subscription's resolver sees its stream dropped as soon as the client goes away).
pub async fn serve_graphql_ws<E, I, Fut>(
    socket: WebSocket,
    executor: E,
    init_timeout: Duration,
    on_init: I,
) where
    E: Executor,
    I: FnOnce(Value) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), InitRefusal>> + Send + 'static,
{
    let refusal: Arc<Mutex<Option<InitRefusal>>> = Arc::new(Mutex::new(None));
    let slot = refusal.clone();
    let on_connection_init = move |payload: Value| async move {
        match on_init(payload).await {
            Ok(()) => Ok(Data::default()),
            Err(refused) => {
                let message = refused.reason.clone();
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(refused);
                }
                Err(async_graphql::Error::new(message))
            }
        }
    };
    let (mut sink, source) = socket.split();
    let input = source
        .take_while(|message| ready(matches!(message, Ok(m) if !matches!(m, Message::Close(_)))))
        .filter_map(|message| {
            ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let protocol = ProtocolStream::new(executor, input, WebSocketProtocols::GraphQLWS)
        .on_connection_init(on_connection_init);
    futures::pin_mut!(protocol);
    let deadline = tokio::time::Instant::now() + init_timeout;
    let mut acknowledged = false;
    loop {
        let next = if acknowledged {
            protocol.next().await
        } else {
            match tokio::time::timeout_at(deadline, protocol.next()).await {
                Ok(next) => next,
                Err(_) => {
                    let _ = sink
                        .send(close(
                            close_code::INIT_TIMEOUT,
                            "Connection initialisation timeout",
                        ))
                        .await;
                    return;
                }
            }
        };
        let Some(message) = next else {
            break;
        };
        match message {
            WsMessage::Text(text) => {
                acknowledged |= text == r#"{"type":"connection_ack"}"#;
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            WsMessage::Close(code, reason) => {
                let refused = refusal.lock().ok().and_then(|mut slot| slot.take());
                let (code, reason) = match (code, refused) {
                    (_, Some(refused)) => (refused.code, refused.reason),
                    // async-graphql's codes for a message it could not read, and for a
                    // subscribe before the handshake, in this protocol's terms.
                    (1002, None) => (close_code::BAD_REQUEST, reason),
                    (1011, None) => (close_code::UNAUTHORIZED, "Unauthorized".to_owned()),
                    (code, None) => (code, reason),
                };
                let _ = sink.send(close(code, &reason)).await;
                break;
            }
        }
    }
    let _ = sink.close().await;
}

/// A close frame; the reason is cut to the 123 bytes a close frame can carry.
fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].to_owned().into(),
    }))
}

/// Runs a subgraph's operations for one WebSocket connection: the caller authenticated at
/// `connection_init` and the shell's per-request data attached to every operation, errors
/// coded as over HTTP.
pub(crate) struct ShellExecutor<Q, M, S> {
    endpoint: Arc<Endpoint<Q, M, S>>,
    caller: Arc<OnceLock<Caller>>,
}

impl<Q, M, S> Clone for ShellExecutor<Q, M, S> {
    fn clone(&self) -> Self {
        ShellExecutor {
            endpoint: self.endpoint.clone(),
            caller: self.caller.clone(),
        }
    }
}

impl<Q, M, S> ShellExecutor<Q, M, S> {
    fn attach(&self, request: async_graphql::Request) -> async_graphql::Request {
        let caller = self.caller.get().cloned().unwrap_or_else(Caller::anonymous);
        (self.endpoint.per_request)(request.data(caller))
    }
}

impl<Q, M, S> Executor for ShellExecutor<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    fn execute(
        &self,
        request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send {
        let request = self.attach(request);
        let schema = self.endpoint.schema.clone();
        async move {
            let mut response = schema.execute(request).await;
            looma_core::error::ensure_error_codes(&mut response.errors);
            response
        }
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let request = self.attach(request);
        self.endpoint
            .schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(|mut response| {
                looma_core::error::ensure_error_codes(&mut response.errors);
                response
            })
            .boxed()
    }
}

/// A subgraph's `GET /graphql`: the WebSocket endpoint of its subscriptions.
pub(crate) async fn subgraph_ws<Q, M, S>(
    endpoint: Arc<Endpoint<Q, M, S>>,
    init_timeout: Duration,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    let upgrade_headers = headers.clone();
    upgrade_graphql_ws(upgrade, &headers, move |socket| async move {
        let caller = Arc::new(OnceLock::new());
        let authenticator: Authenticator = endpoint.authenticator.clone();
        let executor = ShellExecutor {
            endpoint,
            caller: caller.clone(),
        };
        serve_graphql_ws(socket, executor, init_timeout, move |payload| async move {
            let credentials = credential_headers(&upgrade_headers, &payload);
            match authenticator.authenticate(&credentials).await {
                Ok(authenticated) => {
                    let _ = caller.set(authenticated);
                    Ok(())
                }
                Err(error) => Err(InitRefusal::from_auth_error(&error)),
            }
        })
        .await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credentials_come_from_the_payload_over_the_upgrade_headers() {
        let mut upgrade = HeaderMap::new();
        upgrade.insert("x-api-key", HeaderValue::from_static("from-upgrade"));
        upgrade.insert("cookie", HeaderValue::from_static("ignored"));
        let headers = credential_headers(
            &upgrade,
            &json!({"Authorization": "Bearer t", "x-api-key": 7, "headers": {"X-Api-Key": "nested"}}),
        );
        assert_eq!(headers.get("authorization").unwrap(), "Bearer t");
        assert_eq!(headers.get("x-api-key").unwrap(), "nested");
        assert!(headers.get("cookie").is_none());
        let only_upgrade = credential_headers(&upgrade, &Value::Null);
        assert_eq!(only_upgrade.get("x-api-key").unwrap(), "from-upgrade");
    }

    #[test]
    fn the_subprotocol_is_found_among_several() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("graphql-ws, graphql-transport-ws"),
        );
        assert!(offers_graphql_transport_ws(&headers));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("graphql-ws"),
        );
        assert!(!offers_graphql_transport_ws(&headers));
    }

    #[test]
    fn close_reasons_fit_a_frame() {
        let long = "é".repeat(100);
        let Message::Close(Some(frame)) = close(4400, &long) else {
            panic!("a close frame");
        };
        assert!(frame.reason.len() <= 123);
        assert_eq!(frame.code, 4400);
    }
}
