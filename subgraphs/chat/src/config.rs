use looma_llm::config::{BreakerConfig, ProviderConfig, ProviderKind};
use serde::{Deserialize, Serialize};

/// The chat component's settings (`[chat]` in `looma.toml`, `LOOMA_CHAT__*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChatConfig {
    pub port: u16,
    /// Search's GraphQL URL (retrieval, knowledge indexing); default: this host's port.
    pub search_url: Option<String>,
    /// Identity's GraphQL URL (the tenant's system prompt, feature flag); default: this host.
    pub identity_url: Option<String>,
    /// The router's GraphQL URL: the assistant's tools call it as the asking user (a
    /// delegation signed with the router secret); default: this host's router port.
    pub router_url: Option<String>,
    /// The language models, by name (`[[chat.providers]]`). Default: the embedded SmolLM2.
    pub providers: Vec<ProviderConfig>,
    /// Provider names in the order they are tried (e.g. `["deepseek", "openai", "embedded"]`).
    pub fallback: Vec<String>,
    pub breaker: BreakerConfig,
    /// Used when identity has no `chat.system_prompt` config (or cannot be reached).
    pub system_prompt: String,
    /// Longest user message, in characters.
    pub max_message_chars: usize,
    /// Tokens kept free for the answer (and its `max_tokens`).
    pub answer_tokens: u32,
    pub temperature: f32,
    /// Upper bound on the prompt + answer, in tokens, below the model's own window (small
    /// CPU models slow down as the prompt grows).
    pub context_tokens: usize,
    /// Most recent messages read when building a prompt (older ones are never sent).
    pub history_messages: u64,
    /// Knowledge chunks retrieved per question.
    pub retrieval_top_k: usize,
    /// Knowledge chunk size and overlap, in characters.
    pub chunk_chars: usize,
    pub chunk_overlap: usize,
    pub max_document_bytes: u64,
    pub max_document_chunks: usize,
    /// Longest a knowledge document's text extraction may run.
    pub extract_timeout_ms: u64,
    /// Longest one answer may take from the question to its last token.
    pub generation_timeout_ms: u64,
    /// Deliver knowledge index updates from this process.
    pub worker_enabled: bool,
    pub poll_interval_ms: u64,
}

/// The embedded provider's name in the default configuration.
pub const EMBEDDED: &str = "embedded";

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            port: 8209,
            search_url: None,
            identity_url: None,
            router_url: None,
            providers: vec![ProviderConfig::new(EMBEDDED, ProviderKind::Embedded)],
            fallback: vec![EMBEDDED.to_owned()],
            breaker: BreakerConfig::default(),
            system_prompt: "You are Looma, a helpful assistant for recruiters. Answer briefly and \
                            factually."
                .to_owned(),
            max_message_chars: 8_000,
            answer_tokens: 384,
            temperature: 0.2,
            context_tokens: 2_048,
            history_messages: 40,
            retrieval_top_k: 5,
            chunk_chars: 500,
            chunk_overlap: 80,
            max_document_bytes: 10 * 1024 * 1024,
            max_document_chunks: 2_000,
            extract_timeout_ms: 30_000,
            generation_timeout_ms: 180_000,
            worker_enabled: true,
            poll_interval_ms: 1_000,
        }
    }
}

impl ChatConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (key, value, min, max) in [
            ("chat.max_message_chars", self.max_message_chars, 1, 100_000),
            ("chat.retrieval_top_k", self.retrieval_top_k, 0, 20),
            ("chat.chunk_chars", self.chunk_chars, 50, 8_000),
            ("chat.context_tokens", self.context_tokens, 256, 1_000_000),
            (
                "chat.max_document_chunks",
                self.max_document_chunks,
                1,
                100_000,
            ),
        ] {
            if value < min || value > max {
                return Err(format!("config key `{key}`: between {min} and {max}"));
            }
        }
        if self.chunk_overlap * 2 > self.chunk_chars {
            return Err(
                "config key `chat.chunk_overlap`: at most half of `chat.chunk_chars`".into(),
            );
        }
        if self.answer_tokens == 0 || self.answer_tokens as usize >= self.context_tokens {
            return Err(
                "config key `chat.answer_tokens`: greater than 0 and less than `chat.context_tokens`"
                    .into(),
            );
        }
        if self.fallback.is_empty() {
            return Err("config key `chat.fallback`: name at least one provider".into());
        }
        for name in &self.fallback {
            if !self.providers.iter().any(|p| &p.name == name) {
                return Err(format!(
                    "config key `chat.fallback`: no provider named `{name}` in `chat.providers`"
                ));
            }
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Err("config key `chat.temperature`: between 0 and 2".into());
        }
        if self.poll_interval_ms == 0 {
            return Err("config key `chat.poll_interval_ms`: must be greater than 0".into());
        }
        Ok(())
    }
}
