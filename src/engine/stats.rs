//! Per-thread measurements: one HDR histogram per label plus counters, and the run's timeline
//! (latency per interval), merged across threads at the end. Memory is fixed by the histogram
//! bounds and the timeline's interval cap, not by the number of requests or the run's length.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::dlt::results::{latency_buckets, LabelResults, RunResults, Stats};
use crate::dlt::timeline::TimelineAcc;

use super::tls::TlsReason;

/// Buckets of the latency histogram the reports draw.
const HISTOGRAM_BUCKETS: usize = 40;

/// Latencies are recorded in microseconds, 3 significant digits, up to one hour (longer values
/// saturate; the request timeout normally bounds them far below).
const HIGHEST_US: u64 = 3_600_000_000;
/// Status codes are counted in a flat array: no map lookup or allocation on the hot path.
const STATUS_SLOTS: usize = 1000;

/// Transport failures, counted under these `status_codes` keys; TLS failures under
/// `"tls: <reason>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Timeout,
    Connect,
    Tls(TlsReason),
    Io,
}

/// Counter slots: timeout, connect, io, then one per TLS reason.
const ERROR_SLOTS: usize = 3 + TlsReason::ALL.len();

impl ErrorKind {
    fn all() -> impl Iterator<Item = ErrorKind> {
        [ErrorKind::Timeout, ErrorKind::Connect, ErrorKind::Io]
            .into_iter()
            .chain(TlsReason::ALL.into_iter().map(ErrorKind::Tls))
    }

    fn slot(self) -> usize {
        match self {
            ErrorKind::Timeout => 0,
            ErrorKind::Connect => 1,
            ErrorKind::Io => 2,
            ErrorKind::Tls(r) => 3 + r as usize,
        }
    }

    pub(crate) fn key(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls(r) => r.key(),
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
    /// Open model: slots of this label never sent (see `pace.rs`).
    dropped: u64,
}

impl LabelAcc {
    fn new() -> Self {
        LabelAcc {
            latency_us: histogram(),
            requests: 0,
            successes: 0,
            dropped: 0,
        }
    }
}

/// What one worker thread measured.
#[derive(Debug, Clone)]
pub(crate) struct ThreadStats {
    labels: Vec<LabelAcc>,
    statuses: Vec<u64>,
    errors: [u64; ERROR_SLOTS],
    /// The run's start, which the timeline counts from.
    start: Instant,
    /// Requests started before this are the warm-up: in the timeline, not in the results.
    warm_up_end: Instant,
    warm_up_excluded: u64,
    timeline: TimelineAcc,
}

impl ThreadStats {
    pub(crate) fn new(labels: usize, start: Instant, warm_up: Duration) -> Self {
        ThreadStats {
            labels: (0..labels).map(|_| LabelAcc::new()).collect(),
            statuses: vec![0; STATUS_SLOTS],
            errors: [0; ERROR_SLOTS],
            start,
            warm_up_end: start + warm_up,
            warm_up_excluded: 0,
            timeline: TimelineAcc::new(),
        }
    }

    /// A complete HTTP response that came back at `finished`: 2xx/3xx succeed, anything else
    /// fails under its status code. Returns whether it counted as a success.
    #[inline]
    pub(crate) fn record_response(&mut self, label: usize, status: u16, finished: Instant, latency: Duration) -> bool {
        let ok = (200..400).contains(&status);
        if finished.checked_sub(latency).unwrap_or(self.start) < self.warm_up_end {
            return self.warm_up(finished, Some(latency), ok);
        }
        let Some(acc) = self.labels.get_mut(label) else {
            return false;
        };
        acc.requests += 1;
        acc.latency_us
            .saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        if ok {
            acc.successes += 1;
        } else if let Some(slot) = self.statuses.get_mut(usize::from(status)) {
            *slot += 1;
        }
        self.timeline
            .record(finished.saturating_duration_since(self.start), Some(latency), ok);
        ok
    }

    /// A request of the warm-up: drawn in the timeline, left out of the results.
    fn warm_up(&mut self, at: Instant, latency: Option<Duration>, ok: bool) -> bool {
        self.warm_up_excluded += 1;
        self.timeline
            .record(at.saturating_duration_since(self.start), latency, ok);
        ok
    }

    /// A request started at `started` that got no complete response (failed at `at`); no
    /// latency is recorded for it.
    pub(crate) fn record_error(&mut self, label: usize, kind: ErrorKind, started: Instant, at: Instant) {
        if started < self.warm_up_end {
            self.warm_up(at, None, false);
            return;
        }
        if let Some(acc) = self.labels.get_mut(label) {
            acc.requests += 1;
        }
        self.errors[kind.slot()] += 1;
        self.timeline
            .record(at.saturating_duration_since(self.start), None, false);
    }

    /// Open model: a request due at `intended` that was never sent (no user was free within the
    /// request timeout, or before the end). Not a request: counted apart, and not in the warm-up's
    /// count either.
    pub(crate) fn record_dropped(&mut self, label: usize, intended: Instant) {
        if intended < self.warm_up_end {
            return;
        }
        if let Some(acc) = self.labels.get_mut(label) {
            acc.dropped += 1;
        }
    }

    pub(crate) fn merge(&mut self, other: &ThreadStats) {
        for (mine, theirs) in self.labels.iter_mut().zip(&other.labels) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = mine.latency_us.add(&theirs.latency_us);
            mine.requests += theirs.requests;
            mine.successes += theirs.successes;
            mine.dropped += theirs.dropped;
        }
        for (mine, theirs) in self.statuses.iter_mut().zip(&other.statuses) {
            *mine += theirs;
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        self.warm_up_excluded += other.warm_up_excluded;
        self.timeline.merge(&other.timeline);
    }

    /// The results model: totals, per-label figures and failure counts by code or kind, over
    /// the `measured` time less the warm-up.
    pub(crate) fn into_results(self, label_names: &[String], measured: Duration) -> RunResults {
        let warm_up = self.warm_up_end.saturating_duration_since(self.start);
        let seconds = measured.saturating_sub(warm_up).as_secs_f64();
        let mut total_hist = histogram();
        let mut total_requests = 0;
        let mut total_successes = 0;
        let mut total_dropped = 0;
        let mut labels = Vec::with_capacity(self.labels.len());
        for (acc, name) in self.labels.iter().zip(label_names) {
            let _ = total_hist.add(&acc.latency_us);
            total_requests += acc.requests;
            total_successes += acc.successes;
            total_dropped += acc.dropped;
            labels.push(LabelResults {
                label: name.clone(),
                stats: Stats {
                    dropped: acc.dropped,
                    ..Stats::from_histogram(acc.requests, acc.successes, &acc.latency_us, seconds)
                },
            });
        }
        let mut status_codes = BTreeMap::new();
        for (code, &count) in self.statuses.iter().enumerate() {
            if count > 0 {
                status_codes.insert(code.to_string(), count);
            }
        }
        for kind in ErrorKind::all() {
            let count = self.errors[kind.slot()];
            if count > 0 {
                status_codes.insert(kind.key().to_string(), count);
            }
        }
        RunResults {
            total: Stats {
                dropped: total_dropped,
                ..Stats::from_histogram(total_requests, total_successes, &total_hist, seconds)
            },
            duration_seconds: seconds,
            labels,
            status_codes,
            regions: BTreeMap::new(),
            percentile_method: "exact".to_string(),
            timeline: self.timeline.points(measured),
            latency_histogram: latency_buckets(&total_hist, HISTOGRAM_BUCKETS),
            dlt_reported: None,
            status_codes_method: String::new(),
            warm_up_excluded: self.warm_up_excluded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_reports() {
        let start = Instant::now();
        let mut a = ThreadStats::new(2, start, Duration::ZERO);
        let mut b = ThreadStats::new(2, start, Duration::ZERO);
        for i in 1..=100u64 {
            a.record_response(0, 200, start + Duration::from_millis(10 * i), Duration::from_millis(i));
        }
        b.record_response(1, 500, start + Duration::from_millis(1500), Duration::from_millis(5));
        b.record_error(
            1,
            ErrorKind::Timeout,
            start + Duration::from_millis(1500),
            start + Duration::from_millis(1600),
        );
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
    fn requests_started_in_the_warm_up_are_left_out() {
        let start = Instant::now();
        let mut s = ThreadStats::new(1, start, Duration::from_secs(2));
        // Started at 1.5 s (finished at 2.5 s): warm-up. Started at 2.5 s: counted.
        s.record_response(0, 200, start + Duration::from_millis(2500), Duration::from_millis(1000));
        s.record_response(0, 500, start + Duration::from_millis(3000), Duration::from_millis(500));
        s.record_error(
            0,
            ErrorKind::Connect,
            start + Duration::from_millis(1000),
            start + Duration::from_millis(1100),
        );
        s.record_error(
            0,
            ErrorKind::Timeout,
            start + Duration::from_millis(2100),
            start + Duration::from_millis(3100),
        );
        let r = s.into_results(&["a".into()], Duration::from_secs(4));
        assert_eq!(r.total.requests, 2, "{r:?}");
        assert_eq!(r.warm_up_excluded, 2);
        assert_eq!(r.status_codes.get("connect"), None);
        assert_eq!(r.status_codes.get("500"), Some(&1));
        assert_eq!(r.status_codes.get("timeout"), Some(&1));
        assert!((r.total.p50_ms - 500.0).abs() < 1.0, "{}", r.total.p50_ms);
        // The gated time is what is left after the warm-up: 2 requests in 2 s.
        assert!((r.duration_seconds - 2.0).abs() < 1e-9 && (r.total.throughput - 1.0).abs() < 1e-9);
        // The timeline still shows the warm-up.
        assert_eq!(r.timeline.iter().map(|p| p.requests).sum::<u64>(), 4);
    }

    #[test]
    fn empty_run_is_all_zero() {
        let r = ThreadStats::new(1, Instant::now(), Duration::ZERO).into_results(&["a".into()], Duration::ZERO);
        assert_eq!(r.total, Stats::default());
        assert!(r.timeline.is_empty() && r.latency_histogram.is_empty());
    }
}
