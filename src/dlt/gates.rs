//! Quality gates: thresholds evaluated in the provider on aggregated results, the same way for
//! both engines. DLT itself has no pass/fail criteria (its issue #134), so this is the one place
//! that decides whether an apply passes.
//!
//! Every gate is one row of [`GATES`]: its name, the unit of its threshold, how it compares and
//! which figure of the results it reads. The Terraform schema of `gates`, its plan-time checks,
//! the JSON form the `run` command reads, evaluation, the gate table and the reports all walk
//! that table, so a new gate on a figure the results already carry is one row (plus its docs).
//! The run's [`Verdict`] (each gate's result, and "a run that measured nothing fails") is
//! decided here once, for the resource, the `run` command and the reports alike.
//!
//! Evaluation takes one set of [`Stats`], not a whole run, so the same rows can later gate one
//! request label's figures, and [`Check`] (unit, comparison, limit) serves thresholds on figures
//! that are not a `Stats` field, such as the share of one status code.

use std::fmt::{self, Write as _};
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::results::{RunResults, Stats};
use crate::duration::{format_duration, parse_duration};

/// What a threshold is measured in; fixes how it is written and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration string (`"800ms"`); the figure it reads is in milliseconds.
    Duration,
    /// Percent, 0–100.
    Percent,
    /// A whole number of requests, 0 or more.
    Count,
    /// Requests per second, 0 or more.
    Rate,
}

impl Unit {
    /// The numbers a threshold in this unit may take (durations: any that parses).
    pub fn bounds(self) -> (f64, f64) {
        match self {
            Unit::Percent => (0.0, 100.0),
            Unit::Rate => (0.0, f64::MAX),
            Unit::Count => (0.0, i64::MAX as f64),
            Unit::Duration => (0.0, f64::MAX),
        }
    }

    /// A limit in this unit from a number; the error says why it does not fit.
    pub fn limit_from_number(self, n: f64) -> Result<Limit, String> {
        let (min, max) = self.bounds();
        match self {
            Unit::Duration => Err("a duration needs a unit; write it as a string such as \"800ms\"".into()),
            _ if n.is_nan() || n < min || n > max => Err(format!("must be between {min} and {max}, got {n}")),
            Unit::Count if n.fract() != 0.0 => Err(format!("must be a whole number, got {n}")),
            Unit::Count => Ok(Limit::Count(n as u64)),
            Unit::Percent | Unit::Rate => Ok(Limit::Number(n)),
        }
    }

    /// A limit in this unit from a string (durations only).
    pub fn limit_from_str(self, s: &str) -> Result<Limit, String> {
        match self {
            Unit::Duration => parse_duration(s).map(Limit::Duration),
            _ => Err(format!("expected a number, got the string {s:?}")),
        }
    }

    /// A measured figure as shown beside the threshold.
    fn show(self, v: f64) -> String {
        match self {
            Unit::Duration => format_duration(Duration::from_secs_f64((v / 1000.0).max(0.0))),
            Unit::Percent => format!("{}%", fmt_num(v)),
            Unit::Rate => format!("{} req/s", fmt_num(v)),
            Unit::Count => format!("{v:.0}"),
        }
    }
}

/// How the figure must relate to the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `max_*`: the figure may not exceed the limit.
    AtMost,
    /// `min_*`: the figure may not fall below the limit.
    AtLeast,
}

impl Comparison {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Comparison::AtMost => actual <= limit,
            Comparison::AtLeast => actual >= limit,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::AtMost => "<=",
            Comparison::AtLeast => ">=",
        }
    }
}

/// A configured threshold, in the form its unit is written in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Duration(Duration),
    /// Percent or requests per second.
    Number(f64),
    Count(u64),
}

impl Limit {
    /// The limit in the figure's terms (durations in milliseconds).
    fn value(self) -> f64 {
        match self {
            Limit::Duration(d) => d.as_secs_f64() * 1000.0,
            Limit::Number(n) => n,
            Limit::Count(n) => n as f64,
        }
    }

    fn fits(self, unit: Unit) -> bool {
        matches!(
            (self, unit),
            (Limit::Duration(_), Unit::Duration)
                | (Limit::Number(_), Unit::Percent | Unit::Rate)
                | (Limit::Count(_), Unit::Count)
        )
    }

    fn show(self, unit: Unit) -> String {
        match (self, unit) {
            (Limit::Duration(d), _) => format_duration(d),
            (Limit::Number(n), Unit::Percent) => format!("{}%", fmt_num(n)),
            (Limit::Number(n), Unit::Rate) => format!("{} req/s", fmt_num(n)),
            (Limit::Number(n), _) => fmt_num(n),
            (Limit::Count(n), _) => n.to_string(),
        }
    }
}

/// A threshold on one figure: the part of a gate that does not depend on where the figure
/// comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub unit: Unit,
    pub comparison: Comparison,
    pub limit: Limit,
}

impl Check {
    /// The verdict on `actual` (in the unit's figure terms); `measured = false` fails it, since a
    /// figure of nothing proves nothing.
    pub fn judge(&self, gate: &str, actual: f64, measured: bool) -> GateResult {
        GateResult {
            gate: gate.to_string(),
            threshold: format!("{} {}", self.comparison.symbol(), self.limit.show(self.unit)),
            actual: self.unit.show(actual),
            passed: measured && self.comparison.holds(actual, self.limit.value()),
        }
    }
}

/// One gate, defined once.
#[derive(Debug)]
pub struct GateDef {
    /// The attribute name in `gates` (HCL and JSON).
    pub name: &'static str,
    pub unit: Unit,
    pub comparison: Comparison,
    /// The `results` attribute the gate reads (`p95_ms`).
    pub reads: &'static str,
    read: fn(&Stats) -> f64,
    /// The schema's (and the docs') description.
    pub description: &'static str,
}

impl GateDef {
    /// The figure this gate reads from `stats`.
    pub fn figure(&self, stats: &Stats) -> f64 {
        (self.read)(stats)
    }
}

/// Every gate, in the order the gate table lists them.
pub const GATES: [GateDef; 8] = [
    GateDef {
        name: "min_success_rate",
        unit: Unit::Percent,
        comparison: Comparison::AtLeast,
        reads: "success_rate",
        read: |s| s.success_rate,
        description: "Minimum percent of requests that succeeded (0–100).",
    },
    GateDef {
        name: "max_p50",
        unit: Unit::Duration,
        comparison: Comparison::AtMost,
        reads: "p50_ms",
        read: |s| s.p50_ms,
        description: "Maximum median response time, e.g. `\"300ms\"`.",
    },
    GateDef {
        name: "max_p90",
        unit: Unit::Duration,
        comparison: Comparison::AtMost,
        reads: "p90_ms",
        read: |s| s.p90_ms,
        description: "Maximum 90th percentile response time.",
    },
    GateDef {
        name: "max_p95",
        unit: Unit::Duration,
        comparison: Comparison::AtMost,
        reads: "p95_ms",
        read: |s| s.p95_ms,
        description: "Maximum 95th percentile response time, e.g. `\"1.5s\"`.",
    },
    GateDef {
        name: "max_p99",
        unit: Unit::Duration,
        comparison: Comparison::AtMost,
        reads: "p99_ms",
        read: |s| s.p99_ms,
        description: "Maximum 99th percentile response time.",
    },
    GateDef {
        name: "max_avg_response_time",
        unit: Unit::Duration,
        comparison: Comparison::AtMost,
        reads: "avg_response_time_ms",
        read: |s| s.avg_response_time_ms,
        description: "Maximum mean response time.",
    },
    GateDef {
        name: "min_throughput",
        unit: Unit::Rate,
        comparison: Comparison::AtLeast,
        reads: "throughput",
        read: |s| s.throughput,
        description: "Minimum throughput in requests per second.",
    },
    GateDef {
        name: "max_failures",
        unit: Unit::Count,
        comparison: Comparison::AtMost,
        reads: "failures",
        read: |s| s.failures as f64,
        description: "Maximum number of failed requests.",
    },
];

/// The gate named `name`.
pub fn gate(name: &str) -> Option<&'static GateDef> {
    GATES.iter().find(|g| g.name == name)
}

/// A limit that does not fit its gate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("unknown gate {0:?}")]
    Unknown(String),
    #[error("gate {0} takes a limit in another unit")]
    WrongUnit(&'static str),
}

/// The configured thresholds, one optional limit per row of [`GATES`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gates {
    limits: [Option<Limit>; GATES.len()],
}

impl Gates {
    pub fn is_empty(&self) -> bool {
        self.limits.iter().all(Option::is_none)
    }

    /// Sets the limit of gate `name`.
    pub fn set(&mut self, name: &str, limit: Limit) -> Result<(), GateError> {
        let i = GATES
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| GateError::Unknown(name.to_string()))?;
        if !limit.fits(GATES[i].unit) {
            return Err(GateError::WrongUnit(GATES[i].name));
        }
        self.limits[i] = Some(limit);
        Ok(())
    }

    /// The limit of gate `name`, when set.
    pub fn get(&self, name: &str) -> Option<Limit> {
        GATES.iter().position(|g| g.name == name).and_then(|i| self.limits[i])
    }

    /// The configured gates with their limits, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static GateDef, Limit)> + '_ {
        GATES.iter().zip(&self.limits).filter_map(|(g, l)| l.map(|l| (g, l)))
    }

    /// Evaluates every configured gate on a run's totals, in table order. With zero requests
    /// every gate fails: a run that measured nothing proves nothing.
    pub fn evaluate(&self, r: &RunResults) -> Vec<GateResult> {
        self.evaluate_stats(&r.total)
    }

    /// Evaluates every configured gate on one set of figures (a run's totals or one label's).
    pub fn evaluate_stats(&self, stats: &Stats) -> Vec<GateResult> {
        let measured = stats.requests > 0;
        self.iter()
            .map(|(g, limit)| {
                Check {
                    unit: g.unit,
                    comparison: g.comparison,
                    limit,
                }
                .judge(g.name, g.figure(stats), measured)
            })
            .collect()
    }
}

/// JSON (the `run` command's input, the JSON report): an object of the set gates, durations as
/// strings, in table order.
impl Serialize for Gates {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (g, limit) in self.iter() {
            match limit {
                Limit::Duration(d) => map.serialize_entry(g.name, &format_duration(d))?,
                Limit::Number(n) => map.serialize_entry(g.name, &n)?,
                Limit::Count(n) => map.serialize_entry(g.name, &n)?,
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Gates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Gates, D::Error> {
        d.deserialize_map(GatesVisitor)
    }
}

struct GatesVisitor;

/// One limit as JSON writes it: a string or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawLimit {
    Number(f64),
    String(String),
}

impl<'de> Visitor<'de> for GatesVisitor {
    type Value = Gates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of gate limits such as {\"max_p95\": \"800ms\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Gates, A::Error> {
        let mut gates = Gates::default();
        while let Some(name) = map.next_key::<String>()? {
            let Some(g) = gate(&name) else {
                let known: Vec<&str> = GATES.iter().map(|g| g.name).collect();
                return Err(de::Error::custom(format!(
                    "unknown gate {name:?}; gates are {}",
                    known.join(", ")
                )));
            };
            let limit = match map.next_value::<Option<RawLimit>>()? {
                None => continue,
                Some(RawLimit::Number(n)) => g.unit.limit_from_number(n),
                Some(RawLimit::String(s)) => g.unit.limit_from_str(&s),
            }
            .map_err(|e| de::Error::custom(format!("gates.{name}: {e}")))?;
            gates.set(&name, limit).map_err(de::Error::custom)?;
        }
        Ok(gates)
    }
}

/// The verdict of one gate, with threshold and actual as display strings (units included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: String,
    pub threshold: String,
    pub actual: String,
    pub passed: bool,
}

/// True when every gate passed (vacuously true with no gates; [`Verdict::passed`] also asks
/// that something was measured).
pub fn all_passed(results: &[GateResult]) -> bool {
    results.iter().all(|g| g.passed)
}

/// The verdict of a run: every gate's result, whether anything was measured, and whether the
/// run passed (every gate passed and something was measured).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verdict {
    pub gates: Vec<GateResult>,
    /// False when the run completed no request; such a run fails whatever its gates say.
    pub measured: bool,
    pub passed: bool,
}

impl Verdict {
    /// Judges `results` against `gates`.
    pub fn of(gates: &Gates, results: &RunResults) -> Verdict {
        let gate_results = gates.evaluate(results);
        let measured = results.total.requests > 0;
        Verdict {
            passed: measured && all_passed(&gate_results),
            gates: gate_results,
            measured,
        }
    }

    /// How many gates failed.
    pub fn failed(&self) -> usize {
        self.gates.iter().filter(|g| !g.passed).count()
    }

    /// The gate table of this verdict.
    pub fn table(&self) -> String {
        format_table(&self.gates)
    }
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
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

    fn with(limits: &[(&str, Limit)]) -> Gates {
        let mut g = Gates::default();
        for (name, limit) in limits {
            g.set(name, *limit).unwrap();
        }
        g
    }

    fn gates() -> Gates {
        with(&[
            ("min_success_rate", Limit::Number(95.0)),
            ("max_p95", Limit::Duration(Duration::from_millis(1500))),
            ("max_failures", Limit::Count(10)),
            ("min_throughput", Limit::Number(5.0)),
        ])
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
        let g = with(&[
            ("max_failures", Limit::Count(10)),
            ("max_p95", Limit::Duration(Duration::from_secs(1))),
        ]);
        let r = g.evaluate(&results(0, 0, 0.0));
        assert!(r.iter().all(|g| !g.passed));
    }

    #[test]
    fn nothing_measured_fails_even_without_gates() {
        let v = Verdict::of(&Gates::default(), &results(0, 0, 0.0));
        assert!(v.gates.is_empty());
        assert!(!v.measured && !v.passed);
        let v = Verdict::of(&Gates::default(), &results(10, 10, 1.0));
        assert!(v.measured && v.passed);
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

    #[test]
    fn every_row_reads_its_named_figure() {
        // Each gate's figure is the `results` attribute it names: a stats value with a distinct
        // number per field tells them apart.
        let s = Stats {
            requests: 1,
            successes: 2,
            failures: 3,
            success_rate: 4.0,
            throughput: 5.0,
            avg_response_time_ms: 6.0,
            p50_ms: 7.0,
            p90_ms: 8.0,
            p95_ms: 9.0,
            p99_ms: 10.0,
            max_ms: 11.0,
        };
        let json = serde_json::to_value(&s).unwrap();
        for g in &GATES {
            assert_eq!(json[g.reads].as_f64(), Some(g.figure(&s)), "{}", g.name);
            let prefix = match g.comparison {
                Comparison::AtMost => "max_",
                Comparison::AtLeast => "min_",
            };
            assert!(g.name.starts_with(prefix), "{}", g.name);
        }
    }

    #[test]
    fn json_round_trip_and_errors() {
        let g: Gates =
            serde_json::from_str(r#"{"min_success_rate": 99, "max_p95": "800ms", "max_failures": 0}"#).unwrap();
        assert_eq!(g.get("max_p95"), Some(Limit::Duration(Duration::from_millis(800))));
        assert_eq!(g.get("max_failures"), Some(Limit::Count(0)));
        let text = serde_json::to_string(&g).unwrap();
        assert_eq!(text, r#"{"min_success_rate":99.0,"max_p95":"800ms","max_failures":0}"#);
        for (bad, needle) in [
            (r#"{"max_p59": "1s"}"#, "unknown gate \"max_p59\""),
            (r#"{"max_p95": 800}"#, "gates.max_p95"),
            (r#"{"max_p95": "fast"}"#, "gates.max_p95"),
            (r#"{"min_success_rate": 120}"#, "gates.min_success_rate"),
            (r#"{"max_failures": 1.5}"#, "whole number"),
        ] {
            let e = serde_json::from_str::<Gates>(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn a_limit_must_fit_its_unit() {
        let mut g = Gates::default();
        assert_eq!(
            g.set("max_p95", Limit::Number(1.0)),
            Err(GateError::WrongUnit("max_p95"))
        );
        assert!(matches!(g.set("nope", Limit::Count(1)), Err(GateError::Unknown(_))));
        assert!(g.is_empty());
    }
}
