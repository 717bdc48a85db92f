//! Language models behind one trait.
//!
//! Chat talks to a [`ChatModel`]: a request of messages (and the tools the asking user may
//! use) goes in, a stream of [`StreamEvent`]s comes out — text deltas, complete tool calls,
//! then one [`StreamEvent::Done`] with the token usage. Providers:
//! - `embedded` — SmolLM2-135M-Instruct (GGUF, candle's quantized llama), offline;
//! - `openai` — OpenAI-compatible chat completions with SSE (OpenAI, DeepSeek, Qwen, vLLM,
//!   Ollama, llama.cpp server);
//! - `anthropic` — the Anthropic Messages API with SSE.
//!
//! Resilience wraps any of them: per-provider timeouts, retries on 429/5xx before the first
//! event (honouring `Retry-After`), a circuit breaker, and a fallback chain that moves to the
//! next provider when one fails before it has streamed anything.

pub mod anthropic;
pub mod config;
pub mod embedded;
pub mod openai;
pub mod resilience;
mod sse;

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use looma_core::{CodedError, ErrorCode};
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, answering the assistant message that asked for it.
    Tool,
}

/// One message of the prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    /// Tool calls the assistant made in this message (role `Assistant` only).
    pub tool_calls: Vec<ToolCall>,
    /// For role `Tool`: the id of the call this message answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

/// A capability the model may call: name, description and JSON Schema of its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// A complete tool call (streamed argument fragments already joined).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: a JSON object text (not validated here).
    pub arguments: String,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    /// Offered only to providers that support tools; empty means none.
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
    pub temperature: f32,
}

/// Token counts as the provider reported them (the embedded model counts its own).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// `max_tokens` (or the context window) was reached.
    Length,
    /// The model asked for tool calls; run them and ask again.
    ToolCalls,
}

/// The end of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub provider: String,
    pub model: String,
    pub usage: Usage,
    pub finish: FinishReason,
}

/// One event of a generation.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// The next piece of the answer's text.
    Delta(String),
    /// A tool call, emitted once its arguments are complete.
    ToolCall(ToolCall),
    /// Always the last event of a successful stream.
    Done(Completion),
}

/// The events of one generation; an `Err` item ends the stream.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, LlmError>> + Send>>;

/// A language model.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync {
    /// The configured provider name (`deepseek`, `openai`, `embedded`, ...).
    fn provider(&self) -> &str;
    /// The model identifier sent to (or run by) the provider.
    fn model(&self) -> &str;
    /// Whether tool specs may be offered.
    fn supports_tools(&self) -> bool;
    /// The context window in tokens (prompt + answer).
    fn context_window(&self) -> usize;
    /// Tokens `text` takes: the model's own tokenizer when it has one, otherwise a
    /// conservative estimate (see [`estimate_tokens`]).
    fn count_tokens(&self, text: &str) -> usize;
    /// Starts a generation. Errors before the first event are returned here (and are what
    /// retries and fallback act on); errors after it end the stream.
    async fn stream(&self, request: ChatRequest) -> Result<EventStream, LlmError>;

    /// Each provider behind this model and whether it can answer now, for health reports
    /// (no request is sent). A plain provider is available; wrappers say more (an open
    /// circuit, a model file not installed, every member of a chain).
    fn health(&self) -> Vec<ProviderHealth> {
        vec![ProviderHealth {
            provider: self.provider().to_owned(),
            model: self.model().to_owned(),
            unavailable: None,
        }]
    }
}

/// One provider's state as [`ChatModel::health`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderHealth {
    pub provider: String,
    pub model: String,
    /// Why it cannot answer now (`circuit open`, `model not installed: ...`); `None`: it can.
    pub unavailable: Option<String>,
}

/// What went wrong talking to a model.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum LlmError {
    /// Cannot connect, 5xx, timeout, circuit open, model file missing.
    #[error("language model `{provider}` unavailable: {reason}")]
    Unavailable { provider: String, reason: String },
    /// 429 with a retry hint; retried by the resilience layer, surfaced as unavailable.
    #[error("language model `{provider}` is rate limiting")]
    RateLimited {
        provider: String,
        retry_after: Option<Duration>,
    },
    /// Billing / quota refusal (OpenAI `insufficient_quota`, HTTP 402, Anthropic billing).
    #[error("language model `{provider}` quota exceeded: {reason}")]
    QuotaExceeded { provider: String, reason: String },
    /// The provider rejected the request itself (400/401/403/404/422): not retried.
    #[error("language model `{provider}` rejected the request: {reason}")]
    Rejected { provider: String, reason: String },
    /// The stream broke after it had started (disconnect, malformed frame).
    #[error("language model `{provider}` stream interrupted: {reason}")]
    Interrupted { provider: String, reason: String },
}

impl LlmError {
    pub fn provider(&self) -> &str {
        match self {
            LlmError::Unavailable { provider, .. }
            | LlmError::RateLimited { provider, .. }
            | LlmError::QuotaExceeded { provider, .. }
            | LlmError::Rejected { provider, .. }
            | LlmError::Interrupted { provider, .. } => provider,
        }
    }

    /// Whether trying the same provider again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Unavailable { .. } | LlmError::RateLimited { .. }
        )
    }
}

impl CodedError for LlmError {
    fn code(&self) -> ErrorCode {
        match self {
            LlmError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            _ => ErrorCode::LlmUnavailable,
        }
    }

    fn reason(&self) -> Option<&'static str> {
        Some(match self {
            LlmError::Unavailable { .. } => "PROVIDER_UNAVAILABLE",
            LlmError::RateLimited { .. } => "PROVIDER_RATE_LIMITED",
            LlmError::QuotaExceeded { .. } => "PROVIDER_QUOTA",
            LlmError::Rejected { .. } => "PROVIDER_REJECTED",
            LlmError::Interrupted { .. } => "STREAM_INTERRUPTED",
        })
    }
}

/// A conservative token estimate for providers whose tokenizer we do not run: one token per
/// CJK character, one per four other bytes, rounded up.
pub fn estimate_tokens(text: &str) -> usize {
    let mut cjk = 0usize;
    let mut other_bytes = 0usize;
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else {
            other_bytes += c.len_utf8();
        }
    }
    cjk + other_bytes.div_ceil(4)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_counts_cjk_per_character() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("招聘工程师"), 5);
    }

    #[test]
    fn quota_has_its_own_code() {
        let quota = LlmError::QuotaExceeded {
            provider: "openai".into(),
            reason: "billing".into(),
        };
        assert_eq!(quota.code(), ErrorCode::QuotaExceeded);
        let down = LlmError::Unavailable {
            provider: "openai".into(),
            reason: "503".into(),
        };
        assert_eq!(down.code(), ErrorCode::LlmUnavailable);
        assert!(down.is_retryable());
        assert!(!quota.is_retryable());
    }
}
