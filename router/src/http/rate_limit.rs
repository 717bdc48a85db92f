//! Rate limiting at the edge: operations per client and per window, counted separately for
//! queries and mutations (`[router.rate_limit]`). A client is the verified principal (a user
//! or an API key) or, for anonymous callers, the peer's address. Counts live in the shared
//! cache — Redis when configured, so every router replica counts against the same limit, else
//! this process — in fixed windows aligned to the clock; a refused operation answers `429
//! RATE_LIMITED` with `Retry-After` (the end of the window). A cache outage lets requests
//! through rather than refusing everyone.

use apollo_compiler::ast::OperationType;
use looma_auth::Principal;
use looma_cache::Cache;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// `[router.rate_limit]`, `LOOMA_ROUTER__RATE_LIMIT__*`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// The window the limits count over.
    pub window_ms: u64,
    /// Queries one client may run per window.
    pub queries: u64,
    /// Mutations one client may run per window.
    pub mutations: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: false,
            window_ms: 1_000,
            queries: 100,
            mutations: 20,
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
        let (class, limit) = match kind {
            OperationType::Query => ("q", self.config.queries),
            OperationType::Mutation => ("m", self.config.mutations),
            OperationType::Subscription => return Ok(()),
        };
        let window = now_ms / self.config.window_ms;
        let key = format!("ratelimit:{class}:{window}:{}", client.0);
        // Kept a little past its window, so a late increment never restarts a count.
        let ttl = Duration::from_millis(self.config.window_ms.saturating_mul(2));
        match self.cache.increment(&key, ttl).await {
            Ok(count) if count > limit => {
                let window_end = (window + 1) * self.config.window_ms;
                Err(window_end.saturating_sub(now_ms).div_ceil(1000).max(1))
            }
            Ok(_) => Ok(()),
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

    fn limiter(queries: u64, mutations: u64) -> RateLimiter {
        RateLimiter::new(
            RateLimitConfig {
                enabled: true,
                window_ms: 10_000,
                queries,
                mutations,
            },
            Arc::new(LocalCache::new("rl-test:", 1 << 20)),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn each_client_and_class_has_its_own_count() {
        let limiter = limiter(2, 1);
        let alice = Client("p:alice".into());
        let bob = Client("p:bob".into());
        let now = 1_000_000;
        assert_eq!(
            limiter.check(&alice, OperationType::Query, now).await,
            Ok(())
        );
        assert_eq!(
            limiter.check(&alice, OperationType::Query, now).await,
            Ok(())
        );
        assert_eq!(
            limiter
                .check(&alice, OperationType::Query, now + 3_000)
                .await,
            Err(7),
            "refused until the window ends, 7 s later"
        );
        assert_eq!(limiter.check(&bob, OperationType::Query, now).await, Ok(()));
        assert_eq!(
            limiter.check(&alice, OperationType::Mutation, now).await,
            Ok(())
        );
        assert!(
            limiter
                .check(&alice, OperationType::Mutation, now)
                .await
                .is_err()
        );
        assert_eq!(
            limiter
                .check(&alice, OperationType::Subscription, now)
                .await,
            Ok(())
        );
        // The next window starts afresh.
        assert_eq!(
            limiter
                .check(&alice, OperationType::Query, now + 10_000)
                .await,
            Ok(())
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
