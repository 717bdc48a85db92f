//! The Anthropic provider against the loopback mock.

mod common;

use std::time::Duration;

use common::{anthropic_config, drain, request, text_of};
use looma_core::CodedError;
use looma_llm::anthropic::AnthropicChat;
use looma_llm::config::ProviderConfig;
use looma_llm::resilience::{CircuitBreaker, Resilient, RetryPolicy};
use looma_llm::{
    ChatMessage, ChatModel, Completion, FinishReason, LlmError, StreamEvent, ToolCall, Usage,
};
use looma_testkit::llm_wire::{MOCK_PROMPT_TOKENS, MockLlm, MockToolCall, Reply};

fn provider(config: &ProviderConfig) -> AnthropicChat {
    AnthropicChat::from_config(config).expect("valid provider config")
}

async fn start_error(mock: &MockLlm, reply: Reply) -> LlmError {
    mock.enqueue(reply);
    let model = provider(&anthropic_config("claude-mock", mock));
    model
        .stream(request())
        .await
        .err()
        .expect("the request fails before streaming")
}

#[tokio::test]
async fn streamed_text_reassembles_and_the_request_has_anthropic_shape() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::text(&["Ada ", "knows ", "Rust"]));
    let model = provider(&anthropic_config("claude-mock", &mock));
    let mut asked = request();
    asked.messages.push(ChatMessage {
        tool_calls: vec![ToolCall {
            id: "toolu_1".into(),
            name: "search_resumes".into(),
            arguments: "{\"query\":\"rust\"}".into(),
        }],
        ..ChatMessage::assistant("Let me look.")
    });
    asked
        .messages
        .push(ChatMessage::tool_result("toolu_1", "[\"Ada\"]"));
    let (events, error) = drain(model.stream(asked).await.expect("stream starts")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Ada knows Rust");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Done(Completion {
            provider: "claude-mock".into(),
            model: "claude-mock".into(),
            usage: Usage {
                prompt_tokens: MOCK_PROMPT_TOKENS,
                completion_tokens: 3
            },
            finish: FinishReason::Stop,
        }))
    );

    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["system"], "You are Looma's recruiting assistant.");
    let messages = sent.body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[1]["content"][1]["type"], "tool_use");
    assert_eq!(messages[1]["content"][1]["input"]["query"], "rust");
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_1");
    assert_eq!(sent.body["tools"][0]["name"], "search_resumes");
    assert_eq!(
        sent.body["tools"][0]["input_schema"]["required"][0],
        "query"
    );
}

#[tokio::test]
async fn tool_use_blocks_become_tool_calls() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::ToolCalls(vec![
        MockToolCall {
            name: "search_resumes".into(),
            arguments_fragments: vec!["{\"query\":".into(), " \"rust\"}".into()],
        },
        MockToolCall {
            name: "count_jobs".into(),
            arguments_fragments: vec![],
        },
    ]));
    let model = provider(&anthropic_config("claude-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(error, None);
    assert_eq!(
        events[..2],
        [
            StreamEvent::ToolCall(ToolCall {
                id: "toolu_mock_0".into(),
                name: "search_resumes".into(),
                arguments: "{\"query\": \"rust\"}".into(),
            }),
            StreamEvent::ToolCall(ToolCall {
                id: "toolu_mock_1".into(),
                name: "count_jobs".into(),
                arguments: "{}".into(),
            }),
        ]
    );
    assert!(
        matches!(events.get(2), Some(StreamEvent::Done(done)) if done.finish == FinishReason::ToolCalls),
        "{events:?}"
    );
}

#[tokio::test]
async fn error_bodies_map_to_errors_and_codes() {
    let mock = MockLlm::start().await;

    let error = start_error(
        &mock,
        Reply::status(
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
    )
    .await;
    assert_eq!(
        error,
        LlmError::Unavailable {
            provider: "claude-mock".into(),
            reason: "HTTP 529: Overloaded (overloaded_error)".into(),
        }
    );

    let error = start_error(
        &mock,
        Reply::status(401, r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#),
    )
    .await;
    assert!(matches!(error, LlmError::Rejected { .. }), "{error:?}");
    assert_eq!(error.code().as_str(), "LLM_UNAVAILABLE");

    let error = start_error(
        &mock,
        Reply::status(
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#,
        ),
    )
    .await;
    assert!(matches!(error, LlmError::QuotaExceeded { .. }), "{error:?}");
    assert_eq!(error.code().as_str(), "QUOTA_EXCEEDED");

    let error = start_error(
        &mock,
        Reply::status(429, r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#)
            .retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
    )
    .await;
    assert_eq!(
        error,
        LlmError::RateLimited {
            provider: "claude-mock".into(),
            retry_after: Some(Duration::ZERO)
        }
    );
}

const MESSAGE_START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-mock\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n";

#[tokio::test]
async fn overloaded_event_before_any_text_is_retried() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::raw(&[
        MESSAGE_START,
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    ]));
    mock.enqueue(Reply::text(&["Recovered"]));
    let model = Resilient::new(
        std::sync::Arc::new(provider(&anthropic_config("claude-mock", &mock))),
        RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        CircuitBreaker::new(5, Duration::from_secs(30)),
    );
    let (events, error) = drain(model.stream(request()).await.expect("retried")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Recovered");
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn error_event_after_text_interrupts() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::raw(&[
        MESSAGE_START,
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Half\"}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    ]));
    let model = provider(&anthropic_config("claude-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Half".into())]);
    assert_eq!(
        error,
        Some(LlmError::Interrupted {
            provider: "claude-mock".into(),
            reason: "Overloaded (overloaded_error)".into(),
        })
    );
}

#[tokio::test]
async fn mid_stream_disconnect_and_missing_message_stop_interrupt() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::disconnect_after(&["Ada ", "knows"]));
    let model = provider(&anthropic_config("claude-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(text_of(&events), "Ada knows");
    assert_eq!(events.len(), 2);
    assert!(
        matches!(error, Some(LlmError::Interrupted { .. })),
        "{error:?}"
    );

    mock.enqueue(Reply::raw(&[
        MESSAGE_START,
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"Hi\"}}\n\n",
    ]));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Hi".into())]);
    assert_eq!(
        error,
        Some(LlmError::Interrupted {
            provider: "claude-mock".into(),
            reason: "the stream ended before message_stop".into(),
        })
    );
}

#[tokio::test]
async fn idle_timeout_mid_stream_is_interrupted() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::stall_after(&["Ada"]));
    let config = ProviderConfig {
        idle_timeout_ms: Some(300),
        ..anthropic_config("slow", &mock)
    };
    let (events, error) = drain(provider(&config).stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Ada".into())]);
    assert!(
        matches!(error, Some(LlmError::Interrupted { .. })),
        "{error:?}"
    );
}
