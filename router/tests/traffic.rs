//! Traffic management through the real router over HTTP: two replicas of a subgraph with one
//! failing (traffic moves to the healthy one, the failing one is ejected), a circuit breaker
//! that opens, fails fast, probes and closes, and retries that repeat a query but never a
//! mutation. Subgraphs here are small async-graphql servers whose failures the test controls.

use async_graphql::{EmptySubscription, Object, Schema};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use looma_router::compose::{SubgraphSource, compose};
use looma_router::config::RouterConfig;
use looma_router::http::RouterService;
use looma_router::supergraph::Supergraph;
use looma_router::transport::traffic::{LoadBalancing, TrafficConfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Query;

#[Object]
impl Query {
    async fn ping(&self) -> &'static str {
        "pong"
    }
}

struct Mutation;

#[Object]
impl Mutation {
    /// Adds one to the subgraph's counter of executed mutations.
    async fn bump(&self, ctx: &async_graphql::Context<'_>) -> i32 {
        let state = ctx.data_unchecked::<Arc<Counters>>();
        state.mutations.fetch_add(1, Ordering::SeqCst) as i32 + 1
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    mutations: AtomicUsize,
    /// Answer 503 (after executing the request), as a replica in trouble does.
    failing: AtomicBool,
    /// `/health` answers 503.
    unhealthy: AtomicBool,
    /// The `traceparent` of the last request.
    traceparent: std::sync::Mutex<Option<String>>,
}

type PingSchema = Schema<Query, Mutation, EmptySubscription>;

/// A subgraph replica the test can make fail.
struct Replica {
    url: String,
    counters: Arc<Counters>,
    sdl: String,
}

async fn replica(failing: bool) -> Replica {
    let counters = Arc::new(Counters::default());
    counters.failing.store(failing, Ordering::SeqCst);
    let schema: PingSchema = Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .data(counters.clone())
        .finish();
    let sdl = schema.sdl_with_options(async_graphql::SDLExportOptions::new().federation());
    let app = axum::Router::new()
        .route(
            "/graphql",
            post(
                |State((schema, counters)): State<(PingSchema, Arc<Counters>)>,
                 headers: axum::http::HeaderMap,
                 request: async_graphql_axum::GraphQLRequest| async move {
                    counters.requests.fetch_add(1, Ordering::SeqCst);
                    *counters.traceparent.lock().unwrap() = headers
                        .get("traceparent")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let response = schema.execute(request.into_inner()).await;
                    if counters.failing.load(Ordering::SeqCst) {
                        return (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response();
                    }
                    let response: Response =
                        async_graphql_axum::GraphQLResponse::from(response).into_response();
                    response
                },
            ),
        )
        .route(
            "/health",
            axum::routing::get(
                |State((_, counters)): State<(PingSchema, Arc<Counters>)>| async move {
                    if counters.unhealthy.load(Ordering::SeqCst) {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        )
        .with_state((schema, counters.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Replica {
        url: format!("http://{addr}/graphql"),
        counters,
        sdl,
    }
}

/// A router whose `ping` subgraph is served by `replicas` (the supergraph names the first).
async fn router(replicas: &[&Replica], traffic: TrafficConfig) -> String {
    let supergraph = compose(&[SubgraphSource {
        name: "ping".into(),
        url: replicas[0].url.clone(),
        sdl: replicas[0].sdl.clone(),
    }])
    .expect("composes");
    let mut traffic = traffic;
    traffic.subgraph_urls.insert(
        "ping".into(),
        replicas.iter().map(|r| r.url.clone()).collect(),
    );
    let config = RouterConfig {
        traffic,
        ..RouterConfig::default()
    };
    let service = RouterService::new(
        Supergraph::parse(&supergraph).expect("parses"),
        config,
        None,
        Arc::new(looma_cache::LocalCache::new("traffic", 1 << 20)),
    );
    let listener = looma_server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(looma_server::serve(
        listener,
        looma_router::router(service),
        std::future::pending(),
    ));
    format!("http://{addr}/graphql")
}

async fn post_graphql(url: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(url)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn traffic_moves_off_a_failing_replica() {
    let healthy = replica(false).await;
    let failing = replica(true).await;
    let traffic = TrafficConfig {
        load_balancing: LoadBalancing::RoundRobin,
        eject_after_failures: 2,
        eject_for_ms: 60_000,
        retries: 1,
        health_check_interval_ms: 0,
        ..TrafficConfig::default()
    };
    let url = router(&[&failing, &healthy], traffic).await;
    for _ in 0..20 {
        let body = post_graphql(&url, "{ ping }").await;
        assert_eq!(body, json!({"data": {"ping": "pong"}}), "retried elsewhere");
    }
    let bad = failing.counters.requests.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&bad),
        "the failing replica is ejected after two failures, got {bad} requests"
    );
    assert!(healthy.counters.requests.load(Ordering::SeqCst) >= 20);
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_closes_after_a_good_probe() {
    let only = replica(true).await;
    let traffic = TrafficConfig {
        breaker_failures: 3,
        breaker_open_ms: 300,
        retries: 0,
        eject_after_failures: 100,
        health_check_interval_ms: 0,
        ..TrafficConfig::default()
    };
    let url = router(&[&only], traffic).await;
    for _ in 0..3 {
        let body = post_graphql(&url, "{ ping }").await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "SUBGRAPH_UNAVAILABLE"
        );
    }
    assert_eq!(only.counters.requests.load(Ordering::SeqCst), 3);
    // Open: answered at once, the subgraph not asked.
    for _ in 0..5 {
        let body = post_graphql(&url, "{ ping }").await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "SUBGRAPH_UNAVAILABLE"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or("");
        assert!(message.contains("circuit"), "{body}");
    }
    assert_eq!(only.counters.requests.load(Ordering::SeqCst), 3);
    // The subgraph recovers; after the open period one probe goes through and closes it.
    only.counters.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    for _ in 0..3 {
        let body = post_graphql(&url, "{ ping }").await;
        assert_eq!(body, json!({"data": {"ping": "pong"}}));
    }
    assert_eq!(only.counters.requests.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn queries_are_retried_but_mutations_never() {
    let flaky = replica(true).await;
    let traffic = TrafficConfig {
        retries: 2,
        retry_backoff_ms: 1,
        breaker_failures: 0,
        eject_after_failures: 100,
        health_check_interval_ms: 0,
        ..TrafficConfig::default()
    };
    let url = router(&[&flaky], traffic).await;
    let body = post_graphql(&url, "{ ping }").await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBGRAPH_UNAVAILABLE"
    );
    assert_eq!(
        flaky.counters.requests.load(Ordering::SeqCst),
        3,
        "a query: the first attempt and two retries"
    );
    let body = post_graphql(&url, "mutation { bump }").await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBGRAPH_UNAVAILABLE"
    );
    assert_eq!(
        flaky.counters.requests.load(Ordering::SeqCst),
        4,
        "sent once"
    );
    assert_eq!(
        flaky.counters.mutations.load(Ordering::SeqCst),
        1,
        "the mutation ran exactly once although its answer was lost"
    );
}

#[tokio::test]
async fn a_replica_failing_its_health_check_gets_no_traffic() {
    let healthy = replica(false).await;
    let sick = replica(false).await;
    sick.counters.unhealthy.store(true, Ordering::SeqCst);
    let traffic = TrafficConfig {
        load_balancing: LoadBalancing::RoundRobin,
        health_check_interval_ms: 100,
        eject_for_ms: 60_000,
        ..TrafficConfig::default()
    };
    let url = router(&[&sick, &healthy], traffic).await;
    // The first request creates the upstream and starts its checks.
    let body = post_graphql(&url, "{ ping }").await;
    assert_eq!(body, json!({"data": {"ping": "pong"}}));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let before = sick.counters.requests.load(Ordering::SeqCst);
    for _ in 0..10 {
        let body = post_graphql(&url, "{ ping }").await;
        assert_eq!(body, json!({"data": {"ping": "pong"}}));
    }
    assert_eq!(
        sick.counters.requests.load(Ordering::SeqCst),
        before,
        "no traffic to a replica whose /health fails"
    );
}

#[tokio::test]
async fn subgraphs_receive_the_trace_context() {
    let only = replica(false).await;
    let traffic = TrafficConfig {
        health_check_interval_ms: 0,
        deduplicate: false,
        ..TrafficConfig::default()
    };
    let url = router(&[&only], traffic).await;
    let sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let body: Value = reqwest::Client::new()
        .post(&url)
        .header("traceparent", sent)
        .json(&json!({ "query": "{ ping }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"data": {"ping": "pong"}}));
    // The same trace, with the router's request span as the subgraph's parent.
    let received = only.counters.traceparent.lock().unwrap().clone().unwrap();
    assert!(
        received.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && received.ends_with("-01"),
        "{received}"
    );
    assert_ne!(received, sent);
    // Without one (or with a malformed one), the router starts a trace.
    for header in [None, Some("not-a-trace")] {
        let mut request = reqwest::Client::new().post(&url);
        if let Some(header) = header {
            request = request.header("traceparent", header);
        }
        let body: Value = request
            .json(&json!({ "query": "{ ping }" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body, json!({"data": {"ping": "pong"}}));
        let received = only.counters.traceparent.lock().unwrap().clone().unwrap();
        assert!(
            received.starts_with("00-") && received.len() == 55,
            "{received}"
        );
        assert_ne!(received, sent);
    }
}

/// What a router following the registry does with each answer: the registry's routes move
/// traffic between replicas, an empty route fails fast, and a supergraph that does not load
/// changes nothing (neither the supergraph nor the routes).
#[tokio::test]
async fn registry_views_move_routes_and_a_broken_supergraph_changes_nothing() {
    use looma_router::registry::{RegistryView, apply_view};
    let first = replica(false).await;
    let second = replica(false).await;
    let sdl = compose(&[SubgraphSource {
        name: "ping".into(),
        url: first.url.clone(),
        sdl: first.sdl.clone(),
    }])
    .expect("composes");
    let service = RouterService::new(
        Supergraph::parse(&sdl).expect("parses"),
        RouterConfig::default(),
        None,
        Arc::new(looma_cache::LocalCache::new("registry-views", 1 << 20)),
    );
    let listener = looma_server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(looma_server::serve(
        listener,
        looma_router::router(service.clone()),
        std::future::pending(),
    ));
    let view = |version: i64, sdl: Option<&str>, urls: Vec<String>| RegistryView {
        etag: format!("e{version}"),
        changed: true,
        version,
        sdl: sdl.map(str::to_owned),
        routes: [("ping".to_owned(), urls)].into_iter().collect(),
    };

    // Same version, new routes: traffic moves to the second replica.
    assert_eq!(
        apply_view(&service, &view(1, None, vec![second.url.clone()]), 1),
        1
    );
    for _ in 0..5 {
        assert_eq!(
            post_graphql(&url, "{ ping }").await,
            json!({"data": {"ping": "pong"}})
        );
    }
    assert_eq!(first.counters.requests.load(Ordering::SeqCst), 0);
    assert_eq!(second.counters.requests.load(Ordering::SeqCst), 5);

    // No healthy instance: its fields fail fast with SUBGRAPH_UNAVAILABLE.
    apply_view(&service, &view(1, None, Vec::new()), 1);
    let body = post_graphql(&url, "{ ping }").await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "SUBGRAPH_UNAVAILABLE",
        "{body}"
    );
    assert_eq!(second.counters.requests.load(Ordering::SeqCst), 5);

    // A new version that does not load: the old supergraph and routes stay.
    apply_view(&service, &view(1, None, vec![first.url.clone()]), 1);
    let before = service.current().supergraph.sdl.clone();
    let serving = apply_view(
        &service,
        &view(2, Some("type Query { broken"), vec![second.url.clone()]),
        1,
    );
    assert_eq!(serving, 1);
    assert_eq!(service.current().supergraph.sdl, before);
    assert_eq!(service.routes()["ping"], vec![first.url.clone()]);
    assert_eq!(
        post_graphql(&url, "{ ping }").await,
        json!({"data": {"ping": "pong"}})
    );
    assert_eq!(first.counters.requests.load(Ordering::SeqCst), 1);

    // A new version that loads is put in force with its routes.
    assert_eq!(
        apply_view(&service, &view(2, Some(&sdl), vec![second.url.clone()]), 1),
        2
    );
    assert_eq!(
        post_graphql(&url, "{ ping }").await,
        json!({"data": {"ping": "pong"}})
    );
    assert_eq!(second.counters.requests.load(Ordering::SeqCst), 6);
}
