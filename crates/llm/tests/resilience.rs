//! Retries, circuit breaker and fallback chain against the loopback mock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{drain, openai_config, request, text_of};
use looma_core::CodedError;
use looma_llm::config::{BreakerConfig, ProviderConfig, build_chain};
use looma_llm::openai::OpenAiChat;
use looma_llm::resilience::{CircuitBreaker, FallbackChain, Resilient, RetryPolicy};
use looma_llm::{ChatModel, LlmError, StreamEvent};
use looma_testkit::llm_wire::{MockLlm, Reply};

const SERVER_ERROR: &str =
    r#"{"error":{"message":"The server had an error","type":"server_error"}}"#;
const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

fn resilient(
    config: &ProviderConfig,
    max_retries: u32,
    breaker: CircuitBreaker,
) -> Arc<dyn ChatModel> {
    let inner = Arc::new(OpenAiChat::from_config(config).expect("valid config"));
    Arc::new(Resilient::new(inner, fast_retries(max_retries), breaker))
}

fn lenient_breaker() -> CircuitBreaker {
    CircuitBreaker::new(100, Duration::from_secs(60))
}

fn answered_by(events: &[StreamEvent]) -> Option<&str> {
    match events.last() {
        Some(StreamEvent::Done(done)) => Some(done.provider.as_str()),
        _ => None,
    }
}

#[tokio::test]
async fn rate_limit_waits_for_retry_after_then_succeeds() {
    let mock = Arc::new(MockLlm::start().await);
    mock.enqueue(
        Reply::status(
            429,
            r#"{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#,
        )
        .retry_after("1"),
    );
    mock.enqueue(Reply::text(&["after the wait"]));
    let model = resilient(&openai_config("openai-mock", &mock), 2, lenient_breaker());
    let call = tokio::spawn({
        let model = Arc::clone(&model);
        async move { model.stream(request()).await.map(drain) }
    });
    while mock.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The backoff alone would have retried after at most 20 ms; Retry-After says 1 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mock.request_count(),
        1,
        "retried before Retry-After elapsed"
    );
    let (events, error) = call.await.expect("joins").expect("retried").await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "after the wait");
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_gives_up_at_once() {
    let mock = MockLlm::start().await;
    mock.set_default(Reply::status(429, "{}").retry_after("120"));
    let model = resilient(&openai_config("openai-mock", &mock), 3, lenient_breaker());
    let error = model.stream(request()).await.err().expect("gives up");
    assert!(matches!(error, LlmError::RateLimited { .. }), "{error:?}");
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_limit() {
    let mock = MockLlm::start().await;
    mock.set_default(Reply::status(500, SERVER_ERROR));
    let model = resilient(&openai_config("openai-mock", &mock), 2, lenient_breaker());
    let error = model.stream(request()).await.err().expect("fails");
    assert_eq!(
        error,
        LlmError::Unavailable {
            provider: "openai-mock".into(),
            reason: "HTTP 500: The server had an error (server_error)".into(),
        }
    );
    assert_eq!(error.code().as_str(), "LLM_UNAVAILABLE");
    assert_eq!(mock.request_count(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn rejections_are_not_retried() {
    let mock = MockLlm::start().await;
    mock.set_default(Reply::status(400, r#"{"error":{"message":"bad tools"}}"#));
    let model = resilient(&openai_config("openai-mock", &mock), 2, lenient_breaker());
    let error = model.stream(request()).await.err().expect("fails");
    assert!(matches!(error, LlmError::Rejected { .. }), "{error:?}");
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn breaker_opens_after_consecutive_failures_and_fails_fast() {
    let mock = MockLlm::start().await;
    mock.set_default(Reply::status(503, SERVER_ERROR));
    let model = resilient(
        &openai_config("openai-mock", &mock),
        0,
        CircuitBreaker::new(3, Duration::from_secs(60)),
    );
    for _ in 0..3 {
        let error = model.stream(request()).await.err().expect("fails");
        assert!(
            matches!(&error, LlmError::Unavailable { reason, .. } if reason.starts_with("HTTP 503"))
        );
    }
    assert_eq!(mock.request_count(), 3);
    let error = model.stream(request()).await.err().expect("circuit open");
    assert_eq!(
        error,
        LlmError::Unavailable {
            provider: "openai-mock".into(),
            reason: "circuit open".into()
        }
    );
    assert_eq!(mock.request_count(), 3, "an open circuit sends nothing");
}

#[tokio::test]
async fn breaker_half_opens_after_the_cooldown() {
    let mock = MockLlm::start().await;
    mock.set_default(Reply::status(503, SERVER_ERROR));
    let model = resilient(
        &openai_config("openai-mock", &mock),
        0,
        CircuitBreaker::new(2, Duration::from_millis(200)),
    );
    for _ in 0..2 {
        model.stream(request()).await.err().expect("fails");
    }
    assert!(model.stream(request()).await.is_err());
    assert_eq!(mock.request_count(), 2);

    // A failed trial opens the circuit again at once.
    tokio::time::sleep(Duration::from_millis(250)).await;
    model.stream(request()).await.err().expect("trial fails");
    assert_eq!(mock.request_count(), 3);
    let error = model.stream(request()).await.err().expect("open again");
    assert!(matches!(&error, LlmError::Unavailable { reason, .. } if reason == "circuit open"));
    assert_eq!(mock.request_count(), 3);

    // A successful trial closes it.
    mock.set_default(Reply::text(&["back"]));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (events, error) = drain(model.stream(request()).await.expect("trial passes")).await;
    assert_eq!((text_of(&events).as_str(), error), ("back", None));
    let (events, _) = drain(model.stream(request()).await.expect("closed")).await;
    assert_eq!(text_of(&events), "back");
    assert_eq!(mock.request_count(), 5);
}

#[tokio::test]
async fn chain_moves_to_the_next_provider_and_names_who_answered() {
    let first = MockLlm::start().await;
    first.set_default(Reply::status(503, SERVER_ERROR));
    let second = MockLlm::start().await;
    second.enqueue(Reply::text(&["from ", "second"]));
    let chain = FallbackChain::new(vec![
        resilient(&openai_config("first", &first), 1, lenient_breaker()),
        resilient(&openai_config("second", &second), 1, lenient_breaker()),
    ])
    .expect("members");
    assert_eq!(chain.provider(), "first");
    assert_eq!(chain.model(), "gpt-mock");
    let (events, error) = drain(chain.stream(request()).await.expect("second answers")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "from second");
    assert_eq!(answered_by(&events), Some("second"));
    assert_eq!(
        first.request_count(),
        2,
        "first was retried once before moving on"
    );
    assert_eq!(second.request_count(), 1);
}

#[tokio::test]
async fn chain_skips_an_open_circuit_without_calling_it() {
    let first = MockLlm::start().await;
    first.set_default(Reply::status(500, SERVER_ERROR));
    let second = MockLlm::start().await;
    let chain = FallbackChain::new(vec![
        resilient(
            &openai_config("first", &first),
            0,
            CircuitBreaker::new(1, Duration::from_secs(60)),
        ),
        resilient(&openai_config("second", &second), 0, lenient_breaker()),
    ])
    .expect("members");
    for _ in 0..3 {
        let (events, _) = drain(chain.stream(request()).await.expect("answers")).await;
        assert_eq!(answered_by(&events), Some("second"));
    }
    assert_eq!(first.request_count(), 1);
    assert_eq!(second.request_count(), 3);
}

/// Health without a request: each member of a chain, the open circuit named, and an embedded
/// model whose file is missing.
#[tokio::test]
async fn health_names_every_member_and_why_it_cannot_answer() {
    let first = MockLlm::start().await;
    first.set_default(Reply::status(500, SERVER_ERROR));
    let second = MockLlm::start().await;
    let missing = std::env::temp_dir().join("looma-no-such-model.gguf");
    let embedded: Arc<dyn ChatModel> =
        Arc::new(looma_llm::embedded::LazyEmbedded::new(&missing, "embedded"));
    let chain = FallbackChain::new(vec![
        resilient(
            &openai_config("first", &first),
            0,
            CircuitBreaker::new(1, Duration::from_secs(60)),
        ),
        resilient(&openai_config("second", &second), 0, lenient_breaker()),
        embedded,
    ])
    .expect("members");
    let before = chain.health();
    assert_eq!(before.len(), 3);
    assert!(
        before[..2].iter().all(|h| h.unavailable.is_none()),
        "{before:?}"
    );
    let requests = first.request_count() + second.request_count();
    let (events, _) = drain(chain.stream(request()).await.expect("answers")).await;
    assert_eq!(answered_by(&events), Some("second"));
    let after = chain.health();
    assert_eq!(after[0].provider, "first");
    assert!(
        after[0]
            .unavailable
            .as_deref()
            .is_some_and(|r| r.contains("circuit open")),
        "{after:?}"
    );
    assert_eq!(after[1].provider, "second");
    assert_eq!(after[1].unavailable, None);
    assert_eq!(after[2].provider, "embedded");
    assert!(
        after[2]
            .unavailable
            .as_deref()
            .is_some_and(|r| r.contains("not installed")),
        "{after:?}"
    );
    // Reading health sent nothing.
    chain.health();
    assert_eq!(first.request_count() + second.request_count(), requests + 2);
}

#[tokio::test]
async fn quota_is_reported_when_every_provider_fails() {
    let first = MockLlm::start().await;
    first.set_default(Reply::status(429, QUOTA));
    let second = MockLlm::start().await;
    second.set_default(Reply::status(503, SERVER_ERROR));
    let chain = FallbackChain::new(vec![
        resilient(&openai_config("first", &first), 1, lenient_breaker()),
        resilient(&openai_config("second", &second), 1, lenient_breaker()),
    ])
    .expect("members");
    let error = chain.stream(request()).await.err().expect("all fail");
    assert!(
        matches!(&error, LlmError::QuotaExceeded { provider, .. } if provider == "first"),
        "{error:?}"
    );
    assert_eq!(error.code().as_str(), "QUOTA_EXCEEDED");
    assert_eq!(first.request_count(), 1, "quota is not retried");
    assert_eq!(second.request_count(), 2);
}

#[tokio::test]
async fn unavailable_names_every_provider_when_all_are_down() {
    let first = MockLlm::start().await;
    first.set_default(Reply::status(503, "down for maintenance"));
    let second = MockLlm::start().await;
    second.set_default(Reply::status(401, r#"{"error":{"message":"bad key"}}"#));
    let chain = FallbackChain::new(vec![
        resilient(&openai_config("first", &first), 0, lenient_breaker()),
        resilient(&openai_config("second", &second), 0, lenient_breaker()),
    ])
    .expect("members");
    let error = chain.stream(request()).await.err().expect("all fail");
    assert_eq!(
        error,
        LlmError::Unavailable {
            provider: "first".into(),
            reason: "every provider failed (first: HTTP 503: down for maintenance; second: HTTP 401: bad key)".into(),
        }
    );
    assert_eq!(error.code().as_str(), "LLM_UNAVAILABLE");
}

#[tokio::test]
async fn tools_are_stripped_for_a_member_without_tool_support() {
    let first = MockLlm::start().await;
    first.set_default(Reply::status(503, SERVER_ERROR));
    let second = MockLlm::start().await;
    let plain = ProviderConfig {
        supports_tools: Some(false),
        ..openai_config("plain", &second)
    };
    let chain = FallbackChain::new(vec![
        resilient(&openai_config("tools", &first), 0, lenient_breaker()),
        resilient(&plain, 0, lenient_breaker()),
    ])
    .expect("members");
    assert!(chain.supports_tools());
    let (events, _) = drain(chain.stream(request()).await.expect("answers")).await;
    assert_eq!(answered_by(&events), Some("plain"));
    assert_eq!(
        first.requests()[0].body["tools"][0]["function"]["name"],
        "search_resumes"
    );
    assert!(second.requests()[0].body.get("tools").is_none());
}

#[tokio::test]
async fn mid_stream_failures_are_neither_retried_nor_handed_on() {
    let first = MockLlm::start().await;
    first.set_default(Reply::disconnect_after(&["partial"]));
    let second = MockLlm::start().await;
    let chain = FallbackChain::new(vec![
        resilient(&openai_config("first", &first), 2, lenient_breaker()),
        resilient(&openai_config("second", &second), 2, lenient_breaker()),
    ])
    .expect("members");
    let (events, error) = drain(chain.stream(request()).await.expect("starts")).await;
    assert_eq!(events, vec![StreamEvent::Delta("partial".into())]);
    assert!(
        matches!(error, Some(LlmError::Interrupted { ref provider, .. }) if provider == "first")
    );
    assert_eq!(first.request_count(), 1);
    assert_eq!(second.request_count(), 0);
}

#[tokio::test]
async fn build_chain_from_config_falls_back_across_protocols() {
    let openai = MockLlm::start().await;
    openai.set_default(Reply::status(503, SERVER_ERROR));
    let anthropic = MockLlm::start().await;
    anthropic.enqueue(Reply::text(&["claude here"]));
    let providers: Vec<ProviderConfig> = serde_json::from_value(serde_json::json!([
        {
            "name": "deepseek",
            "kind": "openai",
            "base_url": openai.openai_base_url(),
            "model": "deepseek-chat",
            "api_key": "sk-deepseek",
            "max_retries": 1
        },
        {
            "name": "claude",
            "kind": "anthropic",
            "base_url": anthropic.anthropic_base_url(),
            "model": "claude-mock",
            "api_key": "sk-ant"
        }
    ]))
    .expect("provider configs");
    let chain = build_chain(
        &providers,
        &["deepseek".into(), "claude".into()],
        &BreakerConfig::default(),
    )
    .expect("valid chain");
    assert_eq!(chain.provider(), "deepseek");
    assert_eq!(chain.model(), "deepseek-chat");
    let (events, error) = drain(chain.stream(request()).await.expect("claude answers")).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&events), "claude here");
    assert_eq!(answered_by(&events), Some("claude"));
    assert_eq!(openai.request_count(), 2);
    assert_eq!(
        openai.requests()[0].header("authorization"),
        Some("Bearer sk-deepseek")
    );
    assert_eq!(anthropic.requests()[0].header("x-api-key"), Some("sk-ant"));
}
