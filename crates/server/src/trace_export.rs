//! OpenTelemetry trace export over OTLP/HTTP with the JSON encoding
//! (`ExportTraceServiceRequest`: resourceSpans → scopeSpans → spans), on when
//! `log.otlp_endpoint` is set.
//!
//! Spans come from `looma_core::telemetry` (the request spans of every component, the
//! router's subgraph fetches) through a bounded queue: a span finishing while the queue is
//! full is dropped and counted, a request never waits for the exporter. One background task
//! batches the queue and posts each batch to `<endpoint>/v1/traces`, retrying a 429, 502, 503,
//! 504 or a connection failure a few times (honouring `Retry-After`), then dropping the batch.

use looma_core::telemetry::{AttributeValue, FinishedSpan, LogConfig, SpanKind, SpanSink};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Attempts per batch (the first and three retries).
const ATTEMPTS: i32 = 4;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The running exporter: installed as the process's span sink until [`TraceExporter::stop`].
pub struct TraceExporter {
    sink: Arc<dyn SpanSink>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    timeout: Duration,
}

impl TraceExporter {
    /// Starts exporting this process's spans when `config.otlp_endpoint` is set (must be
    /// called inside a Tokio runtime).
    pub fn start(config: &LogConfig) -> Option<TraceExporter> {
        let endpoint = config.otlp_endpoint.as_deref()?;
        let (queue, task, stop) = spawn(config, endpoint);
        let sink: Arc<dyn SpanSink> = queue;
        looma_core::telemetry::install_span_sink(sink.clone());
        tracing::info!(
            endpoint = %traces_url(endpoint),
            sample_ratio = config.otlp_sample_ratio,
            "exporting traces over OTLP/HTTP"
        );
        Some(TraceExporter {
            sink,
            stop: Some(stop),
            task,
            timeout: Duration::from_millis(config.otlp_timeout_ms),
        })
    }

    /// Stops taking spans, sends those still queued (within the export timeout), and ends.
    pub async fn stop(mut self) {
        looma_core::telemetry::remove_span_sink(&self.sink);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(self.timeout + Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

/// The queue's sending end: samples, then queues without waiting.
struct QueueSink {
    queue: mpsc::Sender<FinishedSpan>,
    sample_ratio: f64,
    dropped: AtomicU64,
}

impl SpanSink for QueueSink {
    fn accept(&self, span: FinishedSpan) {
        if !sampled(&span.trace_id, self.sample_ratio) {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(span) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("looma_trace_spans_dropped_total", "reason" => "queue_full")
                .increment(1);
        }
    }
}

/// Whether a trace is kept at `ratio`: decided by the trace id's last 14 hex digits (the
/// random part of a W3C trace id), so every component keeps the same traces.
pub fn sampled(trace_id: &str, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let Some(random) = trace_id
        .get(trace_id.len().saturating_sub(14)..)
        .and_then(|tail| u64::from_str_radix(tail, 16).ok())
    else {
        return false;
    };
    (random as f64) < ratio * (1u64 << 56) as f64
}

struct Settings {
    url: String,
    service_prefix: String,
    timeout: Duration,
    batch_size: usize,
    interval: Duration,
}

fn spawn(
    config: &LogConfig,
    endpoint: &str,
) -> (Arc<QueueSink>, JoinHandle<()>, oneshot::Sender<()>) {
    let (queue, spans) = mpsc::channel(config.otlp_queue_size.max(1));
    let (stop, stopped) = oneshot::channel();
    let settings = Settings {
        url: traces_url(endpoint),
        service_prefix: config.otlp_service_name.clone(),
        timeout: Duration::from_millis(config.otlp_timeout_ms),
        batch_size: config.otlp_batch_size.max(1),
        interval: Duration::from_millis(config.otlp_export_interval_ms.max(1)),
    };
    let sink = Arc::new(QueueSink {
        queue,
        sample_ratio: config.otlp_sample_ratio,
        dropped: AtomicU64::new(0),
    });
    (sink, tokio::spawn(run(settings, spans, stopped)), stop)
}

async fn run(
    settings: Settings,
    mut spans: mpsc::Receiver<FinishedSpan>,
    mut stopped: oneshot::Receiver<()>,
) {
    let client = crate::http_client();
    let mut batch = Vec::with_capacity(settings.batch_size);
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            span = spans.recv() => match span {
                Some(span) => {
                    batch.push(span);
                    if batch.len() >= settings.batch_size {
                        export(&client, &settings, std::mem::take(&mut batch)).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                if !batch.is_empty() {
                    export(&client, &settings, std::mem::take(&mut batch)).await;
                }
            }
        }
    }
    // Stopping: what is queued goes out in full batches, then the rest.
    spans.close();
    while let Some(span) = spans.recv().await {
        batch.push(span);
        if batch.len() >= settings.batch_size {
            export(&client, &settings, std::mem::take(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        export(&client, &settings, batch).await;
    }
}

/// Posts one batch, retrying what the OTLP spec calls retryable.
async fn export(client: &reqwest::Client, settings: &Settings, spans: Vec<FinishedSpan>) {
    let count = spans.len() as u64;
    let body = encode(&settings.service_prefix, &spans).to_string();
    for attempt in 0..ATTEMPTS {
        let sent = client
            .post(&settings.url)
            .timeout(settings.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        let wait = match sent {
            Ok(response) if response.status().is_success() => {
                metrics::counter!("looma_trace_spans_exported_total").increment(count);
                return;
            }
            Ok(response) if is_retryable(response.status()) => retry_after(response.headers())
                .unwrap_or_else(|| looma_core::retry::backoff(attempt)),
            Ok(response) => {
                tracing::warn!(
                    status = response.status().as_u16(),
                    spans = count,
                    "the OTLP collector refused a batch of spans; dropped"
                );
                metrics::counter!("looma_trace_spans_dropped_total", "reason" => "rejected")
                    .increment(count);
                return;
            }
            Err(_) => looma_core::retry::backoff(attempt),
        };
        if attempt + 1 < ATTEMPTS {
            tokio::time::sleep(wait).await;
        }
    }
    tracing::warn!(
        url = %settings.url,
        spans = count,
        "the OTLP collector could not be reached; a batch of spans was dropped"
    );
    metrics::counter!("looma_trace_spans_dropped_total", "reason" => "export_failed")
        .increment(count);
}

fn is_retryable(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (an HTTP date is not honoured: the backoff applies), at most
/// [`MAX_RETRY_AFTER`].
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding: one resource per component
/// (`service.name` = `<prefix>-<component>`), ids in lowercase hex, times as decimal strings
/// of nanoseconds since the Unix epoch, 64-bit integers as strings.
pub fn encode(service_prefix: &str, spans: &[FinishedSpan]) -> Value {
    let mut by_component: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for span in spans {
        by_component
            .entry(span.component.as_str())
            .or_default()
            .push(encode_span(span));
    }
    let resource_spans: Vec<Value> = by_component
        .into_iter()
        .map(|(component, spans)| {
            let service = if component.is_empty() {
                service_prefix.to_owned()
            } else {
                format!("{service_prefix}-{component}")
            };
            let mut attributes = vec![
                attribute("service.name", &AttributeValue::Str(service)),
                attribute(
                    "service.version",
                    &AttributeValue::Str(env!("CARGO_PKG_VERSION").into()),
                ),
            ];
            if !component.is_empty() {
                attributes.push(attribute(
                    "looma.component",
                    &AttributeValue::Str(component.into()),
                ));
            }
            json!({
                "resource": { "attributes": attributes },
                "scopeSpans": [{
                    "scope": { "name": "looma", "version": env!("CARGO_PKG_VERSION") },
                    "spans": spans,
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

fn encode_span(span: &FinishedSpan) -> Value {
    let mut out = json!({
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": match span.kind {
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
        },
        "startTimeUnixNano": unix_nanos(span.start),
        "endTimeUnixNano": unix_nanos(span.end),
        "attributes": span
            .attributes
            .iter()
            .map(|(name, value)| attribute(semantic_name(name), value))
            .collect::<Vec<_>>(),
    });
    if let Some(parent) = &span.parent_span_id {
        out["parentSpanId"] = json!(parent);
    }
    if let Some(error) = &span.error {
        // STATUS_CODE_ERROR; unset otherwise, as OpenTelemetry asks of instrumentation.
        out["status"] = json!({ "code": 2, "message": error });
    }
    out
}

/// The OpenTelemetry semantic-convention name of a span field our logs name shortly.
fn semantic_name(field: &str) -> &str {
    match field {
        "method" => "http.request.method",
        "path" => "url.path",
        "route" => "http.route",
        "status" => "http.response.status_code",
        "operation" => "graphql.operation.name",
        "principal" => "enduser.id",
        "request_id" => "looma.request_id",
        "subgraph" => "looma.subgraph",
        "errors" => "looma.graphql.errors",
        other => other,
    }
}

fn attribute(key: &str, value: &AttributeValue) -> Value {
    let value = match value {
        AttributeValue::Str(s) => json!({ "stringValue": s }),
        AttributeValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttributeValue::Float(f) if f.is_finite() => json!({ "doubleValue": f }),
        AttributeValue::Float(f) => json!({ "stringValue": f.to_string() }),
        AttributeValue::Bool(b) => json!({ "boolValue": b }),
    };
    json!({ "key": key, "value": value })
}

fn unix_nanos(time: SystemTime) -> String {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn span(component: &str, span_id: &str, parent: Option<&str>) -> FinishedSpan {
        FinishedSpan {
            name: "POST /graphql".into(),
            component: component.into(),
            kind: SpanKind::Server,
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: span_id.into(),
            parent_span_id: parent.map(str::to_owned),
            start: SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            end: SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_223_456_789),
            error: None,
            attributes: vec![
                ("method", AttributeValue::Str("POST".into())),
                ("status", AttributeValue::Int(200)),
                ("cached", AttributeValue::Bool(false)),
                ("ratio", AttributeValue::Float(0.5)),
            ],
        }
    }

    #[test]
    fn spans_are_encoded_as_otlp_json_one_resource_per_component() {
        let mut failed = span("resume", "2222222222222222", Some("1111111111111111"));
        failed.error = Some("1 GraphQL error".into());
        failed.kind = SpanKind::Client;
        let body = encode(
            "looma",
            &[
                span("router", "1111111111111111", None),
                failed,
                span("", "3333333333333333", None),
            ],
        );
        let resources = body["resourceSpans"].as_array().unwrap();
        let services: Vec<&str> = resources
            .iter()
            .map(|r| {
                r["resource"]["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["key"] == "service.name")
                    .unwrap()["value"]["stringValue"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(services, ["looma", "looma-resume", "looma-router"]);
        let router = &resources[2]["scopeSpans"][0]["spans"][0];
        assert_eq!(
            *router,
            json!({
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "1111111111111111",
                "name": "POST /graphql",
                "kind": 2,
                "startTimeUnixNano": "1700000000123456789",
                "endTimeUnixNano": "1700000000223456789",
                "attributes": [
                    {"key": "http.request.method", "value": {"stringValue": "POST"}},
                    {"key": "http.response.status_code", "value": {"intValue": "200"}},
                    {"key": "cached", "value": {"boolValue": false}},
                    {"key": "ratio", "value": {"doubleValue": 0.5}},
                ],
            })
        );
        let resume = &resources[1]["scopeSpans"][0]["spans"][0];
        assert_eq!(resume["parentSpanId"], "1111111111111111");
        assert_eq!(resume["kind"], 3);
        assert_eq!(
            resume["status"],
            json!({"code": 2, "message": "1 GraphQL error"})
        );
        assert_eq!(resources[1]["scopeSpans"][0]["scope"]["name"], "looma");
    }

    #[test]
    fn sampling_is_decided_by_the_trace_id() {
        let low = "4bf92f3577b34da6a00000000000000f";
        let high = "4bf92f3577b34da6affffffffffffff";
        assert!(sampled(low, 1.0) && sampled(high, 1.0));
        assert!(!sampled(low, 0.0) && !sampled(high, 0.0));
        assert!(sampled(low, 0.5) && !sampled(high, 0.5));
        let kept = (0..2000)
            .filter(|_| sampled(&format!("{:032x}", uuid::Uuid::new_v4().as_u128()), 0.25))
            .count();
        assert!((350..650).contains(&kept), "{kept}");
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(reqwest::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    fn config(endpoint: &str, queue: usize, batch: usize) -> LogConfig {
        LogConfig {
            otlp_endpoint: Some(endpoint.into()),
            otlp_queue_size: queue,
            otlp_batch_size: batch,
            otlp_export_interval_ms: 50,
            otlp_timeout_ms: 500,
            ..LogConfig::default()
        }
    }

    /// A collector answering 503 (Retry-After: 0) to the first post and 200 after.
    #[tokio::test]
    async fn a_batch_refused_with_503_is_retried_after_retry_after() {
        let bodies = Arc::new(Mutex::new(Vec::<(u16, Value)>::new()));
        let seen = bodies.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let seen = seen.clone();
                async move {
                    let mut seen = seen.lock().unwrap();
                    let status = if seen.is_empty() { 503 } else { 200 };
                    seen.push((status, serde_json::from_slice(&body).unwrap()));
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("retry-after", "0")],
                        "{}",
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let endpoint = format!("http://{addr}/");
        let (sink, task, _stop) = spawn(&config(&endpoint, 16, 8), &endpoint);
        sink.accept(span("router", "1111111111111111", None));
        sink.accept(span("resume", "2222222222222222", Some("1111111111111111")));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while bodies.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        let bodies = bodies.lock().unwrap();
        assert_eq!(bodies.len(), 2, "one refusal, one retry");
        assert_eq!(bodies[0].1, bodies[1].1, "the same batch again");
        assert_eq!(bodies[1].1["resourceSpans"].as_array().unwrap().len(), 2);
    }

    /// With the collector down, accepting spans never waits: a full queue drops and counts.
    #[tokio::test]
    async fn a_full_queue_drops_spans_without_waiting() {
        // A port nothing listens on.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let endpoint = format!("http://{addr}");
        let (sink, task, stop) = spawn(&config(&endpoint, 4, 2), &endpoint);
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            sink.accept(span("router", "1111111111111111", None));
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        assert!(sink.dropped.load(Ordering::Relaxed) >= 990);
        drop(stop);
        task.abort();
    }
}
