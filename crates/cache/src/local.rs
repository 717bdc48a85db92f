use crate::{Cache, CacheError};
use moka::Expiry;
use moka::future::Cache as MokaCache;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an entry costs besides its key and value (moka's node, the `Arc`, the ttl).
const ENTRY_OVERHEAD_BYTES: usize = 96;

#[derive(Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    ttl: Duration,
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        current: Option<Duration>,
    ) -> Option<Duration> {
        // `set` overwrites with a real ttl and restarts the clock; a counter increment writes
        // a zero ttl, meaning "keep the window of the first increment".
        if value.ttl.is_zero() {
            current
        } else {
            Some(value.ttl)
        }
    }
}

/// In-process cache with per-entry expiry, bounded by the bytes of its keys and values.
pub struct LocalCache {
    prefix: String,
    entries: MokaCache<String, Entry>,
}

impl LocalCache {
    /// `capacity_bytes` bounds keys plus values (plus a fixed overhead per entry); the least
    /// used entries are evicted first, so small hot counters outlive a flood of large values.
    pub fn new(prefix: &str, capacity_bytes: u64) -> Self {
        LocalCache {
            prefix: prefix.to_owned(),
            entries: MokaCache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &String, entry: &Entry| {
                    u32::try_from(key.len() + entry.bytes.len() + ENTRY_OVERHEAD_BYTES)
                        .unwrap_or(u32::MAX)
                })
                .expire_after(EntryExpiry)
                .build(),
        }
    }

    /// Bytes currently held, as the capacity counts them.
    pub async fn weighted_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait::async_trait]
impl Cache for LocalCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        Ok(self
            .entries
            .get(&self.key(key))
            .await
            .map(|e| e.bytes.to_vec()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), CacheError> {
        let ttl = ttl.max(Duration::from_millis(1));
        self.entries
            .insert(
                self.key(key),
                Entry {
                    bytes: value.into(),
                    ttl,
                },
            )
            .await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.invalidate(&self.key(key)).await;
        Ok(())
    }

    async fn get_or_insert_many(
        &self,
        keys: &[String],
        absent: &[Vec<u8>],
        ttl: Duration,
    ) -> Result<Vec<Vec<u8>>, CacheError> {
        let ttl = ttl.max(Duration::from_millis(1));
        let mut values = Vec::with_capacity(keys.len());
        for (key, value) in keys.iter().zip(absent) {
            let entry = self
                .entries
                .entry(self.key(key))
                .or_insert_with(std::future::ready(Entry {
                    bytes: value.as_slice().into(),
                    ttl,
                }))
                .await;
            values.push(entry.into_value().bytes.to_vec());
        }
        Ok(values)
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<u64, CacheError> {
        let window = window.max(Duration::from_millis(1));
        let entry = self
            .entries
            .entry(self.key(key))
            .and_upsert_with(|existing| {
                let next = match existing {
                    Some(entry) => Entry {
                        bytes: (parse_count(&entry.into_value().bytes) + 1)
                            .to_string()
                            .into_bytes()
                            .into(),
                        ttl: Duration::ZERO,
                    },
                    None => Entry {
                        bytes: b"1".as_slice().into(),
                        ttl: window,
                    },
                };
                std::future::ready(next)
            })
            .await;
        Ok(parse_count(&entry.into_value().bytes))
    }

    async fn take_token(
        &self,
        key: &str,
        interval_us: u64,
        burst: u64,
        now_us: u64,
    ) -> Result<Option<u64>, CacheError> {
        let mut wait = None;
        self.entries
            .entry(self.key(key))
            .and_upsert_with(|existing| {
                let stored = existing.map(|entry| parse_count(&entry.into_value().bytes));
                let next = match crate::next_arrival(stored, interval_us, burst, now_us) {
                    Ok(arrival) => Entry {
                        bytes: arrival.to_string().into_bytes().into(),
                        // Gone once the bucket is full again.
                        ttl: Duration::from_micros(arrival.saturating_sub(now_us).max(1)),
                    },
                    Err(ms) => {
                        wait = Some(ms);
                        Entry {
                            bytes: stored.unwrap_or(now_us).to_string().into_bytes().into(),
                            ttl: Duration::ZERO,
                        }
                    }
                };
                std::future::ready(next)
            })
            .await;
        Ok(wait)
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}

fn parse_count(bytes: &[u8]) -> u64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
