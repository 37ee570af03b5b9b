//! How long DLT calls wait before a retry. Its own room because both the client (per-call
//! retries of 5xx and transport errors) and the shared throttle (pauses after a 429, scaled by
//! the same constants so tests with short delays stay short) read it.

use std::time::Duration;

/// Backoff for retried calls: exponential from `base_delay`, capped, with ±25 % jitter; a
/// `Retry-After` header wins when it is longer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry `attempt` (0-based), jittered.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_delay);
        let jitter = 0.75 + rand::random::<f64>() * 0.5;
        exp.mul_f64(jitter)
    }
}
