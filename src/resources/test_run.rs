//! `dlt_test_run`: runs one load test during apply (local engine or DLT) and gates the apply.
//!
//! The run happens in `create`; every argument requires replacement, so a changed argument means
//! a new run. Read makes no network call (a finished run never changes). When a gate fails with
//! `fail_on_gate = true`, create returns the full state *and* an error, so Terraform saves the run
//! as tainted and runs it again on the next apply.

use std::time::Duration;

use async_trait::async_trait;

use crate::dlt::gates::{GateResult, Verdict};
use crate::dlt::report::{self, ReportMeta};
use crate::dlt::results::RunResults;
use crate::dlt::scenario::{Load, RequestSpec, Scenario, ScriptType, TestSpec};
use crate::duration::{format_duration, parse_duration};
use crate::engine::{self, EngineError, EngineOptions};
use crate::plugin::{Ctx, Diagnostic, Diagnostics, Outcome, Plan, Resource, Schema, Value};

use super::provider_data::SharedData;
use super::test_run_schema::{self, RESULT_FIELDS};

/// How long past ramp-up + hold-for a local run may take before `timeouts.create` (default).
const LOCAL_SLACK: Duration = Duration::from_secs(120);

pub struct TestRunResource {
    data: SharedData,
}

impl TestRunResource {
    pub fn new(data: SharedData) -> TestRunResource {
        TestRunResource { data }
    }
}

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
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn requests_from(list: &Value) -> Vec<RequestSpec> {
    list.elements()
        .iter()
        .map(|r| RequestSpec {
            url: r.get("url").as_str().unwrap_or_default().to_string(),
            method: r.get("method").as_str().unwrap_or("GET").to_uppercase(),
            headers: r.get("headers").to_string_map(),
            body: r.get("body").as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

fn check_local_requests(d: &mut Diagnostics, requests: &[RequestSpec]) {
    if let Err((i, reason)) = engine::validate_requests(requests) {
        d.attr_error(&format!("scenario.requests[{i}]"), "Invalid request", reason);
    }
}

/// Builds the domain test definition from a wholly known configuration.
pub fn spec_from_config(config: &Value) -> Result<TestSpec, Diagnostics> {
    let mut d = Diagnostics::new();
    test_run_schema::validate_except_gates(&mut d, config);
    let gates = test_run_schema::parse_gates(&mut d, config.get("gates"));
    let scenario_v = config.get("scenario");
    let scenario = match ScriptType::parse(scenario_v.get("type").as_str().unwrap_or("simple")) {
        Some(kind) => Scenario::from_script(kind, scenario_v.get("script").as_str().unwrap_or_default().into()),
        None => Scenario::Simple {
            requests: requests_from(scenario_v.get("requests")),
        },
    };
    let load_v = config.get("load");
    let dur = |v: &Value| v.as_str().and_then(|s| parse_duration(s).ok());
    let load = Load {
        concurrency: load_v
            .get("concurrency")
            .as_i64()
            .unwrap_or(1)
            .clamp(0, u32::MAX as i64) as u32,
        task_count: load_v.get("task_count").as_i64().unwrap_or(1).clamp(0, u32::MAX as i64) as u32,
        regions: load_v.get("regions").to_string_list(),
        ramp_up: dur(load_v.get("ramp_up")).unwrap_or_default(),
        hold_for: dur(load_v.get("hold_for")).unwrap_or_default(),
    };
    if let Scenario::Simple { requests } = &scenario {
        if config.get("dlt").is_null() && !d.has_errors() {
            check_local_requests(&mut d, requests);
        }
    }
    if d.has_errors() {
        return Err(d);
    }
    let name = config.get("name").as_str().unwrap_or_default().to_string();
    let description = config
        .get("description")
        .as_str()
        .map(str::to_string)
        .unwrap_or_default();
    Ok(TestSpec {
        name,
        description,
        scenario,
        load,
        gates,
    })
}

fn results_value(r: &RunResults) -> Value {
    let t = &r.total;
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
        round(r.duration_seconds, 3),
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
fn state_from(planned: &Value, rec: &RunRecord, verdict: &Verdict) -> Value {
    let mut state = planned.clone();
    state.set("id", Value::string(&rec.id));
    state.set("engine", Value::string(rec.engine));
    state.set("status", Value::string(&rec.status));
    state.set("passed", Value::Bool(verdict.passed));
    state.set("started_at", Value::string(&rec.started_at));
    state.set("finished_at", Value::string(&rec.finished_at));
    state.set("console_url", Value::opt_string(rec.console_url.clone()));
    state.set("results", results_value(&rec.results));
    state.set("gate_results", gates_value(&verdict.gates));
    state
}

/// The diagnostic for failed gates: one table of every gate.
fn gate_diagnostic(spec: &TestSpec, rec: &RunRecord, verdict: &Verdict, fail: bool) -> Diagnostic {
    let t = &rec.results.total;
    let mut detail = if verdict.gates.is_empty() {
        format!("Test {:?} completed no requests, so it proves nothing.\n", spec.name)
    } else {
        format!(
            "{} of {} quality gates failed for test {:?} ({} engine, id {}): {} requests, {} failures, {:.1}s.\n\n{}",
            verdict.failed(),
            verdict.gates.len(),
            spec.name,
            rec.engine,
            rec.id,
            t.requests,
            t.failures,
            rec.results.duration_seconds,
            verdict.table()
        )
    };
    if !verdict.measured {
        detail.push_str("\nNo request completed: every gate fails when nothing was measured.\n");
    }
    if let Some(url) = &rec.console_url {
        detail.push_str(&format!("\nDLT console: {url}\n"));
    }
    if fail {
        detail.push_str(
            "\nThe run is saved in state as tainted, so the next apply runs it again. \
             Set fail_on_gate = false to report failed gates as warnings instead.",
        );
        Diagnostic::error(format!("Quality gate failed: {}", spec.name), detail)
    } else {
        Diagnostic::warning(format!("Quality gate failed: {}", spec.name), detail)
    }
    .at(crate::plugin::AttrPath::root("gates"))
}

fn timeout_of(config: &Value, op: &str, default: Duration) -> Duration {
    config
        .get("timeouts")
        .get(op)
        .as_str()
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or(default)
}

/// Runs the spec on the local engine, bounded by `timeout` and Terraform's stop signal.
async fn run_local(ctx: &Ctx, spec: &TestSpec, config: &Value, timeout: Duration) -> Result<RunRecord, Diagnostics> {
    let Scenario::Simple { requests } = &spec.scenario else {
        let mut d = Diagnostics::new();
        let kind = spec.scenario.script().map(|(k, _)| k.name()).unwrap_or_default();
        d.attr_error(
            "scenario.type",
            "Script tests need DLT",
            format!("type = \"{kind}\" runs only on DLT; add a dlt block."),
        );
        return Err(d);
    };
    let request_timeout = config
        .get("load")
        .get("request_timeout")
        .as_str()
        .and_then(|s| parse_duration(s).ok())
        .unwrap_or(Duration::from_secs(30));
    let opts = EngineOptions {
        request_timeout,
        ..EngineOptions::default()
    };
    let started_at = now_rfc3339();
    let cancel = ctx.stop.child_token();
    let run = engine::run(requests, &spec.load, &opts, cancel.clone());
    let outcome = tokio::select! {
        r = run => r,
        _ = tokio::time::sleep(timeout) => {
            cancel.cancel();
            let mut d = Diagnostics::new();
            d.error(
                "Test run timed out",
                format!(
                    "Test {:?} did not finish within timeouts.create = {}; it was stopped. \
                     Raise timeouts.create above ramp_up + hold_for.",
                    spec.name, format_duration(timeout)
                ),
            );
            return Err(d);
        }
    };
    match outcome {
        Ok(results) => Ok(RunRecord {
            id: local_id(),
            engine: "local",
            status: "complete".to_string(),
            started_at,
            finished_at: now_rfc3339(),
            console_url: None,
            results,
        }),
        Err(EngineError::Cancelled { partial }) => {
            let mut d = Diagnostics::new();
            d.error(
                "Test run cancelled",
                format!(
                    "Test {:?} was cancelled (interrupt) after {} requests; no results were recorded and the next apply runs it again.",
                    spec.name, partial.total.requests
                ),
            );
            Err(d)
        }
        Err(e) => {
            let mut d = Diagnostics::new();
            d.error("Local test run failed", format!("Test {:?}: {e}", spec.name));
            Err(d)
        }
    }
}

fn local_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let suffix: String = (0..10)
        .map(|_| {
            let i = rng.random_range(0..36u8);
            char::from(if i < 10 { b'0' + i } else { b'a' + i - 10 })
        })
        .collect();
    format!("local-{suffix}")
}

/// Writes the configured reports; failures become error diagnostics naming the attribute.
fn write_reports(config: &Value, spec: &TestSpec, rec: &RunRecord, verdict: &Verdict) -> Diagnostics {
    let mut d = Diagnostics::new();
    let report_cfg = config.get("report");
    let meta = ReportMeta {
        test_id: rec.id.clone(),
        engine: rec.engine.to_string(),
        status: rec.status.clone(),
        started_at: rec.started_at.clone(),
        finished_at: rec.finished_at.clone(),
        console_url: rec.console_url.clone(),
    };
    for f in &report::FORMATS {
        if let Some(path) = report_cfg.get(f.key).as_str() {
            if let Err(e) = (f.write)(path.as_ref(), spec, &rec.results, verdict, &meta) {
                d.attr_error(
                    &format!("report.{}", f.key),
                    format!("Could not write {} report", f.name),
                    e.to_string(),
                );
            }
        }
    }
    d
}

#[async_trait]
impl Resource for TestRunResource {
    fn type_name(&self) -> &'static str {
        "dlt_test_run"
    }

    fn schema(&self) -> Schema {
        test_run_schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = test_run_schema::validate(config);
        // The engine's own request check (methods, header values) once the requests are known.
        let requests = config.get("scenario").get("requests");
        if config.get("dlt").is_null() && requests.is_wholly_known() && !d.has_errors() {
            check_local_requests(&mut d, &requests_from(requests));
        }
        d
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan) -> Diagnostics {
        // Only `timeouts` can change without replacement; then nothing computed changes.
        if !plan.is_create() && plan.requires_replace.is_empty() {
            for name in [
                "id",
                "engine",
                "status",
                "passed",
                "started_at",
                "finished_at",
                "console_url",
                "results",
                "gate_results",
            ] {
                let prior = plan.prior.get(name).clone();
                plan.planned.set(name, prior);
            }
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: &Value, config: &Value) -> Outcome {
        let spec = match spec_from_config(planned) {
            Ok(s) => s,
            Err(d) => return Outcome::failed(d),
        };
        let on_dlt = !planned.get("dlt").is_null();
        let rec = if on_dlt {
            let default = spec.load.ramp_up + spec.load.hold_for + Duration::from_secs(30 * 60);
            let timeout = timeout_of(config, "create", default);
            match super::test_run_dlt::run(ctx, &self.data, &spec, planned, timeout).await {
                Ok(rec) => rec,
                Err((state_rec, d)) => {
                    // A run that started on DLT exists there: keep its id so destroy can delete it.
                    return match state_rec {
                        Some(rec) => Outcome {
                            state: Some(state_from(
                                planned,
                                &rec,
                                &Verdict::of(&Default::default(), &rec.results),
                            )),
                            ..Outcome::default()
                        }
                        .with_diagnostics(d),
                        None => Outcome::failed(d),
                    };
                }
            }
        } else {
            let timeout = timeout_of(config, "create", spec.load.ramp_up + spec.load.hold_for + LOCAL_SLACK);
            match run_local(ctx, &spec, planned, timeout).await {
                Ok(rec) => rec,
                Err(d) => return Outcome::failed(d),
            }
        };
        let verdict = Verdict::of(&spec.gates, &rec.results);
        let passed = verdict.passed;
        let fail_on_gate = planned.get("fail_on_gate").as_bool().unwrap_or(true);
        let mut diags = write_reports(planned, &spec, &rec, &verdict);
        log::info!(
            "dlt_test_run {:?}: {} requests, success rate {:.2}%, p95 {:.1} ms: {}",
            spec.name,
            rec.results.total.requests,
            rec.results.total.success_rate,
            rec.results.total.p95_ms,
            if passed { "passed" } else { "FAILED" }
        );
        if !passed {
            diags.push(gate_diagnostic(&spec, &rec, &verdict, fail_on_gate));
        }
        Outcome {
            state: Some(state_from(planned, &rec, &verdict)),
            private: Vec::new(),
            diagnostics: diags,
        }
    }

    async fn read(&self, _ctx: &Ctx, state: &Value, private: &[u8]) -> Outcome {
        Outcome {
            state: Some(state.clone()),
            private: private.to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn update(&self, _ctx: &Ctx, _prior: &Value, planned: &Value, _config: &Value, private: &[u8]) -> Outcome {
        // Every argument but `timeouts` forces replacement, so an update only records new timeouts.
        Outcome {
            state: Some(planned.clone()),
            private: private.to_vec(),
            diagnostics: Diagnostics::new(),
        }
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        if prior.get("engine").as_str() == Some("dlt") {
            let timeout = timeout_of(prior, "delete", Duration::from_secs(10 * 60));
            return super::test_run_dlt::delete(ctx, &self.data, prior, timeout).await;
        }
        Diagnostics::new()
    }
}
