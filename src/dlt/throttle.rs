//! One back-off for every DLT call of the provider process, per API endpoint.
//!
//! Terraform runs up to `-parallelism` resources at once and each `dlt_test_run` has its own
//! client, but they all go through one API Gateway, whose throttle (429 `Too Many Requests`)
//! counts them together. With a back-off per call, a throttled run waits while the others carry
//! on at full speed and keep the API saturated, so the throttled calls are throttled again: a
//! third of the requests of a 50-run apply came back 429. Instead, a 429 on any call pauses all
//! calls to that endpoint (a jittered, growing pause) and turns on pacing: request starts are
//! spaced at half the rate that was seen when the throttle answered, released one by one after
//! the pause instead of in a burst, then the pace creeps back up on each success of a request
//! that had to wait for its slot (1 request per second more every second; a request that did not
//! wait says nothing about a faster pace), and is dropped after a calm period.
//!
//! A 429 only escalates the pause and the pacing when its request was sent after the previous
//! escalation: calls that were already in flight when the throttle first answered say nothing
//! new about the rate. The time constants come from the caller's [`RetryPolicy`], so tests with
//! millisecond retry policies stay fast.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::retry::RetryPolicy;

/// Largest escalation level: the pause then stays at [`RetryPolicy::max_delay`].
const MAX_LEVEL: u32 = 16;
/// Request starts remembered to measure the rate at the first 429 (one second's worth).
const RECENT_CAP: usize = 1024;
/// Below this spacing pacing is dropped: it no longer limits anything.
const MIN_GAP: Duration = Duration::from_millis(1);

/// One request's start, as [`Throttle::ready`] let it go.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    sent: Instant,
    /// The pacing held it back: the pace was what limited it.
    paced: bool,
}

/// The shared throttling state of one DLT API endpoint.
#[derive(Debug, Default)]
pub struct Throttle {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// No request starts before this.
    paused_until: Option<Instant>,
    /// How many escalations without enough successes in between.
    level: u32,
    /// When the pause and pace last escalated.
    escalated_at: Option<Instant>,
    /// Spacing between request starts; `None`: not paced.
    gap: Option<Duration>,
    /// The next free start slot while paced.
    next_slot: Option<Instant>,
    /// Request starts of about the last second.
    recent: VecDeque<Instant>,
    /// Successes since the last escalation (each few lower the level).
    calm: u32,
}

/// The throttle of `endpoint`, shared by every client of this process that calls it.
pub fn for_endpoint(endpoint: &str) -> Arc<Throttle> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Throttle>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    all.entry(endpoint.to_string()).or_default().clone()
}

impl Throttle {
    /// Waits until a request may start, and says when it did (for [`Throttle::throttled`] and
    /// [`Throttle::succeeded`]). An `urgent` request (a cancel) starts at once.
    pub async fn ready(&self, urgent: bool, policy: &RetryPolicy) -> Ticket {
        loop {
            let (start, paced) = self.lock().reserve(Instant::now(), urgent, policy);
            let now = Instant::now();
            if start > now {
                tokio::time::sleep(start - now).await;
            }
            // A 429 that came while this one waited its slot paused everything again.
            let now = Instant::now();
            if urgent || self.lock().paused_until.is_none_or(|p| p <= now) {
                self.lock().record_start(now);
                return Ticket { sent: now, paced };
            }
        }
    }

    /// The request was answered 429: returns the pause every call now waits.
    pub fn throttled(&self, ticket: Ticket, retry_after: Option<Duration>, policy: &RetryPolicy) -> Duration {
        self.lock().throttled(Instant::now(), ticket.sent, retry_after, policy)
    }

    /// The request got through.
    pub fn succeeded(&self, ticket: Ticket) {
        self.lock().succeeded(ticket.sent, ticket.paced);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// The start time of a request asking at `now`, and whether its pacing slot delayed it; takes
    /// the slot.
    fn reserve(&mut self, now: Instant, urgent: bool, policy: &RetryPolicy) -> (Instant, bool) {
        // Long calm: forget the throttling.
        if self
            .escalated_at
            .is_some_and(|t| now.duration_since(t) > policy.max_delay.saturating_mul(4))
        {
            let recent = std::mem::take(&mut self.recent);
            *self = State {
                recent,
                ..State::default()
            };
        }
        if urgent {
            return (now, false);
        }
        let mut start = now;
        if let Some(p) = self.paused_until {
            start = start.max(p);
        }
        let mut paced = false;
        if let Some(gap) = self.gap {
            if let Some(slot) = self.next_slot.filter(|slot| *slot > start) {
                start = slot;
                paced = true;
            }
            self.next_slot = Some(start + gap);
        }
        (start, paced)
    }

    fn record_start(&mut self, at: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|t| at.duration_since(*t) >= Duration::from_secs(1))
            || self.recent.len() >= RECENT_CAP
        {
            self.recent.pop_front();
        }
        self.recent.push_back(at);
    }

    fn throttled(
        &mut self,
        now: Instant,
        sent: Instant,
        retry_after: Option<Duration>,
        policy: &RetryPolicy,
    ) -> Duration {
        let escalate = self.escalated_at.is_none_or(|t| sent >= t);
        let max_gap = policy.base_delay.saturating_mul(2).max(MIN_GAP);
        let mut pause = Duration::ZERO;
        if escalate {
            self.level = (self.level + 1).min(MAX_LEVEL);
            self.escalated_at = Some(now);
            self.calm = 0;
            self.gap = Some(match self.gap {
                // Half the rate the throttle refused.
                None => {
                    let seen = self
                        .recent
                        .iter()
                        .filter(|t| now.duration_since(**t) < Duration::from_secs(1))
                        .count()
                        .max(1);
                    (Duration::from_secs(2) / seen as u32).min(max_gap)
                }
                Some(g) => g.saturating_mul(2).min(max_gap),
            });
            let exp = policy
                .base_delay
                .saturating_mul(1u32 << (self.level - 1).min(16))
                .min(policy.max_delay);
            // "Equal jitter": half fixed, half random, so pauses of concurrent escalations differ.
            pause = exp.mul_f64(0.5 + rand::random::<f64>() * 0.5);
        }
        // API Gateway's throttle sends no Retry-After; v4's Lambda sometimes does.
        pause = pause.max(retry_after.unwrap_or_default());
        if pause.is_zero() {
            return self
                .paused_until
                .map_or(Duration::ZERO, |p| p.saturating_duration_since(now));
        }
        self.gap.get_or_insert(max_gap);
        let until = now + pause;
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
        pause
    }

    fn succeeded(&mut self, sent: Instant, paced: bool) {
        if self.escalated_at.is_some_and(|t| sent < t) {
            return;
        }
        self.calm += 1;
        if self.calm >= 8 {
            self.calm = 0;
            self.level = self.level.saturating_sub(1);
        }
        // Additive increase, while the pace is what limits: one request per second more for
        // every second of successes.
        if let Some(gap) = self.gap.filter(|_| paced) {
            let rate = 1.0 / gap.as_secs_f64();
            let faster = Duration::from_secs_f64(1.0 / (rate + 1.0 / rate));
            self.gap = (faster >= MIN_GAP).then_some(faster);
            if self.gap.is_none() {
                self.next_slot = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(15),
        }
    }

    #[test]
    fn unthrottled_requests_start_at_once() {
        let mut s = State::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(s.reserve(now, false, &policy()), (now, false));
            s.record_start(now);
        }
    }

    #[test]
    fn one_429_pauses_and_paces_every_caller() {
        let mut s = State::default();
        let t0 = Instant::now();
        // Twenty starts within a second, then the throttle answers.
        for i in 0..20 {
            s.record_start(t0 + Duration::from_millis(i * 10));
        }
        let now = t0 + Duration::from_millis(300);
        let pause = s.throttled(now, t0, None, &policy());
        assert!(
            pause >= Duration::from_millis(250) && pause <= Duration::from_millis(500),
            "{pause:?}"
        );
        // Half the seen rate: 20/s seen → one start every 100 ms.
        assert_eq!(s.gap, Some(Duration::from_millis(100)));
        // Every caller, not only the throttled one, waits for the pause, then goes one by one.
        let starts: Vec<(Instant, bool)> = (0..5).map(|_| s.reserve(now, false, &policy())).collect();
        assert_eq!(starts[0], (now + pause, false));
        assert!(starts[1..].iter().all(|(_, paced)| *paced));
        let starts: Vec<Instant> = starts.into_iter().map(|(t, _)| t).collect();
        for w in starts.windows(2) {
            assert_eq!(w[1] - w[0], Duration::from_millis(100));
        }
        // A cancel does not queue.
        assert_eq!(s.reserve(now, true, &policy()), (now, false));
    }

    #[test]
    fn in_flight_429s_do_not_escalate_but_later_ones_do() {
        let mut s = State::default();
        let t0 = Instant::now();
        s.record_start(t0);
        let first = t0 + Duration::from_millis(10);
        s.throttled(first, t0, None, &policy());
        let (level, gap) = (s.level, s.gap);
        // Sent before the escalation: already accounted for.
        assert!(s.throttled(first + Duration::from_millis(5), t0, None, &policy()) > Duration::ZERO);
        assert_eq!((s.level, s.gap), (level, gap));
        // Sent after it: the pace was still too fast.
        let later = first + Duration::from_secs(1);
        s.throttled(later + Duration::from_millis(10), later, None, &policy());
        assert_eq!(s.level, level + 1);
        assert_eq!(s.gap, gap.map(|g| (g * 2).min(Duration::from_secs(1))));
    }

    #[test]
    fn retry_after_is_honoured_and_successes_speed_back_up() {
        let mut s = State::default();
        let t0 = Instant::now();
        let pause = s.throttled(t0, t0, Some(Duration::from_secs(5)), &policy());
        assert_eq!(pause, Duration::from_secs(5));
        let gap = s.gap.expect("paced");
        let after = t0 + Duration::from_secs(6);
        // Requests the pace did not hold back say nothing about a faster one.
        s.succeeded(after, false);
        assert_eq!(s.gap, Some(gap));
        for _ in 0..10 {
            s.succeeded(after, true);
        }
        assert!(s.gap.expect("still paced") < gap);
        // Successes of requests sent before the escalation say nothing either.
        let before = s.gap;
        s.succeeded(t0 - Duration::from_millis(1), true);
        assert_eq!(s.gap, before);
    }

    #[test]
    fn a_long_calm_forgets_the_throttling() {
        let mut s = State::default();
        let t0 = Instant::now();
        s.throttled(t0, t0, None, &policy());
        let later = t0 + Duration::from_secs(61);
        assert_eq!(s.reserve(later, false, &policy()), (later, false));
        assert_eq!((s.level, s.gap, s.paused_until), (0, None, None));
    }

    #[test]
    fn endpoints_have_their_own_throttle() {
        let a = for_endpoint("http://127.0.0.1:1/prod");
        let b = for_endpoint("http://127.0.0.1:2/prod");
        assert!(Arc::ptr_eq(&a, &for_endpoint("http://127.0.0.1:1/prod")));
        assert!(!Arc::ptr_eq(&a, &b));
    }
}
