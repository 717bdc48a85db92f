//! Prometheus metrics: the process's one recorder, `GET /metrics` on every component's port,
//! and the measurements every component shares (HTTP requests, GraphQL operations, the
//! process itself). Other crates record their own series through the `metrics` facade macros
//! (`metrics::counter!`, `histogram!`, `gauge!`); nothing writes the exposition by hand.
//!
//! Names and labels are listed in `docs/metrics.md`. Label values are bounded: routes are the
//! matched route templates, operation names are capped ([`MAX_OPERATION_NAMES`]) and never
//! raw query text, error codes come from [`looma_core::ErrorCode`].
//!
//! One process has one registry: in `looma dev`, where every component shares the process,
//! each port's `/metrics` shows the whole process (series carry a `component` label).

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of every duration histogram's buckets.
pub const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Distinct operation names kept as label values; later names are counted as `other`.
pub const MAX_OPERATION_NAMES: usize = 200;
/// The longest operation name kept as a label value.
const MAX_OPERATION_NAME_LEN: usize = 64;

/// A refresh run before each `/metrics` answer, for gauges read from a source rather than
/// counted as things happen (outbox lag, index sizes, pool use).
pub type Collector = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// A [`Collector`] from an async closure.
pub fn collector<F, Fut>(collect: F) -> Collector
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    Arc::new(move || Box::pin(collect()))
}

/// The process's recorder, installed on first use. Every component calls this when it builds
/// its routes, so series recorded afterwards are kept.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics shows nothing");
        }
        describe();
        metrics::gauge!("looma_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        // Histogram samples wait in buffers until drained; drain them even when nobody
        // scrapes, so memory stays flat.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "looma_http_requests_total",
        "HTTP requests answered, by route template and status class"
    );
    describe_histogram!(
        "looma_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request duration, by route template"
    );
    describe_counter!(
        "looma_graphql_requests_total",
        "GraphQL operations executed, by operation name and outcome"
    );
    describe_histogram!(
        "looma_graphql_request_duration_seconds",
        metrics::Unit::Seconds,
        "GraphQL operation duration, by operation name"
    );
    describe_counter!(
        "looma_graphql_errors_total",
        "GraphQL errors returned, by extensions.code"
    );
    describe_counter!(
        "looma_trace_spans_exported_total",
        "Spans accepted by the OTLP collector"
    );
    describe_counter!(
        "looma_trace_spans_dropped_total",
        "Spans not exported, by reason (queue_full, rejected, export_failed)"
    );
    describe_gauge!(
        "process_resident_memory_bytes",
        metrics::Unit::Bytes,
        "Resident set size of the process"
    );
    describe_gauge!(
        "process_cpu_seconds_total",
        metrics::Unit::Seconds,
        "User and system CPU time the process has used"
    );
    describe_gauge!(
        "process_start_time_seconds",
        metrics::Unit::Seconds,
        "When the process started, in seconds since the Unix epoch"
    );
}

/// `GET /metrics`: runs `collectors`, refreshes the process gauges, and renders the registry
/// in the Prometheus text format.
pub fn routes(collectors: Vec<Collector>) -> Router {
    let handle = install();
    let collectors = Arc::new(collectors);
    Router::new().route(
        "/metrics",
        get(move || {
            let collectors = collectors.clone();
            async move {
                // One scrape at a time: collectors set process-wide gauges, and two
                // components of one process (tests, `looma dev`) must not interleave theirs
                // between another's refresh and render.
                static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
                let _one_at_a_time = SCRAPE.lock().await;
                for collect in collectors.iter() {
                    // A slow source must not hold the scrape past Prometheus's timeout.
                    let _ = tokio::time::timeout(Duration::from_secs(2), collect()).await;
                }
                record_process();
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// Wraps `router` so every request is counted and timed (`looma_http_*`), labelled with the
/// matched route template (`other` for unmatched paths) and the status class.
pub fn http_layer(router: Router, component: &'static str) -> Router {
    install();
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(|path| path.as_str().to_owned())
                .unwrap_or_else(|| "other".to_owned());
            crate::trace_context::record_route(request.method(), &route);
            let started = Instant::now();
            let response: Response = next.run(request).await;
            let status = match response.status().as_u16() {
                100..=199 => "1xx",
                200..=299 => "2xx",
                300..=399 => "3xx",
                400..=499 => "4xx",
                _ => "5xx",
            };
            metrics::counter!(
                "looma_http_requests_total",
                "component" => component,
                "route" => route.clone(),
                "status" => status
            )
            .increment(1);
            metrics::histogram!(
                "looma_http_request_duration_seconds",
                "component" => component,
                "route" => route
            )
            .record(started.elapsed().as_secs_f64());
            response
        },
    ))
}

/// Records one executed GraphQL operation: its duration, its outcome (`error` when the
/// response carries any error) and each error's code.
pub fn observe_graphql<'a>(
    component: &'static str,
    operation: Option<&str>,
    elapsed: Duration,
    error_codes: impl IntoIterator<Item = &'a str>,
) {
    let operation = operation_label(operation);
    let mut errors = 0u32;
    for code in error_codes {
        errors += 1;
        metrics::counter!(
            "looma_graphql_errors_total",
            "component" => component,
            "code" => code_label(code)
        )
        .increment(1);
    }
    let outcome = if errors == 0 { "ok" } else { "error" };
    metrics::counter!(
        "looma_graphql_requests_total",
        "component" => component,
        "operation" => operation.clone(),
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(
        "looma_graphql_request_duration_seconds",
        "component" => component,
        "operation" => operation
    )
    .record(elapsed.as_secs_f64());
}

/// The label value for an operation name: the name when it is a GraphQL name of reasonable
/// length and one of the first [`MAX_OPERATION_NAMES`] seen, `anonymous` without one,
/// `other` otherwise.
pub fn operation_label(operation: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = operation.filter(|name| !name.is_empty()) else {
        return "anonymous".to_owned();
    };
    if !is_graphql_name(name) || name.len() > MAX_OPERATION_NAME_LEN {
        return "other".to_owned();
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.contains(name) {
        return name.to_owned();
    }
    if seen.len() >= MAX_OPERATION_NAMES {
        return "other".to_owned();
    }
    seen.insert(name.to_owned());
    name.to_owned()
}

fn is_graphql_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Error codes are the platform's own constants; anything else (a code a peer invented) is
/// counted as `OTHER` so a misbehaving peer cannot grow the label set.
fn code_label(code: &str) -> &'static str {
    looma_core::ErrorCode::from_code(code).map_or("OTHER", |code| code.as_str())
}

/// Process CPU time, resident memory and start time from `/proc/self` (Linux; elsewhere the
/// gauges are simply not set).
fn record_process() {
    if let Some(stats) = ProcessStats::read() {
        metrics::gauge!("process_cpu_seconds_total").set(stats.cpu_seconds);
        metrics::gauge!("process_resident_memory_bytes").set(stats.resident_bytes as f64);
        metrics::gauge!("process_start_time_seconds").set(stats.start_time_seconds);
    }
}

/// Seconds since this process started (from `/proc`; since the first call elsewhere).
pub fn uptime_seconds() -> f64 {
    static FIRST_CALL: OnceLock<Instant> = OnceLock::new();
    let first_call = *FIRST_CALL.get_or_init(Instant::now);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    match ProcessStats::read() {
        Some(stats) if stats.start_time_seconds <= now => now - stats.start_time_seconds,
        _ => first_call.elapsed().as_secs_f64(),
    }
}

/// What `/proc` says about this process.
#[derive(Debug, Clone, Copy)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub start_time_seconds: f64,
}

impl ProcessStats {
    pub fn read() -> Option<ProcessStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        parse_process_stats(&stat, &statm, &boot, clock_ticks(), page_size())
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}

/// `/proc/self/stat` fields after the command name (which may hold spaces and parentheses,
/// hence the split at the last `)`): utime is field 14, stime 15, starttime 22 (1-based, in
/// clock ticks); `/proc/self/statm`'s second field is resident pages; `/proc/stat`'s `btime`
/// is the boot time.
fn parse_process_stats(
    stat: &str,
    statm: &str,
    proc_stat: &str,
    ticks_per_second: f64,
    page_size: u64,
) -> Option<ProcessStats> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // `after_name` starts at field 3 (state).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let cpu_ticks = field(14)? + field(15)?;
    let start_ticks = field(22)?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let boot: f64 = proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(ProcessStats {
        cpu_seconds: cpu_ticks / ticks_per_second,
        resident_bytes: resident_pages.saturating_mul(page_size),
        start_time_seconds: boot + start_ticks / ticks_per_second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded_and_never_raw_text() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("")), "anonymous");
        assert_eq!(
            operation_label(Some("SearchCandidates")),
            "SearchCandidates"
        );
        assert_eq!(operation_label(Some("{ me { id } }")), "other");
        assert_eq!(operation_label(Some(&"A".repeat(65))), "other");
        for i in 0..MAX_OPERATION_NAMES + 10 {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("NeverSeenBefore")), "other");
        // Names admitted before the cap keep their label.
        assert_eq!(
            operation_label(Some("SearchCandidates")),
            "SearchCandidates"
        );
    }

    #[test]
    fn unknown_error_codes_share_one_label() {
        assert_eq!(code_label("BAD_USER_INPUT"), "BAD_USER_INPUT");
        assert_eq!(code_label("made-up"), "OTHER");
    }

    #[test]
    fn process_stats_are_read_past_a_command_name_with_spaces() {
        let stat = "4242 (looma (dev) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 \
                    12345 1000000 2560 18446744073709551615";
        let statm = "10000 2560 300 100 0 900 0";
        let proc_stat = "cpu  1 2 3\nbtime 1700000000\nprocesses 10\n";
        let stats = parse_process_stats(stat, statm, proc_stat, 100.0, 4096).unwrap();
        assert!((stats.cpu_seconds - 3.0).abs() < 1e-9, "{stats:?}");
        assert_eq!(stats.resident_bytes, 2560 * 4096);
        assert!((stats.start_time_seconds - 1_700_000_123.45).abs() < 1e-6);
        assert!(parse_process_stats("garbage", statm, proc_stat, 100.0, 4096).is_none());
    }

    #[test]
    fn this_process_has_stats() {
        let stats = ProcessStats::read().expect("linux /proc");
        assert!(stats.resident_bytes > 1024 * 1024);
        assert!(stats.start_time_seconds > 1_600_000_000.0);
    }
}
