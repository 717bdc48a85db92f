//! Retries, a circuit breaker and provider fallback around any [`ChatModel`].
//!
//! All of it acts only before a stream has started: once a provider has produced its first
//! event the caller may have shown part of an answer, so a later failure ends the stream
//! (`Interrupted`) and is never retried or handed to another provider.
//!
//! - [`Resilient`] retries `Unavailable` / `RateLimited` with exponential backoff and jitter,
//!   waits a provider's `Retry-After` when it gives one (giving up at once when that is longer
//!   than [`RetryPolicy::max_retry_after`], so a fallback can answer instead), and consults a
//!   [`CircuitBreaker`] before every attempt.
//! - [`FallbackChain`] tries its members in order.
//!
//! `looma_core::retry::backoff` is the outboxes' schedule (1 s to 256 s); a user waiting for a
//! chat answer needs sub-second first retries, so the policy here has its own bounds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use retry_policies::policies::ExponentialBackoff;
use retry_policies::{Jitter, RetryDecision, RetryPolicy as _};

use crate::sse::bare_reason;
use crate::{ChatMessage, ChatModel, ChatRequest, EventStream, LlmError, Role};

/// How often and how long to retry before the stream starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: no retry).
    pub max_retries: u32,
    /// The first backoff; doubles per retry, with jitter.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one fails the attempt at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) after `error`, or `None` to give up.
    pub fn delay(&self, retry: u32, error: &LlmError) -> Option<Duration> {
        if !error.is_retryable() || retry >= self.max_retries {
            return None;
        }
        if let LlmError::RateLimited {
            retry_after: Some(wait),
            ..
        } = error
        {
            return (*wait <= self.max_retry_after).then_some(*wait);
        }
        let max = self.max_delay.max(self.base_delay);
        let backoff = ExponentialBackoff::builder()
            .retry_bounds(self.base_delay, max)
            .jitter(Jitter::Bounded)
            .base(2)
            .build_with_max_retries(u32::MAX);
        let now = SystemTime::now();
        Some(match backoff.should_retry(now, retry) {
            RetryDecision::Retry { execute_after } => execute_after
                .duration_since(now)
                .unwrap_or(self.base_delay)
                .clamp(self.base_delay, max),
            RetryDecision::DoNotRetry => max,
        })
    }
}

/// Stops calling a failing provider: after `failure_threshold` consecutive failed attempts
/// (unavailable, rate limited, or a stream interrupted) it rejects at once for `cooldown`;
/// then one trial request is let through (half-open) — its success closes the circuit, its
/// failure opens it for another cooldown. A provider that answers with a refusal (rejected
/// request, quota) is up, so that counts as success.
#[derive(Debug)]
pub struct CircuitBreaker {
    failure_threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

impl CircuitBreaker {
    /// A closed breaker; a threshold of 0 is treated as 1.
    pub fn new(failure_threshold: u32, cooldown: Duration) -> Self {
        CircuitBreaker {
            failure_threshold: failure_threshold.max(1),
            cooldown,
            state: Mutex::new(BreakerState::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, BreakerState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether calls are being rejected right now (open, or half-open with its trial out).
    pub fn is_open(&self) -> bool {
        let state = self.state();
        match state.open_until {
            None => false,
            Some(until) => Instant::now() < until || state.trial_in_flight,
        }
    }

    fn admit(&self) -> Option<Permit<'_>> {
        let mut state = self.state();
        let trial = match state.open_until {
            None => false,
            Some(until) if Instant::now() < until || state.trial_in_flight => return None,
            Some(_) => {
                state.trial_in_flight = true;
                true
            }
        };
        Some(Permit {
            breaker: self,
            trial,
            settled: false,
        })
    }

    fn record_success(&self) {
        let mut state = self.state();
        state.consecutive_failures = 0;
        state.open_until = None;
        state.trial_in_flight = false;
    }

    fn record_failure(&self, trial: bool) {
        let mut state = self.state();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.trial_in_flight = false;
        if trial || state.consecutive_failures >= self.failure_threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}

/// One admitted attempt; dropped unsettled (the caller gave up), it frees the trial slot.
struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    trial: bool,
    settled: bool,
}

impl Permit<'_> {
    fn settle(mut self, outcome: &Result<EventStream, LlmError>) {
        self.settled = true;
        match outcome {
            Err(LlmError::Unavailable { .. } | LlmError::RateLimited { .. })
            | Err(LlmError::Interrupted { .. }) => self.breaker.record_failure(self.trial),
            Ok(_) | Err(LlmError::Rejected { .. } | LlmError::QuotaExceeded { .. }) => {
                self.breaker.record_success()
            }
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.trial && !self.settled {
            self.breaker.state().trial_in_flight = false;
        }
    }
}

/// A model with retries and a circuit breaker (see the module docs).
pub struct Resilient<M: ChatModel + ?Sized = dyn ChatModel> {
    inner: Arc<M>,
    policy: RetryPolicy,
    breaker: Arc<CircuitBreaker>,
}

impl<M: ChatModel + ?Sized> Resilient<M> {
    pub fn new(inner: Arc<M>, policy: RetryPolicy, breaker: CircuitBreaker) -> Self {
        Resilient {
            inner,
            policy,
            breaker: Arc::new(breaker),
        }
    }

    /// The breaker (for health reporting).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    fn circuit_open(&self) -> LlmError {
        LlmError::Unavailable {
            provider: self.inner.provider().to_owned(),
            reason: "circuit open".to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl<M: ChatModel + ?Sized> ChatModel for Resilient<M> {
    fn provider(&self) -> &str {
        self.inner.provider()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn supports_tools(&self) -> bool {
        self.inner.supports_tools()
    }

    fn context_window(&self) -> usize {
        self.inner.context_window()
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.inner.count_tokens(text)
    }

    fn health(&self) -> Vec<crate::ProviderHealth> {
        let open = self.breaker.is_open();
        self.inner
            .health()
            .into_iter()
            .map(|mut health| {
                if open && health.unavailable.is_none() {
                    health.unavailable = Some("circuit open after repeated failures".to_owned());
                }
                health
            })
            .collect()
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, LlmError> {
        let mut retry = 0;
        loop {
            let Some(permit) = self.breaker.admit() else {
                return Err(self.circuit_open());
            };
            let outcome = self.inner.stream(request.clone()).await;
            permit.settle(&outcome);
            let error = match outcome {
                Ok(stream) => {
                    let breaker = Arc::clone(&self.breaker);
                    return Ok(stream
                        .inspect(move |item| {
                            if let Err(LlmError::Interrupted { .. }) = item {
                                breaker.record_failure(false);
                            }
                        })
                        .boxed());
                }
                Err(error) => error,
            };
            // A breaker that has just opened means the provider is down: stop here, with the
            // provider's own error (more telling than "circuit open").
            let Some(delay) = self
                .policy
                .delay(retry, &error)
                .filter(|_| !self.breaker.is_open())
            else {
                return Err(error);
            };
            retry += 1;
            tracing::warn!(
                provider = self.inner.provider(),
                retry,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                %error,
                "language model call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// Several models tried in order until one starts a stream.
///
/// A member that fails before its first event — for any reason, circuit open included — hands
/// the request to the next. That includes `Rejected`: a rejection is as often the provider's
/// own doing (bad key, unknown model name, a smaller context window, stricter schema checks)
/// as the request's, and trying the rest costs at most one request each. A member that does
/// not support tools gets the request without them (see [`without_tools`]).
///
/// When every member fails: one member's error is returned as it is; otherwise the first
/// `QuotaExceeded` if any member said so, else `Unavailable` naming each member's reason.
///
/// `provider()`/`model()` are the first member's; every `Done` names the member that
/// answered. `context_window()` is the smallest of the members' (a prompt that fits is
/// accepted by whichever answers), `count_tokens` the largest of their counts, and
/// `supports_tools()` whether any member does.
pub struct FallbackChain {
    members: Vec<Arc<dyn ChatModel>>,
}

impl FallbackChain {
    /// `None` when `members` is empty.
    pub fn new(members: Vec<Arc<dyn ChatModel>>) -> Option<Self> {
        (!members.is_empty()).then_some(FallbackChain { members })
    }

    /// The members, in order.
    pub fn members(&self) -> &[Arc<dyn ChatModel>] {
        &self.members
    }
}

#[async_trait::async_trait]
impl ChatModel for FallbackChain {
    fn provider(&self) -> &str {
        self.members.first().map_or("", |member| member.provider())
    }

    fn model(&self) -> &str {
        self.members.first().map_or("", |member| member.model())
    }

    fn supports_tools(&self) -> bool {
        self.members.iter().any(|member| member.supports_tools())
    }

    fn context_window(&self) -> usize {
        self.members
            .iter()
            .map(|member| member.context_window())
            .min()
            .unwrap_or(0)
    }

    fn count_tokens(&self, text: &str) -> usize {
        self.members
            .iter()
            .map(|member| member.count_tokens(text))
            .max()
            .unwrap_or(0)
    }

    fn health(&self) -> Vec<crate::ProviderHealth> {
        self.members
            .iter()
            .flat_map(|member| member.health())
            .collect()
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream, LlmError> {
        let mut failures: Vec<LlmError> = Vec::with_capacity(self.members.len());
        for (position, member) in self.members.iter().enumerate() {
            let attempt = if member.supports_tools() {
                request.clone()
            } else {
                without_tools(request.clone())
            };
            match member.stream(attempt).await {
                Ok(stream) => {
                    if position > 0 {
                        tracing::info!(
                            provider = member.provider(),
                            "language model fallback answering"
                        );
                    }
                    return Ok(stream);
                }
                Err(error) => {
                    if position + 1 < self.members.len() {
                        tracing::warn!(
                            provider = member.provider(),
                            %error,
                            "language model failed before answering; trying the next"
                        );
                    }
                    failures.push(error);
                }
            }
        }
        Err(self.combine(failures))
    }
}

impl FallbackChain {
    fn combine(&self, mut failures: Vec<LlmError>) -> LlmError {
        if failures.len() == 1
            && let Some(only) = failures.pop()
        {
            return only;
        }
        if let Some(quota) = failures
            .iter()
            .find(|error| matches!(error, LlmError::QuotaExceeded { .. }))
        {
            return quota.clone();
        }
        let reasons: Vec<String> = failures
            .iter()
            .map(|error| format!("{}: {}", error.provider(), bare_reason(error)))
            .collect();
        LlmError::Unavailable {
            provider: self.provider().to_owned(),
            reason: format!("every provider failed ({})", reasons.join("; ")),
        }
    }
}

/// The request for a model that takes no tools: no tool specs, and the tool exchanges of the
/// history written out as text (assistant calls as a note, results as user turns), so a
/// conversation that used tools with one provider can continue on another.
pub fn without_tools(mut request: ChatRequest) -> ChatRequest {
    request.tools.clear();
    let mut names: HashMap<String, String> = HashMap::new();
    for message in &mut request.messages {
        match message.role {
            Role::Assistant if !message.tool_calls.is_empty() => {
                let mut content = std::mem::take(&mut message.content);
                for call in std::mem::take(&mut message.tool_calls) {
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&format!(
                        "[called tool {} with {}]",
                        call.name, call.arguments
                    ));
                    names.insert(call.id, call.name);
                }
                message.content = content;
            }
            Role::Tool => {
                let id = message.tool_call_id.take().unwrap_or_default();
                let name = names.get(&id).map_or("a tool", String::as_str);
                *message = ChatMessage::user(format!("[result of {name}]\n{}", message.content));
            }
            _ => {}
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ToolCall, ToolSpec};

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let limited = |secs| LlmError::RateLimited {
            provider: "p".into(),
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(policy.delay(0, &limited(1)), Some(Duration::from_secs(1)));
        assert_eq!(policy.delay(0, &limited(60)), None);
        assert_eq!(policy.delay(2, &limited(1)), None, "retries exhausted");
        let rejected = LlmError::Rejected {
            provider: "p".into(),
            reason: "400".into(),
        };
        assert_eq!(policy.delay(0, &rejected), None);
        let down = LlmError::Unavailable {
            provider: "p".into(),
            reason: "503".into(),
        };
        for retry in 0..2 {
            let delay = policy.delay(retry, &down).expect("retryable");
            assert!(
                (policy.base_delay..=policy.max_delay).contains(&delay),
                "{delay:?}"
            );
        }
    }

    #[test]
    fn breaker_opens_half_opens_and_closes() {
        let breaker = CircuitBreaker::new(2, Duration::from_millis(30));
        let down: Result<EventStream, LlmError> = Err(LlmError::Unavailable {
            provider: "p".into(),
            reason: "x".into(),
        });
        breaker.admit().expect("closed").settle(&down);
        assert!(!breaker.is_open());
        breaker.admit().expect("closed").settle(&down);
        assert!(breaker.is_open());
        assert!(breaker.admit().is_none());
        std::thread::sleep(Duration::from_millis(40));
        let trial = breaker.admit().expect("half-open trial");
        assert!(breaker.admit().is_none(), "one trial at a time");
        drop(trial);
        let trial = breaker.admit().expect("an abandoned trial frees its slot");
        trial.settle(&down);
        assert!(breaker.admit().is_none(), "a failed trial reopens");
        std::thread::sleep(Duration::from_millis(40));
        let ok: Result<EventStream, LlmError> = Ok(futures::stream::empty().boxed());
        breaker.admit().expect("trial").settle(&ok);
        assert!(!breaker.is_open());
        breaker.admit().expect("closed").settle(&down);
        assert!(!breaker.is_open(), "failures were reset");
    }

    #[test]
    fn tool_history_is_written_out() {
        let request = ChatRequest {
            messages: vec![
                ChatMessage::user("who knows rust?"),
                ChatMessage {
                    tool_calls: vec![ToolCall {
                        id: "c1".into(),
                        name: "search".into(),
                        arguments: "{\"q\":\"rust\"}".into(),
                    }],
                    ..ChatMessage::assistant("")
                },
                ChatMessage::tool_result("c1", "Ada"),
            ],
            tools: vec![ToolSpec {
                name: "search".into(),
                description: String::new(),
                parameters: serde_json::json!({}),
            }],
            max_tokens: 10,
            temperature: 0.0,
        };
        let stripped = without_tools(request);
        assert!(stripped.tools.is_empty());
        assert_eq!(
            stripped.messages[1].content,
            "[called tool search with {\"q\":\"rust\"}]"
        );
        assert!(stripped.messages[1].tool_calls.is_empty());
        assert_eq!(
            stripped.messages[2],
            ChatMessage::user("[result of search]\nAda")
        );
    }
}
