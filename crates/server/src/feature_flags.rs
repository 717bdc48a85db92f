//! Feature flags as identity serves them (`featureFlags { name enabled }`), cached for a few
//! seconds so a hot path does not call identity on every request. When identity cannot be
//! reached, the last known values stand, and flags never seen count as on (their default):
//! an identity outage must not switch features off.

use crate::ServiceClient;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct FeatureFlags {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Option<ServiceClient>,
    ttl: Duration,
    state: Mutex<Option<(Instant, HashMap<String, bool>)>>,
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
                state: Mutex::new(None),
            }),
        }
    }

    pub async fn enabled(&self, flag: &str) -> bool {
        let Some(identity) = &self.inner.identity else {
            return true;
        };
        let mut state = self.inner.state.lock().await;
        let fresh = state
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.inner.ttl);
        if !fresh {
            match identity
                .query("{ featureFlags { name enabled } }", json!({}))
                .await
            {
                Ok(data) => {
                    let flags = data["featureFlags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| {
                            Some((f["name"].as_str()?.to_owned(), f["enabled"].as_bool()?))
                        })
                        .collect();
                    *state = Some((Instant::now(), flags));
                }
                Err(error) => {
                    tracing::warn!(%error, "feature flags unavailable; keeping the last known values");
                    let known = state.take().map(|(_, flags)| flags).unwrap_or_default();
                    // Try again after another ttl, not on every request.
                    *state = Some((Instant::now(), known));
                }
            }
        }
        state
            .as_ref()
            .and_then(|(_, flags)| flags.get(flag).copied())
            .unwrap_or(true)
    }
}
