//! Latency over time, in bounded memory: the run is cut into intervals (one second to start
//! with) and each interval keeps its request and failure counts, latency sum and maximum, and a
//! coarse log-scale latency histogram (eight buckets per doubling; percentiles are interpolated
//! within a bucket, so they are within a few percent). At most [`MAX_POINTS`] intervals are
//! kept: when a run outlasts them, neighbouring intervals merge and the interval doubles, so
//! memory stays fixed however long the run is (under 800 bytes an interval, 240 KB per engine
//! thread at most). The HTML report draws its latency-over-time chart from it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Intervals kept at most (5 minutes at one second each; longer runs get wider intervals).
pub const MAX_POINTS: usize = 300;
/// Log-scale buckets: the first holds everything under 64 µs, then eight per doubling up to
/// about 18 minutes; longer latencies count in the last (the interval's maximum stays exact).
const PER_DOUBLING: usize = 8;
const BUCKETS: usize = 1 + PER_DOUBLING * 24;
const FIRST_US: u64 = 64;

/// One interval of the timeline, as the reports show it (times in milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Start of the interval, seconds from the start of the run.
    pub start_s: f64,
    /// Its length in seconds.
    pub width_s: f64,
    pub requests: u64,
    pub failures: u64,
    /// Mean, median, 95th percentile and maximum latency of the responses in the interval (0
    /// without responses). Percentiles come from the coarse histogram: within a few percent.
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    requests: u32,
    failures: u32,
    /// Responses with a latency (transport errors have none).
    timed: u32,
    sum_us: u64,
    max_us: u64,
    buckets: [u32; BUCKETS],
}

impl Slot {
    const EMPTY: Slot = Slot {
        requests: 0,
        failures: 0,
        timed: 0,
        sum_us: 0,
        max_us: 0,
        buckets: [0; BUCKETS],
    };

    fn add(&mut self, other: &Slot) {
        self.requests = self.requests.saturating_add(other.requests);
        self.failures = self.failures.saturating_add(other.failures);
        self.timed = self.timed.saturating_add(other.timed);
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.max_us = self.max_us.max(other.max_us);
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// The latency at `quantile` (0–1), in µs: interpolated by rank inside the bucket holding
    /// it, never above the exact maximum.
    fn quantile_us(&self, quantile: f64) -> u64 {
        if self.timed == 0 {
            return 0;
        }
        let target = (quantile * f64::from(self.timed)).ceil().max(1.0);
        let mut seen = 0.0;
        for (i, &n) in self.buckets.iter().enumerate() {
            let n = f64::from(n);
            if n > 0.0 && seen + n >= target {
                let (lo, hi) = bucket_bounds(i);
                let within = (target - seen - 0.5).max(0.0) / n;
                let v = lo as f64 + (hi - lo) as f64 * within;
                return (v.round() as u64).min(self.max_us);
            }
            seen += n;
        }
        self.max_us
    }
}

/// The bucket of a latency in µs.
fn bucket(us: u64) -> usize {
    if us < FIRST_US {
        return 0;
    }
    let k = 63 - us.leading_zeros() as usize; // floor(log2), at least 6
    let eighth = ((us >> (k - 3)) & 7) as usize;
    ((k - 6) * PER_DOUBLING + eighth + 1).min(BUCKETS - 1)
}

/// The latencies `[lo, hi)` in µs that bucket `i` holds.
fn bucket_bounds(i: usize) -> (u64, u64) {
    if i == 0 {
        return (0, FIRST_US);
    }
    let k = (i - 1) / PER_DOUBLING + 6;
    let step = 1u64 << (k - 3);
    let lo = (1u64 << k) + ((i - 1) % PER_DOUBLING) as u64 * step;
    (lo, lo + step)
}

/// The timeline being recorded (one per engine thread, merged at the end).
#[derive(Debug, Clone)]
pub struct TimelineAcc {
    width_ms: u64,
    slots: Vec<Slot>,
}

impl Default for TimelineAcc {
    fn default() -> Self {
        TimelineAcc::new()
    }
}

impl TimelineAcc {
    pub fn new() -> TimelineAcc {
        TimelineAcc {
            width_ms: 1000,
            slots: Vec::new(),
        }
    }

    /// Counts one request that ended `offset` after the start of the run: with its latency
    /// when a response came back, without for transport errors.
    #[inline]
    pub fn record(&mut self, offset: Duration, latency: Option<Duration>, ok: bool) {
        let at_ms = u64::try_from(offset.as_millis()).unwrap_or(u64::MAX);
        let mut index = at_ms / self.width_ms;
        while index >= MAX_POINTS as u64 {
            self.halve();
            index = at_ms / self.width_ms;
        }
        let index = index as usize;
        if index >= self.slots.len() {
            self.slots.resize(index + 1, Slot::EMPTY);
        }
        let slot = &mut self.slots[index];
        slot.requests = slot.requests.saturating_add(1);
        if !ok {
            slot.failures = slot.failures.saturating_add(1);
        }
        if let Some(latency) = latency {
            let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
            slot.timed = slot.timed.saturating_add(1);
            slot.sum_us = slot.sum_us.saturating_add(us);
            slot.max_us = slot.max_us.max(us);
            let b = &mut slot.buckets[bucket(us)];
            *b = b.saturating_add(1);
        }
    }

    /// Doubles the interval: neighbouring intervals merge.
    fn halve(&mut self) {
        let merged = self
            .slots
            .chunks(2)
            .map(|pair| {
                let mut s = pair[0];
                if let Some(second) = pair.get(1) {
                    s.add(second);
                }
                s
            })
            .collect();
        self.slots = merged;
        self.width_ms = self.width_ms.saturating_mul(2);
    }

    /// Adds another thread's timeline (brought to the wider of the two intervals).
    pub fn merge(&mut self, other: &TimelineAcc) {
        let mut other = other.clone();
        while self.width_ms < other.width_ms {
            self.halve();
        }
        while other.width_ms < self.width_ms {
            other.halve();
        }
        if other.slots.len() > self.slots.len() {
            self.slots.resize(other.slots.len(), Slot::EMPTY);
        }
        for (mine, theirs) in self.slots.iter_mut().zip(&other.slots) {
            mine.add(theirs);
        }
    }

    /// The intervals up to `measured` (the run's measured length), empty ones included.
    pub fn points(&self, measured: Duration) -> Vec<TimelinePoint> {
        let width_s = self.width_ms as f64 / 1000.0;
        let wanted = (measured.as_secs_f64() / width_s).ceil() as usize;
        let count = wanted.max(self.slots.len()).min(MAX_POINTS);
        (0..count)
            .map(|i| {
                let s = self.slots.get(i).copied().unwrap_or(Slot::EMPTY);
                let ms = |us: u64| us as f64 / 1000.0;
                TimelinePoint {
                    start_s: i as f64 * width_s,
                    width_s,
                    requests: u64::from(s.requests),
                    failures: u64::from(s.failures),
                    avg_ms: if s.timed == 0 {
                        0.0
                    } else {
                        ms(s.sum_us) / f64::from(s.timed)
                    },
                    p50_ms: ms(s.quantile_us(0.50)),
                    p95_ms: ms(s.quantile_us(0.95)),
                    max_ms: ms(s.max_us),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn buckets_cover_the_range_in_eighth_octaves() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(63), 0);
        assert_eq!(bucket(64), 1);
        for us in [64u64, 100, 999, 1000, 20_000, 123_456, 5_000_000] {
            let (lo, hi) = bucket_bounds(bucket(us));
            assert!(lo <= us && us < hi, "{us} not in [{lo}, {hi})");
            assert!((hi - lo) as f64 / lo as f64 <= 0.125 + 1e-9);
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn per_second_counts_and_percentiles() {
        let mut t = TimelineAcc::new();
        for i in 0..100u64 {
            // Second 0: 10..=109 ms; second 2: one failure without a response.
            t.record(ms(i * 5), Some(ms(10 + i)), true);
        }
        t.record(ms(2500), None, false);
        let p = t.points(Duration::from_secs(3));
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].requests, p[0].failures), (100, 0));
        assert!((p[0].avg_ms - 59.5).abs() < 1e-6, "{}", p[0].avg_ms);
        assert!((p[0].p50_ms / 59.5 - 1.0).abs() < 0.04, "{}", p[0].p50_ms);
        assert!((p[0].p95_ms / 104.5 - 1.0).abs() < 0.04, "{}", p[0].p95_ms);
        assert!((p[0].max_ms - 109.0).abs() < 1e-6);
        assert_eq!(
            p[1],
            TimelinePoint {
                start_s: 1.0,
                width_s: 1.0,
                ..TimelinePoint::default()
            }
        );
        assert_eq!((p[2].requests, p[2].failures, p[2].max_ms), (1, 1, 0.0));
    }

    #[test]
    fn a_tight_distribution_reads_within_a_few_percent() {
        let mut t = TimelineAcc::new();
        for i in 0..1000u64 {
            // 20.0 to 21.0 ms, evenly.
            t.record(ms(1), Some(Duration::from_micros(20_000 + i)), true);
        }
        let p = &t.points(Duration::from_secs(1))[0];
        assert!((p.p50_ms / 20.5 - 1.0).abs() < 0.03, "p50 {}", p.p50_ms);
        assert!((p.p95_ms / 20.95 - 1.0).abs() < 0.03, "p95 {}", p.p95_ms);
    }

    #[test]
    fn long_runs_merge_intervals_and_stay_bounded() {
        let mut t = TimelineAcc::new();
        let hour = 3600u64;
        for s in 0..hour {
            t.record(Duration::from_secs(s), Some(ms(20)), true);
        }
        assert!(t.slots.len() <= MAX_POINTS);
        let p = t.points(Duration::from_secs(hour));
        assert!(p.len() <= MAX_POINTS && p.len() >= MAX_POINTS / 2, "{}", p.len());
        let width = p[0].width_s;
        assert_eq!(width, 16.0, "1 s doubled until an hour fits in {MAX_POINTS} intervals");
        assert_eq!(p.iter().map(|x| x.requests).sum::<u64>(), hour);
        assert_eq!(p[0].requests, 16);
    }

    #[test]
    fn threads_merge_at_the_wider_interval() {
        let mut a = TimelineAcc::new();
        let mut b = TimelineAcc::new();
        a.record(ms(500), Some(ms(5)), true);
        for s in 0..(MAX_POINTS as u64 + 10) {
            b.record(Duration::from_secs(s), Some(ms(7)), s % 2 == 0);
        }
        a.merge(&b);
        assert_eq!(a.width_ms, 2000);
        let p = a.points(Duration::from_secs(MAX_POINTS as u64 + 10));
        assert_eq!(p[0].requests, 3);
        assert_eq!(p[0].failures, 1);
        assert_eq!(p.iter().map(|x| x.requests).sum::<u64>(), MAX_POINTS as u64 + 11);
    }
}
