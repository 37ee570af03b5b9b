//! Quality gates: thresholds evaluated in the provider on aggregated results, the same way for
//! both engines. DLT itself has no pass/fail criteria (its issue #134), so this is the one place
//! that decides whether an apply passes.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::format_duration;
use super::results::RunResults;
use super::scenario::opt_duration_str;

/// Thresholds; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gates {
    /// Percent of requests that succeeded, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_success_rate: Option<f64>,
    #[serde(default, with = "opt_duration_str", skip_serializing_if = "Option::is_none")]
    pub max_p50: Option<Duration>,
    #[serde(default, with = "opt_duration_str", skip_serializing_if = "Option::is_none")]
    pub max_p90: Option<Duration>,
    #[serde(default, with = "opt_duration_str", skip_serializing_if = "Option::is_none")]
    pub max_p95: Option<Duration>,
    #[serde(default, with = "opt_duration_str", skip_serializing_if = "Option::is_none")]
    pub max_p99: Option<Duration>,
    #[serde(default, with = "opt_duration_str", skip_serializing_if = "Option::is_none")]
    pub max_avg_response_time: Option<Duration>,
    /// Requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_throughput: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<u64>,
}

/// The verdict of one gate, with threshold and actual as display strings (units included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: String,
    pub threshold: String,
    pub actual: String,
    pub passed: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_ms(v: f64) -> String {
    format_duration(Duration::from_secs_f64((v / 1000.0).max(0.0)))
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Gates {
    pub fn is_empty(&self) -> bool {
        *self == Gates::default()
    }

    /// Evaluates every configured gate in a fixed order. With zero requests every gate fails:
    /// a run that measured nothing proves nothing.
    pub fn evaluate(&self, r: &RunResults) -> Vec<GateResult> {
        let t = &r.total;
        let none = t.requests == 0;
        let mut out = Vec::new();
        let mut push = |gate: &str, threshold: String, actual: String, ok: bool| {
            out.push(GateResult {
                gate: gate.to_string(),
                threshold,
                actual,
                passed: ok && !none,
            });
        };
        if let Some(min) = self.min_success_rate {
            push(
                "min_success_rate",
                format!(">= {}%", fmt_num(min)),
                format!("{}%", fmt_num(t.success_rate)),
                t.success_rate >= min,
            );
        }
        let latency = [
            ("max_p50", self.max_p50, t.p50_ms),
            ("max_p90", self.max_p90, t.p90_ms),
            ("max_p95", self.max_p95, t.p95_ms),
            ("max_p99", self.max_p99, t.p99_ms),
            (
                "max_avg_response_time",
                self.max_avg_response_time,
                t.avg_response_time_ms,
            ),
        ];
        for (gate, limit, actual) in latency {
            if let Some(limit) = limit {
                push(
                    gate,
                    format!("<= {}", format_duration(limit)),
                    fmt_ms(actual),
                    actual <= ms(limit),
                );
            }
        }
        if let Some(min) = self.min_throughput {
            push(
                "min_throughput",
                format!(">= {} req/s", fmt_num(min)),
                format!("{} req/s", fmt_num(t.throughput)),
                t.throughput >= min,
            );
        }
        if let Some(max) = self.max_failures {
            push(
                "max_failures",
                format!("<= {max}"),
                t.failures.to_string(),
                t.failures <= max,
            );
        }
        out
    }
}

/// True when every gate passed (vacuously true with no gates, unless nothing was measured).
pub fn all_passed(results: &[GateResult]) -> bool {
    results.iter().all(|g| g.passed)
}

/// A fixed-width table of gate verdicts for diagnostics and the demo output.
pub fn format_table(results: &[GateResult]) -> String {
    let headers = ["gate", "threshold", "actual", "result"];
    let rows: Vec<[String; 4]> = results
        .iter()
        .map(|g| {
            [
                g.gate.clone(),
                g.threshold.clone(),
                g.actual.clone(),
                if g.passed {
                    "pass".to_string()
                } else {
                    "FAIL".to_string()
                },
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: [&str; 4]| {
        let _ = writeln!(
            s,
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    };
    line(&mut s, headers);
    line(
        &mut s,
        [
            &"-".repeat(widths[0]),
            &"-".repeat(widths[1]),
            &"-".repeat(widths[2]),
            &"-".repeat(widths[3]),
        ],
    );
    for row in &rows {
        line(&mut s, [&row[0], &row[1], &row[2], &row[3]]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlt::results::Stats;

    fn results(requests: u64, successes: u64, p95: f64) -> RunResults {
        RunResults {
            total: Stats {
                requests,
                successes,
                failures: requests - successes,
                success_rate: Stats::compute_success_rate(successes, requests),
                throughput: requests as f64 / 10.0,
                avg_response_time_ms: p95 / 2.0,
                p50_ms: p95 / 2.0,
                p90_ms: p95 * 0.9,
                p95_ms: p95,
                p99_ms: p95 * 1.5,
                max_ms: p95 * 2.0,
            },
            duration_seconds: 10.0,
            ..RunResults::default()
        }
    }

    fn gates() -> Gates {
        Gates {
            min_success_rate: Some(95.0),
            max_p95: Some(Duration::from_millis(1500)),
            max_failures: Some(10),
            min_throughput: Some(5.0),
            ..Gates::default()
        }
    }

    #[test]
    fn passing_run_passes_every_gate() {
        let r = gates().evaluate(&results(1000, 995, 200.0));
        assert_eq!(r.len(), 4);
        assert!(all_passed(&r), "{r:?}");
    }

    #[test]
    fn each_gate_fails_on_its_own_figure() {
        let r = gates().evaluate(&results(1000, 900, 2000.0));
        let failed: Vec<_> = r.iter().filter(|g| !g.passed).map(|g| g.gate.as_str()).collect();
        assert_eq!(failed, vec!["min_success_rate", "max_p95", "max_failures"]);
        let sr = &r[0];
        assert_eq!(sr.actual, "90%");
        assert_eq!(sr.threshold, ">= 95%");
    }

    #[test]
    fn zero_requests_fails_every_gate() {
        let g = Gates {
            max_failures: Some(10),
            max_p95: Some(Duration::from_secs(1)),
            ..Gates::default()
        };
        let r = g.evaluate(&results(0, 0, 0.0));
        assert!(r.iter().all(|g| !g.passed));
    }

    #[test]
    fn table_lists_every_gate() {
        let r = gates().evaluate(&results(1000, 900, 2000.0));
        let t = format_table(&r);
        assert!(
            t.contains("min_success_rate") && t.contains("FAIL") && t.contains("pass"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 2 + r.len());
    }
}
