//! The cache every component shares: byte values with a time to live, and windowed counters
//! (rate limits, lockouts).
//!
//! Two implementations of one [`Cache`] trait: [`RedisCache`] when `cache.redis_url` (or
//! `REDIS_URL`) is set, so replicas share state; [`LocalCache`] in-process otherwise. Keys are
//! namespaced by a prefix so several deployments (or test runs) can share one Redis.

pub mod entities;
mod local;
mod redis_cache;
mod unreachable;

pub use local::LocalCache;
pub use redis_cache::RedisCache;
pub use unreachable::UnreachableCache;

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache backend unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait Cache: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError>;
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// Several values at once (one round trip on Redis), in the order of `keys`.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, CacheError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }
    /// Several values with one time to live (one round trip on Redis).
    async fn set_many(
        &self,
        entries: &[(String, Vec<u8>)],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        for (key, value) in entries {
            self.set(key, value, ttl).await?;
        }
        Ok(())
    }
    /// Each key's value, first setting the keys that have none to the matching value of
    /// `absent` (with `ttl`): atomic per key, so callers racing on a key all read the one
    /// value that was set. `absent` is as long as `keys`.
    async fn get_or_insert_many(
        &self,
        keys: &[String],
        absent: &[Vec<u8>],
        ttl: Duration,
    ) -> Result<Vec<Vec<u8>>, CacheError>;
    /// Adds one to a counter that expires `window` after its first increment and returns the
    /// new count. Atomic across callers sharing the backend.
    async fn increment(&self, key: &str, window: Duration) -> Result<u64, CacheError>;
    /// Takes one token from the bucket at `key` (a token bucket kept as the generic cell
    /// rate algorithm's one timestamp): tokens come back one per `interval_us`, and at most
    /// `burst` may be taken at once. `None` when a token was taken, `Some(µs)` to wait for the
    /// next one otherwise (nothing is taken then). Atomic across callers sharing the backend;
    /// `now_us` is the caller's clock, in microseconds like `interval_us`.
    async fn take_token(
        &self,
        key: &str,
        interval_us: u64,
        burst: u64,
        now_us: u64,
    ) -> Result<Option<u64>, CacheError>;
    async fn ping(&self) -> Result<(), CacheError>;
    /// `redis` or `local`, for logs and readiness output.
    fn backend(&self) -> &'static str;
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `redis://host:6379/0`; unset means the in-process cache.
    pub redis_url: Option<String>,
    /// Prepended to every key.
    pub key_prefix: String,
    /// Bytes (keys, values and a small per-entry overhead) the in-process cache keeps before
    /// the least used entries are evicted.
    pub local_capacity_bytes: u64,
    /// Connect and per-command timeout for Redis, in milliseconds.
    pub redis_timeout_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            redis_url: None,
            key_prefix: "looma:".into(),
            local_capacity_bytes: 64 * 1024 * 1024,
            redis_timeout_ms: 2_000,
        }
    }
}

/// One step of the generic cell rate algorithm: given the bucket's theoretical arrival time
/// (`None`: a full bucket), the new one when a token may be taken, or how long to wait.
pub(crate) fn next_arrival(
    stored: Option<u64>,
    interval_us: u64,
    burst: u64,
    now_us: u64,
) -> Result<u64, u64> {
    let arrival = stored.unwrap_or(now_us).max(now_us);
    let tolerance = interval_us.saturating_mul(burst.saturating_sub(1));
    let allowed_from = arrival.saturating_sub(tolerance);
    if now_us < allowed_from {
        Err(allowed_from - now_us)
    } else {
        Ok(arrival.saturating_add(interval_us))
    }
}

/// Opens the configured cache. With a Redis URL the server must answer now: a platform
/// configured for Redis that silently fell back to per-process caches would break shared
/// rate limits.
pub async fn connect(config: &CacheConfig) -> Result<Arc<dyn Cache>, CacheError> {
    match config.redis_url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => {
            let cache = RedisCache::connect(
                url,
                &config.key_prefix,
                Duration::from_millis(config.redis_timeout_ms),
            )
            .await?;
            Ok(Arc::new(cache))
        }
        None => Ok(Arc::new(LocalCache::new(
            &config.key_prefix,
            config.local_capacity_bytes,
        ))),
    }
}
