use crate::{Cache, CacheError};
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// Counter increment and first-increment expiry in one atomic step.
const INCREMENT_IN_WINDOW: &str = "local v = redis.call('INCR', KEYS[1]) \
     if v == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return v";

/// Reads each key, setting the absent ones (`ARGV[i]`, expiring after `ARGV[n + 1]` ms).
const GET_OR_INSERT: &str = "local out = {} \
     for i, key in ipairs(KEYS) do \
       local v = redis.call('GET', key) \
       if not v then v = ARGV[i] redis.call('SET', key, v, 'PX', ARGV[#KEYS + 1]) end \
       out[i] = v \
     end return out";

/// One token from a bucket kept as its theoretical arrival time (the generic cell rate
/// algorithm, as `crate::next_arrival`, in microseconds): `-1` when taken, else the time to wait.
const TAKE_TOKEN: &str = "local now = tonumber(ARGV[3]) \
     local interval = tonumber(ARGV[1]) \
     local tolerance = interval * (tonumber(ARGV[2]) - 1) \
     local arrival = tonumber(redis.call('GET', KEYS[1]) or now) \
     if arrival < now then arrival = now end \
     local allowed_from = arrival - tolerance \
     if now < allowed_from then return allowed_from - now end \
     local next = arrival + interval \
     redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.max(math.ceil((next - now) / 1000), 1)) \
     return -1";

/// Redis-backed cache over a reconnecting multiplexed connection.
#[derive(Clone)]
pub struct RedisCache {
    prefix: String,
    connection: ConnectionManager,
}

fn unavailable(error: redis::RedisError) -> CacheError {
    CacheError::Unavailable(error.to_string())
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        Ok(RedisCache {
            prefix: prefix.to_owned(),
            connection,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Deletes every key under this cache's prefix (tests use a unique prefix and clean up).
    pub async fn clear_prefix(&self) -> Result<u64, CacheError> {
        let mut connection = self.connection.clone();
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            if !keys.is_empty() {
                deleted += keys.len() as u64;
                let _: () = connection.del(keys).await.map_err(unavailable)?;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut connection = self.connection.clone();
        connection.get(self.key(key)).await.map_err(unavailable)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let mut connection = self.connection.clone();
        let millis = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(millis)
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let mut connection = self.connection.clone();
        connection
            .del::<_, ()>(self.key(key))
            .await
            .map_err(unavailable)
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(self.key(key));
        }
        command
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn set_many(
        &self,
        entries: &[(String, Vec<u8>)],
        ttl: Duration,
    ) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection.clone();
        let millis = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        let mut pipeline = redis::pipe();
        for (key, value) in entries {
            pipeline
                .cmd("SET")
                .arg(self.key(key))
                .arg(value.as_slice())
                .arg("PX")
                .arg(millis)
                .ignore();
        }
        pipeline
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn get_or_insert_many(
        &self,
        keys: &[String],
        absent: &[Vec<u8>],
        ttl: Duration,
    ) -> Result<Vec<Vec<u8>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut connection = self.connection.clone();
        let millis = ttl.as_millis().clamp(1, u64::MAX as u128) as u64;
        let mut command = redis::cmd("EVAL");
        command.arg(GET_OR_INSERT).arg(keys.len());
        for key in keys {
            command.arg(self.key(key));
        }
        for value in absent {
            command.arg(value.as_slice());
        }
        command.arg(millis);
        command
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<u64, CacheError> {
        let mut connection = self.connection.clone();
        let millis = window.as_millis().clamp(1, u64::MAX as u128) as u64;
        redis::cmd("EVAL")
            .arg(INCREMENT_IN_WINDOW)
            .arg(1)
            .arg(self.key(key))
            .arg(millis)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn take_token(
        &self,
        key: &str,
        interval_us: u64,
        burst: u64,
        now_us: u64,
    ) -> Result<Option<u64>, CacheError> {
        let mut connection = self.connection.clone();
        let wait: i64 = redis::cmd("EVAL")
            .arg(TAKE_TOKEN)
            .arg(1)
            .arg(self.key(key))
            .arg(interval_us.max(1))
            .arg(burst.max(1))
            .arg(now_us)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok((wait >= 0).then_some(wait as u64))
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
