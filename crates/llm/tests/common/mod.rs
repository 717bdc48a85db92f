//! Helpers shared by the wire tests: providers pointed at a `MockLlm`, and draining streams.
#![allow(dead_code)]

use futures::StreamExt;
use looma_core::Secret;
use looma_llm::config::{ProviderConfig, ProviderKind};
use looma_llm::{ChatMessage, ChatRequest, EventStream, LlmError, StreamEvent, ToolSpec};
use looma_testkit::llm_wire::MockLlm;

pub fn openai_config(name: &str, mock: &MockLlm) -> ProviderConfig {
    ProviderConfig {
        base_url: Some(mock.openai_base_url()),
        model: Some("gpt-mock".into()),
        api_key: Some(Secret::new("sk-test-openai")),
        first_byte_timeout_ms: Some(2_000),
        idle_timeout_ms: Some(2_000),
        ..ProviderConfig::new(name, ProviderKind::OpenAi)
    }
}

pub fn anthropic_config(name: &str, mock: &MockLlm) -> ProviderConfig {
    ProviderConfig {
        base_url: Some(mock.anthropic_base_url()),
        model: Some("claude-mock".into()),
        api_key: Some(Secret::new("sk-ant-test")),
        first_byte_timeout_ms: Some(2_000),
        idle_timeout_ms: Some(2_000),
        ..ProviderConfig::new(name, ProviderKind::Anthropic)
    }
}

pub fn search_tool() -> ToolSpec {
    ToolSpec {
        name: "search_resumes".into(),
        description: "Search resumes by skill".into(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": { "query": { "type": "string" } },
            "required": ["query"]
        }),
    }
}

pub fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system("You are Looma's recruiting assistant."),
            ChatMessage::user("Who knows Rust?"),
        ],
        tools: vec![search_tool()],
        max_tokens: 128,
        temperature: 0.3,
    }
}

/// Every item of the stream: the events before an error, and the error.
pub async fn drain(mut stream: EventStream) -> (Vec<StreamEvent>, Option<LlmError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(error) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return (events, Some(error));
            }
        }
    }
    (events, None)
}

pub fn text_of(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::Delta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// A loopback port nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}
