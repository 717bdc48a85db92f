//! A loopback language-model server for tests: it speaks the OpenAI chat-completions and the
//! Anthropic Messages streaming protocols (real SSE frames) and answers from a script.
//!
//! ```ignore
//! let mock = MockLlm::start().await;
//! mock.enqueue(Reply::status(429, r#"{"error":{"message":"slow down"}}"#).retry_after("1"));
//! mock.enqueue(Reply::text(&["Hel", "lo"]));
//! // point a provider at mock.openai_base_url() or mock.anthropic_base_url() ...
//! assert_eq!(mock.request_count(), 2);
//! assert_eq!(mock.requests()[0].body["stream"], true);
//! ```
//!
//! Every request takes the next scripted [`Reply`]; when the script is empty the default
//! reply (`Reply::text(&["Hello", " from", " mock"])` unless set) answers. Routes:
//! `POST /v1/chat/completions` and `POST /chat/completions` (OpenAI), `POST /v1/messages`
//! (Anthropic). Reported usage: [`MOCK_PROMPT_TOKENS`] prompt tokens, one completion token per
//! text chunk or argument fragment. Nothing here is used in production.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::post;
use futures::StreamExt;
use serde_json::{Value, json};

/// Prompt tokens the mock reports for every request.
pub const MOCK_PROMPT_TOKENS: u32 = 17;

/// How long [`Reply::Stall`] and [`Reply::StallAfter`] hold the connection silent.
pub const STALL: Duration = Duration::from_secs(60);

/// One tool call of a scripted reply.
#[derive(Clone, Debug, PartialEq)]
pub struct MockToolCall {
    pub name: String,
    /// The arguments' JSON text, in the pieces it is streamed in.
    pub arguments_fragments: Vec<String>,
}

/// What the server answers to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// A streamed answer of these text deltas, then finish `stop` / `end_turn` and usage.
    Text(Vec<String>),
    /// One streamed tool call, then finish `tool_calls` / `tool_use`.
    ToolCall {
        name: String,
        arguments_fragments: Vec<String>,
    },
    /// Parallel tool calls (OpenAI: their fragments interleaved by `index`).
    ToolCalls(Vec<MockToolCall>),
    /// An HTTP error: status, JSON body, optional `Retry-After` header value.
    Status {
        code: u16,
        body: String,
        retry_after: Option<String>,
    },
    /// The start of a text answer with these deltas, then the connection is cut.
    DisconnectAfter(Vec<String>),
    /// No response headers for [`STALL`] (trips a first-byte timeout).
    Stall,
    /// The start of a text answer with these deltas, then silence for [`STALL`] (trips an
    /// idle timeout).
    StallAfter(Vec<String>),
    /// Status 200, `text/event-stream`, and exactly these body chunks (malformed frames,
    /// in-stream error events, missing usage...).
    Raw(Vec<String>),
}

impl Reply {
    pub fn text(chunks: &[&str]) -> Reply {
        Reply::Text(owned(chunks))
    }

    pub fn tool_call(name: &str, arguments_fragments: &[&str]) -> Reply {
        Reply::ToolCall {
            name: name.to_owned(),
            arguments_fragments: owned(arguments_fragments),
        }
    }

    pub fn status(code: u16, body: &str) -> Reply {
        Reply::Status {
            code,
            body: body.to_owned(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header to a [`Reply::Status`] (other replies are unchanged).
    pub fn retry_after(self, value: &str) -> Reply {
        match self {
            Reply::Status { code, body, .. } => Reply::Status {
                code,
                body,
                retry_after: Some(value.to_owned()),
            },
            other => other,
        }
    }

    pub fn disconnect_after(chunks: &[&str]) -> Reply {
        Reply::DisconnectAfter(owned(chunks))
    }

    pub fn stall_after(chunks: &[&str]) -> Reply {
        Reply::StallAfter(owned(chunks))
    }

    pub fn raw(chunks: &[&str]) -> Reply {
        Reply::Raw(owned(chunks))
    }
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

/// Which protocol a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    OpenAi,
    Anthropic,
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub protocol: Protocol,
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`Value::Null` if it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Debug)]
struct Shared {
    script: VecDeque<Reply>,
    default: Reply,
    requests: Vec<RecordedRequest>,
}

/// The running server; dropped, it stops accepting connections.
#[derive(Debug)]
pub struct MockLlm {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockLlm {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub async fn start() -> MockLlm {
        let shared = Arc::new(Mutex::new(Shared {
            script: VecDeque::new(),
            default: Reply::text(&["Hello", " from", " mock"]),
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the mock LLM");
        let addr = listener
            .local_addr()
            .expect("local address of the mock LLM");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockLlm { addr, shared, task }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// Appends a reply to the script.
    pub fn enqueue(&self, reply: Reply) {
        self.lock().script.push_back(reply);
    }

    /// The reply used once the script is exhausted.
    pub fn set_default(&self, reply: Reply) {
        self.lock().default = reply;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// `http://127.0.0.1:PORT/v1` — an OpenAI-compatible `base_url`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT` — an Anthropic `base_url`.
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

type SharedState = State<Arc<Mutex<Shared>>>;

async fn openai(State(shared): SharedState, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    answer(&shared, Protocol::OpenAi, uri, headers, body).await
}

async fn anthropic(
    State(shared): SharedState,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&shared, Protocol::Anthropic, uri, headers, body).await
}

async fn answer(
    shared: &Mutex<Shared>,
    protocol: Protocol,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock")
        .to_owned();
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let reply = {
        let mut shared = lock(shared);
        shared.requests.push(RecordedRequest {
            protocol,
            path: uri.path().to_owned(),
            headers,
            body,
        });
        let default = shared.default.clone();
        shared.script.pop_front().unwrap_or(default)
    };
    let frames = Frames { protocol, model };
    match reply {
        Reply::Status {
            code,
            body,
            retry_after,
        } => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(value) = retry_after {
                response = response.header(header::RETRY_AFTER, value);
            }
            response.body(Body::from(body)).unwrap_or_default()
        }
        Reply::Stall => {
            tokio::time::sleep(STALL).await;
            Response::builder()
                .status(StatusCode::GATEWAY_TIMEOUT)
                .body(Body::empty())
                .unwrap_or_default()
        }
        Reply::Text(chunks) => sse(frames.text(&chunks, true), Ending::Complete),
        Reply::ToolCall {
            name,
            arguments_fragments,
        } => sse(
            frames.tool_calls(&[MockToolCall {
                name,
                arguments_fragments,
            }]),
            Ending::Complete,
        ),
        Reply::ToolCalls(calls) => sse(frames.tool_calls(&calls), Ending::Complete),
        Reply::DisconnectAfter(chunks) => sse(frames.text(&chunks, false), Ending::Disconnect),
        Reply::StallAfter(chunks) => sse(frames.text(&chunks, false), Ending::Stall),
        Reply::Raw(chunks) => sse(chunks, Ending::Complete),
    }
}

enum Ending {
    Complete,
    Disconnect,
    Stall,
}

/// A `text/event-stream` response sending each frame as its own body chunk.
fn sse(frames: Vec<String>, ending: Ending) -> Response {
    let chunks = futures::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
    let ending = futures::stream::once(async move {
        match ending {
            Ending::Complete => None,
            Ending::Disconnect => {
                // Let the server flush what it has (headers and frames) before the cut, or the
                // client sees no response at all rather than a broken stream.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "mock cut",
                )))
            }
            Ending::Stall => {
                tokio::time::sleep(STALL).await;
                None
            }
        }
    });
    let body = chunks.chain(ending.filter_map(|item| async move { item }));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_default()
}

struct Frames {
    protocol: Protocol,
    model: String,
}

fn data(value: &Value) -> String {
    format!("data: {value}\n\n")
}

fn event(name: &str, value: &Value) -> String {
    format!("event: {name}\ndata: {value}\n\n")
}

fn tokens(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

impl Frames {
    fn openai_chunk(&self, choices: Value) -> String {
        data(&json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": choices,
        }))
    }

    fn openai_end(&self, finish: &str, completion: usize) -> Vec<String> {
        vec![
            self.openai_chunk(json!([{ "index": 0, "delta": {}, "finish_reason": finish }])),
            data(&json!({
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": self.model,
                "choices": [],
                "usage": {
                    "prompt_tokens": MOCK_PROMPT_TOKENS,
                    "completion_tokens": tokens(completion),
                    "total_tokens": MOCK_PROMPT_TOKENS + tokens(completion),
                },
            })),
            "data: [DONE]\n\n".to_owned(),
        ]
    }

    fn anthropic_start(&self) -> String {
        event(
            "message_start",
            &json!({
                "type": "message_start",
                "message": {
                    "id": "msg_mock",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": self.model,
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": { "input_tokens": MOCK_PROMPT_TOKENS, "output_tokens": 1 },
                },
            }),
        )
    }

    fn anthropic_end(&self, stop_reason: &str, completion: usize) -> Vec<String> {
        vec![
            event(
                "message_delta",
                &json!({
                    "type": "message_delta",
                    "delta": { "stop_reason": stop_reason, "stop_sequence": null },
                    "usage": { "output_tokens": tokens(completion) },
                }),
            ),
            event("message_stop", &json!({ "type": "message_stop" })),
        ]
    }

    /// Text deltas; with `complete`, the finish and usage frames too.
    fn text(&self, chunks: &[String], complete: bool) -> Vec<String> {
        let mut frames = Vec::new();
        match self.protocol {
            Protocol::OpenAi => {
                frames.push(self.openai_chunk(json!([{
                    "index": 0,
                    "delta": { "role": "assistant", "content": "" },
                    "finish_reason": null,
                }])));
                for chunk in chunks {
                    frames.push(self.openai_chunk(json!([{
                        "index": 0,
                        "delta": { "content": chunk },
                        "finish_reason": null,
                    }])));
                }
                if complete {
                    frames.extend(self.openai_end("stop", chunks.len()));
                }
            }
            Protocol::Anthropic => {
                frames.push(self.anthropic_start());
                frames.push(event(
                    "content_block_start",
                    &json!({
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": { "type": "text", "text": "" },
                    }),
                ));
                frames.push(event("ping", &json!({ "type": "ping" })));
                for chunk in chunks {
                    frames.push(event(
                        "content_block_delta",
                        &json!({
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": { "type": "text_delta", "text": chunk },
                        }),
                    ));
                }
                if complete {
                    frames.push(event(
                        "content_block_stop",
                        &json!({ "type": "content_block_stop", "index": 0 }),
                    ));
                    frames.extend(self.anthropic_end("end_turn", chunks.len()));
                }
            }
        }
        frames
    }

    fn tool_calls(&self, calls: &[MockToolCall]) -> Vec<String> {
        let fragments: usize = calls
            .iter()
            .map(|call| call.arguments_fragments.len())
            .sum();
        let mut frames = Vec::new();
        match self.protocol {
            Protocol::OpenAi => {
                frames.push(self.openai_chunk(json!([{
                    "index": 0,
                    "delta": { "role": "assistant", "content": null },
                    "finish_reason": null,
                }])));
                let fragment = |index: usize, value: Value| {
                    self.openai_chunk(json!([{
                        "index": 0,
                        "delta": { "tool_calls": [ { "index": index, "function": value } ] },
                        "finish_reason": null,
                    }]))
                };
                for (index, call) in calls.iter().enumerate() {
                    frames.push(self.openai_chunk(json!([{
                        "index": 0,
                        "delta": { "tool_calls": [ {
                            "index": index,
                            "id": format!("call_mock_{index}"),
                            "type": "function",
                            "function": { "name": call.name, "arguments": "" },
                        } ] },
                        "finish_reason": null,
                    }])));
                }
                // Round-robin over the calls, as a server streaming them in parallel might.
                let rounds = calls
                    .iter()
                    .map(|c| c.arguments_fragments.len())
                    .max()
                    .unwrap_or(0);
                for round in 0..rounds {
                    for (index, call) in calls.iter().enumerate() {
                        if let Some(piece) = call.arguments_fragments.get(round) {
                            frames.push(fragment(index, json!({ "arguments": piece })));
                        }
                    }
                }
                frames.extend(self.openai_end("tool_calls", fragments));
            }
            Protocol::Anthropic => {
                frames.push(self.anthropic_start());
                for (index, call) in calls.iter().enumerate() {
                    frames.push(event(
                        "content_block_start",
                        &json!({
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {
                                "type": "tool_use",
                                "id": format!("toolu_mock_{index}"),
                                "name": call.name,
                                "input": {},
                            },
                        }),
                    ));
                    for piece in &call.arguments_fragments {
                        frames.push(event(
                            "content_block_delta",
                            &json!({
                                "type": "content_block_delta",
                                "index": index,
                                "delta": { "type": "input_json_delta", "partial_json": piece },
                            }),
                        ));
                    }
                    frames.push(event(
                        "content_block_stop",
                        &json!({ "type": "content_block_stop", "index": index }),
                    ));
                }
                frames.extend(self.anthropic_end("tool_use", fragments));
            }
        }
        frames
    }
}
