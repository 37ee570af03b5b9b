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
//! Evaluation takes one set of [`Stats`], not a whole run, so the same rows gate one request
//! label's figures ([`LabelGate`]: `label_gates`, the columns of [`GATES`] scoped to a label), and
//! [`Check`] (unit, comparison, limit) serves thresholds on figures that are not a `Stats` field:
//! the share or count of one status code or class ([`StatusGate`]: `status_gates`). Every
//! [`GateResult`] carries its scope (`run`, `label <name>`, `status <selector>`), so the gate
//! table, JUnit and the other reports show one list whatever judged it.

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
            scope: RUN_SCOPE.to_string(),
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
    /// This gate's threshold at `limit`.
    pub fn check(&self, limit: Limit) -> Check {
        Check {
            unit: self.unit,
            comparison: self.comparison,
            limit,
        }
    }

    /// The figure this gate reads from `stats`.
    pub fn figure(&self, stats: &Stats) -> f64 {
        (self.read)(stats)
    }
}

/// Every gate, in the order the gate table lists them.
pub const GATES: [GateDef; 9] = [
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
    GateDef {
        name: "max_dropped",
        unit: Unit::Count,
        comparison: Comparison::AtMost,
        reads: "dropped",
        read: |s| s.dropped as f64,
        description: "Maximum number of requests the open model (`load.arrival_rate`) dropped: due while every \
                      user was busy, for `request_timeout` or until the end. Always 0 in the closed model and on DLT.",
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
            .map(|(g, limit)| g.check(limit).judge(g.name, g.figure(stats), measured))
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

/// Scope of the gates on the whole run's figures.
pub const RUN_SCOPE: &str = "run";

/// What a label gate shows as its figure when the label never appeared in the results.
pub const LABEL_NOT_MEASURED: &str = "label not measured";

/// `label_gates`: the columns of [`GATES`] judged on one request label's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelGate {
    pub label: String,
    #[serde(flatten)]
    pub gates: Gates,
}

impl LabelGate {
    pub fn scope(&self) -> String {
        format!("label {}", self.label)
    }

    /// Every limit judged on the label's figures. A label the results do not hold (a script
    /// that names its samplers otherwise, a request never sent, more labels than are kept
    /// apart) fails each limit with "label not measured": never a silent pass.
    pub fn evaluate(&self, r: &RunResults) -> Vec<GateResult> {
        let scope = self.scope();
        let mut out = match r.labels.iter().find(|l| l.label == self.label) {
            Some(l) => self.gates.evaluate_stats(&l.stats),
            None => self
                .gates
                .iter()
                .map(|(g, limit)| GateResult {
                    actual: LABEL_NOT_MEASURED.to_string(),
                    ..g.check(limit).judge(g.name, 0.0, false)
                })
                .collect(),
        };
        for g in &mut out {
            g.scope.clone_from(&scope);
        }
        out
    }
}

/// A transport failure kind, as the local engine counts it (`status_codes` key) and as JMeter's
/// exception names map to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Timeout,
    Connect,
    Tls,
    /// Any other broken exchange (connection reset, malformed response).
    Io,
}

impl Transport {
    pub const ALL: [Transport; 4] = [Transport::Timeout, Transport::Connect, Transport::Tls, Transport::Io];

    pub fn key(self) -> &'static str {
        match self {
            Transport::Timeout => "timeout",
            Transport::Connect => "connect",
            Transport::Tls => "tls",
            Transport::Io => "io",
        }
    }

    /// The kind of a `status_codes` key that is not an HTTP status: the local engine's own keys
    /// (TLS failures as `"tls: <reason>"`), JMeter's exception class names
    /// (`SocketTimeoutException`, `UnknownHostException`, `SSLHandshakeException`, ...) and k6's
    /// status 0.
    pub fn of_key(key: &str) -> Option<Transport> {
        if let Some(t) = Transport::ALL.into_iter().find(|t| t.key() == key) {
            return Some(t);
        }
        if key.starts_with("tls: ") {
            return Some(Transport::Tls);
        }
        let k = key.to_ascii_lowercase();
        if k.contains("timeout") {
            Some(Transport::Timeout)
        } else if k.contains("ssl") || k.contains("tls") || k.contains("handshake") {
            Some(Transport::Tls)
        } else if ["connect", "unknownhost", "noroutetohost", "unreachable"]
            .iter()
            .any(|w| k.contains(w))
        {
            Some(Transport::Connect)
        } else if k.ends_with("exception") || k == "0" {
            Some(Transport::Io)
        } else {
            None
        }
    }
}

/// What a status gate counts: a class (`"5xx"`), one code (`"429"`) or a transport failure kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSelector {
    /// `4xx`, `5xx` (the hundreds digit).
    Class(u16),
    Code(u16),
    Transport(Transport),
}

impl StatusSelector {
    /// Reads `"5xx"`, `"429"`, `"timeout"`, `"connect"`, `"tls"`, `"io"`. 2xx and 3xx are
    /// refused: they are successes, which `gates.min_success_rate` judges.
    pub fn parse(s: &str) -> Result<StatusSelector, String> {
        let t = s.trim().to_ascii_lowercase();
        if let Some(tr) = Transport::ALL.into_iter().find(|x| x.key() == t) {
            return Ok(StatusSelector::Transport(tr));
        }
        let b = t.as_bytes();
        let sel = if b.len() == 3 && b[0].is_ascii_digit() && &t[1..] == "xx" {
            StatusSelector::Class(u16::from(b[0] - b'0'))
        } else if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
            StatusSelector::Code(t.parse().unwrap_or(0))
        } else {
            return Err(format!(
                "{s:?} is not a status: write a class such as \"5xx\", a code such as \"429\", or a transport failure \
                 (\"timeout\", \"connect\", \"tls\", \"io\")"
            ));
        };
        let hundreds = match sel {
            StatusSelector::Class(c) => c,
            StatusSelector::Code(c) => c / 100,
            StatusSelector::Transport(_) => 0,
        };
        match hundreds {
            2 | 3 => Err(format!(
                "{s:?} responses are successes; status gates count failures (4xx, 5xx, transport errors). \
                 Judge successes with gates.min_success_rate"
            )),
            1 | 4 | 5 => Ok(sel),
            _ => Err(format!("{s:?} is not an HTTP status (100–599)")),
        }
    }

    /// Whether failures counted under `status_codes` key `key` are of this status.
    pub fn matches(&self, key: &str) -> bool {
        let code = (key.len() == 3).then(|| key.parse::<u16>().ok()).flatten();
        match (self, code) {
            (StatusSelector::Class(c), Some(n)) => n / 100 == *c,
            (StatusSelector::Code(c), Some(n)) => n == *c,
            (StatusSelector::Transport(t), None) => Transport::of_key(key) == Some(*t),
            _ => false,
        }
    }
}

impl fmt::Display for StatusSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusSelector::Class(c) => write!(f, "{c}xx"),
            StatusSelector::Code(c) => write!(f, "{c}"),
            StatusSelector::Transport(t) => f.write_str(t.key()),
        }
    }
}

impl Serialize for StatusSelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StatusSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StatusSelector, D::Error> {
        let s = String::deserialize(d)?;
        StatusSelector::parse(&s).map_err(de::Error::custom)
    }
}

/// The limits a status gate takes, by attribute name: the schema, the configuration model and
/// evaluation read this table.
pub const STATUS_LIMITS: [(&str, Unit, &str); 2] = [
    (
        "max_percent",
        Unit::Percent,
        "Maximum percent of all requests that ended with this status (0–100).",
    ),
    (
        "max_count",
        Unit::Count,
        "Maximum number of requests that ended with this status.",
    ),
];

/// `status_gates`: limits on the failures of one status code, class or transport failure kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusGate {
    pub status: StatusSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<u64>,
}

impl StatusGate {
    pub fn scope(&self) -> String {
        format!("status {}", self.status)
    }

    /// Requests that ended with this status (`results.status_codes` summed over matching keys).
    pub fn count(&self, r: &RunResults) -> u64 {
        r.status_codes
            .iter()
            .filter(|(k, _)| self.status.matches(k))
            .map(|(_, n)| n)
            .sum()
    }

    /// The limits set, in [`STATUS_LIMITS`] order.
    pub fn limits(&self) -> Vec<(&'static str, Check)> {
        let limits = [self.max_percent.map(Limit::Number), self.max_count.map(Limit::Count)];
        STATUS_LIMITS
            .iter()
            .zip(limits)
            .filter_map(|(&(name, unit, _), limit)| {
                limit.map(|limit| {
                    (
                        name,
                        Check {
                            unit,
                            comparison: Comparison::AtMost,
                            limit,
                        },
                    )
                })
            })
            .collect()
    }

    /// Every limit judged on the run's status counts (a run that measured nothing fails).
    pub fn evaluate(&self, r: &RunResults) -> Vec<GateResult> {
        let n = self.count(r);
        let requests = r.total.requests;
        let measured = requests > 0;
        let share = if measured {
            n as f64 / requests as f64 * 100.0
        } else {
            0.0
        };
        let scope = self.scope();
        self.limits()
            .into_iter()
            .map(|(name, check)| {
                let mut g = match check.unit {
                    Unit::Percent => {
                        let mut g = check.judge(name, share, measured);
                        g.actual = format!("{} ({n} of {requests})", g.actual);
                        g
                    }
                    _ => check.judge(name, n as f64, measured),
                };
                g.scope.clone_from(&scope);
                g
            })
            .collect()
    }
}

/// The verdict of one gate, with threshold and actual as display strings (units included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// What the gate judged: [`RUN_SCOPE`], `label <name>` or `status <selector>`.
    #[serde(default = "run_scope")]
    pub scope: String,
    pub gate: String,
    pub threshold: String,
    pub actual: String,
    pub passed: bool,
}

fn run_scope() -> String {
    RUN_SCOPE.to_string()
}

impl GateResult {
    /// The gate's name with its scope when that is not the whole run: `max_p95 (label checkout)`.
    pub fn name(&self) -> String {
        if self.scope == RUN_SCOPE {
            self.gate.clone()
        } else {
            format!("{} ({})", self.gate, self.scope)
        }
    }
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
        Verdict::of_all(gates, &[], &[], results)
    }

    /// Judges `results` against the run's gates, then each label's, then each status's.
    pub fn of_all(gates: &Gates, labels: &[LabelGate], statuses: &[StatusGate], results: &RunResults) -> Verdict {
        let mut gate_results = gates.evaluate(results);
        gate_results.extend(labels.iter().flat_map(|l| l.evaluate(results)));
        gate_results.extend(statuses.iter().flat_map(|s| s.evaluate(results)));
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

/// A fixed-width table of gate verdicts for diagnostics and the demo output; with a scope column
/// once any gate judged less than the whole run (a label, a status).
pub fn format_table(results: &[GateResult]) -> String {
    let scoped = results.iter().any(|g| g.scope != RUN_SCOPE);
    let mut headers = vec!["gate", "threshold", "actual", "result"];
    if scoped {
        headers.insert(0, "scope");
    }
    let rows: Vec<Vec<&str>> = results
        .iter()
        .map(|g| {
            let mut row = vec![
                g.gate.as_str(),
                g.threshold.as_str(),
                g.actual.as_str(),
                if g.passed { "pass" } else { "FAIL" },
            ];
            if scoped {
                row.insert(0, g.scope.as_str());
            }
            row
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: &[&str]| {
        let last = cells.len() - 1;
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                let _ = writeln!(s, "{cell}");
            } else {
                let _ = write!(s, "{cell:<w$}  ");
            }
        }
    };
    line(&mut s, &headers);
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut s, &dashes.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &rows {
        line(&mut s, row);
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
                dropped: 0,
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
            dropped: 0,
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
    fn a_label_gate_judges_its_label_and_fails_an_absent_one() {
        use crate::dlt::results::LabelResults;
        let mut r = results(1000, 1000, 100.0);
        r.labels = vec![
            LabelResults {
                label: "home".into(),
                stats: results(900, 900, 50.0).total,
            },
            LabelResults {
                label: "checkout".into(),
                stats: results(100, 90, 900.0).total,
            },
        ];
        let g = with(&[
            ("max_p95", Limit::Duration(Duration::from_millis(800))),
            ("min_success_rate", Limit::Number(95.0)),
        ]);
        let gate = |label: &str| LabelGate {
            label: label.into(),
            gates: g.clone(),
        };
        let home = gate("home").evaluate(&r);
        assert!(
            all_passed(&home) && home.iter().all(|x| x.scope == "label home"),
            "{home:?}"
        );
        let checkout = gate("checkout").evaluate(&r);
        assert_eq!(checkout.iter().filter(|x| !x.passed).count(), 2, "{checkout:?}");
        assert_eq!(checkout[1].actual, "900ms");
        let missing = gate("pay").evaluate(&r);
        assert_eq!(missing.len(), 2);
        assert!(
            missing.iter().all(|x| !x.passed && x.actual == LABEL_NOT_MEASURED),
            "{missing:?}"
        );
        // The run's own gates pass; the verdict fails on the label's.
        let v = Verdict::of_all(&gates(), &[gate("home"), gate("checkout")], &[], &r);
        assert!(!v.passed);
        assert_eq!(v.failed(), 2);
        assert_eq!(v.gates[0].scope, RUN_SCOPE);
        assert_eq!(v.gates[0].name(), "min_success_rate");
        assert_eq!(v.gates[7].name(), "max_p95 (label checkout)");
    }

    #[test]
    fn status_selectors_parse_and_match_both_engines_keys() {
        let sel = |s: &str| StatusSelector::parse(s).unwrap();
        assert_eq!(sel("5xx"), StatusSelector::Class(5));
        assert_eq!(sel(" 429 "), StatusSelector::Code(429));
        assert_eq!(sel("TIMEOUT"), StatusSelector::Transport(Transport::Timeout));
        assert_eq!(sel("4xx").to_string(), "4xx");
        for bad in ["2xx", "200", "302", "600", "9xx", "timeouts", "", "50x"] {
            assert!(StatusSelector::parse(bad).is_err(), "{bad}");
        }
        assert!(StatusSelector::parse("2xx").unwrap_err().contains("min_success_rate"));
        assert!(sel("5xx").matches("503") && !sel("5xx").matches("429") && !sel("5xx").matches("timeout"));
        assert!(sel("429").matches("429") && !sel("429").matches("4290"));
        // The local engine's keys and the names JMeter (DLT) and k6 give the same failures.
        for (key, kind) in [
            ("timeout", "timeout"),
            ("SocketTimeoutException", "timeout"),
            ("ConnectTimeoutException", "timeout"),
            ("connect", "connect"),
            ("UnknownHostException", "connect"),
            ("HttpHostConnectException", "connect"),
            ("NoRouteToHostException", "connect"),
            ("tls", "tls"),
            ("SSLHandshakeException", "tls"),
            ("tls: unknown issuer", "tls"),
            ("tls: CA used as end entity", "tls"),
            ("tls: not valid yet", "tls"),
            ("tls: handshake failure", "tls"),
            ("io", "io"),
            ("SocketException", "io"),
            ("0", "io"),
        ] {
            assert!(sel(kind).matches(key), "{key} is {kind}");
            let others = Transport::ALL.iter().filter(|t| t.key() != kind);
            assert!(
                others.clone().all(|t| !StatusSelector::Transport(*t).matches(key)),
                "{key}"
            );
        }
        assert!(!sel("io").matches("other") && !sel("io").matches("500"));
    }

    #[test]
    fn status_gates_judge_share_and_count() {
        let mut r = results(1000, 970, 100.0);
        r.status_codes = [
            ("500".into(), 12),
            ("503".into(), 8),
            ("429".into(), 5),
            ("timeout".into(), 5),
        ]
        .into();
        let gate = |status: &str, max_percent, max_count| StatusGate {
            status: StatusSelector::parse(status).unwrap(),
            max_percent,
            max_count,
        };
        let five = gate("5xx", Some(1.0), Some(20)).evaluate(&r);
        assert_eq!(five.len(), 2);
        assert!(!five[0].passed && five[0].actual == "2% (20 of 1000)", "{five:?}");
        assert!(
            five[1].passed && five[1].actual == "20" && five[1].gate == "max_count",
            "{five:?}"
        );
        assert_eq!(five[0].scope, "status 5xx");
        assert!(!gate("429", None, Some(0)).evaluate(&r)[0].passed);
        assert!(gate("404", None, Some(0)).evaluate(&r)[0].passed);
        assert!(gate("timeout", Some(0.5), None).evaluate(&r)[0].passed);
        // Nothing measured: every status gate fails too.
        let empty = results(0, 0, 0.0);
        assert!(!gate("5xx", Some(100.0), None).evaluate(&empty)[0].passed);
        let json = serde_json::to_string(&gate("5xx", Some(1.0), None)).unwrap();
        assert_eq!(json, r#"{"status":"5xx","max_percent":1.0}"#);
        assert!(serde_json::from_str::<StatusGate>(r#"{"status":"2xx","max_count":1}"#).is_err());
    }

    #[test]
    fn the_table_gets_a_scope_column_only_when_needed() {
        let run_only = format_table(&gates().evaluate(&results(1000, 900, 2000.0)));
        assert!(run_only.starts_with("gate "), "{run_only}");
        let mut r = results(1000, 900, 2000.0);
        r.status_codes = [("500".into(), 100)].into();
        let s = StatusGate {
            status: StatusSelector::Class(5),
            max_percent: None,
            max_count: Some(0),
        };
        let t = format_table(&Verdict::of_all(&gates(), &[], &[s], &r).gates);
        assert!(t.starts_with("scope "), "{t}");
        assert!(t.contains("status 5xx  max_count"), "{t}");
        assert_eq!(t.lines().count(), 2 + 5);
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
