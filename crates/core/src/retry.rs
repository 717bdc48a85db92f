//! How long a failed delivery waits before its next attempt (the resume and matching outboxes
//! share one policy): exponential from 1 s, doubling per attempt, at most 256 s, with bounded
//! jitter (retry-policies) so that rows which failed together during an outage do not all
//! retry in the same second when it ends.
//!
//! The outboxes persist `next_attempt_at`, so this is a schedule, not a retry loop: a loop
//! helper (backon) would hold the task in memory across a restart.

use retry_policies::policies::ExponentialBackoff;
use retry_policies::{Jitter, RetryDecision, RetryPolicy};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

const MIN: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(256);

static POLICY: LazyLock<ExponentialBackoff> = LazyLock::new(|| {
    ExponentialBackoff::builder()
        .retry_bounds(MIN, MAX)
        .jitter(Jitter::Bounded)
        .base(2)
        // Deliveries are retried until they succeed or an operator drops them.
        .build_with_max_retries(u32::MAX)
});

/// The wait after `attempts` failed attempts: between 1 s and min(2^attempts, 256) s.
pub fn backoff(attempts: i32) -> Duration {
    let now = SystemTime::now();
    let past = u32::try_from(attempts).unwrap_or(0);
    match POLICY.should_retry(now, past) {
        RetryDecision::Retry { execute_after } => execute_after
            .duration_since(now)
            .unwrap_or(MIN)
            .clamp(MIN, MAX),
        RetryDecision::DoNotRetry => MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_bounds_and_caps() {
        for _ in 0..200 {
            assert_eq!(backoff(-3), MIN);
            assert_eq!(backoff(0), MIN);
            let third = backoff(3);
            assert!((MIN..=Duration::from_secs(8)).contains(&third), "{third:?}");
            assert!((MIN..=MAX).contains(&backoff(50)));
            assert!((MIN..=MAX).contains(&backoff(i32::MAX)));
        }
        // Jitter spreads retries of the same attempt number.
        let spread: std::collections::HashSet<_> = (0..50).map(|_| backoff(8)).collect();
        assert!(spread.len() > 10, "{spread:?}");
        // ... around a mean that still grows with the attempt number.
        let mean = |n| (0..400).map(|_| backoff(n).as_secs_f64()).sum::<f64>() / 400.0;
        assert!(mean(8) > mean(4) * 4.0, "{} vs {}", mean(8), mean(4));
    }
}
