//! Subgraph subscriptions over `graphql-transport-ws`: one WebSocket per subscription, to the
//! subgraph's GraphQL URL with `ws://` (`wss://` for `https://`). The forwarded principal
//! (or router marker) goes in the `connection_init` payload and in the upgrade request's
//! headers (which a subgraph in lock-down checks). A task owns the socket: it answers pings,
//! passes `next` payloads on, and sends `complete` and closes as soon as the consumer drops
//! the stream, so the subgraph stops producing promptly.

use super::SubgraphEvents;
use futures::{SinkExt, StreamExt};
use http::HeaderValue;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PROTOCOL: &str = "graphql-transport-ws";
/// The one operation each connection carries.
const OPERATION_ID: &str = "1";
/// Events buffered between the socket and a slow consumer.
const BUFFERED_EVENTS: usize = 16;

/// The WebSocket URL of a subgraph's GraphQL HTTP URL.
pub(crate) fn ws_url(url: &str) -> Result<String, String> {
    if let Some(rest) = url.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else if let Some(rest) = url.strip_prefix("https://") {
        Ok(format!("wss://{rest}"))
    } else if url.starts_with("ws://") || url.starts_with("wss://") {
        Ok(url.to_owned())
    } else {
        Err(format!("`{url}` is not an http(s) or ws(s) URL"))
    }
}

/// Connects, initialises (within `timeout`) and subscribes; the events follow on the stream.
pub(super) async fn subscribe(
    url: &str,
    headers: &http::HeaderMap,
    body: Value,
    timeout: Duration,
) -> Result<SubgraphEvents, String> {
    let mut socket = tokio::time::timeout(timeout, open(url, headers))
        .await
        .map_err(|_| "timed out opening the subscription".to_owned())??;
    let subscribe = json!({"id": OPERATION_ID, "type": "subscribe", "payload": body});
    socket
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .map_err(|e| format!("sending the subscription: {e}"))?;
    let (events, receiver) = mpsc::channel(BUFFERED_EVENTS);
    tokio::spawn(pump(socket, events));
    Ok(
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        })
        .boxed(),
    )
}

/// The WebSocket handshake, then `connection_init` until `connection_ack`.
async fn open(url: &str, headers: &http::HeaderMap) -> Result<Socket, String> {
    let mut request = ws_url(url)?
        .into_client_request()
        .map_err(|e| format!("bad subgraph URL: {e}"))?;
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    request.headers_mut().insert(
        http::header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(PROTOCOL),
    );
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("connection failed: {e}"))?;
    let agreed = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    if agreed != Some(PROTOCOL) {
        return Err(format!("the subgraph does not speak `{PROTOCOL}`"));
    }
    let payload: Map<String, Value> = headers
        .iter()
        .filter_map(|(name, value)| {
            let value = value.to_str().ok()?;
            Some((name.as_str().to_owned(), Value::String(value.to_owned())))
        })
        .collect();
    let init = json!({"type": "connection_init", "payload": payload});
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .map_err(|e| format!("connection failed: {e}"))?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(text.as_str())
                    .map_err(|_| "the subgraph sent a message that is not JSON".to_owned())?;
                match message["type"].as_str() {
                    Some("connection_ack") => return Ok(socket),
                    Some("ping") => {
                        let pong = json!({"type": "pong"}).to_string();
                        socket
                            .send(Message::Text(pong.into()))
                            .await
                            .map_err(|e| format!("connection failed: {e}"))?;
                    }
                    _ => return Err("the subgraph did not acknowledge the connection".into()),
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(closed(frame.as_ref())),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("connection failed: {e}")),
            None => return Err("the subgraph closed the connection".into()),
        }
    }
}

fn closed(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) => format!(
            "the subgraph closed the connection ({} {})",
            u16::from(frame.code),
            frame.reason.as_str()
        ),
        None => "the subgraph closed the connection".into(),
    }
}

/// Moves events from the socket to `events` until the subscription ends on either side.
async fn pump(mut socket: Socket, events: mpsc::Sender<Result<Value, String>>) {
    let mut send_complete = true;
    loop {
        let message = tokio::select! {
            // The consumer is gone (the client disconnected): stop the subgraph now.
            () = events.closed() => break,
            message = socket.next() => message,
        };
        let failure = match message {
            Some(Ok(Message::Text(text))) => {
                let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else {
                    let _ = events
                        .send(Err("the subgraph sent a message that is not JSON".into()))
                        .await;
                    break;
                };
                match message["type"].as_str() {
                    Some("next") if message["id"] == OPERATION_ID => {
                        let payload = message.get("payload").cloned().unwrap_or(Value::Null);
                        if events.send(Ok(payload)).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Some("error") if message["id"] == OPERATION_ID => {
                        let errors = message.get("payload").cloned().unwrap_or(Value::Null);
                        let _ = events.send(Ok(json!({"errors": errors}))).await;
                        send_complete = false;
                        break;
                    }
                    Some("complete") if message["id"] == OPERATION_ID => {
                        send_complete = false;
                        break;
                    }
                    Some("ping") => {
                        let pong = json!({"type": "pong"}).to_string();
                        if socket.send(Message::Text(pong.into())).await.is_err() {
                            Some("the connection to the subgraph was lost".to_owned())
                        } else {
                            continue;
                        }
                    }
                    Some("pong") | Some("connection_ack") => continue,
                    _ => Some("the subgraph sent an unexpected message".to_owned()),
                }
            }
            Some(Ok(Message::Close(frame))) => Some(closed(frame.as_ref())),
            Some(Ok(_)) => continue,
            Some(Err(e)) => Some(format!("the connection to the subgraph was lost: {e}")),
            None => Some("the subgraph closed the connection".to_owned()),
        };
        if let Some(reason) = failure {
            let _ = events.send(Err(reason)).await;
            send_complete = false;
            break;
        }
    }
    if send_complete {
        let complete = json!({"id": OPERATION_ID, "type": "complete"}).to_string();
        let _ = socket.send(Message::Text(complete.into())).await;
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subgraph_urls_become_websocket_urls() {
        assert_eq!(
            ws_url("http://a:8209/graphql").unwrap(),
            "ws://a:8209/graphql"
        );
        assert_eq!(ws_url("https://a/graphql").unwrap(), "wss://a/graphql");
        assert_eq!(ws_url("ws://a/graphql").unwrap(), "ws://a/graphql");
        assert!(ws_url("ftp://a").is_err());
    }
}
