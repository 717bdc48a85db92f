//! OpenTelemetry trace export: the router and a subgraph (identity), started through the
//! platform with `log.otlp_endpoint` pointing at a loopback OTLP/HTTP collector, export one
//! request's spans as one trace — the client's span → the router's request span → its fetch
//! from the subgraph → the subgraph's request span — with the attributes that matter; and
//! with the collector gone, requests are answered as before.

use crate::harness::{self, Auth, Backend, TestPlatform, with_auth};
use axum::body::Bytes;
use axum::http::HeaderMap;
use looma::platform::Component;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An OTLP/HTTP collector: accepts `POST /v1/traces` with a JSON `ExportTraceServiceRequest`
/// and keeps every body.
struct Collector {
    url: String,
    posts: Arc<Mutex<Vec<Value>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn collector() -> Collector {
    let posts = Arc::new(Mutex::new(Vec::new()));
    let seen = posts.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                assert_eq!(
                    headers.get("content-type").and_then(|v| v.to_str().ok()),
                    Some("application/json")
                );
                let body: Value = serde_json::from_slice(&body).expect("OTLP JSON body");
                seen.lock().unwrap().push(body);
                ([("content-type", "application/json")], "{}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind collector");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Collector {
        url,
        posts,
        stop,
        task,
    }
}

/// Every exported span of `trace`, with its resource's `service.name`.
fn spans_of(posts: &[Value], trace: &str) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for post in posts {
        for resource in post["resourceSpans"].as_array().into_iter().flatten() {
            let service = attribute(&resource["resource"], "service.name")
                .and_then(|v| v["stringValue"].as_str().map(str::to_owned))
                .unwrap_or_default();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    if span["traceId"] == trace {
                        found.push((service.clone(), span.clone()));
                    }
                }
            }
        }
    }
    found
}

fn attribute<'a>(holder: &'a Value, key: &str) -> Option<&'a Value> {
    holder["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

fn string_attribute<'a>(span: &'a Value, key: &str) -> &'a str {
    attribute(span, key)
        .and_then(|v| v["stringValue"].as_str())
        .unwrap_or_else(|| panic!("no string attribute {key} in {span:#}"))
}

/// Waits until the collector holds spans of `trace` that `done` accepts.
async fn wait_for_spans(
    posts: &Mutex<Vec<Value>>,
    trace: &str,
    done: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let spans = spans_of(&posts.lock().unwrap(), trace);
        if done(&spans) {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "spans of trace {trace} still missing: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_router(p: &TestPlatform, auth: &Auth, traceparent: &str, body: Value) -> Value {
    let url = p.router_url.as_deref().expect("router runs");
    let response = with_auth(
        p.http
            .post(format!("{url}/graphql"))
            .header("traceparent", traceparent)
            .json(&body),
        auth,
    )
    .send()
    .await
    .expect("router answers");
    response.json().await.expect("JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_and_subgraph_spans_reach_an_otlp_collector_as_one_trace() {
    let collector = collector().await;
    let endpoint = collector.url.clone();
    harness::run_configured(
        move |p| exported_then_collector_down(p, collector),
        Backend::Sqlite,
        &[Component::Router],
        move |config| {
            config.log.otlp_endpoint = Some(endpoint);
            config.log.otlp_export_interval_ms = 100;
            config.log.otlp_timeout_ms = 1_000;
        },
    )
    .await;
}

async fn exported_then_collector_down(p: TestPlatform, collector: Collector) -> TestPlatform {
    let admin = p.admin().await;
    let me = p.gql(&admin, "{ me { id } }", json!({})).await;
    let admin_id = me["data"]["me"]["id"]
        .as_str()
        .expect("admin id")
        .to_owned();

    let trace = "5a1e0c0ffee0ddba11c0ffee0ddba11c";
    let client_span = "00f067aa0ba902b7";
    let body = post_router(
        &p,
        &admin,
        &format!("00-{trace}-{client_span}-01"),
        json!({"query": "query WhoAmI { me { id email } }", "operationName": "WhoAmI"}),
    )
    .await;
    assert_eq!(body["data"]["me"]["id"], admin_id.as_str(), "{body}");

    let spans = wait_for_spans(&collector.posts, trace, |spans| {
        spans.iter().any(|(service, _)| service == "looma-identity")
            && spans
                .iter()
                .filter(|(service, _)| service == "looma-router")
                .count()
                >= 2
    })
    .await;
    let find = |service: &str, kind: u64| {
        let matching: Vec<&Value> = spans
            .iter()
            .filter(|(s, span)| s == service && span["kind"] == kind)
            .map(|(_, span)| span)
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "one {service} span of kind {kind}: {spans:#?}"
        );
        matching[0].clone()
    };
    // The router's request span continues the client's trace.
    let router = find("looma-router", 2);
    assert_eq!(router["parentSpanId"], client_span);
    assert_eq!(router["name"], "POST /graphql");
    assert_eq!(string_attribute(&router, "http.request.method"), "POST");
    assert_eq!(string_attribute(&router, "http.route"), "/graphql");
    assert_eq!(
        attribute(&router, "http.response.status_code").unwrap()["intValue"],
        "200"
    );
    assert_eq!(
        string_attribute(&router, "graphql.operation.name"),
        "WhoAmI"
    );
    assert_eq!(string_attribute(&router, "enduser.id"), admin_id);
    assert!(!string_attribute(&router, "looma.request_id").is_empty());
    assert!(router.get("status").is_none(), "{router:#}");
    // Its fetch from identity is its child ...
    let fetch = find("looma-router", 3);
    assert_eq!(fetch["parentSpanId"], router["spanId"]);
    assert_eq!(fetch["name"], "fetch identity");
    assert_eq!(string_attribute(&fetch, "looma.subgraph"), "identity");
    // ... and identity's request span the fetch's.
    let identity = find("looma-identity", 2);
    assert_eq!(identity["parentSpanId"], fetch["spanId"]);
    assert_eq!(string_attribute(&identity, "http.route"), "/graphql");
    assert_eq!(string_attribute(&identity, "enduser.id"), admin_id);
    assert_eq!(
        attribute(&identity, "http.response.status_code").unwrap()["intValue"],
        "200"
    );
    let ids: std::collections::HashSet<&str> = [&router, &fetch, &identity]
        .iter()
        .map(|s| s["spanId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "distinct span ids");
    for span in [&router, &fetch, &identity] {
        let start: u128 = span["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        let end: u128 = span["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start > 0 && end >= start, "{span:#}");
    }

    // A failed operation fails the router's span.
    let failed_trace = "6b2f1d1ffee0ddba11c0ffee0ddba11c";
    let body = post_router(
        &p,
        &Auth::None,
        &format!("00-{failed_trace}-{client_span}-01"),
        json!({"query": "{ noSuchField }"}),
    )
    .await;
    assert!(body["errors"].is_array(), "{body}");
    let spans = wait_for_spans(&collector.posts, failed_trace, |spans| !spans.is_empty()).await;
    let (_, failed) = &spans[0];
    assert_eq!(failed["status"]["code"], 2, "{failed:#}");

    // The collector goes away: requests are still answered, and quickly.
    let _ = collector.stop.send(());
    tokio::time::timeout(Duration::from_secs(10), collector.task)
        .await
        .expect("collector stops")
        .expect("collector task");
    let started = Instant::now();
    for i in 0..30 {
        let request_started = Instant::now();
        let body = post_router(
            &p,
            &admin,
            &format!("00-7c3f1d1ffee0ddba11c0ffee0ddb{i:04x}-{client_span}-01"),
            json!({"query": "{ me { id } }"}),
        )
        .await;
        assert_eq!(body["data"]["me"]["id"], admin_id.as_str(), "{body}");
        assert!(
            request_started.elapsed() < Duration::from_secs(2),
            "request {i} took {:?}",
            request_started.elapsed()
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    p
}
