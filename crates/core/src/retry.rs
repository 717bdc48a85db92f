//! How long a failed delivery waits before its next attempt (the resume and matching outboxes
//! share one policy): 1 s, doubling per attempt, at most 256 s.

use std::time::Duration;

pub fn backoff(attempts: i32) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        assert_eq!(backoff(-3), Duration::from_secs(1));
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(50), Duration::from_secs(256));
    }
}
