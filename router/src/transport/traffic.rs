//! Traffic management between the router and its subgraphs: several URLs per subgraph with
//! load balancing (round robin or least outstanding requests), passive health (a replica that
//! fails `eject_after_failures` times in a row is left out for `eject_for_ms`), a circuit
//! breaker per subgraph (open after `breaker_failures` consecutive failures: requests fail
//! fast; after `breaker_open_ms` one probe is let through, whose outcome closes or reopens it),
//! and retries of idempotent fetches (never a `mutation`) with jittered backoff, limited by a
//! retry budget so a struggling subgraph is not hit with a storm of retries.
//!
//! Pure state and decisions; [`super::HttpTransport`] does the sending.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// `[router.traffic]`, `LOOMA_ROUTER__TRAFFIC__*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficConfig {
    /// Replicas by subgraph name (`resume = ["http://resume-1:8207/graphql", ...]`), used
    /// instead of the supergraph's one URL for that subgraph.
    pub subgraph_urls: BTreeMap<String, Vec<String>>,
    pub load_balancing: LoadBalancing,
    /// Consecutive failures after which a replica is left out...
    pub eject_after_failures: u32,
    /// ...for this long (then it gets traffic again; one more failure ejects it again).
    pub eject_for_ms: u64,
    /// Active health checks: every replica's `/health` (its URL without `/graphql`) is asked
    /// this often; one that does not answer 200 is ejected. 0: passive health only.
    pub health_check_interval_ms: u64,
    /// Consecutive failures of a whole subgraph that open its circuit (0: no breaker).
    pub breaker_failures: u32,
    /// How long an open circuit fails requests fast before letting one probe through.
    pub breaker_open_ms: u64,
    /// Retries of a failed idempotent fetch (queries and entity fetches; never mutations).
    pub retries: u32,
    /// Base of the exponential, fully jittered backoff between retries.
    pub retry_backoff_ms: u64,
    /// Identical idempotent fetches to a subgraph that overlap in time (same body, same
    /// caller) are sent once and share the answer.
    pub deduplicate: bool,
    /// Retries allowed per first attempt, over time (0.2: at most one retry per five
    /// requests once the initial allowance is spent).
    pub retry_budget_ratio: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancing {
    RoundRobin,
    LeastOutstanding,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            subgraph_urls: BTreeMap::new(),
            load_balancing: LoadBalancing::LeastOutstanding,
            eject_after_failures: 3,
            eject_for_ms: 10_000,
            health_check_interval_ms: 5_000,
            breaker_failures: 10,
            breaker_open_ms: 5_000,
            retries: 1,
            retry_backoff_ms: 25,
            deduplicate: true,
            retry_budget_ratio: 0.2,
        }
    }
}

impl TrafficConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, urls) in &self.subgraph_urls {
            if urls.is_empty() || urls.iter().any(|u| !u.starts_with("http")) {
                return Err(format!(
                    "config key `router.traffic.subgraph_urls.{name}`: one or more http(s) URLs"
                ));
            }
        }
        if self.eject_after_failures == 0 {
            return Err("config key `router.traffic.eject_after_failures`: at least 1".into());
        }
        if self.retries > 5 {
            return Err("config key `router.traffic.retries`: at most 5".into());
        }
        if !(0.0..=1.0).contains(&self.retry_budget_ratio) {
            return Err("config key `router.traffic.retry_budget_ratio`: from 0 to 1".into());
        }
        Ok(())
    }
}

/// One URL of a subgraph.
#[derive(Debug)]
pub struct Replica {
    pub url: String,
    outstanding: AtomicUsize,
    failures: AtomicU32,
    ejected_until: Mutex<Option<Instant>>,
}

impl Replica {
    fn new(url: String) -> Self {
        Replica {
            url,
            outstanding: AtomicUsize::new(0),
            failures: AtomicU32::new(0),
            ejected_until: Mutex::new(None),
        }
    }

    fn ejected(&self, now: Instant) -> bool {
        lock(&self.ejected_until).is_some_and(|until| now < until)
    }

    /// Leaves the replica out until `until` (an active health check failed).
    pub fn eject_until(&self, until: Instant) {
        *lock(&self.ejected_until) = Some(until);
    }

    /// Where its `/health` is: the URL with its `/graphql` path dropped.
    pub fn health_url(&self) -> String {
        let base = self.url.trim_end_matches('/');
        let base = base.strip_suffix("/graphql").unwrap_or(base);
        format!("{base}/health")
    }
}

/// A request in flight on a replica; counts it as outstanding until dropped.
pub struct InFlight<'a> {
    pub replica: &'a Replica,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.replica.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open {
        until: Instant,
    },
    /// One probe is in flight since `since`; everything else fails fast until it answers (or,
    /// when its answer never comes back, a cancelled request, until another open period has
    /// passed and a new probe goes out).
    HalfOpen {
        since: Instant,
    },
}

/// A subgraph's replicas, breaker and retry budget.
#[derive(Debug)]
pub struct Upstream {
    pub replicas: Vec<Replica>,
    next: AtomicUsize,
    breaker: Mutex<(BreakerState, u32)>,
    /// Retry tokens, in thousandths (integer arithmetic under a lock-free counter).
    retry_tokens: AtomicU32,
}

/// The retry allowance a fresh upstream starts with (and the most it saves up).
const MAX_RETRY_TOKENS: u32 = 10_000; // ten retries

/// Why a request was not sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    CircuitOpen,
}

impl Upstream {
    pub fn new(urls: Vec<String>) -> Self {
        Upstream {
            replicas: urls.into_iter().map(Replica::new).collect(),
            next: AtomicUsize::new(0),
            breaker: Mutex::new((BreakerState::Closed, 0)),
            retry_tokens: AtomicU32::new(MAX_RETRY_TOKENS),
        }
    }

    /// Whether a request may go out now (the breaker), moving an open breaker whose time is
    /// up to half-open for this one request.
    pub fn admit(&self, config: &TrafficConfig, now: Instant) -> Result<(), Refused> {
        if config.breaker_failures == 0 {
            return Ok(());
        }
        let mut breaker = lock(&self.breaker);
        match breaker.0 {
            BreakerState::Closed => Ok(()),
            BreakerState::Open { until } if now >= until => {
                breaker.0 = BreakerState::HalfOpen { since: now };
                Ok(())
            }
            BreakerState::HalfOpen { since }
                if now.duration_since(since) >= Duration::from_millis(config.breaker_open_ms) =>
            {
                breaker.0 = BreakerState::HalfOpen { since: now };
                Ok(())
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => Err(Refused::CircuitOpen),
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        lock(&self.breaker).0
    }

    /// The replica for the next request: not ejected (unless all are), by the configured
    /// policy. Counted outstanding until the returned guard drops.
    pub fn pick(&self, config: &TrafficConfig, now: Instant, avoid: Option<&str>) -> InFlight<'_> {
        let healthy: Vec<&Replica> = self
            .replicas
            .iter()
            .filter(|r| !r.ejected(now) && Some(r.url.as_str()) != avoid)
            .collect();
        let candidates: Vec<&Replica> = if healthy.is_empty() {
            // Every replica ejected (or the only one to avoid): try them anyway rather than
            // refuse; the breaker is what fails fast.
            self.replicas.iter().collect()
        } else {
            healthy
        };
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let replica = match config.load_balancing {
            LoadBalancing::RoundRobin => candidates[turn % candidates.len()],
            LoadBalancing::LeastOutstanding => {
                // Fewest in flight; ties broken round robin so equal replicas share the load.
                let offset = turn % candidates.len();
                candidates
                    .iter()
                    .cycle()
                    .skip(offset)
                    .take(candidates.len())
                    .min_by_key(|r| r.outstanding.load(Ordering::Relaxed))
                    .copied()
                    .unwrap_or(candidates[0])
            }
        };
        replica.outstanding.fetch_add(1, Ordering::Relaxed);
        InFlight { replica }
    }

    /// Records a request's outcome on its replica and on the breaker.
    pub fn record(&self, config: &TrafficConfig, replica: &Replica, ok: bool, now: Instant) {
        if ok {
            replica.failures.store(0, Ordering::Relaxed);
            *lock(&replica.ejected_until) = None;
        } else {
            let failures = replica.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures >= config.eject_after_failures {
                *lock(&replica.ejected_until) =
                    Some(now + Duration::from_millis(config.eject_for_ms));
                tracing::warn!(url = %replica.url, failures, "replica ejected");
            }
        }
        if config.breaker_failures == 0 {
            return;
        }
        let mut breaker = lock(&self.breaker);
        if ok {
            *breaker = (BreakerState::Closed, 0);
            return;
        }
        breaker.1 += 1;
        let open = match breaker.0 {
            BreakerState::HalfOpen { .. } => true,
            BreakerState::Closed => breaker.1 >= config.breaker_failures,
            BreakerState::Open { .. } => false,
        };
        if open {
            breaker.0 = BreakerState::Open {
                until: now + Duration::from_millis(config.breaker_open_ms),
            };
            tracing::warn!(failures = breaker.1, "circuit opened");
        }
    }

    /// A first attempt earns `retry_budget_ratio` of a retry.
    pub fn earn_retry(&self, config: &TrafficConfig) {
        let earned = (config.retry_budget_ratio * 1000.0) as u32;
        let _ = self
            .retry_tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some(tokens.saturating_add(earned).min(MAX_RETRY_TOKENS))
            });
    }

    /// Spends one retry from the budget; `false` when it is spent.
    pub fn spend_retry(&self) -> bool {
        self.retry_tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                tokens.checked_sub(1000)
            })
            .is_ok()
    }
}

/// The wait before retry `attempt` (1-based): uniformly random up to `base × 2^(attempt-1)`
/// ("full jitter"), so retries of many requests do not arrive together.
pub fn backoff(config: &TrafficConfig, attempt: u32) -> Duration {
    let cap = config
        .retry_backoff_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(10));
    Duration::from_millis(rand::random::<u64>() % cap.max(1))
}

/// Whether a subgraph request may be sent twice: anything but a `mutation` operation.
pub fn is_idempotent(body: &serde_json::Value) -> bool {
    body["query"].as_str().is_some_and(is_idempotent_query)
}

/// Whether an operation text is a query (not a mutation).
pub fn is_idempotent_query(query: &str) -> bool {
    !query.trim_start().starts_with("mutation")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> TrafficConfig {
        TrafficConfig {
            eject_after_failures: 2,
            eject_for_ms: 1_000,
            breaker_failures: 3,
            breaker_open_ms: 500,
            ..TrafficConfig::default()
        }
    }

    fn urls(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("http://replica-{i}/graphql"))
            .collect()
    }

    #[test]
    fn round_robin_takes_turns() {
        let config = TrafficConfig {
            load_balancing: LoadBalancing::RoundRobin,
            ..config()
        };
        let upstream = Upstream::new(urls(3));
        let now = Instant::now();
        let picked: Vec<String> = (0..6)
            .map(|_| upstream.pick(&config, now, None).replica.url.clone())
            .collect();
        assert_eq!(picked[0..3], picked[3..6]);
        let distinct: std::collections::HashSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), 3);
    }

    #[test]
    fn least_outstanding_avoids_the_busy_replica() {
        let upstream = Upstream::new(urls(2));
        let now = Instant::now();
        let busy = upstream.pick(&config(), now, None);
        let busy_url = busy.replica.url.clone();
        for _ in 0..4 {
            let next = upstream.pick(&config(), now, None);
            assert_ne!(next.replica.url, busy_url);
        }
        drop(busy);
        let urls: std::collections::HashSet<String> = (0..4)
            .map(|_| upstream.pick(&config(), now, None).replica.url.clone())
            .collect();
        assert_eq!(urls.len(), 2, "both get traffic once neither is busy");
    }

    #[test]
    fn a_failing_replica_is_ejected_then_tried_again() {
        let config = config();
        let upstream = Upstream::new(urls(2));
        let now = Instant::now();
        let bad = &upstream.replicas[0];
        upstream.record(&config, bad, false, now);
        assert!(!bad.ejected(now), "one failure is not enough");
        upstream.record(&config, bad, false, now);
        assert!(bad.ejected(now));
        for _ in 0..5 {
            assert_eq!(
                upstream.pick(&config, now, None).replica.url,
                "http://replica-1/graphql"
            );
        }
        let later = now + Duration::from_millis(1_001);
        let picked: std::collections::HashSet<String> = (0..4)
            .map(|_| upstream.pick(&config, later, None).replica.url.clone())
            .collect();
        assert_eq!(picked.len(), 2, "back in rotation after eject_for_ms");
        // All ejected: still sent somewhere rather than refused.
        let only = Upstream::new(urls(1));
        only.record(&config, &only.replicas[0], false, now);
        only.record(&config, &only.replicas[0], false, now);
        assert_eq!(
            only.pick(&config, now, None).replica.url,
            "http://replica-0/graphql"
        );
    }

    #[test]
    fn the_breaker_opens_fails_fast_probes_and_closes() {
        let config = config();
        let upstream = Upstream::new(urls(1));
        let replica = &upstream.replicas[0];
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(upstream.admit(&config, now), Ok(()));
            upstream.record(&config, replica, false, now);
        }
        assert!(matches!(
            upstream.breaker_state(),
            BreakerState::Open { .. }
        ));
        assert_eq!(upstream.admit(&config, now), Err(Refused::CircuitOpen));
        // Time up: one probe, the rest still fail fast while it is out.
        let later = now + Duration::from_millis(600);
        assert_eq!(upstream.admit(&config, later), Ok(()));
        assert_eq!(upstream.admit(&config, later), Err(Refused::CircuitOpen));
        // The probe fails: open again for another period.
        upstream.record(&config, replica, false, later);
        assert_eq!(upstream.admit(&config, later), Err(Refused::CircuitOpen));
        let again = later + Duration::from_millis(600);
        assert_eq!(upstream.admit(&config, again), Ok(()));
        upstream.record(&config, replica, true, again);
        assert_eq!(upstream.breaker_state(), BreakerState::Closed);
        assert_eq!(upstream.admit(&config, again), Ok(()));
    }

    #[test]
    fn a_probe_that_never_answers_does_not_hold_the_breaker_half_open() {
        let config = config();
        let upstream = Upstream::new(urls(1));
        let now = Instant::now();
        for _ in 0..3 {
            upstream.record(&config, &upstream.replicas[0], false, now);
        }
        let probe_time = now + Duration::from_millis(600);
        assert_eq!(upstream.admit(&config, probe_time), Ok(()));
        // The probe's request is dropped: nothing is recorded.
        assert_eq!(
            upstream.admit(&config, probe_time + Duration::from_millis(100)),
            Err(Refused::CircuitOpen)
        );
        assert_eq!(
            upstream.admit(&config, probe_time + Duration::from_millis(600)),
            Ok(()),
            "another probe after an open period"
        );
    }

    #[test]
    fn the_retry_budget_is_earned_by_first_attempts() {
        let config = TrafficConfig {
            retry_budget_ratio: 0.5,
            ..config()
        };
        let upstream = Upstream::new(urls(1));
        let mut spent = 0;
        while upstream.spend_retry() {
            spent += 1;
        }
        assert_eq!(spent, 10, "the initial allowance");
        upstream.earn_retry(&config);
        assert!(!upstream.spend_retry(), "half a retry is not a retry");
        upstream.earn_retry(&config);
        assert!(upstream.spend_retry());
        assert!(!upstream.spend_retry());
    }

    #[test]
    fn mutations_are_never_retried() {
        assert!(is_idempotent(
            &json!({"query": "query($a: ID!) { resume(id: $a) { id } }"})
        ));
        assert!(is_idempotent(&json!({"query": "{ me { id } }"})));
        assert!(!is_idempotent(
            &json!({"query": " mutation { deleteResume(id: \"1\") }"})
        ));
        assert!(!is_idempotent(&json!({"nothing": true})));
    }

    #[test]
    fn a_replica_is_ejected_by_a_failed_health_check() {
        let upstream = Upstream::new(urls(2));
        let now = Instant::now();
        assert_eq!(upstream.replicas[0].health_url(), "http://replica-0/health");
        upstream.replicas[0].eject_until(now + Duration::from_secs(5));
        for _ in 0..4 {
            assert_eq!(
                upstream.pick(&config(), now, None).replica.url,
                "http://replica-1/graphql"
            );
        }
    }

    #[test]
    fn backoff_stays_under_its_cap() {
        let config = config();
        for attempt in 1..=4 {
            let cap = config.retry_backoff_ms << (attempt - 1);
            for _ in 0..50 {
                assert!(backoff(&config, attempt) < Duration::from_millis(cap));
            }
        }
    }
}
