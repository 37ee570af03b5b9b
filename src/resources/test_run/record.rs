//! The finished run as `dlt_test_run` stores it, whichever engine ran it: both engines
//! (`local.rs`, `dlt.rs`) return a [`RunRecord`], and the resource writes its state from it.

use crate::dlt::gates::{GateResult, Verdict};
use crate::dlt::results::RunResults;
use crate::plugin::Value;

use super::schema::RESULT_FIELDS;

/// The finished run, engine-independent, as stored in state.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    pub engine: &'static str,
    pub status: String,
    pub started_at: String,
    pub finished_at: String,
    pub console_url: Option<String>,
    pub results: RunResults,
    /// For the apply output: why the figures are not exact, samples lost.
    pub warnings: Vec<String>,
}

/// Now, as the RFC 3339 time state records.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn results_value(r: &RunResults) -> Value {
    stats_value(&r.total, r.duration_seconds)
}

fn stats_value(t: &crate::dlt::results::Stats, duration_seconds: f64) -> Value {
    let fields: [f64; 12] = [
        t.requests as f64,
        t.successes as f64,
        t.failures as f64,
        round(t.success_rate, 4),
        round(t.throughput, 3),
        round(t.avg_response_time_ms, 3),
        round(t.p50_ms, 3),
        round(t.p90_ms, 3),
        round(t.p95_ms, 3),
        round(t.p99_ms, 3),
        round(t.max_ms, 3),
        round(duration_seconds, 3),
    ];
    Value::object(
        RESULT_FIELDS
            .iter()
            .zip(fields)
            .map(|((n, _), v)| (*n, Value::float(v))),
    )
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    if v.is_finite() {
        (v * f).round() / f
    } else {
        0.0
    }
}

fn gates_value(gates: &[GateResult]) -> Value {
    Value::List(
        gates
            .iter()
            .map(|g| {
                Value::object([
                    ("gate", Value::string(&g.gate)),
                    ("threshold", Value::string(&g.threshold)),
                    ("actual", Value::string(&g.actual)),
                    ("passed", Value::Bool(g.passed)),
                ])
            })
            .collect(),
    )
}

/// The state after a run: the planned arguments plus every computed attribute.
pub fn state_from(planned: &Value, rec: &RunRecord, verdict: &Verdict) -> Value {
    let mut state = planned.clone();
    state.set("id", Value::string(&rec.id));
    state.set("engine", Value::string(rec.engine));
    state.set("status", Value::string(&rec.status));
    state.set("passed", Value::Bool(verdict.passed));
    state.set("started_at", Value::string(&rec.started_at));
    state.set("finished_at", Value::string(&rec.finished_at));
    state.set("console_url", Value::opt_string(rec.console_url.clone()));
    state.set("results", results_value(&rec.results));
    state.set("percentile_method", Value::string(&rec.results.percentile_method));
    state.set(
        "dlt_reported",
        match &rec.results.dlt_reported {
            Some(s) => stats_value(s, rec.results.duration_seconds),
            None => Value::Null,
        },
    );
    state.set("gate_results", gates_value(&verdict.gates));
    state
}
