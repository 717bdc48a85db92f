//! The OpenAI-compatible provider against the loopback mock: what it sends, how it
//! reassembles streams, and how failures map onto `LlmError`.

mod common;

use std::time::Duration;

use common::{closed_port, drain, openai_config, request, text_of};
use looma_core::CodedError;
use looma_llm::config::ProviderConfig;
use looma_llm::openai::OpenAiChat;
use looma_llm::{ChatModel, Completion, FinishReason, LlmError, StreamEvent, ToolCall, Usage};
use looma_testkit::llm_wire::{MOCK_PROMPT_TOKENS, MockLlm, MockToolCall, Reply};

fn provider(config: &ProviderConfig) -> OpenAiChat {
    OpenAiChat::from_config(config).expect("valid provider config")
}

async fn start_error(mock: &MockLlm, reply: Reply) -> LlmError {
    mock.enqueue(reply);
    let model = provider(&openai_config("openai-mock", mock));
    model
        .stream(request())
        .await
        .err()
        .expect("the request fails before streaming")
}

#[tokio::test]
async fn streamed_text_reassembles_with_usage_and_sends_the_request() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::text(&["Ada ", "knows ", "Rust", "，也懂中文"]));
    let model = provider(&openai_config("openai-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("stream starts")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Ada knows Rust，也懂中文");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Done(Completion {
            provider: "openai-mock".into(),
            model: "gpt-mock".into(),
            usage: Usage {
                prompt_tokens: MOCK_PROMPT_TOKENS,
                completion_tokens: 4
            },
            finish: FinishReason::Stop,
        }))
    );
    assert_eq!(events.len(), 5, "four deltas and Done: {events:?}");

    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-openai"));
    assert_eq!(sent.body["model"], "gpt-mock");
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["stream_options"]["include_usage"], true);
    assert_eq!(sent.body["max_tokens"], 128);
    assert_eq!(sent.body["messages"][0]["role"], "system");
    assert_eq!(
        sent.body["messages"][0]["content"],
        "You are Looma's recruiting assistant."
    );
    assert_eq!(sent.body["messages"][1]["role"], "user");
    assert_eq!(sent.body["tools"][0]["type"], "function");
    assert_eq!(sent.body["tools"][0]["function"]["name"], "search_resumes");
}

#[tokio::test]
async fn tools_are_not_sent_when_the_provider_does_not_support_them() {
    let mock = MockLlm::start().await;
    let config = ProviderConfig {
        supports_tools: Some(false),
        ..openai_config("plain", &mock)
    };
    let (_, error) = drain(provider(&config).stream(request()).await.expect("starts")).await;
    assert_eq!(error, None);
    assert!(mock.requests()[0].body.get("tools").is_none());
}

#[tokio::test]
async fn parallel_tool_call_fragments_are_reassembled_by_index() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::ToolCalls(vec![
        MockToolCall {
            name: "search_resumes".into(),
            arguments_fragments: vec!["{\"que".into(), "ry\": \"ru".into(), "st\"}".into()],
        },
        MockToolCall {
            name: "count_jobs".into(),
            arguments_fragments: vec!["{\"open\"".into(), ": true}".into()],
        },
    ]));
    let model = provider(&openai_config("openai-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(error, None);
    assert_eq!(
        events[..2],
        [
            StreamEvent::ToolCall(ToolCall {
                id: "call_mock_0".into(),
                name: "search_resumes".into(),
                arguments: "{\"query\": \"rust\"}".into(),
            }),
            StreamEvent::ToolCall(ToolCall {
                id: "call_mock_1".into(),
                name: "count_jobs".into(),
                arguments: "{\"open\": true}".into(),
            }),
        ]
    );
    match events.get(2) {
        Some(StreamEvent::Done(done)) => {
            assert_eq!(done.finish, FinishReason::ToolCalls);
            assert_eq!(done.usage.completion_tokens, 5);
        }
        other => panic!("expected Done, got {other:?}"),
    }
    assert_eq!(events.len(), 3);
}

#[tokio::test]
async fn error_bodies_map_to_errors_and_codes() {
    let mock = MockLlm::start().await;

    let error = start_error(
        &mock,
        Reply::status(
            401,
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#,
        ),
    )
    .await;
    assert_eq!(
        error,
        LlmError::Rejected {
            provider: "openai-mock".into(),
            reason: "HTTP 401: Incorrect API key provided (invalid_api_key)".into(),
        }
    );
    assert_eq!(error.code().as_str(), "LLM_UNAVAILABLE");

    let error = start_error(
        &mock,
        Reply::status(
            429,
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        ),
    )
    .await;
    assert!(matches!(error, LlmError::QuotaExceeded { .. }), "{error:?}");
    assert_eq!(error.code().as_str(), "QUOTA_EXCEEDED");

    let error = start_error(
        &mock,
        Reply::status(
            402,
            r#"{"error":{"message":"Insufficient Balance","type":"unknown_error"}}"#,
        ),
    )
    .await;
    assert!(matches!(error, LlmError::QuotaExceeded { .. }), "{error:?}");

    let error = start_error(
        &mock,
        Reply::status(429, r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#)
            .retry_after("7"),
    )
    .await;
    assert_eq!(
        error,
        LlmError::RateLimited {
            provider: "openai-mock".into(),
            retry_after: Some(Duration::from_secs(7)),
        }
    );

    let error = start_error(&mock, Reply::status(400, r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#)).await;
    assert!(
        matches!(&error, LlmError::Rejected { reason, .. } if reason.contains("context_length_exceeded")),
        "{error:?}"
    );

    let error = start_error(&mock, Reply::status(503, "upstream overloaded")).await;
    assert_eq!(
        error,
        LlmError::Unavailable {
            provider: "openai-mock".into(),
            reason: "HTTP 503: upstream overloaded".into(),
        }
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    let port = closed_port().await;
    let config = ProviderConfig {
        base_url: Some(format!("http://127.0.0.1:{port}/v1")),
        model: Some("m".into()),
        ..ProviderConfig::new("down", looma_llm::config::ProviderKind::OpenAi)
    };
    let error = provider(&config)
        .stream(request())
        .await
        .err()
        .expect("fails");
    assert!(
        matches!(&error, LlmError::Unavailable { reason, .. } if reason.starts_with("cannot connect")),
        "{error:?}"
    );
}

#[tokio::test]
async fn mid_stream_disconnect_is_interrupted_after_the_deltas() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::disconnect_after(&["Ada ", "knows"]));
    let model = provider(&openai_config("openai-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(
        events,
        vec![
            StreamEvent::Delta("Ada ".into()),
            StreamEvent::Delta("knows".into())
        ]
    );
    assert!(
        matches!(error, Some(LlmError::Interrupted { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn idle_timeout_mid_stream_is_interrupted() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::stall_after(&["Ada"]));
    let config = ProviderConfig {
        idle_timeout_ms: Some(300),
        ..openai_config("slow", &mock)
    };
    let (events, error) = drain(provider(&config).stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Ada".into())]);
    assert_eq!(
        error,
        Some(LlmError::Interrupted {
            provider: "slow".into(),
            reason: "no data for 300 ms".into()
        })
    );
}

#[tokio::test]
async fn no_response_headers_is_a_first_byte_timeout() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::Stall);
    let config = ProviderConfig {
        first_byte_timeout_ms: Some(300),
        ..openai_config("slow", &mock)
    };
    let error = provider(&config)
        .stream(request())
        .await
        .err()
        .expect("times out");
    assert_eq!(
        error,
        LlmError::Unavailable {
            provider: "slow".into(),
            reason: "no response within 300 ms".into()
        }
    );
}

#[tokio::test]
async fn missing_usage_chunk_and_done_sentinel_are_tolerated() {
    // Older Ollama: no usage chunk; some servers: no `[DONE]` after the finish reason.
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::raw(&[
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hello",
        " there\"},\"finish_reason\":null}]}\r\n\r\n",
        ": keep-alive\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
    ]));
    let model = provider(&openai_config("ollama", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "Hello there");
    match events.last() {
        Some(StreamEvent::Done(done)) => {
            assert_eq!(done.finish, FinishReason::Length);
            assert!(done.usage.prompt_tokens > 0, "estimated: {:?}", done.usage);
            assert_eq!(done.usage.completion_tokens, 3, "estimate of `Hello there`");
        }
        other => panic!("expected Done, got {other:?}"),
    }
}

#[tokio::test]
async fn stream_without_finish_reason_is_interrupted() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::raw(&[
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
    ]));
    let model = provider(&openai_config("openai-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Hel".into())]);
    assert_eq!(
        error,
        Some(LlmError::Interrupted {
            provider: "openai-mock".into(),
            reason: "the stream ended before its finish reason".into(),
        })
    );
}

#[tokio::test]
async fn malformed_frames_interrupt_or_fail_the_start() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::raw(&[
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {not json\n\n",
    ]));
    let model = provider(&openai_config("openai-mock", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Hel".into())]);
    assert!(
        matches!(&error, Some(LlmError::Interrupted { reason, .. }) if reason.starts_with("malformed chunk")),
        "{error:?}"
    );

    // Before any output nothing was shown: the caller may retry or fall back.
    mock.enqueue(Reply::raw(&["data: {not json\n\n"]));
    let error = model.stream(request()).await.err().expect("fails at start");
    assert!(
        matches!(&error, LlmError::Unavailable { reason, .. } if reason.contains("malformed chunk")),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn error_event_inside_the_stream() {
    let mock = MockLlm::start().await;
    mock.enqueue(Reply::raw(&[
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"error\":{\"message\":\"engine crashed\",\"type\":\"server_error\"}}\n\n",
    ]));
    let model = provider(&openai_config("vllm", &mock));
    let (events, error) = drain(model.stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("Hel".into())]);
    assert_eq!(
        error,
        Some(LlmError::Interrupted {
            provider: "vllm".into(),
            reason: "error event: engine crashed (server_error)".into(),
        })
    );
}
