//! Logging set-up: human-readable text for a terminal, JSON lines for log collectors; and the
//! hand-off of finished spans to a trace exporter (OpenTelemetry over OTLP/HTTP, when
//! `log.otlp_endpoint` is set).
//!
//! Which spans are exported is a contract on their fields, not on their names: a span is
//! handed to the exporter when it carries valid `trace_id` (32 hex) and `span_id` (16 hex)
//! fields, with `parent_span_id` linking it to its parent (absent or empty: a root). `component`
//! names the service, `otel.name` and `otel.kind` (`server`, `client`, `internal`) override the
//! span's name and kind, `error` marks it failed; every other field becomes an attribute.
//! Spans without those ids (sqlx's, tower's, ...) are never recorded.
//!
//! This module does no network I/O: it keeps the spans' fields and hands each finished span to
//! the installed [`SpanSink`] (`looma_server::trace_export` installs one). With none installed
//! a span costs one read of an uncontended lock.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterFn, LevelFilter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `looma=debug,sqlx=warn`; `RUST_LOG` overrides it.
    /// It governs log lines only: exported spans do not depend on it.
    pub level: String,
    /// OpenTelemetry trace export over OTLP/HTTP (JSON): the collector's base URL, such as
    /// `http://collector:4318` (spans are posted to `<endpoint>/v1/traces`). Unset: no export.
    pub otlp_endpoint: Option<String>,
    /// Prefix of every exported span's `service.name`: `<prefix>-<component>`
    /// (`looma-router`, `looma-resume`, ...).
    pub otlp_service_name: String,
    /// Share of traces exported, 0.0–1.0, decided from the trace id so that every component
    /// keeps or drops the same traces.
    pub otlp_sample_ratio: f64,
    /// How long one export request may take.
    pub otlp_timeout_ms: u64,
    /// Spans per export request at most.
    pub otlp_batch_size: usize,
    /// Finished spans waiting for export at most; spans finishing when it is full are dropped
    /// and counted (`looma_trace_spans_dropped_total`), never waited for.
    pub otlp_queue_size: usize,
    /// How often a partial batch is sent.
    pub otlp_export_interval_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info,sqlx=warn,sea_orm=warn".into(),
            otlp_endpoint: None,
            otlp_service_name: "looma".into(),
            otlp_sample_ratio: 1.0,
            otlp_timeout_ms: 10_000,
            otlp_batch_size: 512,
            otlp_queue_size: 4_096,
            otlp_export_interval_ms: 5_000,
        }
    }
}

impl LogConfig {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(endpoint) = &self.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(format!(
                "config key `log.otlp_endpoint` must be an http:// or https:// URL, got `{endpoint}`"
            ));
        }
        if !(0.0..=1.0).contains(&self.otlp_sample_ratio) {
            return Err("config key `log.otlp_sample_ratio` must be between 0.0 and 1.0".into());
        }
        if self.otlp_batch_size == 0 || self.otlp_queue_size < self.otlp_batch_size {
            return Err(
                "config keys `log.otlp_batch_size` (at least 1) and `log.otlp_queue_size` (at \
                 least the batch size) are out of range"
                    .into(),
            );
        }
        if self.otlp_timeout_ms == 0 || self.otlp_export_interval_ms == 0 {
            return Err(
                "config keys `log.otlp_timeout_ms` and `log.otlp_export_interval_ms` must be \
                 above 0"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Installs the global subscriber: log lines filtered by `config.level` (or `RUST_LOG`), and
/// the span hand-off to whichever [`SpanSink`] is installed, independent of that filter. Safe
/// to call more than once (later calls are ignored), which keeps tests that start several
/// components in one process simple.
pub fn init_logging(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let export = SpanExportLayer.with_filter(
        FilterFn::new(|metadata: &Metadata<'_>| {
            metadata.is_span() && metadata.fields().field("span_id").is_some()
        })
        .with_max_level_hint(LevelFilter::INFO),
    );
    let registry = tracing_subscriber::registry().with(export);
    let _ = match config.format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_filter(filter))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_filter(filter),
            )
            .try_init(),
    };
}

/// A span's kind, as OpenTelemetry counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanKind {
    #[default]
    Internal,
    /// Handling a request from another process.
    Server,
    /// A request to another process (the router's subgraph fetches).
    Client,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A span that ended, with the W3C ids it was given and the fields it recorded.
#[derive(Clone, Debug)]
pub struct FinishedSpan {
    pub name: String,
    /// The component that recorded it (`router`, `resume`, ...); empty when unknown.
    pub component: String,
    pub kind: SpanKind,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// 16 lowercase hex digits; `None` for a root span.
    pub parent_span_id: Option<String>,
    pub start: SystemTime,
    pub end: SystemTime,
    /// What went wrong, when the span failed.
    pub error: Option<String>,
    /// Every other non-empty field, in recording order (a field recorded twice keeps the last
    /// value).
    pub attributes: Vec<(&'static str, AttributeValue)>,
}

/// Receives every finished span. Called on the thread that closed the span, so it must not
/// block: queue and return.
pub trait SpanSink: Send + Sync {
    fn accept(&self, span: FinishedSpan);
}

static SINK: RwLock<Option<Arc<dyn SpanSink>>> = RwLock::new(None);

/// Sends finished spans to `sink` from now on (replacing any other).
pub fn install_span_sink(sink: Arc<dyn SpanSink>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
}

/// Stops sending spans to `sink`, if it is still the installed one.
pub fn remove_span_sink(sink: &Arc<dyn SpanSink>) {
    let mut installed = SINK.write().unwrap_or_else(|e| e.into_inner());
    if installed
        .as_ref()
        .is_some_and(|current| Arc::ptr_eq(current, sink))
    {
        *installed = None;
    }
}

fn installed_sink() -> Option<Arc<dyn SpanSink>> {
    SINK.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Whether finished spans go anywhere (a trace exporter is running in this process).
pub fn span_export_enabled() -> bool {
    SINK.read().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Keeps the fields of spans that carry trace ids while they are open.
struct SpanExportLayer;

/// A span's fields so far.
struct Recording {
    start: SystemTime,
    span: FinishedSpan,
}

impl Visit for FinishedSpan {
    fn record_str(&mut self, field: &Field, value: &str) {
        if value.is_empty() {
            return;
        }
        match field.name() {
            "trace_id" => self.trace_id = value.to_owned(),
            "span_id" => self.span_id = value.to_owned(),
            "parent_span_id" => self.parent_span_id = Some(value.to_owned()),
            "component" => self.component = value.to_owned(),
            "otel.name" => self.name = value.to_owned(),
            "otel.kind" => {
                self.kind = match value {
                    "server" => SpanKind::Server,
                    "client" => SpanKind::Client,
                    _ => SpanKind::Internal,
                }
            }
            "error" => self.error = Some(value.to_owned()),
            name => self.set(name, AttributeValue::Str(value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), AttributeValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.set(field.name(), AttributeValue::Int(value)),
            Err(_) => self.set(field.name(), AttributeValue::Str(value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), AttributeValue::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), AttributeValue::Bool(value));
    }
}

impl FinishedSpan {
    fn set(&mut self, name: &'static str, value: AttributeValue) {
        match self.attributes.iter_mut().find(|(key, _)| *key == name) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((name, value)),
        }
    }

    /// Whether the ids are W3C-shaped (lowercase hex, not all zero).
    fn has_valid_ids(&self) -> bool {
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && s.bytes().any(|b| b != b'0')
        };
        hex(&self.trace_id, 32)
            && hex(&self.span_id, 16)
            && self.parent_span_id.as_deref().is_none_or(|p| hex(p, 16))
    }
}

impl<S> Layer<S> for SpanExportLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !span_export_enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut finished = FinishedSpan {
            name: attrs.metadata().name().to_owned(),
            component: String::new(),
            kind: SpanKind::Internal,
            trace_id: String::new(),
            span_id: String::new(),
            parent_span_id: None,
            start: SystemTime::UNIX_EPOCH,
            end: SystemTime::UNIX_EPOCH,
            error: None,
            attributes: Vec::new(),
        };
        attrs.record(&mut finished);
        span.extensions_mut().insert(Recording {
            start: SystemTime::now(),
            span: finished,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(recording) = span.extensions_mut().get_mut::<Recording>()
        {
            values.record(&mut recording.span);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(Recording { start, mut span }) = span.extensions_mut().remove::<Recording>()
        else {
            return;
        };
        if !span.has_valid_ids() {
            return;
        }
        let Some(sink) = installed_sink() else { return };
        span.start = start;
        span.end = SystemTime::now().max(start);
        sink.accept(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<FinishedSpan>>);

    impl SpanSink for Collect {
        fn accept(&self, span: FinishedSpan) {
            self.0.lock().unwrap().push(span);
        }
    }

    fn subscriber() -> impl Subscriber + Send + Sync {
        tracing_subscriber::registry().with(SpanExportLayer.with_filter(FilterFn::new(
            |metadata: &Metadata<'_>| {
                metadata.is_span() && metadata.fields().field("span_id").is_some()
            },
        )))
    }

    // One test: the sink is process-wide, so tests that install one must not run in parallel.
    #[test]
    fn spans_with_trace_ids_reach_the_sink_with_their_fields_and_others_do_not() {
        let sink = Arc::new(Collect::default());
        let installed: Arc<dyn SpanSink> = sink.clone();
        install_span_sink(installed.clone());
        tracing::subscriber::with_default(subscriber(), || {
            let span = tracing::info_span!(
                "request",
                component = "resume",
                otel.kind = "server",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id = "00f067aa0ba902b7",
                parent_span_id = "",
                method = "POST",
                request_id = "",
                status = tracing::field::Empty,
                error = tracing::field::Empty,
            );
            span.record("status", 503u16);
            span.record("status", 500u16);
            span.record("error", "boom");
            drop(span);
            // Not W3C ids: not exported.
            drop(tracing::info_span!(
                "request",
                trace_id = "nope",
                span_id = "00f067aa0ba902b7"
            ));
            // No span_id field: never recorded.
            drop(tracing::info_span!(
                "other",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
            ));
            drop(tracing::info_span!(
                "fetch",
                otel.name = "fetch resume",
                trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                span_id = "1111111111111111",
                parent_span_id = "00f067aa0ba902b7",
            ));
        });
        remove_span_sink(&installed);
        assert!(!span_export_enabled());
        let spans = sink.0.lock().unwrap().clone();
        assert_eq!(spans.len(), 2, "{spans:?}");
        let request = &spans[0];
        assert_eq!(request.name, "request");
        assert_eq!(request.component, "resume");
        assert_eq!(request.kind, SpanKind::Server);
        assert_eq!(request.parent_span_id, None);
        assert_eq!(request.error.as_deref(), Some("boom"));
        assert_eq!(
            request.attributes,
            vec![
                ("method", AttributeValue::Str("POST".into())),
                ("status", AttributeValue::Int(500)),
            ]
        );
        assert!(request.end >= request.start);
        let fetch = &spans[1];
        assert_eq!(fetch.name, "fetch resume");
        assert_eq!(fetch.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(fetch.kind, SpanKind::Internal);
    }

    #[test]
    fn otlp_settings_are_checked() {
        let ok = LogConfig {
            otlp_endpoint: Some("http://collector:4318".into()),
            ..LogConfig::default()
        };
        assert!(ok.validate().is_ok());
        for bad in [
            LogConfig {
                otlp_endpoint: Some("collector:4318".into()),
                ..LogConfig::default()
            },
            LogConfig {
                otlp_sample_ratio: 1.5,
                ..LogConfig::default()
            },
            LogConfig {
                otlp_batch_size: 10,
                otlp_queue_size: 5,
                ..LogConfig::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
