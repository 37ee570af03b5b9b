//! The open model (`load.arrival_rate`): when each request of the run is due, and which user sends
//! it, independent of the driver that does the I/O.
//!
//! Requests are issued on a schedule, not as fast as the users can loop, so a stalled target does
//! not slow the load down: the requests that fall due while every user is busy wait for one, and
//! their latency counts from their *intended* send time (their slot on the schedule), not from
//! when a user got round to sending them. A closed-model engine, or an open-model one measuring
//! from the actual send, leaves that wait out (coordinated omission: one stalled second looks like
//! one slow request instead of a second's worth of them); wrk2 and k6's arrival-rate executors
//! correct it the same way.
//!
//! The schedule is a pure function of the slot index: slot `i` of the run is due when the
//! integral of the rate (linear from `start` to `rate` over `ramp_up`, then flat) reaches `i`,
//! and thread `k` of `n` owns the slots `k, k + n, k + 2n, ...`. Nothing is queued: the requests
//! waiting for a user are just the slots between the thread's next unsent index and now. When a
//! slot is due, the user freed most recently takes it (its connection is the warmest), else a user
//! that has not started yet (up to the cap of `concurrency x task_count` users), else the slot
//! waits; a user that frees takes the oldest waiting slot. A slot that waited `request_timeout`
//! for a user, or was still waiting when the run ended, is dropped: never sent, counted as
//! `dropped`.

use std::time::{Duration, Instant};

/// The rate of a run over time: `start` requests per second ramping linearly to `rate` over
/// `ramp_up`, then `rate` until the end. `rate` is positive; `start` is zero or more (above
/// `rate` it ramps down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    pub start: f64,
    pub rate: f64,
    pub ramp_up: Duration,
}

impl Rate {
    /// Seconds after the start of the run at which slot `i` (0-based, over all threads) is due:
    /// the time at which the arrivals so far, the integral of the rate, reach `i`. Slot 0 is due
    /// at the start.
    pub(crate) fn slot_secs(&self, i: u64) -> f64 {
        let i = i as f64;
        let u = self.ramp_up.as_secs_f64();
        let (r0, r1) = (self.start, self.rate);
        // Arrivals during the ramp: the area of its trapezoid.
        let ramped = (r0 + r1) * u / 2.0;
        if u > 0.0 && i < ramped {
            if i == 0.0 {
                return 0.0;
            }
            // Solves r0 t + a t² = i for t ≥ 0, a = (r1 - r0) / 2u, in the form that stays exact
            // when a is zero (constant rate) and stable when it is negative (a ramp down); the
            // discriminant is at least r1² there, so never negative.
            let a = (r1 - r0) / (2.0 * u);
            2.0 * i / (r0 + (r0 * r0 + 4.0 * a * i).max(0.0).sqrt())
        } else {
            u + (i - ramped) / r1
        }
    }

    /// [`Rate::slot_secs`] as a duration, to the nearest nanosecond.
    pub(crate) fn slot_at(&self, i: u64) -> Duration {
        let ns = (self.slot_secs(i) * 1e9).round();
        if ns.is_finite() && ns < u64::MAX as f64 {
            Duration::from_nanos(ns.max(0.0) as u64)
        } else {
            Duration::MAX
        }
    }
}

/// A slot of the schedule: its index over the whole run (which picks its request, round-robin)
/// and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub index: u64,
    pub at: Instant,
}

/// One thread's share of the schedule: its next unsent slot, which lags behind now while users
/// are short.
#[derive(Debug)]
pub(crate) struct Schedule {
    rate: Rate,
    start: Instant,
    /// The end of the run: slots due at or after it are not part of it.
    end: Instant,
    step: u64,
    /// The thread's oldest slot not yet sent or dropped; `None` once past the end.
    next: Option<Slot>,
}

impl Schedule {
    /// Thread `thread` of `threads`' slots of a run from `start` to `end`.
    pub(crate) fn new(rate: Rate, start: Instant, end: Instant, thread: usize, threads: usize) -> Schedule {
        let mut s = Schedule {
            rate,
            start,
            end,
            step: threads.max(1) as u64,
            next: None,
        };
        s.next = s.slot(thread as u64);
        s
    }

    fn slot(&self, index: u64) -> Option<Slot> {
        let at = self.start.checked_add(self.rate.slot_at(index))?;
        (at < self.end).then_some(Slot { index, at })
    }

    /// The oldest slot not yet taken, due or not.
    pub(crate) fn peek(&self) -> Option<Slot> {
        self.next
    }

    /// The oldest slot not yet taken, if it is due at `now`.
    pub(crate) fn due(&self, now: Instant) -> Option<Slot> {
        self.next.filter(|s| s.at <= now)
    }

    /// Moves past the oldest slot (it was sent or dropped).
    pub(crate) fn advance(&mut self) {
        if let Some(s) = self.next {
            self.next = s.index.checked_add(self.step).and_then(|i| self.slot(i));
        }
    }
}

/// A user that takes a slot: one that is free (its connection warm), or one brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taker {
    Free(usize),
    Fresh(usize),
}

/// The schedule and the thread's users (`0..users`, the cap): who sends which slot, and which
/// slots are dropped.
#[derive(Debug)]
pub(crate) struct Dispatch {
    pub schedule: Schedule,
    /// Users that finished their request and wait for a slot, the most recently freed last.
    free: Vec<usize>,
    /// Users `fresh..users` have not started.
    fresh: usize,
    users: usize,
    /// A slot older than this when it could be sent is dropped.
    timeout: Duration,
    /// No slot is handed out any more (the run's request budget is spent).
    closed: bool,
}

impl Dispatch {
    pub(crate) fn new(schedule: Schedule, users: usize, timeout: Duration) -> Dispatch {
        Dispatch {
            schedule,
            free: Vec::with_capacity(users),
            fresh: 0,
            users,
            timeout,
            closed: false,
        }
    }

    /// Drops the slots that waited for a user for the timeout or longer at `now`, passing each
    /// to `dropped`.
    pub(crate) fn drop_stale(&mut self, now: Instant, mut dropped: impl FnMut(Slot)) {
        while let Some(s) = self.schedule.due(now) {
            if now.saturating_duration_since(s.at) < self.timeout {
                break;
            }
            dropped(s);
            self.schedule.advance();
        }
    }

    /// The next due slot and the user that sends it, or `None` when nothing is due at `now` or
    /// every user is busy (the slot then waits for [`Dispatch::freed`]).
    pub(crate) fn take(&mut self, now: Instant) -> Option<(Taker, Slot)> {
        if self.closed {
            return None;
        }
        let slot = self.schedule.due(now)?;
        let taker = if let Some(u) = self.free.pop() {
            Taker::Free(u)
        } else if self.fresh < self.users {
            self.fresh += 1;
            Taker::Fresh(self.fresh - 1)
        } else {
            return None;
        };
        self.schedule.advance();
        Some((taker, slot))
    }

    /// User `u` finished its request at `now`: the oldest due slot for it to send, or `None`
    /// (then it waits among the free users).
    pub(crate) fn freed(&mut self, u: usize, now: Instant) -> Option<Slot> {
        if self.closed {
            return None;
        }
        match self.schedule.due(now) {
            Some(slot) => {
                self.schedule.advance();
                Some(slot)
            }
            None => {
                self.free.push(u);
                None
            }
        }
    }

    /// When the loop must look again even if no I/O happens: when the next slot is due, or, when
    /// it is due already but every user is busy, when it turns stale. `None` when no slot is left.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let next = self.schedule.peek()?;
        if self.free.is_empty() && self.fresh == self.users {
            next.at.checked_add(self.timeout)
        } else {
            Some(next.at)
        }
    }

    /// Stops handing out slots (the request budget is spent): returns the free users and the
    /// users that never started, all of which are done.
    pub(crate) fn close(&mut self) -> (Vec<usize>, std::ops::Range<usize>) {
        self.closed = true;
        let never = self.fresh..self.users;
        self.fresh = self.users;
        (std::mem::take(&mut self.free), never)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// At the end of the run (`end`, or `now` if it stopped earlier): passes every slot that was
    /// due and never sent to `dropped`. Nothing once the request budget closed the dispatch.
    pub(crate) fn drop_unsent(&mut self, until: Instant, mut dropped: impl FnMut(Slot)) {
        if self.closed {
            return;
        }
        while let Some(s) = self.schedule.peek().filter(|s| s.at < until) {
            dropped(s);
            self.schedule.advance();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(start: f64, rate: f64, ramp_ms: u64) -> Rate {
        Rate {
            start,
            rate,
            ramp_up: Duration::from_millis(ramp_ms),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_constant_rate_spaces_slots_evenly() {
        let r = rate(0.0, 1000.0, 0);
        for i in [0, 1, 2, 999, 1000, 123_456] {
            assert_eq!(r.slot_at(i), ms(i), "slot {i}");
        }
        let r = rate(0.0, 3.0, 0);
        assert_eq!(r.slot_at(1), Duration::from_nanos(333_333_333));
        assert_eq!(r.slot_at(2), Duration::from_nanos(666_666_667));
        assert_eq!(r.slot_at(3), Duration::from_secs(1));
        // A ramp between equal rates is the constant rate.
        let r = rate(50.0, 50.0, 2000);
        for i in [0, 1, 7, 99, 100, 101, 250] {
            assert_eq!(r.slot_at(i), ms(20 * i), "slot {i}");
        }
    }

    #[test]
    fn a_ramp_integrates_the_rate() {
        // 0 → 100 req/s over 10 s: 5 t² arrivals by t, 500 in the ramp, then one per 10 ms.
        let r = rate(0.0, 100.0, 10_000);
        for (i, at) in [
            (0, 0),
            (5, 1000),
            (20, 2000),
            (125, 5000),
            (405, 9000),
            (500, 10_000),
            (600, 11_000),
        ] {
            assert_eq!(r.slot_at(i), ms(at), "slot {i}");
        }
        assert_eq!(r.slot_at(1), Duration::from_nanos(447_213_595));
        // The number of slots due by t is the integral, rounded up.
        let due_by = |t: f64| (0..2000).filter(|&i| r.slot_secs(i) <= t).count();
        assert_eq!(due_by(3.0), 46); // 5 * 9 = 45 arrivals: slots 0..=45
        assert_eq!(due_by(12.5), 751);
        // 10 → 30 req/s over 2 s: 10 t + 5 t², 40 in the ramp.
        let r = rate(10.0, 30.0, 2000);
        assert_eq!(r.slot_at(15), ms(1000));
        assert_eq!(r.slot_at(40), ms(2000));
        assert_eq!(r.slot_at(46), ms(2200));
        // Down from 120 to 40 req/s over 2 s: 120 t - 20 t², 100 by 1 s, 160 by 2 s.
        let r = rate(120.0, 40.0, 2000);
        assert_eq!(r.slot_at(100), ms(1000));
        assert_eq!(r.slot_at(160), ms(2000));
        assert_eq!(r.slot_at(164), ms(2100));
        // Each slot comes after the one before.
        for r in [rate(0.0, 100.0, 10_000), rate(120.0, 40.0, 2000), rate(0.5, 1e6, 1)] {
            assert!((1..5000).all(|i| r.slot_secs(i) > r.slot_secs(i - 1)), "{r:?}");
        }
    }

    #[test]
    fn threads_share_the_slots_of_one_schedule() {
        let start = Instant::now();
        let r = rate(0.0, 100.0, 1000);
        let end = start + Duration::from_secs(2);
        let mut seen = Vec::new();
        for thread in 0..3 {
            let mut s = Schedule::new(r, start, end, thread, 3);
            while let Some(slot) = s.peek() {
                assert_eq!(slot.at, start + r.slot_at(slot.index));
                assert_eq!(slot.index % 3, thread as u64);
                seen.push(slot.index);
                s.advance();
            }
        }
        seen.sort_unstable();
        // 50 arrivals in the ramp, 100 in the second after: slots 0..150, each once; slot 150 is
        // due at the end, so not part of the run.
        assert_eq!(seen, (0..150).collect::<Vec<_>>());
    }

    #[test]
    fn dispatch_prefers_the_last_freed_user_then_fresh_ones_then_waits() {
        let start = Instant::now();
        // One slot per 10 ms for a second, three users.
        let s = Schedule::new(rate(0.0, 100.0, 0), start, start + Duration::from_secs(1), 0, 1);
        let mut d = Dispatch::new(s, 3, ms(100));
        assert_eq!(d.take(start), Some((Taker::Fresh(0), Slot { index: 0, at: start })));
        assert_eq!(d.take(start + ms(5)), None, "slot 1 is not due yet");
        assert_eq!(d.wake_at(), Some(start + ms(10)));
        assert_eq!(d.freed(0, start + ms(5)), None);
        // Slot 1 goes to the free user, slot 2 to a new one; user 0 frees again first, so it takes
        // slot 3 before user 1 does.
        assert_eq!(d.take(start + ms(10)).map(|t| t.0), Some(Taker::Free(0)));
        assert_eq!(d.take(start + ms(20)).map(|t| t.0), Some(Taker::Fresh(1)));
        assert_eq!(d.freed(1, start + ms(25)), None);
        assert_eq!(d.freed(0, start + ms(26)), None);
        assert_eq!(d.take(start + ms(30)).map(|t| t.0), Some(Taker::Free(0)));
        assert_eq!(d.take(start + ms(40)).map(|t| t.0), Some(Taker::Free(1)));
        assert_eq!(d.take(start + ms(50)).map(|t| t.0), Some(Taker::Fresh(2)));
        // All three busy: slot 6 (60 ms) waits, and the loop wakes when it turns stale.
        assert_eq!(d.take(start + ms(65)), None);
        assert_eq!(d.wake_at(), Some(start + ms(160)));
        // A user that frees at 75 ms takes the oldest due slot, with its intended time.
        assert_eq!(
            d.freed(2, start + ms(75)),
            Some(Slot {
                index: 6,
                at: start + ms(60)
            })
        );
        // At 190 ms slots 7..=9 (70–90 ms) waited 100 ms or more; slots 10..=19 did not.
        let mut dropped = Vec::new();
        d.drop_stale(start + ms(190), |s| dropped.push(s.index));
        assert_eq!(dropped, [7, 8, 9]);
        assert_eq!(d.freed(0, start + ms(190)).map(|s| s.index), Some(10));
        // The end: every slot due before it and never sent is dropped (11..=19 at 195 ms).
        let mut dropped = Vec::new();
        d.drop_unsent(start + ms(195), |s| dropped.push(s.index));
        assert_eq!(dropped, (11..=19).collect::<Vec<_>>());
        assert_eq!(d.schedule.peek().map(|s| s.index), Some(20));
    }

    #[test]
    fn a_spent_budget_closes_the_dispatch() {
        let start = Instant::now();
        let s = Schedule::new(rate(0.0, 100.0, 0), start, start + Duration::from_secs(1), 0, 1);
        let mut d = Dispatch::new(s, 4, ms(100));
        assert!(d.take(start).is_some());
        assert!(d.take(start + ms(10)).is_some());
        assert_eq!(d.freed(0, start + ms(15)), None);
        let (free, never) = d.close();
        assert_eq!((free, never), (vec![0], 2..4));
        assert!(d.is_closed());
        assert_eq!(d.take(start + ms(50)), None);
        assert_eq!(d.freed(1, start + ms(50)), None);
        assert_eq!(d.wake_at(), None);
        let mut dropped = 0;
        d.drop_unsent(start + ms(500), |_| dropped += 1);
        assert_eq!(dropped, 0, "slots left by a spent budget are not dropped");
    }
}
