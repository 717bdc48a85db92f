//! Subscriptions through the router, end to end: a `reviews` subgraph streaming `reviewAdded`
//! over graphql-transport-ws (looma-server's shell), `product { name }` joined per event from
//! the products fixture, and clients on the router's WebSocket, SSE and multipart streams.
//! Also: authentication at `connection_init`, errors mid-stream, disconnects reaching the
//! subgraph, per-client limits, the protocol's housekeeping (ping, bad messages, init timeout).

use futures::{SinkExt, StreamExt};
use looma_auth::{Authenticator, ForwardedPrincipalCodec, Principal, PrincipalKind};
use looma_router::compose::{SubgraphSource, compose};
use looma_router::supergraph::Supergraph;
use looma_router::{RouterConfig, RouterService};
use looma_testkit::FixtureSubgraph;
use looma_testkit::live::{FakeIdentity, LiveReviews, start_fake_identity, start_live_reviews};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const WAIT: Duration = Duration::from_secs(10);
const REVIEWS: &str = "subscription { reviewAdded(count: 3) { id body product { upc name } } }";

struct Fixture {
    _subgraphs: Vec<FixtureSubgraph>,
    live: LiveReviews,
    _identity: FakeIdentity,
    codec: ForwardedPrincipalCodec,
    supergraph: String,
    http_url: String,
    ws_url: String,
}

async fn start(adjust: impl FnOnce(&mut RouterConfig)) -> Fixture {
    let codec = ForwardedPrincipalCodec::new(&[7u8; 32]).expect("a long enough secret");
    let verifier = Arc::new(looma_server::RemoteVerifier::new(
        None,
        None,
        "looma-identity",
        "looma",
    ));
    let live = start_live_reviews(
        Authenticator::new(verifier, Some(codec.clone())),
        Duration::from_secs(5),
    )
    .await
    .expect("live reviews start");
    let subgraphs = looma_testkit::start_all(0).await.expect("fixtures start");
    let products = subgraphs
        .iter()
        .find(|s| s.name == "products")
        .expect("products fixture");
    let supergraph = compose(&[
        SubgraphSource {
            name: "products".into(),
            url: products.url(),
            sdl: products.sdl.clone(),
        },
        SubgraphSource {
            name: "reviews".into(),
            url: live.url(),
            sdl: live.sdl.clone(),
        },
    ])
    .expect("the fixtures compose");
    let identity = start_fake_identity(&[("alice-key", "alice"), ("bob-key", "bob")])
        .await
        .expect("fake identity starts");
    let mut config = RouterConfig {
        identity_url: Some(identity.url()),
        ..RouterConfig::default()
    };
    adjust(&mut config);
    let cache = Arc::new(looma_cache::LocalCache::new("test", 1024 * 1024));
    let service = RouterService::new(
        Supergraph::parse(&supergraph).expect("the supergraph parses"),
        config,
        Some(codec.clone()),
        cache,
    );
    let listener = looma_server::bind("127.0.0.1:0".parse().expect("an address"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(looma_server::serve(
        listener,
        looma_router::router(service),
        std::future::pending(),
    ));
    Fixture {
        _subgraphs: subgraphs,
        live,
        _identity: identity,
        codec,
        supergraph,
        http_url: format!("http://{addr}/graphql"),
        ws_url: format!("ws://{addr}/graphql"),
    }
}

// ---- a graphql-transport-ws client -------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Received {
    Message(Value),
    Closed(u16, String),
}

struct Ws(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Ws {
    async fn connect(url: &str, headers: &[(&'static str, &str)]) -> Ws {
        let mut request = url.into_client_request().expect("a ws URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("header"));
        }
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the WebSocket opens");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Ws(socket)
    }

    /// Connects and initialises with `payload`, expecting the ack.
    async fn ready(url: &str, payload: Value) -> Ws {
        let mut ws = Ws::connect(url, &[]).await;
        ws.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        assert_eq!(
            ws.recv().await,
            Received::Message(json!({"type": "connection_ack"}))
        );
        ws
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    async fn subscribe(&mut self, id: &str, query: &str) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query}}))
            .await;
    }

    async fn recv(&mut self) -> Received {
        loop {
            let message = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("a message in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Received::Message(serde_json::from_str(text.as_str()).expect("JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Received::Closed(code, reason);
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Received::Closed(1006, String::new()),
            }
        }
    }

    /// `next` payloads of operation `id` until its `complete`.
    async fn collect(&mut self, id: &str) -> Vec<Value> {
        let mut payloads = Vec::new();
        loop {
            match self.recv().await {
                Received::Message(m) if m["type"] == "next" && m["id"] == id => {
                    payloads.push(m["payload"].clone())
                }
                Received::Message(m) if m["type"] == "complete" && m["id"] == id => {
                    return payloads;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

fn expected_reviews() -> Vec<Value> {
    (0..3)
        .map(|i| {
            json!({"data": {"reviewAdded": {
                "id": format!("live{i}"),
                "body": format!("Live review {i}"),
                "product": {"upc": format!("p{i}"), "name": format!("Product {i}")},
            }}})
        })
        .collect()
}

// ---- HTTP streams ------------------------------------------------------------------------

async fn post_stream(url: &str, accept: &str, query: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("accept", accept)
        .json(&json!({"query": query}))
        .send()
        .await
        .expect("the request is answered")
}

async fn read_all(response: reqwest::Response) -> String {
    tokio::time::timeout(WAIT, response.text())
        .await
        .expect("the stream ends in time")
        .expect("a body")
}

/// The `data:` of each `event: next`, and whether `event: complete` came last.
fn sse_events(body: &str) -> (Vec<Value>, bool) {
    let mut events = Vec::new();
    let mut completed = false;
    for block in body.split("\n\n").filter(|b| !b.trim().is_empty()) {
        if block.starts_with("event: next\n") {
            let data = block.trim_start_matches("event: next\ndata: ");
            events.push(serde_json::from_str(data).expect("JSON data"));
        } else if block.starts_with("event: complete") {
            completed = true;
        }
    }
    (events, completed)
}

/// The JSON parts of a multipart body (heartbeats `{}` included), and whether it was closed.
fn multipart_parts(body: &str) -> (Vec<Value>, bool) {
    let closed = body.ends_with("\r\n--graphql--\r\n");
    let parts = body
        .split("\r\n--graphql")
        .filter_map(|part| part.split_once("\r\n\r\n").map(|(_, json)| json))
        .map(|json| serde_json::from_str(json).expect("JSON part"))
        .collect();
    (parts, closed)
}

// ---- tests -------------------------------------------------------------------------------

#[tokio::test]
async fn a_subscription_plans_its_source_then_a_jump_per_event() {
    let fixture = start(|_| {}).await;
    let supergraph = Supergraph::parse(&fixture.supergraph).expect("parses");
    let loaded = looma_router::pipeline::LoadedSupergraph::new(supergraph, 1 << 20);
    let prepared =
        looma_router::pipeline::prepare(&loaded, &RouterConfig::default(), REVIEWS, None)
            .expect("planned");
    let fetches = &prepared.plan.fetches;
    assert_eq!(fetches.len(), 2, "{fetches:#?}");
    assert_eq!(fetches[0].subgraph, "reviews");
    assert!(
        fetches[0].query.starts_with("subscription"),
        "{}",
        fetches[0].query
    );
    assert_eq!(
        prepared.plan.subscription_source().map(|f| f.id),
        Some(0),
        "the source is the first fetch"
    );
    assert_eq!(fetches[1].subgraph, "products");
    assert!(fetches[1].depends_on.contains(&0));
    assert!(fetches[1].query.contains("_entities"));
}

#[tokio::test]
async fn websocket_events_arrive_in_order_with_fields_from_both_subgraphs() {
    let fixture = start(|_| {}).await;
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.subscribe("r", REVIEWS).await;
    assert_eq!(ws.collect("r").await, expected_reviews());
    assert!(
        fixture.live.probe.wait_dropped(1, WAIT).await,
        "the finished stream was released at the subgraph"
    );
}

#[tokio::test]
async fn sse_streams_events_then_complete() {
    let fixture = start(|_| {}).await;
    let response = post_stream(&fixture.http_url, "text/event-stream", REVIEWS).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let (events, completed) = sse_events(&read_all(response).await);
    assert_eq!(events, expected_reviews());
    assert!(completed, "the stream ends with `event: complete`");
}

#[tokio::test]
async fn multipart_streams_payloads_then_closes_the_boundary() {
    let fixture = start(|_| {}).await;
    let response = post_stream(
        &fixture.http_url,
        "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
        REVIEWS,
    )
    .await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap_or("");
    assert!(
        content_type.starts_with("multipart/mixed")
            && content_type.contains("boundary=\"graphql\""),
        "{content_type}"
    );
    let (parts, closed) = multipart_parts(&read_all(response).await);
    let payloads: Vec<Value> = parts
        .into_iter()
        .filter(|p| p != &json!({}))
        .map(|p| p["payload"].clone())
        .collect();
    assert_eq!(payloads, expected_reviews());
    assert!(closed, "the body ends with the closing boundary");
}

#[tokio::test]
async fn a_subscription_post_without_a_streaming_accept_is_refused() {
    let fixture = start(|_| {}).await;
    let response = post_stream(&fixture.http_url, "application/json", REVIEWS).await;
    assert_eq!(response.status(), 406);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let message = body["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("text/event-stream") && message.contains("multipart/mixed"),
        "{message}"
    );
    // A query with a streaming accept and JSON among the accepts still gets JSON.
    let query = post_stream(
        &fixture.http_url,
        "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
        "{ liveReview(index: 1) { product { name } } }",
    )
    .await;
    let body: Value = query.json().await.expect("JSON");
    assert_eq!(
        body["data"]["liveReview"]["product"]["name"], "Product 1",
        "{body}"
    );
}

#[tokio::test]
async fn credentials_are_checked_at_connection_init() {
    let fixture = start(|_| {}).await;
    let whoami = "subscription { whoami }";

    // A valid API key in the payload: the subgraph sees the principal the router forwarded.
    let mut ws = Ws::ready(&fixture.ws_url, json!({"x-api-key": "alice-key"})).await;
    ws.subscribe("1", whoami).await;
    assert_eq!(
        ws.collect("1").await,
        vec![json!({"data": {"whoami": "alice"}})]
    );

    // ... or in the upgrade request's headers.
    let mut ws = Ws::connect(&fixture.ws_url, &[("x-api-key", "bob-key")]).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(
        ws.recv().await,
        Received::Message(json!({"type": "connection_ack"}))
    );
    ws.subscribe("1", whoami).await;
    assert_eq!(
        ws.collect("1").await,
        vec![json!({"data": {"whoami": "bob"}})]
    );

    // None where the field needs them: the subgraph's error, coded.
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.subscribe("1", whoami).await;
    let payloads = ws.collect("1").await;
    assert_eq!(
        payloads[0]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{payloads:?}"
    );

    // Credentials that do not verify: 4403.
    let mut ws = Ws::connect(&fixture.ws_url, &[]).await;
    ws.send(json!({"type": "connection_init", "payload": {"x-api-key": "stolen"}}))
        .await;
    assert!(matches!(ws.recv().await, Received::Closed(4403, _)));
    // A client cannot present a forwarded principal itself.
    let forged = fixture.codec.encode(&Principal {
        subject: "mallory".into(),
        kind: PrincipalKind::User,
        email: None,
        roles: vec![],
        permissions: Default::default(),
    });
    let mut ws = Ws::connect(&fixture.ws_url, &[]).await;
    ws.send(json!({"type": "connection_init", "payload": {"x-looma-principal": forged}}))
        .await;
    assert!(matches!(ws.recv().await, Received::Closed(4403, _)));
}

#[tokio::test]
async fn the_subgraph_shell_authenticates_its_own_websocket() {
    let fixture = start(|_| {}).await;
    let url = fixture.live.url().replace("http://", "ws://");
    let principal = fixture.codec.encode(&Principal {
        subject: "router-forwarded".into(),
        kind: PrincipalKind::User,
        email: None,
        roles: vec![],
        permissions: Default::default(),
    });
    let mut ws = Ws::ready(&url, json!({"x-looma-principal": principal})).await;
    ws.subscribe("1", "subscription { whoami }").await;
    assert_eq!(
        ws.collect("1").await,
        vec![json!({"data": {"whoami": "router-forwarded"}})]
    );
    let mut ws = Ws::connect(&url, &[("authorization", "Bearer not-a-token")]).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert!(matches!(ws.recv().await, Received::Closed(4403, _)));
    // No init within the shell's timeout (5 s here) is tested on the router, which shares
    // the protocol loop; a plain GET without an upgrade is refused with a coded 400.
    let plain = reqwest::get(fixture.live.url()).await.expect("answered");
    assert_eq!(plain.status(), 400);
}

#[tokio::test]
async fn a_subgraph_error_mid_stream_is_an_error_event_then_complete() {
    let fixture = start(|_| {}).await;
    let query = "subscription { reviewAdded(count: 5, failAfter: 2) { id product { name } } }";
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.subscribe("e", query).await;
    let payloads = ws.collect("e").await;
    assert_eq!(payloads.len(), 3, "{payloads:?}");
    assert_eq!(
        payloads[1]["data"]["reviewAdded"]["product"]["name"],
        "Product 1"
    );
    assert_eq!(
        payloads[2]["errors"][0]["extensions"]["code"], "REVIEWS_FEED_BROKEN",
        "{payloads:?}"
    );
    assert_eq!(
        payloads[2]["errors"][0]["extensions"]["serviceName"],
        "reviews"
    );

    let response = post_stream(&fixture.http_url, "text/event-stream", query).await;
    let (events, completed) = sse_events(&read_all(response).await);
    assert_eq!(events.len(), 3);
    assert!(events[2]["errors"].is_array() && completed);
}

#[tokio::test]
async fn an_unreachable_subgraph_is_an_error_event_then_complete() {
    let fixture = start(|_| {}).await;
    // Point the supergraph's reviews at a port nobody listens on.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let supergraph = fixture
        .supergraph
        .replace(&fixture.live.url(), &format!("http://{dead}/graphql"));
    let service = RouterService::new(
        Supergraph::parse(&supergraph).expect("parses"),
        RouterConfig::default(),
        Some(fixture.codec.clone()),
        Arc::new(looma_cache::LocalCache::new("dead", 1024 * 1024)),
    );
    let listener = looma_server::bind("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(looma_server::serve(
        listener,
        looma_router::router(service),
        std::future::pending(),
    ));
    let response = post_stream(
        &format!("http://{addr}/graphql"),
        "multipart/mixed;subscriptionSpec=1.0",
        REVIEWS,
    )
    .await;
    let (parts, closed) = multipart_parts(&read_all(response).await);
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(parts[0]["payload"], Value::Null);
    assert_eq!(
        parts[0]["errors"][0]["extensions"]["code"],
        "SUBGRAPH_UNAVAILABLE"
    );
    assert!(closed);
}

#[tokio::test]
async fn a_client_leaving_stops_the_subgraph_stream() {
    // Heartbeats far apart and a feed that waits a minute after its first review: the
    // subgraph hears of a departure only if the router passes it on at once.
    let fixture = start(|config| config.subscriptions.heartbeat_ms = 60_000).await;
    let endless = "subscription { reviewAdded(intervalMs: 60000) { id product { name } } }";
    let probe = fixture.live.probe.clone();

    // WebSocket closed by the client.
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.subscribe("1", endless).await;
    assert!(matches!(ws.recv().await, Received::Message(m) if m["type"] == "next"));
    assert_eq!(probe.open(), 1);
    ws.0.close(None).await.expect("close");
    drop(ws);
    assert!(
        probe.wait_dropped(1, WAIT).await,
        "WebSocket close reached the subgraph"
    );

    // `complete` from the client, the connection kept open.
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.subscribe("2", endless).await;
    assert!(matches!(ws.recv().await, Received::Message(m) if m["type"] == "next"));
    ws.send(json!({"id": "2", "type": "complete"})).await;
    assert!(
        probe.wait_dropped(2, WAIT).await,
        "`complete` reached the subgraph"
    );

    // An SSE response dropped after its first event.
    let mut response = post_stream(&fixture.http_url, "text/event-stream", endless).await;
    let first = tokio::time::timeout(WAIT, response.chunk())
        .await
        .expect("in time")
        .expect("a chunk")
        .expect("not the end");
    assert!(String::from_utf8_lossy(&first).contains("event: next"));
    drop(response);
    assert!(
        probe.wait_dropped(3, WAIT).await,
        "the dropped stream reached the subgraph"
    );

    // A multipart response dropped likewise.
    let mut response = post_stream(
        &fixture.http_url,
        "multipart/mixed;subscriptionSpec=\"1.0\"",
        endless,
    )
    .await;
    let _ = tokio::time::timeout(WAIT, response.chunk()).await;
    assert!(probe.wait_opened(4, WAIT).await);
    drop(response);
    assert!(probe.wait_dropped(4, WAIT).await);
    assert_eq!(probe.open(), 0);
}

#[tokio::test]
async fn subscriptions_per_client_are_limited() {
    let fixture = start(|config| config.subscriptions.max_per_client = 2).await;
    let endless = "subscription { reviewAdded(intervalMs: 50) { id } }";
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    for id in ["1", "2"] {
        ws.subscribe(id, endless).await;
    }
    assert!(fixture.live.probe.wait_opened(2, WAIT).await);
    ws.subscribe("3", endless).await;
    let refused = loop {
        match ws.recv().await {
            Received::Message(m) if m["id"] == "3" => break m,
            Received::Message(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(refused["type"], "next");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"],
        "RATE_LIMITED"
    );
    // Another client (a different principal) has its own allowance.
    let response = post_stream(
        &fixture.http_url,
        "text/event-stream",
        "subscription { reviewAdded(count: 1) { id } }",
    )
    .await;
    assert_eq!(
        response.status(),
        429,
        "the same anonymous address shares the limit"
    );
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let keyed = reqwest::Client::new()
        .post(&fixture.http_url)
        .header("accept", "text/event-stream")
        .header("x-api-key", "alice-key")
        .json(&json!({"query": "subscription { reviewAdded(count: 1) { id } }"}))
        .send()
        .await
        .expect("answered");
    let (events, completed) = sse_events(&read_all(keyed).await);
    assert_eq!(
        events,
        vec![json!({"data": {"reviewAdded": {"id": "live0"}}})]
    );
    assert!(completed);
    // Completing one gives its place back.
    ws.send(json!({"id": "1", "type": "complete"})).await;
    assert!(fixture.live.probe.wait_dropped(1, WAIT).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    ws.subscribe("4", "subscription { reviewAdded(count: 1) { id } }")
        .await;
    let four = loop {
        match ws.recv().await {
            Received::Message(m) if m["id"] == "4" && m["type"] == "next" => break m,
            Received::Message(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(four["payload"]["data"]["reviewAdded"]["id"], "live0");
}

#[tokio::test]
async fn pings_are_answered_and_bad_messages_close_with_4400() {
    let fixture = start(|_| {}).await;
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.send(json!({"type": "ping", "payload": {"at": 1}})).await;
    assert!(matches!(ws.recv().await, Received::Message(m) if m["type"] == "pong"));
    ws.send(json!({"type": "shout"})).await;
    assert!(matches!(ws.recv().await, Received::Closed(4400, _)));

    let mut ws = Ws::connect(&fixture.ws_url, &[]).await;
    ws.subscribe("1", REVIEWS).await;
    assert!(
        matches!(ws.recv().await, Received::Closed(4401, _)),
        "subscribe before connection_init"
    );
}

#[tokio::test]
async fn a_connection_without_init_is_closed_with_4408() {
    let fixture = start(|config| config.subscriptions.init_timeout_ms = 200).await;
    let mut ws = Ws::connect(&fixture.ws_url, &[]).await;
    assert!(matches!(ws.recv().await, Received::Closed(4408, _)));
}

#[tokio::test]
async fn queries_and_mutations_run_over_the_websocket() {
    let fixture = start(|_| {}).await;
    let mut ws = Ws::ready(&fixture.ws_url, json!({})).await;
    ws.subscribe("q", "{ liveReview(index: 2) { body product { name } } }")
        .await;
    assert_eq!(
        ws.collect("q").await,
        vec![
            json!({"data": {"liveReview": {"body": "Live review 2", "product": {"name": "Product 2"}}}})
        ]
    );
    ws.subscribe("m", "mutation { likeReview(id: \"live1\") }")
        .await;
    assert_eq!(
        ws.collect("m").await,
        vec![json!({"data": {"likeReview": "live1"}})]
    );
    ws.subscribe("v", "{ nope }").await;
    let invalid = ws.collect("v").await;
    assert_eq!(
        invalid[0]["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}
