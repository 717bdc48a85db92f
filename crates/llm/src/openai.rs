//! OpenAI-compatible chat completions, streamed (`POST {base_url}/chat/completions`).
//!
//! The same wire protocol is spoken by OpenAI, DeepSeek, Qwen (DashScope compatible mode),
//! vLLM, Ollama (`/v1`) and the llama.cpp server. Known differences, all tolerated here:
//! - the final usage chunk (`stream_options.include_usage`) is missing from older Ollama and
//!   some proxies: usage is then estimated; llama.cpp puts `usage` on the finish chunk;
//! - `data: [DONE]` is missing from some servers: a stream that has sent its finish reason
//!   and then ends is complete;
//! - tool-call fragments without `index` (older Ollama send each call whole): a fragment
//!   with a new `id` starts a new call;
//! - a finish reason of `stop` while tool calls were streamed (some vLLM/Ollama versions) is
//!   reported as [`FinishReason::ToolCalls`];
//! - reasoning models' `reasoning_content` deltas (DeepSeek) are not part of the answer and
//!   are dropped (they still keep the idle timer alive);
//! - OpenAI's newest reasoning models want `max_completion_tokens`; this sends `max_tokens`,
//!   which every other server here accepts.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use crate::config::{ConfigError, ProviderConfig, RemoteSettings};
use crate::sse::{self, SseDecoder, SseEvent};
use crate::{
    ChatMessage, ChatModel, ChatRequest, Completion, EventStream, FinishReason, LlmError, Role,
    StreamEvent, ToolCall, Usage, estimate_tokens,
};

/// A provider speaking the OpenAI chat-completions protocol.
#[derive(Debug)]
pub struct OpenAiChat {
    settings: RemoteSettings,
}

impl OpenAiChat {
    /// Checks the configuration (model, URL, timeouts) and builds the HTTP client.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ConfigError> {
        Ok(OpenAiChat {
            settings: config.remote()?,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for OpenAiChat {
    fn provider(&self) -> &str {
        &self.settings.name
    }

    fn model(&self) -> &str {
        &self.settings.model
    }

    fn supports_tools(&self) -> bool {
        self.settings.supports_tools
    }

    fn context_window(&self) -> usize {
        self.settings.context_window
    }

    fn count_tokens(&self, text: &str) -> usize {
        estimate_tokens(text)
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, LlmError> {
        let settings = &self.settings;
        let body = request_body(&settings.model, &request, settings.supports_tools);
        let mut http = settings
            .client
            .post(format!("{}/chat/completions", settings.base_url))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        if let Some(key) = &settings.api_key {
            http = http.bearer_auth(key.expose());
        }
        let provider = settings.name.as_str();
        let response = sse::send(
            provider,
            http,
            settings.timeouts,
            |status, retry_after, body| http_error(provider, status, retry_after, body),
        )
        .await?;
        let decoder = OpenAiDecoder::new(settings, &request);
        sse::start_stream(provider, response, settings.timeouts.idle, decoder).await
    }
}

/// The JSON body of a streamed chat completion.
pub(crate) fn request_body(model: &str, request: &ChatRequest, tools_allowed: bool) -> Value {
    let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    });
    if tools_allowed && !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    }
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

fn message_json(message: &ChatMessage) -> Value {
    match message.role {
        Role::System => json!({ "role": "system", "content": message.content }),
        Role::User => json!({ "role": "user", "content": message.content }),
        Role::Assistant if message.tool_calls.is_empty() => {
            json!({ "role": "assistant", "content": message.content })
        }
        Role::Assistant => {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    json!({
                        "id": call.id,
                        "type": "function",
                        "function": { "name": call.name, "arguments": call.arguments },
                    })
                })
                .collect();
            let content = if message.content.is_empty() {
                Value::Null
            } else {
                Value::String(message.content.clone())
            };
            json!({ "role": "assistant", "content": content, "tool_calls": calls })
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.as_deref().unwrap_or_default(),
            "content": message.content,
        }),
    }
}

/// Maps an error response (`{"error":{"message","type","code"}}`, or the flatter shapes of
/// vLLM and Ollama) to an [`LlmError`].
fn http_error(
    provider: &str,
    status: u16,
    retry_after: Option<std::time::Duration>,
    body: &[u8],
) -> LlmError {
    let detail = serde_json::from_slice::<Value>(body)
        .ok()
        .map(|value| ErrorDetail::from_json(&value))
        .unwrap_or_else(|| ErrorDetail {
            message: sse::body_excerpt(body),
            ..ErrorDetail::default()
        });
    sse::classify_status(
        provider,
        status,
        retry_after,
        detail.is_quota(),
        &detail.describe(),
    )
}

#[derive(Default)]
struct ErrorDetail {
    message: String,
    kind: Option<String>,
    code: Option<String>,
}

impl ErrorDetail {
    fn from_json(value: &Value) -> Self {
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let error = match value.get("error") {
            Some(Value::String(message)) => {
                return ErrorDetail {
                    message: sse::short(message),
                    ..ErrorDetail::default()
                };
            }
            Some(error @ Value::Object(_)) => error,
            // vLLM: `{"object":"error","message":...,"type":...,"code":...}`; FastAPI: `detail`.
            _ => value,
        };
        let message = text(error.get("message"))
            .or_else(|| text(value.get("detail")))
            .unwrap_or_default();
        ErrorDetail {
            message: sse::short(&message),
            kind: text(error.get("type")),
            code: text(error.get("code")),
        }
    }

    fn is_quota(&self) -> bool {
        [&self.kind, &self.code]
            .into_iter()
            .flatten()
            .any(|value| value == "insufficient_quota" || value == "billing_hard_limit_reached")
    }

    fn describe(&self) -> String {
        let tag = self.code.as_ref().or(self.kind.as_ref());
        match tag {
            Some(tag) if !self.message.is_empty() => format!("{} ({tag})", self.message),
            Some(tag) => tag.clone(),
            None => self.message.clone(),
        }
    }
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Reassembles the chunk stream: text deltas as they come, tool calls (accumulated by
/// `index`) when the finish reason arrives, `Done` at `[DONE]` or at the end of the body.
struct OpenAiDecoder {
    provider: String,
    model: String,
    prompt_estimate: usize,
    completion_estimate: usize,
    calls: BTreeMap<u64, PartialCall>,
    last_index: Option<u64>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl OpenAiDecoder {
    fn new(settings: &RemoteSettings, request: &ChatRequest) -> Self {
        OpenAiDecoder {
            provider: settings.name.clone(),
            model: settings.model.clone(),
            prompt_estimate: estimate_prompt(request),
            completion_estimate: 0,
            calls: BTreeMap::new(),
            last_index: None,
            finish: None,
            usage: None,
        }
    }

    fn malformed(&self, reason: impl std::fmt::Display) -> LlmError {
        LlmError::Interrupted {
            provider: self.provider.clone(),
            reason: format!("malformed chunk: {reason}"),
        }
    }

    fn on_tool_fragment(&mut self, position: usize, fragment: &Value) {
        let id = fragment
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let index = match fragment.get("index").and_then(Value::as_u64) {
            Some(index) => index,
            None => {
                let known = id.is_some_and(|id| self.calls.values().any(|call| call.id == id));
                match (id, self.last_index) {
                    (Some(_), Some(last)) if known => last,
                    (None, Some(last)) => last,
                    _ => self
                        .calls
                        .keys()
                        .next_back()
                        .map_or(position as u64, |k| k + 1),
                }
            }
        };
        self.last_index = Some(index);
        let call = self.calls.entry(index).or_default();
        if let Some(id) = id {
            call.id = id.to_owned();
        }
        if let Some(function) = fragment.get("function") {
            if let Some(name) = function.get("name").and_then(Value::as_str) {
                call.name.push_str(name);
            }
            match function.get("arguments") {
                Some(Value::String(piece)) => call.arguments.push_str(piece),
                // Some servers send the arguments as an object rather than its text.
                Some(object @ Value::Object(_)) => call.arguments.push_str(&object.to_string()),
                _ => {}
            }
        }
    }

    fn flush_calls(&mut self, out: &mut VecDeque<StreamEvent>) {
        for (index, call) in std::mem::take(&mut self.calls) {
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_owned()
            } else {
                call.arguments
            };
            self.completion_estimate += estimate_tokens(&call.name) + estimate_tokens(&arguments);
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            out.push_back(StreamEvent::ToolCall(ToolCall {
                id,
                name: call.name,
                arguments,
            }));
        }
    }

    fn done(&mut self, out: &mut VecDeque<StreamEvent>) {
        self.flush_calls(out);
        let usage = self.usage.unwrap_or(Usage {
            prompt_tokens: saturate(self.prompt_estimate),
            completion_tokens: saturate(self.completion_estimate),
        });
        out.push_back(StreamEvent::Done(Completion {
            provider: self.provider.clone(),
            model: self.model.clone(),
            usage,
            finish: self.finish.unwrap_or(FinishReason::Stop),
        }));
    }
}

impl SseDecoder for OpenAiDecoder {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done(out);
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|error| self.malformed(error))?;
        if chunk.get("error").is_some_and(|error| !error.is_null()) {
            // A server-side failure reported inside the stream (vLLM, proxies).
            let detail = ErrorDetail::from_json(&chunk);
            return Err(LlmError::Unavailable {
                provider: self.provider.clone(),
                reason: format!("error event: {}", detail.describe()),
            });
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).map(saturate_u64);
            if let (Some(prompt), Some(completion)) =
                (count("prompt_tokens"), count("completion_tokens"))
            {
                self.usage = Some(Usage {
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                });
            }
        }
        let choice = match chunk.get("choices") {
            Some(Value::Array(choices)) => choices.first(),
            None | Some(Value::Null) => None,
            Some(_) => return Err(self.malformed("`choices` is not an array")),
        };
        let Some(choice) = choice else {
            return Ok(false);
        };
        if let Some(delta) = choice.get("delta") {
            if let Some(text) = delta.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                self.completion_estimate += estimate_tokens(text);
                out.push_back(StreamEvent::Delta(text.to_owned()));
            }
            if let Some(Value::Array(fragments)) = delta.get("tool_calls") {
                for (position, fragment) in fragments.iter().enumerate() {
                    self.on_tool_fragment(position, fragment);
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            let had_calls = !self.calls.is_empty();
            self.finish = Some(match reason {
                "length" => FinishReason::Length,
                "tool_calls" | "function_call" => FinishReason::ToolCalls,
                _ if had_calls => FinishReason::ToolCalls,
                _ => FinishReason::Stop,
            });
            self.flush_calls(out);
        }
        Ok(false)
    }

    fn on_eof(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), LlmError> {
        if self.finish.is_some() {
            self.done(out);
            Ok(())
        } else {
            Err(LlmError::Interrupted {
                provider: self.provider.clone(),
                reason: "the stream ended before its finish reason".to_owned(),
            })
        }
    }
}

/// Prompt tokens as we would guess them: the texts plus a few tokens of framing per message.
pub(crate) fn estimate_prompt(request: &ChatRequest) -> usize {
    let messages: usize = request
        .messages
        .iter()
        .map(|message| {
            4 + estimate_tokens(&message.content)
                + message
                    .tool_calls
                    .iter()
                    .map(|call| estimate_tokens(&call.name) + estimate_tokens(&call.arguments))
                    .sum::<usize>()
        })
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .map(|tool| {
            estimate_tokens(&tool.name)
                + estimate_tokens(&tool.description)
                + estimate_tokens(&tool.parameters.to_string())
        })
        .sum();
    messages + tools
}

pub(crate) fn saturate(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

fn saturate_u64(count: u64) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolSpec;

    #[test]
    fn body_carries_roles_tools_and_stream_options() {
        let request = ChatRequest {
            messages: vec![
                ChatMessage::system("be brief"),
                ChatMessage::user("find java devs"),
                ChatMessage {
                    tool_calls: vec![ToolCall {
                        id: "call_1".into(),
                        name: "search".into(),
                        arguments: "{\"q\":\"java\"}".into(),
                    }],
                    ..ChatMessage::assistant("")
                },
                ChatMessage::tool_result("call_1", "[]"),
            ],
            tools: vec![ToolSpec {
                name: "search".into(),
                description: "search resumes".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 64,
            temperature: 0.2,
        };
        let body = request_body("deepseek-chat", &request, true);
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["name"],
            "search"
        );
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "[]"})
        );
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(
            body["tools"][0]["function"]["parameters"],
            json!({"type": "object"})
        );
        assert!(request_body("m", &request, false).get("tools").is_none());
    }

    #[test]
    fn error_bodies_classify() {
        let quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            http_error("p", 429, None, quota),
            LlmError::QuotaExceeded { .. }
        ));
        let limited =
            br#"{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert!(matches!(
            http_error("p", 429, Some(std::time::Duration::from_secs(2)), limited),
            LlmError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 2
        ));
        let bad_key = br#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            http_error("p", 401, None, bad_key),
            LlmError::Rejected {
                provider: "p".into(),
                reason: "HTTP 401: Incorrect API key (invalid_api_key)".into()
            }
        );
        let vllm =
            br#"{"object":"error","message":"model not found","type":"NotFoundError","code":404}"#;
        assert!(matches!(
            http_error("p", 404, None, vllm),
            LlmError::Rejected { reason, .. } if reason == "HTTP 404: model not found (404)"
        ));
        let ollama = br#"{"error":"model \"x\" not found"}"#;
        assert!(matches!(
            http_error("p", 404, None, ollama),
            LlmError::Rejected { .. }
        ));
        assert!(matches!(
            http_error("p", 402, None, b"Insufficient Balance"),
            LlmError::QuotaExceeded { .. }
        ));
        assert!(matches!(
            http_error("p", 502, None, b"<html>bad gateway</html>"),
            LlmError::Unavailable { reason, .. } if reason == "HTTP 502: <html>bad gateway</html>"
        ));
    }
}
