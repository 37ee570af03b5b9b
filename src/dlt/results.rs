//! The results model shared by the local engine and DLT: times in milliseconds, throughput in
//! requests per second (DLT's own stats are seconds-as-strings and a request *count* called
//! `throughput`; `src/dlt/model.rs` converts).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use super::timeline::TimelinePoint;

/// Aggregated figures for the whole run or one label.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// Open model (`load.arrival_rate`, local engine): requests due on the schedule that were
    /// never sent, for want of a free user; not part of `requests`. 0 otherwise.
    #[serde(default)]
    pub dropped: u64,
    /// successes / requests x 100; 0 when there were no requests.
    pub success_rate: f64,
    /// Requests per second over the measured duration.
    pub throughput: f64,
    pub avg_response_time_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    /// Success rate as SPEC defines it; zero requests gives 0 (and fails every gate anyway).
    pub fn compute_success_rate(successes: u64, requests: u64) -> f64 {
        if requests == 0 {
            0.0
        } else {
            successes as f64 / requests as f64 * 100.0
        }
    }

    /// The figures of one HDR histogram of latencies in microseconds, with its request counts,
    /// over `seconds` of measurement (the local engine and merged raw samples both use it).
    pub fn from_histogram(requests: u64, successes: u64, h: &Histogram<u64>, seconds: f64) -> Stats {
        let ms = |us: u64| us as f64 / 1000.0;
        let empty = h.is_empty();
        let q = |quantile: f64| if empty { 0.0 } else { ms(h.value_at_quantile(quantile)) };
        Stats {
            requests,
            successes,
            failures: requests.saturating_sub(successes),
            dropped: 0,
            success_rate: Stats::compute_success_rate(successes, requests),
            throughput: if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            avg_response_time_ms: if empty { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: if empty { 0.0 } else { ms(h.max()) },
        }
    }
}

/// Results of one label (a request URL or a JMeter sampler name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelResults {
    pub label: String,
    #[serde(flatten)]
    pub stats: Stats,
}

/// Results of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    #[serde(flatten)]
    pub total: Stats,
    /// Measured duration (hold-for plus ramp-up on the local engine; DLT's `testDuration`).
    pub duration_seconds: f64,
    #[serde(default)]
    pub labels: Vec<LabelResults>,
    /// Failure counts by HTTP status code or error kind (`"500"`, `"timeout"`, `"connect"`).
    #[serde(default)]
    pub status_codes: BTreeMap<String, u64>,
    /// Per-region totals (DLT only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regions: BTreeMap<String, Stats>,
    /// How percentiles were computed, for honest reporting: `"exact"` (local HDR histogram) or
    /// `"mean of per-task percentiles"` (DLT's aggregation).
    #[serde(default)]
    pub percentile_method: String,
    /// Latency over time (the local engine records it; DLT's aggregated results have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelinePoint>,
    /// The distribution of all response latencies, where the whole distribution is known (the
    /// local engine, merged raw DLT samples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub latency_histogram: Vec<LatencyBucket>,
    /// DLT's own figures (percentiles averaged over tasks) when `total` was computed exactly
    /// from the run's merged raw samples instead (`dlt::exact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlt_reported: Option<Stats>,
    /// Where `status_codes` came from when that is not simply exact: [`CODES_APPROXIMATE`] or
    /// [`CODES_FROM_TASK_FILES`]; empty otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_codes_method: String,
    /// Requests of the warm-up (`warm_up`), left out of every figure above.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warm_up_excluded: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `status_codes_method` when DLT's `rc` is known to be inflated (v3.2.1 counts every task after
/// the first twice) and the per-task files could not be read: the codes are right, their counts
/// are not; the failure total comes from `fail`, which is right.
pub const CODES_APPROXIMATE: &str =
    "approximate: DLT v3.2.1 overcounts the codes of runs with more than one task; failures come from its fail count";

/// `status_codes_method` when the codes were recounted from the tasks' own result files.
pub const CODES_FROM_TASK_FILES: &str = "recounted from the tasks' result files";

/// Responses whose latency fell in `[lo_ms, hi_ms)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    pub lo_ms: f64,
    pub hi_ms: f64,
    pub count: u64,
}

/// Buckets of a latency histogram in µs for reports: at most `n` log-spaced buckets from the
/// smallest to the largest latency recorded (one bucket when they are equal).
pub fn latency_buckets(h: &Histogram<u64>, n: usize) -> Vec<LatencyBucket> {
    if h.is_empty() || n == 0 {
        return Vec::new();
    }
    let lo = h.min().max(1) as f64;
    let hi = (h.max().max(1) as f64) * 1.000_001 + 1.0;
    let ratio = (hi / lo).powf(1.0 / n as f64);
    let mut out: Vec<LatencyBucket> = (0..n)
        .map(|i| LatencyBucket {
            lo_ms: lo * ratio.powi(i as i32) / 1000.0,
            hi_ms: if i + 1 == n {
                hi / 1000.0
            } else {
                lo * ratio.powi(i as i32 + 1) / 1000.0
            },
            count: 0,
        })
        .collect();
    // Each recorded value (HDR's equivalence classes) counts once, in the bucket its value falls in.
    for v in h.iter_recorded() {
        let value = (v.value_iterated_to() as f64).max(lo);
        let i = (((value / lo).ln() / ratio.ln()).floor() as usize).min(n - 1);
        out[i].count += v.count_at_value();
    }
    out
}

/// The `percentile_method` of DLT's own figures: its results parser averages the per-task
/// percentiles (and maxima) instead of merging the distributions.
pub const METHOD_DLT_AVERAGED: &str = "DLT (average of per-task percentiles)";
