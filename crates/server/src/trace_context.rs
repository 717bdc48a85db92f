//! W3C trace context (`traceparent`): the router makes sure every request carries one (the
//! client's when valid, else a new one) and forwards it to subgraphs, so the log lines of one
//! request share a `trace_id` across components; every component's request span records it
//! with the request id and path (JSON logs carry span fields).

use axum::http::HeaderMap;
use tracing::Span;

pub const TRACEPARENT: &str = "traceparent";

/// The trace id of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero).
pub fn trace_id(headers: &HeaderMap) -> Option<&str> {
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
    valid.then_some(trace)
}

/// A new `traceparent` (sampled) with random trace and span ids.
pub fn new_traceparent() -> String {
    let trace: u128 = rand_nonzero();
    let span = (rand_nonzero() as u64).max(1);
    format!("00-{trace:032x}-{span:016x}-01")
}

fn rand_nonzero() -> u128 {
    let bytes = uuid::Uuid::new_v4().as_u128();
    bytes.max(1)
}

/// The span every component opens per HTTP request: method, path, request id and trace id.
pub fn request_span(request: &axum::http::Request<axum::body::Body>) -> Span {
    let headers = request.headers();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        trace_id = trace_id(headers).unwrap_or(""),
    )
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
        let fresh = new_traceparent();
        assert!(trace_id(&with(&fresh)).is_some(), "{fresh}");
        assert_ne!(fresh, new_traceparent());
    }
}
