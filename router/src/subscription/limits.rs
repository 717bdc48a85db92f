//! How many subscriptions may be open at once: per client (a principal, or an IP address for
//! anonymous callers) and on the whole router. A [`SubscriptionPermit`] holds one place and
//! gives it back when dropped, however the subscription ends.

use crate::error::RequestError;
use looma_core::ErrorCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Open subscriptions, counted per client and in total.
pub struct SubscriptionLimits {
    per_client: usize,
    total: usize,
    open: Arc<Mutex<Counts>>,
}

#[derive(Default)]
struct Counts {
    by_client: HashMap<String, usize>,
    total: usize,
}

/// One open subscription's place; dropping it frees the place.
pub struct SubscriptionPermit {
    client: String,
    open: Arc<Mutex<Counts>>,
}

impl SubscriptionLimits {
    pub fn new(per_client: usize, total: usize) -> Self {
        SubscriptionLimits {
            per_client,
            total,
            open: Arc::new(Mutex::new(Counts::default())),
        }
    }

    /// A place for one more subscription of `client`, or `RATE_LIMITED`.
    pub fn acquire(&self, client: &str) -> Result<SubscriptionPermit, RequestError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.total >= self.total {
            return Err(RequestError::new(
                ErrorCode::RateLimited,
                format!(
                    "this router has {} subscriptions open, its limit: try again later",
                    self.total
                ),
            )
            .with_status(http::StatusCode::TOO_MANY_REQUESTS));
        }
        let mine = open.by_client.get(client).copied().unwrap_or(0);
        if mine >= self.per_client {
            return Err(RequestError::new(
                ErrorCode::RateLimited,
                format!(
                    "you have {mine} subscriptions open, the limit per client: complete one \
                     before opening another"
                ),
            )
            .with_status(http::StatusCode::TOO_MANY_REQUESTS));
        }
        open.total += 1;
        *open.by_client.entry(client.to_owned()).or_default() += 1;
        Ok(SubscriptionPermit {
            client: client.to_owned(),
            open: self.open.clone(),
        })
    }

    /// Subscriptions open now (all clients).
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

impl Drop for SubscriptionPermit {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_client_and_in_total_and_given_back() {
        let limits = SubscriptionLimits::new(2, 3);
        let a1 = limits.acquire("a").expect("first");
        let _a2 = limits.acquire("a").expect("second");
        let refused = limits.acquire("a").err().expect("a third for `a`");
        assert_eq!(refused.code, ErrorCode::RateLimited);
        let _b1 = limits.acquire("b").expect("another client");
        assert!(limits.acquire("c").is_err(), "the router is full");
        assert_eq!(limits.open(), 3);
        drop(a1);
        assert_eq!(limits.open(), 2);
        assert!(limits.acquire("a").is_ok(), "a place was given back");
    }
}
