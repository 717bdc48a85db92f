//! Subscriptions over HTTP: a POST whose `Accept` asks for a stream is answered with one,
//! kept alive by heartbeats and ended when the subscription completes or fails.
//! - `text/event-stream`: graphql-sse's "distinct connections" mode (`event: next` with the
//!   response as `data`, then `event: complete`);
//! - `multipart/mixed;subscriptionSpec="1.0"`: Apollo's multipart subscriptions (parts
//!   between `--graphql` boundaries, each `{"payload": response}`, `{}` as heartbeat, a
//!   failed source as `{"payload": null, "errors": [...]}`).
//!
//! The client going away drops the body, and with it the subgraph subscription.

use super::{Opened, StreamItem, Subscriber};
use crate::http::RouterService;
use crate::pipeline::GraphqlRequest;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A streaming answer a client can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamFormat {
    /// graphql-sse, distinct connections mode.
    Sse,
    /// Apollo multipart subscriptions.
    Multipart,
}

fn media_ranges(headers: &HeaderMap) -> impl Iterator<Item = String> + '_ {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| range.trim().to_ascii_lowercase())
}

fn essence(range: &str) -> &str {
    range.split(';').next().unwrap_or("").trim()
}

impl StreamFormat {
    /// The stream the `Accept` header asks for, if any (the first one listed).
    pub fn from_accept(headers: &HeaderMap) -> Option<StreamFormat> {
        media_ranges(headers).find_map(|range| match essence(&range) {
            "text/event-stream" => Some(StreamFormat::Sse),
            "multipart/mixed" if range.replace(' ', "").contains("subscriptionspec") => {
                Some(StreamFormat::Multipart)
            }
            _ => None,
        })
    }

    fn content_type(self) -> &'static str {
        match self {
            StreamFormat::Sse => "text/event-stream; charset=utf-8",
            StreamFormat::Multipart => {
                "multipart/mixed;boundary=\"graphql\";subscriptionSpec=\"1.0\""
            }
        }
    }

    fn item(self, item: StreamItem) -> Bytes {
        match self {
            StreamFormat::Sse => {
                let response = item.into_response();
                Bytes::from(format!("event: next\ndata: {response}\n\n"))
            }
            StreamFormat::Multipart => {
                let part = match item {
                    StreamItem::Next(response) => json!({ "payload": response }),
                    StreamItem::Failed(errors) => json!({ "payload": null, "errors": errors }),
                };
                multipart_part(&part)
            }
        }
    }

    fn heartbeat(self) -> Bytes {
        match self {
            StreamFormat::Sse => Bytes::from_static(b":\n\n"),
            StreamFormat::Multipart => multipart_part(&json!({})),
        }
    }

    fn end(self) -> Bytes {
        match self {
            StreamFormat::Sse => Bytes::from_static(b"event: complete\ndata:\n\n"),
            StreamFormat::Multipart => Bytes::from_static(b"\r\n--graphql--\r\n"),
        }
    }
}

fn multipart_part(json: &Value) -> Bytes {
    Bytes::from(format!(
        "\r\n--graphql\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{json}"
    ))
}

/// Whether the client also takes a plain JSON answer (for a query or mutation).
fn accepts_json(headers: &HeaderMap) -> bool {
    media_ranges(headers).any(|range| {
        matches!(
            essence(&range),
            "application/json" | "application/graphql-response+json" | "application/*" | "*/*"
        )
    })
}

/// Answers a POST that asked for a stream: a subscription's events in `format`; a query or
/// mutation as JSON when the client takes it, else as a one-item stream; a request error as
/// JSON with its status.
pub(crate) async fn respond_streaming(
    service: Arc<RouterService>,
    request: GraphqlRequest,
    subscriber: Subscriber,
    format: StreamFormat,
    headers: &HeaderMap,
) -> Response {
    let events = match service.open_stream(&request, &subscriber).await {
        Err(error) => return error.into_response(),
        Ok(Opened::Single(body)) if accepts_json(headers) => {
            return (
                StatusCode::OK,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body.to_string(),
            )
                .into_response();
        }
        Ok(Opened::Single(body)) => {
            futures::stream::once(async move { StreamItem::Next(body) }).boxed()
        }
        Ok(Opened::Events(events)) => events,
    };
    let heartbeat = Duration::from_millis(service.config().subscriptions.heartbeat_ms);
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // Proxies (nginx) must pass events on as they come.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(body_stream(format, events, heartbeat)),
    )
        .into_response()
}

/// The body: each item as it comes, a heartbeat whenever none came for `heartbeat`, the end
/// marker once the items end.
fn body_stream(
    format: StreamFormat,
    events: BoxStream<'static, StreamItem>,
    heartbeat: Duration,
) -> impl futures::Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static {
    let start = tokio::time::Instant::now() + heartbeat;
    let ticker = tokio::time::interval_at(start, heartbeat);
    futures::stream::unfold(Some((events, ticker)), move |state| async move {
        let (mut events, mut ticker) = state?;
        tokio::select! {
            item = events.next() => match item {
                Some(item) => {
                    ticker.reset();
                    Some((Ok(format.item(item)), Some((events, ticker))))
                }
                None => Some((Ok(format.end()), None)),
            },
            _ = ticker.tick() => Some((Ok(format.heartbeat()), Some((events, ticker)))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn the_accept_header_picks_the_stream() {
        assert_eq!(
            StreamFormat::from_accept(&accept("text/event-stream")),
            Some(StreamFormat::Sse)
        );
        assert_eq!(
            StreamFormat::from_accept(&accept(
                "multipart/mixed;subscriptionSpec=\"1.0\", application/json"
            )),
            Some(StreamFormat::Multipart)
        );
        assert_eq!(
            StreamFormat::from_accept(&accept("multipart/mixed;deferSpec=20220824")),
            None
        );
        assert_eq!(StreamFormat::from_accept(&accept("application/json")), None);
        assert!(accepts_json(&accept(
            "multipart/mixed;subscriptionSpec=1.0, */*"
        )));
        assert!(!accepts_json(&accept("text/event-stream")));
    }

    #[tokio::test]
    async fn items_heartbeats_and_the_end_are_framed_per_format() {
        let items = futures::stream::iter(vec![
            StreamItem::Next(json!({"data": {"n": 1}})),
            StreamItem::Failed(vec![json!({"message": "gone"})]),
        ])
        .boxed();
        let body: Vec<u8> = body_stream(StreamFormat::Multipart, items, Duration::from_secs(60))
            .map(|chunk| chunk.unwrap_or_default().to_vec())
            .collect::<Vec<_>>()
            .await
            .concat();
        let body = String::from_utf8(body).unwrap();
        assert!(
            body.contains("{\"payload\":{\"data\":{\"n\":1}}}"),
            "{body}"
        );
        assert!(
            body.contains("\"payload\":null") && body.contains("\"gone\""),
            "{body}"
        );
        assert!(body.ends_with("\r\n--graphql--\r\n"), "{body}");

        let pending = futures::stream::pending().boxed();
        let mut sse = Box::pin(body_stream(
            StreamFormat::Sse,
            pending,
            Duration::from_millis(10),
        ));
        let beat = sse.next().await.unwrap().unwrap_or_default();
        assert_eq!(&beat[..], b":\n\n");
    }
}
