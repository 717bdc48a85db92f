//! W3C trace context (`traceparent`): every component gives each request a [`TraceContext`]
//! (continuing the caller's trace when its `traceparent` is valid, else starting one; a
//! malformed header starts a new trace, it is never an error) and its request span records the
//! ids, with method, path, route, status, request id, operation and principal. After the edge
//! layers the request's own `traceparent` header names *this* component's request span, so
//! whatever the handler forwards (the router's subgraph requests) continues the trace as its
//! child. `looma_core::telemetry` hands the finished spans to the OTLP exporter
//! (`trace_export`) when one runs.

use axum::http::{HeaderMap, HeaderValue};
use tracing::Span;

pub const TRACEPARENT: &str = "traceparent";

/// The parts of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteParent<'a> {
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub flags: &'a str,
}

/// Reads `traceparent`; `None` when it is absent or malformed.
pub fn parse(headers: &HeaderMap) -> Option<RemoteParent<'_>> {
    let value = headers.get(TRACEPARENT)?.to_str().ok()?;
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let valid = parts.next().is_none()
        && version == "00"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then_some(RemoteParent {
        trace_id: trace,
        span_id: parent,
        flags,
    })
}

/// The trace id of a valid `traceparent`.
pub fn trace_id(headers: &HeaderMap) -> Option<&str> {
    parse(headers).map(|parent| parent.trace_id)
}

/// A random span id: 16 lowercase hex digits, not all zero.
pub fn new_span_id() -> String {
    format!("{:016x}", (rand_nonzero() as u64).max(1))
}

fn rand_nonzero() -> u128 {
    uuid::Uuid::new_v4().as_u128().max(1)
}

/// One component's part of a trace: the request span's own id and its caller's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    /// The caller's span (`None`: this request started the trace).
    pub parent_span_id: Option<String>,
    pub flags: String,
}

impl TraceContext {
    /// A new span continuing the caller's trace, or the root of a new one.
    pub fn from_headers(headers: &HeaderMap) -> TraceContext {
        match parse(headers) {
            Some(parent) => TraceContext {
                trace_id: parent.trace_id.to_owned(),
                span_id: new_span_id(),
                parent_span_id: Some(parent.span_id.to_owned()),
                flags: parent.flags.to_owned(),
            },
            None => TraceContext {
                trace_id: format!("{:032x}", rand_nonzero()),
                span_id: new_span_id(),
                parent_span_id: None,
                flags: "01".into(),
            },
        }
    }

    /// The `traceparent` for requests made inside this span (its children).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

/// Edge middleware (outside the request span): attaches the request's [`TraceContext`] and
/// points its `traceparent` header at this component's request span.
pub async fn attach(mut request: axum::extract::Request) -> axum::extract::Request {
    let context = TraceContext::from_headers(request.headers());
    if let Ok(value) = HeaderValue::from_str(&context.traceparent()) {
        request.headers_mut().insert(TRACEPARENT, value);
    }
    request.extensions_mut().insert(context);
    request
}

/// The span every component opens per HTTP request: component, method, path, request id and
/// the trace ids from [`attach`]; route, status, operation, principal and error are recorded
/// as they become known ([`record_graphql`], the edge layers).
pub fn request_span(
    component: &'static str,
    request: &axum::http::Request<axum::body::Body>,
) -> Span {
    let headers = request.headers();
    let context = request.extensions().get::<TraceContext>();
    tracing::info_span!(
        "request",
        component,
        otel.kind = "server",
        otel.name = tracing::field::Empty,
        method = %request.method(),
        path = %request.uri().path(),
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        trace_id = context.map_or("", |c| c.trace_id.as_str()),
        span_id = context.map_or("", |c| c.span_id.as_str()),
        parent_span_id = context.and_then(|c| c.parent_span_id.as_deref()).unwrap_or(""),
        operation = tracing::field::Empty,
        principal = tracing::field::Empty,
        errors = tracing::field::Empty,
        error = tracing::field::Empty,
    )
}

/// Records the matched route on the current request span (and, while spans are exported,
/// names the span after it).
pub fn record_route(method: &axum::http::Method, route: &str) {
    let span = Span::current();
    span.record("route", route);
    if looma_core::telemetry::span_export_enabled() {
        span.record("otel.name", format!("{method} {route}").as_str());
    }
}

/// Records the response status on the request span; a 5xx fails the span.
pub fn record_status(status: axum::http::StatusCode, span: &Span) {
    span.record("status", status.as_u16());
    if status.is_server_error() {
        span.record("error", status.to_string().as_str());
    }
}

/// Records a GraphQL request's outcome on the current request span: its operation name, the
/// principal's id when one authenticated, and its error count (any error fails the span).
pub fn record_graphql(operation: Option<&str>, principal: Option<&str>, errors: usize) {
    let span = Span::current();
    if let Some(operation) = operation.filter(|o| !o.is_empty()) {
        span.record("operation", operation);
    }
    if let Some(principal) = principal {
        span.record("principal", principal);
    }
    span.record("errors", errors);
    if errors > 0 {
        let message = if errors == 1 {
            "1 GraphQL error".to_owned()
        } else {
            format!("{errors} GraphQL errors")
        };
        span.record("error", message.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, value.parse().unwrap());
        headers
    }

    #[test]
    fn valid_trace_context_is_read_and_bad_is_not() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            trace_id(&with(good)),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "garbage",
        ] {
            assert_eq!(trace_id(&with(bad)), None, "{bad}");
        }
        let fresh = TraceContext::from_headers(&HeaderMap::new()).traceparent();
        assert!(trace_id(&with(&fresh)).is_some(), "{fresh}");
        assert_ne!(
            fresh,
            TraceContext::from_headers(&HeaderMap::new()).traceparent()
        );
    }

    #[test]
    fn a_request_continues_the_callers_trace_or_starts_one() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let context = TraceContext::from_headers(&with(good));
        assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_ne!(context.span_id, "00f067aa0ba902b7");
        let child = context.traceparent();
        let parsed = with(&child);
        let parsed = parse(&parsed).expect("valid");
        assert_eq!(parsed.trace_id, context.trace_id);
        assert_eq!(parsed.span_id, context.span_id);
        assert_eq!(parsed.flags, "00");
        for headers in [HeaderMap::new(), with("00-garbage")] {
            let root = TraceContext::from_headers(&headers);
            assert_eq!(root.parent_span_id, None);
            assert!(parse(&with(&root.traceparent())).is_some());
        }
    }
}
