use crate::{Cache, CacheError};
use std::time::Duration;

/// A shared cache whose server is gone: every call fails, as [`RedisCache`](crate::RedisCache)'s
/// do once Redis stops answering. For tests of what a component does then.
pub struct UnreachableCache;

fn refused<T>() -> Result<T, CacheError> {
    Err(CacheError::Unavailable(
        "connection refused (the cache server is down)".into(),
    ))
}

#[async_trait::async_trait]
impl Cache for UnreachableCache {
    async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        refused()
    }
    async fn set(&self, _key: &str, _value: &[u8], _ttl: Duration) -> Result<(), CacheError> {
        refused()
    }
    async fn delete(&self, _key: &str) -> Result<(), CacheError> {
        refused()
    }
    async fn get_many(&self, _keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, CacheError> {
        refused()
    }
    async fn set_many(
        &self,
        _entries: &[(String, Vec<u8>)],
        _ttl: Duration,
    ) -> Result<(), CacheError> {
        refused()
    }
    async fn get_or_insert_many(
        &self,
        _keys: &[String],
        _absent: &[Vec<u8>],
        _ttl: Duration,
    ) -> Result<Vec<Vec<u8>>, CacheError> {
        refused()
    }
    async fn increment(&self, _key: &str, _window: Duration) -> Result<u64, CacheError> {
        refused()
    }
    async fn take_token(
        &self,
        _key: &str,
        _interval_us: u64,
        _burst: u64,
        _now_us: u64,
    ) -> Result<Option<u64>, CacheError> {
        refused()
    }
    async fn ping(&self) -> Result<(), CacheError> {
        refused()
    }
    fn backend(&self) -> &'static str {
        "unreachable"
    }
}
