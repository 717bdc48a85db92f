//! Rate limiting at the edge: a token bucket per client and operation class, queries and
//! mutations each with their own rate and burst (`[router.rate_limit]`). A client is the
//! verified principal (a user or an API key) or, for anonymous callers, the peer's address.
//! Buckets live in the shared cache — Redis when configured, so every router replica takes
//! from the same bucket, else this process; a refused operation answers `429 RATE_LIMITED`
//! with `Retry-After` (when the next token comes). A cache outage lets requests through rather
//! than refusing everyone.

use apollo_compiler::ast::OperationType;
use looma_auth::Principal;
use looma_cache::Cache;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// `[router.rate_limit]`, `LOOMA_ROUTER__RATE_LIMIT__*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// The time the rates are given over.
    pub window_ms: u64,
    /// Queries one client may run per window, on average (the bucket's refill rate).
    pub queries: u64,
    /// Mutations one client may run per window, on average.
    pub mutations: u64,
    /// Queries a client may run at once after being idle (the bucket's size); 0: `queries`.
    pub query_burst: u64,
    /// Mutations a client may run at once; 0: `mutations`.
    pub mutation_burst: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: false,
            window_ms: 1_000,
            queries: 100,
            mutations: 20,
            query_burst: 0,
            mutation_burst: 0,
        }
    }
}

impl RateLimitConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.enabled && (self.window_ms == 0 || self.queries == 0 || self.mutations == 0) {
            return Err(
                "config key `router.rate_limit`: window_ms, queries and mutations must be above 0"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Who an operation is counted against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client(String);

impl Client {
    /// `p:<subject>` (a principal), `ip:<address>` or `anonymous`: for logs too.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The principal when the caller authenticated, else its address (else one shared
    /// anonymous bucket).
    pub fn of(principal: Option<&Principal>, peer: Option<IpAddr>) -> Client {
        match (principal, peer) {
            (Some(principal), _) => Client(format!("p:{}", principal.subject)),
            (None, Some(ip)) => Client(format!("ip:{ip}")),
            (None, None) => Client("anonymous".into()),
        }
    }
}

pub struct RateLimiter {
    config: RateLimitConfig,
    cache: Arc<dyn Cache>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig, cache: Arc<dyn Cache>) -> Option<Self> {
        config.enabled.then_some(RateLimiter { config, cache })
    }

    /// `Ok` when `client` may run an operation of `kind` now; `Err(seconds)` to wait
    /// otherwise. Subscriptions have their own limits (`[router.subscriptions]`).
    pub async fn check(
        &self,
        client: &Client,
        kind: OperationType,
        now_ms: u64,
    ) -> Result<(), u64> {
        let (class, rate, burst) = match kind {
            OperationType::Query => ("q", self.config.queries, self.config.query_burst),
            OperationType::Mutation => ("m", self.config.mutations, self.config.mutation_burst),
            OperationType::Subscription => return Ok(()),
        };
        let burst = if burst == 0 { rate } else { burst };
        let interval_us = (self.config.window_ms.saturating_mul(1_000) / rate.max(1)).max(1);
        let key = format!("ratelimit:{class}:{}", client.0);
        match self
            .cache
            .take_token(&key, interval_us, burst, now_ms.saturating_mul(1_000))
            .await
        {
            Ok(Some(wait_us)) => Err(wait_us.div_ceil(1_000_000).max(1)),
            Ok(None) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "rate limit not checked: the cache is unavailable");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use looma_cache::LocalCache;

    fn limiter(queries: u64, mutations: u64, query_burst: u64) -> RateLimiter {
        RateLimiter::new(
            RateLimitConfig {
                enabled: true,
                window_ms: 10_000,
                queries,
                mutations,
                query_burst,
                mutation_burst: 0,
            },
            Arc::new(LocalCache::new("rl-test:", 1 << 20)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn each_client_and_class_has_its_own_bucket() {
        // Two queries per 10 s: a token every 5 s, two at once.
        let limiter = limiter(2, 1, 0);
        let alice = Client("p:alice".into());
        let bob = Client("p:bob".into());
        let now = 1_000_000;
        let query = |at| limiter.check(&alice, OperationType::Query, at);
        assert_eq!(query(now).await, Ok(()));
        assert_eq!(query(now).await, Ok(()));
        assert_eq!(
            query(now + 3_000).await,
            Err(2),
            "the bucket is empty: the next token comes 5 s after the first was taken"
        );
        assert_eq!(query(now + 5_000).await, Ok(()), "one token came back");
        assert_eq!(query(now + 5_000).await, Err(5));
        assert_eq!(limiter.check(&bob, OperationType::Query, now).await, Ok(()));
        assert_eq!(
            limiter.check(&alice, OperationType::Mutation, now).await,
            Ok(())
        );
        assert_eq!(
            limiter.check(&alice, OperationType::Mutation, now).await,
            Err(10)
        );
        assert_eq!(
            limiter
                .check(&alice, OperationType::Subscription, now)
                .await,
            Ok(())
        );
        // Idle long enough, the bucket is full again: two at once, not more.
        assert_eq!(query(now + 60_000).await, Ok(()));
        assert_eq!(query(now + 60_000).await, Ok(()));
        assert!(query(now + 60_000).await.is_err());
    }

    #[tokio::test]
    async fn a_burst_may_exceed_the_rate() {
        let limiter = limiter(2, 1, 4);
        let carol = Client("p:carol".into());
        let now = 1_000_000;
        for _ in 0..4 {
            assert_eq!(
                limiter.check(&carol, OperationType::Query, now).await,
                Ok(())
            );
        }
        assert_eq!(
            limiter.check(&carol, OperationType::Query, now).await,
            Err(5),
            "then one per 5 s"
        );
    }

    #[test]
    fn anonymous_callers_are_told_apart_by_address() {
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(Client::of(None, Some(ip)), Client("ip:10.0.0.7".into()));
        assert_eq!(Client::of(None, None), Client("anonymous".into()));
        assert!(
            RateLimiter::new(
                RateLimitConfig::default(),
                Arc::new(LocalCache::new("x", 1024))
            )
            .is_none()
        );
    }
}
