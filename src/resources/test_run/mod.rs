//! `dlt_test_run`: runs one load test during apply (local engine or DLT) and gates the apply.
//!
//! The run happens in `create`; every argument requires replacement, so a changed argument means
//! a new run. Read makes no network call (a finished run never changes). When a gate fails with
//! `fail_on_gate = true`, create returns the full state *and* an error, so Terraform saves the run
//! as tainted and runs it again on the next apply.
//!
//! The two engines are siblings with the same shape (`local.rs`, `dlt.rs`: run a spec, return a
//! [`RunRecord`]); what they share, the record and the state written from it, is `record.rs`,
//! so neither engine imports this file. The schema and plan-time checks are `schema.rs`.

use std::time::Duration;

use async_trait::async_trait;

use crate::dlt::gates::Verdict;
use crate::dlt::report::{self, ReportMeta};
use crate::dlt::scenario::{Load, RequestSpec, Scenario, ScriptType, TestSpec};
use crate::duration::parse_duration;
use crate::plugin::{Ctx, Diagnostic, Diagnostics, Outcome, Plan, Resource, Schema, Value};
use crate::resources::provider_data::SharedData;
use record::{state_from, RunRecord};

mod dlt;
mod local;
pub mod record;
pub mod schema;

pub struct TestRunResource {
    data: SharedData,
}

impl TestRunResource {
    pub fn new(data: SharedData) -> TestRunResource {
        TestRunResource { data }
    }
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

/// Builds the domain test definition from a wholly known configuration.
pub fn spec_from_config(config: &Value) -> Result<TestSpec, Diagnostics> {
    let mut d = Diagnostics::new();
    schema::validate_except_gates(&mut d, config);
    let gates = schema::parse_gates(&mut d, config.get("gates"));
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
            local::check_requests(&mut d, requests);
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
        schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = schema::validate(config);
        // The engine's own request check (methods, header values) once the requests are known.
        let requests = config.get("scenario").get("requests");
        if config.get("dlt").is_null() && requests.is_wholly_known() && !d.has_errors() {
            local::check_requests(&mut d, &requests_from(requests));
        }
        d
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan) -> Diagnostics {
        // Only `timeouts` can change without replacement; then nothing computed changes.
        // Every computed-only attribute of the schema keeps its prior value, so a new result
        // attribute cannot be forgotten here (it was: `percentile_method` came out unknown).
        if !plan.is_create() && plan.requires_replace.is_empty() {
            for attr in schema::schema().block.attributes {
                if attr.computed && !attr.optional && !attr.required {
                    let prior = plan.prior.get(&attr.name).clone();
                    plan.planned.set(&attr.name, prior);
                }
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
            match dlt::run(ctx, &self.data, &spec, planned, timeout).await {
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
            let timeout = timeout_of(
                config,
                "create",
                spec.load.ramp_up + spec.load.hold_for + local::LOCAL_SLACK,
            );
            match local::run(ctx, &spec, planned, timeout).await {
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
        for w in rec
            .warnings
            .iter()
            .cloned()
            .chain(crate::dlt::exact::averaged_percentile_note(&spec.gates, &rec.results))
        {
            diags
                .push(Diagnostic::warning("Percentiles are not exact", w).at(crate::plugin::AttrPath::root("results")));
        }
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
            return dlt::delete(ctx, &self.data, prior, timeout).await;
        }
        Diagnostics::new()
    }
}
