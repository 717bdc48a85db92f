//! Server-Sent Events over HTTP, shared by the remote providers: an incremental parser, the
//! request send with its connect / first-byte timeouts, the response reader with its idle
//! timeout, and the mapping of HTTP failures onto [`LlmError`].
//!
//! A provider supplies only a [`SseDecoder`] (its event payloads → [`StreamEvent`]s) and its
//! error-body reading; everything about bytes, lines, buffering and timing lives here. The
//! parser holds at most [`MAX_FRAME_BYTES`] of one event, so a server that never ends a line
//! or an event cannot grow memory without bound.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use futures::StreamExt;

use crate::{EventStream, LlmError, StreamEvent};

/// The largest event (its pending line plus its accumulated `data`) the parser accepts.
pub(crate) const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// How much of an error body is read (and how much of its text goes into a reason).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
const MAX_REASON_CHARS: usize = 300;

/// One dispatched event: its `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Why the byte stream could not be parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SseError {
    /// One event grew past the parser's limit.
    FrameTooLarge(usize),
    /// A line was not UTF-8.
    InvalidUtf8,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::FrameTooLarge(limit) => write!(f, "an event exceeded {limit} bytes"),
            SseError::InvalidUtf8 => f.write_str("an event line was not UTF-8"),
        }
    }
}

/// Incremental SSE parser (WHATWG `text/event-stream` rules): lines end in `\r\n`, `\n` or
/// `\r`, possibly split across chunks; `:` lines are comments; an empty line dispatches the
/// event; `id:` and `retry:` are ignored (we never reconnect).
pub(crate) struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` opening the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    max_frame: usize,
}

impl SseParser {
    pub fn new(max_frame: usize) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            event: None,
            data: String::new(),
            has_data: false,
            max_frame,
        }
    }

    /// Feeds one chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(end) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.line.extend_from_slice(&rest[..end]);
            self.check_size()?;
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, &mut events)?;
            let terminator = rest[end];
            rest = &rest[end + 1..];
            if terminator == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.line.extend_from_slice(rest);
        self.check_size()?;
        Ok(events)
    }

    fn check_size(&self) -> Result<(), SseError> {
        if self.line.len() + self.data.len() > self.max_frame {
            Err(SseError::FrameTooLarge(self.max_frame))
        } else {
            Ok(())
        }
    }

    fn process_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                events.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event = None;
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::InvalidUtf8)?;
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
                self.check_size()?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Turns one provider's events into [`StreamEvent`]s.
pub(crate) trait SseDecoder: Send + 'static {
    /// Handles one event; pushes what it produced to `out`. Returns `true` once the stream is
    /// complete (its `Done` pushed): nothing after that is read.
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, LlmError>;

    /// The body ended before `on_event` reported completion: push the final events if the
    /// provider's protocol allows that ending, or say why the stream is incomplete.
    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), LlmError>;
}

/// The timeouts of one provider (connect is set on its client).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamTimeouts {
    pub first_byte: Duration,
    pub idle: Duration,
}

/// Sends the request; waits at most `first_byte` for the response headers. A non-success
/// status is read (bounded) and handed to `map_error`.
pub(crate) async fn send(
    provider: &str,
    request: reqwest::RequestBuilder,
    timeouts: StreamTimeouts,
    map_error: impl FnOnce(u16, Option<Duration>, &[u8]) -> LlmError,
) -> Result<reqwest::Response, LlmError> {
    let response = match tokio::time::timeout(timeouts.first_byte, request.send()).await {
        Err(_) => {
            return Err(unavailable(
                provider,
                format!("no response within {} ms", timeouts.first_byte.as_millis()),
            ));
        }
        Ok(Err(error)) => return Err(unavailable(provider, transport_reason(&error))),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, SystemTime::now()));
    let body = read_error_body(response, timeouts.idle).await;
    Err(map_error(status.as_u16(), retry_after, &body))
}

async fn read_error_body(mut response: reqwest::Response, idle: Duration) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match tokio::time::timeout(idle, response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY_BYTES);
    body
}

/// Reads the body until the first [`StreamEvent`]: an error before it is returned here (so
/// retries and fallback can act on it), as `Unavailable` when it was a broken or stalled
/// stream; afterwards events and errors go through the returned stream.
pub(crate) async fn start_stream<D: SseDecoder>(
    provider: &str,
    response: reqwest::Response,
    idle: Duration,
    decoder: D,
) -> Result<EventStream, LlmError> {
    let mut reader = Reader {
        provider: provider.to_owned(),
        response,
        parser: SseParser::new(MAX_FRAME_BYTES),
        decoder,
        idle,
        pending: VecDeque::new(),
        error: None,
        produced: false,
        finished: false,
    };
    let first = match reader.next_event().await {
        Some(Ok(event)) => event,
        Some(Err(LlmError::Interrupted { provider, reason })) => {
            return Err(LlmError::Unavailable {
                provider,
                reason: format!("stream failed before any output: {reason}"),
            });
        }
        Some(Err(error)) => return Err(error),
        None => {
            return Err(unavailable(provider, "stream ended before any output"));
        }
    };
    let rest = futures::stream::unfold(reader, |mut reader| async move {
        let item = reader.next_event().await?;
        Some((item, reader))
    });
    Ok(futures::stream::once(async move { Ok(first) })
        .chain(rest)
        .boxed())
}

struct Reader<D> {
    provider: String,
    response: reqwest::Response,
    parser: SseParser,
    decoder: D,
    idle: Duration,
    pending: VecDeque<StreamEvent>,
    /// An error to yield once `pending` is drained.
    error: Option<LlmError>,
    /// Some event has been handed to the caller.
    produced: bool,
    finished: bool,
}

impl<D: SseDecoder> Reader<D> {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, LlmError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.produced = true;
                return Some(Ok(event));
            }
            if let Some(error) = self.error.take() {
                return Some(Err(error));
            }
            if self.finished {
                return None;
            }
            if let Err(error) = self.read_more().await {
                self.finished = true;
                // Once output has been produced, whatever breaks the stream interrupts it:
                // the caller has shown part of an answer and must not retry.
                let error = match error {
                    LlmError::Interrupted { .. } => error,
                    _ if self.produced || !self.pending.is_empty() => {
                        self.interrupted(bare_reason(&error))
                    }
                    _ => error,
                };
                self.error = Some(error);
            }
        }
    }

    async fn read_more(&mut self) -> Result<(), LlmError> {
        let chunk = match tokio::time::timeout(self.idle, self.response.chunk()).await {
            Err(_) => {
                return Err(self.interrupted(format!("no data for {} ms", self.idle.as_millis())));
            }
            Ok(Err(error)) => return Err(self.interrupted(transport_reason(&error))),
            Ok(Ok(None)) => {
                self.finished = true;
                return self.decoder.on_eof(&mut self.pending);
            }
            Ok(Ok(Some(chunk))) => chunk,
        };
        let events = self
            .parser
            .push(&chunk)
            .map_err(|error| self.interrupted(error.to_string()))?;
        for event in events {
            if self.decoder.on_event(event, &mut self.pending)? {
                self.finished = true;
                break;
            }
        }
        Ok(())
    }

    fn interrupted(&self, reason: String) -> LlmError {
        LlmError::Interrupted {
            provider: self.provider.clone(),
            reason,
        }
    }
}

/// An error's reason without the "language model `x` ..." prefix.
pub(crate) fn bare_reason(error: &LlmError) -> String {
    match error {
        LlmError::Unavailable { reason, .. }
        | LlmError::QuotaExceeded { reason, .. }
        | LlmError::Rejected { reason, .. }
        | LlmError::Interrupted { reason, .. } => reason.clone(),
        LlmError::RateLimited { .. } => "rate limited".to_owned(),
    }
}

pub(crate) fn unavailable(provider: &str, reason: impl Into<String>) -> LlmError {
    LlmError::Unavailable {
        provider: provider.to_owned(),
        reason: reason.into(),
    }
}

/// The error for a non-success HTTP status, once the provider has read its body: billing
/// refusals (`quota`, or 402) are `QuotaExceeded`, 429 `RateLimited`, 408 and 5xx
/// `Unavailable`, any other 4xx `Rejected`.
pub(crate) fn classify_status(
    provider: &str,
    status: u16,
    retry_after: Option<Duration>,
    quota: bool,
    message: &str,
) -> LlmError {
    let provider = provider.to_owned();
    let reason = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    };
    match status {
        402 => LlmError::QuotaExceeded { provider, reason },
        _ if quota => LlmError::QuotaExceeded { provider, reason },
        429 => LlmError::RateLimited {
            provider,
            retry_after,
        },
        408 | 500..=599 => LlmError::Unavailable { provider, reason },
        400..=499 => LlmError::Rejected { provider, reason },
        _ => LlmError::Unavailable {
            provider,
            reason: format!("unexpected {reason}"),
        },
    }
}

/// A reqwest error with its causes (the top level alone says only "error sending request").
pub(crate) fn transport_reason(error: &reqwest::Error) -> String {
    let mut reason = if error.is_connect() {
        "cannot connect".to_owned()
    } else if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "transport error".to_owned()
    };
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// `Retry-After` as delta-seconds or an HTTP date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).ok())
            .flatten();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The text of an error body for a reason: trimmed, cut at a character boundary.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Shortens a provider's message for a reason.
pub(crate) fn short(message: &str) -> String {
    body_excerpt(message.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = ": keep-alive\r\n\
        event: message_start\r\n\
        data: {\"a\":1}\r\n\
        \r\n\
        data: first\n\
        data:second\n\
        id: 7\n\
        retry: 100\n\
        \n\
        data: 中文 ☃\r\r\
        event: lonely\n\
        \n\
        data: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: None,
                data: "first\nsecond".into(),
            },
            SseEvent {
                event: None,
                data: "中文 ☃".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ]
    }

    fn parse_in(pieces: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new(MAX_FRAME_BYTES);
        let mut events = Vec::new();
        for piece in pieces {
            events.extend(parser.push(piece).expect("valid stream"));
        }
        events
    }

    #[test]
    fn parses_whole_stream() {
        assert_eq!(parse_in(&[STREAM.as_bytes()]), expected());
    }

    #[test]
    fn same_events_at_every_split_point() {
        let bytes = STREAM.as_bytes();
        for split in 0..=bytes.len() {
            let (head, tail) = bytes.split_at(split);
            assert_eq!(parse_in(&[head, tail]), expected(), "split at byte {split}");
        }
    }

    #[test]
    fn same_events_one_byte_at_a_time() {
        let pieces: Vec<&[u8]> = STREAM.as_bytes().chunks(1).collect();
        assert_eq!(parse_in(&pieces), expected());
    }

    #[test]
    fn unterminated_event_is_not_dispatched() {
        assert_eq!(parse_in(&[b"data: partial\n"]), Vec::new());
    }

    #[test]
    fn oversized_line_or_event_is_an_error() {
        let mut parser = SseParser::new(16);
        assert_eq!(parser.push(b"data: 0123456789"), Ok(Vec::new()));
        assert_eq!(parser.push(b"abcdef"), Err(SseError::FrameTooLarge(16)));

        let mut parser = SseParser::new(16);
        assert_eq!(parser.push(b"data: 0123456789\n"), Ok(Vec::new()));
        assert_eq!(
            parser.push(b"data: 0123456789\n"),
            Err(SseError::FrameTooLarge(16))
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut parser = SseParser::new(MAX_FRAME_BYTES);
        assert_eq!(
            parser.push(b"data: \xff\xfe\n\n"),
            Err(SseError::InvalidUtf8)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_767);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 0.5 ", now),
            Some(Duration::from_millis(500))
        );
        // 784111777 = Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:17 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = "é".repeat(1000);
        let excerpt = body_excerpt(long.as_bytes());
        assert_eq!(excerpt.chars().count(), MAX_REASON_CHARS + 1);
        assert_eq!(body_excerpt(b"  short \n"), "short");
    }
}
