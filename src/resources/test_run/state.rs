//! The `dlt_test_run` state model: the computed attributes a run records, written from the typed
//! [`RunRecord`] and [`Verdict`], and what later operations read back from a prior state. The
//! arguments in state are the planned ones as Terraform planned them.

use crate::dlt::gates::{GateResult, Verdict};
use crate::dlt::results::{RunResults, Stats};
use crate::plugin::Value;
use crate::resources::model::{Attr, Field, Obj, Parse};

use super::config::TestRunConfig;
use super::record::RunRecord;
use super::schema::{self, RESULT_FIELDS};

/// The computed-only attributes, in schema order: what a run records.
pub fn computed() -> Vec<String> {
    schema::schema()
        .block
        .attributes
        .into_iter()
        .filter(|a| a.computed && !a.optional && !a.required)
        .map(|a| a.name)
        .collect()
}

/// What a prior state says about the run, for destroy.
#[derive(Debug)]
pub struct PriorRun {
    pub id: Attr<String>,
    pub engine: Attr<String>,
    pub config: TestRunConfig,
}

impl PriorRun {
    pub fn read(prior: &Value) -> PriorRun {
        // The arguments were checked when they were planned; a state is read, not judged.
        let mut cx = Parse::new();
        let config = TestRunConfig::read(&mut cx, prior);
        let mut o = Obj::root(prior);
        let string = |f: Field<'_>| f.string();
        PriorRun {
            id: string(o.field("id")),
            engine: string(o.field("engine")),
            config,
        }
    }

    pub fn on_dlt(&self) -> bool {
        self.engine.known().is_some_and(|e| e == "dlt")
    }
}

/// A plan that changes only `timeouts` runs nothing: what the run recorded stays as it is.
pub fn keep_computed(prior: &Value, planned: &mut Value) {
    for name in computed() {
        planned.set(
            &name,
            prior.entries().and_then(|m| m.get(&name)).cloned().unwrap_or_default(),
        );
    }
}

fn results_value(r: &RunResults) -> Value {
    let mut v = stats_value(&r.total, r.duration_seconds);
    v.set(
        "status_codes",
        Value::Map(
            r.status_codes
                .iter()
                .map(|(k, n)| (k.clone(), Value::float(*n as f64)))
                .collect(),
        ),
    );
    v
}

fn stats_value(t: &Stats, duration_seconds: f64) -> Value {
    let fields: [f64; RESULT_FIELDS.len()] = [
        t.requests as f64,
        t.successes as f64,
        t.failures as f64,
        t.dropped as f64,
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
                    ("scope", Value::string(&g.scope)),
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
pub fn write(planned: &Value, rec: &RunRecord, verdict: &Verdict) -> Value {
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
