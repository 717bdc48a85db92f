//! The Anthropic Messages API, streamed (`POST {base_url}/v1/messages`).
//!
//! Our messages map onto Anthropic's shape: system messages become the top-level `system`,
//! assistant tool calls `tool_use` blocks, tool results `tool_result` blocks in a user turn,
//! and consecutive messages of the same side are merged (the API wants turns to alternate).
//! Thinking blocks and unknown event types are skipped, so newer API features do not break
//! the stream.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{ConfigError, ProviderConfig, RemoteSettings};
use crate::openai::{estimate_prompt, saturate};
use crate::sse::{self, SseDecoder, SseEvent};
use crate::{
    ChatModel, ChatRequest, Completion, EventStream, FinishReason, LlmError, Role, StreamEvent,
    ToolCall, Usage, estimate_tokens,
};

/// The API version this module speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// A provider speaking the Anthropic Messages protocol.
#[derive(Debug)]
pub struct AnthropicChat {
    settings: RemoteSettings,
}

impl AnthropicChat {
    /// Checks the configuration (model, URL, key, timeouts) and builds the HTTP client.
    pub fn from_config(config: &ProviderConfig) -> Result<Self, ConfigError> {
        Ok(AnthropicChat {
            settings: config.remote()?,
        })
    }
}

#[async_trait::async_trait]
impl ChatModel for AnthropicChat {
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
            .post(format!("{}/v1/messages", settings.base_url))
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body);
        if let Some(key) = &settings.api_key {
            http = http.header("x-api-key", key.expose());
        }
        let provider = settings.name.as_str();
        let response = sse::send(
            provider,
            http,
            settings.timeouts,
            |status, retry_after, body| http_error(provider, status, retry_after, body),
        )
        .await?;
        let decoder = AnthropicDecoder::new(settings, &request);
        sse::start_stream(provider, response, settings.timeouts.idle, decoder).await
    }
}

/// The JSON body of a streamed Messages request.
pub(crate) fn request_body(model: &str, request: &ChatRequest, tools_allowed: bool) -> Value {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|message| message.role == Role::System)
        .map(|message| message.content.as_str())
        .collect();
    // (role, blocks) turns, merged while the side stays the same.
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let (role, blocks) = match message.role {
            Role::System => continue,
            Role::User => ("user", text_block(&message.content)),
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.as_deref().unwrap_or_default(),
                    "content": message.content,
                })],
            ),
            Role::Assistant => {
                let mut blocks = text_block(&message.content);
                for call in &message.tool_calls {
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": arguments_object(&call.arguments),
                    }));
                }
                ("assistant", blocks)
            }
        };
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, blocks)| json!({ "role": role, "content": blocks }))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature.clamp(0.0, 1.0),
        "stream": true,
        "messages": messages,
    });
    if !system.is_empty() {
        body["system"] = Value::String(system.join("\n\n"));
    }
    if tools_allowed && !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// The API rejects empty text blocks, so empty text is left out.
fn text_block(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({ "type": "text", "text": text })]
    }
}

/// `tool_use.input` must be an object; arguments that are not one are passed under `arguments`.
fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(object @ Value::Object(_)) => object,
        _ if arguments.trim().is_empty() => json!({}),
        _ => json!({ "arguments": arguments }),
    }
}

/// `{"type":"error","error":{"type","message"}}` → an [`LlmError`].
fn http_error(provider: &str, status: u16, retry_after: Option<Duration>, body: &[u8]) -> LlmError {
    let (kind, message) = match serde_json::from_slice::<Value>(body) {
        Ok(value) => error_detail(&value),
        Err(_) => (String::new(), sse::body_excerpt(body)),
    };
    let quota = is_billing(&kind, &message);
    let described = if kind.is_empty() {
        message
    } else {
        format!("{message} ({kind})")
    };
    sse::classify_status(provider, status, retry_after, quota, &described)
}

fn error_detail(value: &Value) -> (String, String) {
    let error = value.get("error").unwrap_or(value);
    let field = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default();
    (field("type").to_owned(), sse::short(field("message")))
}

fn is_billing(kind: &str, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    kind == "billing_error" || message.contains("credit balance") || message.contains("billing")
}

/// An `error` event inside the stream.
fn stream_error(provider: &str, value: &Value) -> LlmError {
    let (kind, message) = error_detail(value);
    let provider = provider.to_owned();
    let reason = format!("{message} ({kind})");
    match kind.as_str() {
        "rate_limit_error" => LlmError::RateLimited {
            provider,
            retry_after: None,
        },
        _ if is_billing(&kind, &message) => LlmError::QuotaExceeded { provider, reason },
        "invalid_request_error"
        | "authentication_error"
        | "permission_error"
        | "not_found_error"
        | "request_too_large" => LlmError::Rejected { provider, reason },
        // overloaded_error, api_error, timeout_error and anything new.
        _ => LlmError::Unavailable { provider, reason },
    }
}

enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Reassembles the event stream: text deltas as they come, a tool call per finished
/// `tool_use` block, `Done` at `message_stop`.
struct AnthropicDecoder {
    provider: String,
    model: String,
    prompt_estimate: usize,
    completion_estimate: usize,
    blocks: HashMap<u64, Block>,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    finish: Option<FinishReason>,
}

impl AnthropicDecoder {
    fn new(settings: &RemoteSettings, request: &ChatRequest) -> Self {
        AnthropicDecoder {
            provider: settings.name.clone(),
            model: settings.model.clone(),
            prompt_estimate: estimate_prompt(request),
            completion_estimate: 0,
            blocks: HashMap::new(),
            input_tokens: None,
            output_tokens: None,
            finish: None,
        }
    }

    fn malformed(&self, reason: impl std::fmt::Display) -> LlmError {
        LlmError::Interrupted {
            provider: self.provider.clone(),
            reason: format!("malformed event: {reason}"),
        }
    }

    fn delta_text(&mut self, text: &str, out: &mut VecDeque<StreamEvent>) {
        if !text.is_empty() {
            self.completion_estimate += estimate_tokens(text);
            out.push_back(StreamEvent::Delta(text.to_owned()));
        }
    }
}

fn tokens(value: Option<&Value>, key: &str) -> Option<u32> {
    value?
        .get(key)?
        .as_u64()
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

impl SseDecoder for AnthropicDecoder {
    fn on_event(
        &mut self,
        event: SseEvent,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<bool, LlmError> {
        let value: Value =
            serde_json::from_str(&event.data).map_err(|error| self.malformed(error))?;
        // The `type` field names the event as `event:` does; it is present on every payload.
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        let index = value.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                let usage = value
                    .get("message")
                    .and_then(|message| message.get("usage"));
                let input = [
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ]
                .iter()
                .filter_map(|key| tokens(usage, key))
                .fold(0u32, u32::saturating_add);
                self.input_tokens = Some(input);
                self.output_tokens = tokens(usage, "output_tokens");
            }
            "content_block_start" => {
                let Some(block) = value.get("content_block") else {
                    return Err(self.malformed("content_block_start without content_block"));
                };
                let text = |key| block.get(key).and_then(Value::as_str).unwrap_or_default();
                let started = match text("type") {
                    "text" => {
                        self.delta_text(text("text"), out);
                        Block::Text
                    }
                    "tool_use" => Block::Tool {
                        id: text("id").to_owned(),
                        name: text("name").to_owned(),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, started);
            }
            "content_block_delta" => {
                let Some(delta) = value.get("delta") else {
                    return Err(self.malformed("content_block_delta without delta"));
                };
                let text = |key| delta.get(key).and_then(Value::as_str).unwrap_or_default();
                match text("type") {
                    "text_delta" => self.delta_text(text("text"), out),
                    "input_json_delta" => match self.blocks.get_mut(&index) {
                        Some(Block::Tool { json, .. }) => json.push_str(text("partial_json")),
                        _ => {
                            return Err(self.malformed("input_json_delta outside a tool_use block"));
                        }
                    },
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(Block::Tool { id, name, json }) = self.blocks.remove(&index) {
                    let arguments = if json.trim().is_empty() {
                        "{}".to_owned()
                    } else {
                        json
                    };
                    self.completion_estimate +=
                        estimate_tokens(&name) + estimate_tokens(&arguments);
                    out.push_back(StreamEvent::ToolCall(ToolCall {
                        id,
                        name,
                        arguments,
                    }));
                }
            }
            "message_delta" => {
                if let Some(reason) = value
                    .get("delta")
                    .and_then(|delta| delta.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.finish = Some(match reason {
                        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
                        "tool_use" => FinishReason::ToolCalls,
                        _ => FinishReason::Stop,
                    });
                }
                if let Some(output) = tokens(value.get("usage"), "output_tokens") {
                    self.output_tokens = Some(output);
                }
            }
            "message_stop" => {
                let usage = Usage {
                    prompt_tokens: self.input_tokens.unwrap_or(saturate(self.prompt_estimate)),
                    completion_tokens: self
                        .output_tokens
                        .unwrap_or(saturate(self.completion_estimate)),
                };
                out.push_back(StreamEvent::Done(Completion {
                    provider: self.provider.clone(),
                    model: self.model.clone(),
                    usage,
                    finish: self.finish.unwrap_or(FinishReason::Stop),
                }));
                return Ok(true);
            }
            "error" => return Err(stream_error(&self.provider, &value)),
            // `ping` and event types newer than this module.
            _ => {}
        }
        Ok(false)
    }

    fn on_eof(&mut self, _out: &mut VecDeque<StreamEvent>) -> Result<(), LlmError> {
        Err(LlmError::Interrupted {
            provider: self.provider.clone(),
            reason: "the stream ended before message_stop".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ToolSpec};

    #[test]
    fn body_has_system_on_top_and_tool_blocks() {
        let request = ChatRequest {
            messages: vec![
                ChatMessage::system("be brief"),
                ChatMessage::user("find java devs"),
                ChatMessage {
                    tool_calls: vec![
                        ToolCall {
                            id: "t1".into(),
                            name: "search".into(),
                            arguments: "{\"q\":\"java\"}".into(),
                        },
                        ToolCall {
                            id: "t2".into(),
                            name: "count".into(),
                            arguments: "".into(),
                        },
                    ],
                    ..ChatMessage::assistant("Searching.")
                },
                ChatMessage::tool_result("t1", "[]"),
                ChatMessage::tool_result("t2", "0"),
            ],
            tools: vec![ToolSpec {
                name: "search".into(),
                description: "search resumes".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 64,
            temperature: 1.5,
        };
        let body = request_body("claude", &request, true);
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["temperature"], 1.0);
        let messages = body["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(
            messages[0],
            json!({"role": "user", "content": [{"type": "text", "text": "find java devs"}]})
        );
        assert_eq!(messages[1]["content"][1]["input"], json!({"q": "java"}));
        assert_eq!(messages[1]["content"][2]["input"], json!({}));
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(
            messages[2]["content"][1],
            json!({"type": "tool_result", "tool_use_id": "t2", "content": "0"})
        );
        assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
        assert!(
            request_body("claude", &request, false)
                .get("tools")
                .is_none()
        );
    }

    #[test]
    fn errors_classify() {
        let overloaded =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert!(matches!(
            http_error("a", 529, None, overloaded),
            LlmError::Unavailable { .. }
        ));
        let credit = br#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}"#;
        assert!(matches!(
            http_error("a", 400, None, credit),
            LlmError::QuotaExceeded { .. }
        ));
        let key = br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(
            http_error("a", 401, None, key),
            LlmError::Rejected {
                provider: "a".into(),
                reason: "HTTP 401: invalid x-api-key (authentication_error)".into()
            }
        );
        let limited = json!({"type":"error","error":{"type":"rate_limit_error","message":"slow"}});
        assert!(matches!(
            stream_error("a", &limited),
            LlmError::RateLimited { .. }
        ));
        assert_eq!(
            arguments_object("not json"),
            json!({"arguments": "not json"})
        );
    }
}
