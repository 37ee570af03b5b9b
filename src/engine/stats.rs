//! Per-thread measurements: one HDR histogram per label plus counters, and the run's timeline
//! (latency per interval), merged across threads at the end. Memory is fixed by the histogram
//! bounds and the timeline's interval cap, not by the number of requests or the run's length.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::dlt::results::{latency_buckets, LabelResults, RunResults, Stats};
use crate::dlt::timeline::TimelineAcc;

/// Buckets of the latency histogram the reports draw.
const HISTOGRAM_BUCKETS: usize = 40;

/// Latencies are recorded in microseconds, 3 significant digits, up to one hour (longer values
/// saturate; the request timeout normally bounds them far below).
const HIGHEST_US: u64 = 3_600_000_000;
/// Status codes are counted in a flat array: no map lookup or allocation on the hot path.
const STATUS_SLOTS: usize = 1000;

/// Transport failures, counted under these `status_codes` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Timeout,
    Connect,
    Tls,
    Io,
}

impl ErrorKind {
    const ALL: [ErrorKind; 4] = [ErrorKind::Timeout, ErrorKind::Connect, ErrorKind::Tls, ErrorKind::Io];

    pub(crate) fn key(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Io => "io",
        }
    }
}

fn histogram() -> Histogram<u64> {
    // Bounds are constants known to be valid; a failure here is a programming error.
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("valid histogram bounds")
}

#[derive(Debug, Clone)]
struct LabelAcc {
    latency_us: Histogram<u64>,
    requests: u64,
    successes: u64,
}

impl LabelAcc {
    fn new() -> Self {
        LabelAcc {
            latency_us: histogram(),
            requests: 0,
            successes: 0,
        }
    }
}

/// What one worker thread measured.
#[derive(Debug, Clone)]
pub(crate) struct ThreadStats {
    labels: Vec<LabelAcc>,
    statuses: Vec<u64>,
    errors: [u64; 4],
    /// The run's start, which the timeline counts from.
    start: Instant,
    timeline: TimelineAcc,
}

impl ThreadStats {
    pub(crate) fn new(labels: usize, start: Instant) -> Self {
        ThreadStats {
            labels: (0..labels).map(|_| LabelAcc::new()).collect(),
            statuses: vec![0; STATUS_SLOTS],
            errors: [0; 4],
            start,
            timeline: TimelineAcc::new(),
        }
    }

    /// A complete HTTP response that came back at `finished`: 2xx/3xx succeed, anything else
    /// fails under its status code. Returns whether it counted as a success.
    #[inline]
    pub(crate) fn record_response(&mut self, label: usize, status: u16, finished: Instant, latency: Duration) -> bool {
        let Some(acc) = self.labels.get_mut(label) else {
            return false;
        };
        acc.requests += 1;
        acc.latency_us
            .saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        let ok = (200..400).contains(&status);
        if ok {
            acc.successes += 1;
        } else if let Some(slot) = self.statuses.get_mut(usize::from(status)) {
            *slot += 1;
        }
        self.timeline
            .record(finished.saturating_duration_since(self.start), Some(latency), ok);
        ok
    }

    /// A request that got no complete response (failed at `at`); no latency is recorded for it.
    pub(crate) fn record_error(&mut self, label: usize, kind: ErrorKind, at: Instant) {
        if let Some(acc) = self.labels.get_mut(label) {
            acc.requests += 1;
        }
        self.errors[kind as usize] += 1;
        self.timeline
            .record(at.saturating_duration_since(self.start), None, false);
    }

    pub(crate) fn merge(&mut self, other: &ThreadStats) {
        for (mine, theirs) in self.labels.iter_mut().zip(&other.labels) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = mine.latency_us.add(&theirs.latency_us);
            mine.requests += theirs.requests;
            mine.successes += theirs.successes;
        }
        for (mine, theirs) in self.statuses.iter_mut().zip(&other.statuses) {
            *mine += theirs;
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        self.timeline.merge(&other.timeline);
    }

    /// The results model: totals, per-label figures and failure counts by code or kind.
    pub(crate) fn into_results(self, label_names: &[String], measured: Duration) -> RunResults {
        let seconds = measured.as_secs_f64();
        let mut total_hist = histogram();
        let mut total_requests = 0;
        let mut total_successes = 0;
        let mut labels = Vec::with_capacity(self.labels.len());
        for (acc, name) in self.labels.iter().zip(label_names) {
            let _ = total_hist.add(&acc.latency_us);
            total_requests += acc.requests;
            total_successes += acc.successes;
            labels.push(LabelResults {
                label: name.clone(),
                stats: Stats::from_histogram(acc.requests, acc.successes, &acc.latency_us, seconds),
            });
        }
        let mut status_codes = BTreeMap::new();
        for (code, &count) in self.statuses.iter().enumerate() {
            if count > 0 {
                status_codes.insert(code.to_string(), count);
            }
        }
        for kind in ErrorKind::ALL {
            let count = self.errors[kind as usize];
            if count > 0 {
                status_codes.insert(kind.key().to_string(), count);
            }
        }
        RunResults {
            total: Stats::from_histogram(total_requests, total_successes, &total_hist, seconds),
            duration_seconds: seconds,
            labels,
            status_codes,
            regions: BTreeMap::new(),
            percentile_method: "exact".to_string(),
            timeline: self.timeline.points(measured),
            latency_histogram: latency_buckets(&total_hist, HISTOGRAM_BUCKETS),
            dlt_reported: None,
            status_codes_method: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_reports() {
        let start = Instant::now();
        let mut a = ThreadStats::new(2, start);
        let mut b = ThreadStats::new(2, start);
        for i in 1..=100u64 {
            a.record_response(0, 200, start + Duration::from_millis(10 * i), Duration::from_millis(i));
        }
        b.record_response(1, 500, start + Duration::from_millis(1500), Duration::from_millis(5));
        b.record_error(1, ErrorKind::Timeout, start + Duration::from_millis(1600));
        a.merge(&b);
        let r = a.into_results(&["a".into(), "b".into()], Duration::from_secs(2));
        assert_eq!(r.total.requests, 102);
        assert_eq!(r.total.successes, 100);
        assert_eq!(r.total.failures, 2);
        assert_eq!(r.status_codes.get("500"), Some(&1));
        assert_eq!(r.status_codes.get("timeout"), Some(&1));
        assert!((r.total.throughput - 51.0).abs() < 1e-9);
        assert!(
            (r.labels[0].stats.p50_ms - 50.0).abs() < 0.1,
            "{}",
            r.labels[0].stats.p50_ms
        );
        assert!((r.labels[0].stats.max_ms - 100.0).abs() < 0.1);
        assert_eq!(r.labels[1].stats.requests, 2);
        assert_eq!(r.percentile_method, "exact");
        // The timeline: 100 responses in second 0 (10 ms apart), a 500 and a timeout in second 1.
        assert_eq!(r.timeline.len(), 2);
        assert_eq!((r.timeline[0].requests, r.timeline[0].failures), (99, 0));
        assert_eq!((r.timeline[1].requests, r.timeline[1].failures), (3, 2));
        // The histogram holds every response with a latency, 1 to 100 ms.
        assert_eq!(r.latency_histogram.iter().map(|b| b.count).sum::<u64>(), 101);
        assert!(r.latency_histogram[0].lo_ms <= 1.0 && r.latency_histogram.last().unwrap().hi_ms >= 100.0);
    }

    #[test]
    fn empty_run_is_all_zero() {
        let r = ThreadStats::new(1, Instant::now()).into_results(&["a".into()], Duration::ZERO);
        assert_eq!(r.total, Stats::default());
        assert!(r.timeline.is_empty() && r.latency_histogram.is_empty());
    }
}
