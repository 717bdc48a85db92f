//! Feature flags as identity serves them (`featureFlags { name enabled }`), cached for a few
//! seconds so a hot path does not call identity on every request. When identity cannot be
//! reached, the last known values stand, and flags never seen count as on (their default):
//! an identity outage must not switch features off.

use crate::ServiceClient;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long one refresh may wait for identity.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct FeatureFlags {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Option<ServiceClient>,
    ttl: Duration,
    /// When the values were fetched (or a fetch failed), and the values.
    state: Mutex<(Option<Instant>, HashMap<String, bool>)>,
    /// One refresh at a time; other requests use the values they find meanwhile.
    refreshing: AtomicBool,
}

impl FeatureFlags {
    /// Reads flags from identity through `identity` (a client holding any permission: flags
    /// are readable by every authenticated caller), refreshing at most every `ttl`.
    pub fn new(identity: ServiceClient, ttl: Duration) -> Self {
        Self::build(Some(identity), ttl)
    }

    /// Every flag on (no identity to ask: tests, tools).
    pub fn always_on() -> Self {
        Self::build(None, Duration::MAX)
    }

    fn build(identity: Option<ServiceClient>, ttl: Duration) -> Self {
        FeatureFlags {
            inner: Arc::new(Inner {
                identity,
                ttl,
                state: Mutex::new((None, HashMap::new())),
                refreshing: AtomicBool::new(false),
            }),
        }
    }

    pub async fn enabled(&self, flag: &str) -> bool {
        let Some(identity) = &self.inner.identity else {
            return true;
        };
        let lookup = |flags: &HashMap<String, bool>| flags.get(flag).copied().unwrap_or(true);
        let stale = {
            let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = state.0.is_some_and(|at| at.elapsed() < self.inner.ttl);
            if fresh {
                return lookup(&state.1);
            }
            state.1.clone()
        };
        // Nobody waits on identity while holding the values: one caller refreshes (bounded by
        // REFRESH_TIMEOUT), the others answer from what is known.
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return lookup(&stale);
        }
        let fetched = tokio::time::timeout(
            REFRESH_TIMEOUT,
            identity.query("{ featureFlags { name enabled } }", json!({})),
        )
        .await;
        let flags = match fetched {
            Ok(Ok(data)) => Some(
                data["featureFlags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| Some((f["name"].as_str()?.to_owned(), f["enabled"].as_bool()?)))
                    .collect::<HashMap<String, bool>>(),
            ),
            Ok(Err(error)) => {
                tracing::warn!(%error, "feature flags unavailable; keeping the last known values");
                None
            }
            Err(_) => {
                tracing::warn!(
                    "feature flags: identity did not answer in time; keeping the last known values"
                );
                None
            }
        };
        let answer = {
            let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            // A failed fetch is retried after another ttl, not on every request.
            state.0 = Some(Instant::now());
            if let Some(flags) = flags {
                state.1 = flags;
            }
            lookup(&state.1)
        };
        self.inner.refreshing.store(false, Ordering::Release);
        answer
    }
}
