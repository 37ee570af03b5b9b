//! `dlt_test_run`: runs one load test during apply (local engine or DLT) and gates the apply.
//!
//! The run happens in `create`; every argument requires replacement, so a changed argument means
//! a new run. Read makes no network call (a finished run never changes). When a gate fails with
//! `fail_on_gate = true`, create returns the full state *and* an error, so Terraform saves the run
//! as tainted and runs it again on the next apply.
//!
//! The two engines are siblings with the same shape (`local.rs`, `dlt.rs`: run a spec, return a
//! [`RunRecord`]); the record they share is `record.rs`, so neither engine imports this file.
//! The models: `schema.rs` (the schema), `config.rs` (the arguments, read and checked once, the
//! same way at validate, plan and apply), `state.rs` (the computed attributes written from the
//! record and read back on destroy). This file reads no attribute by name.

use std::time::Duration;

use async_trait::async_trait;

use crate::dlt::gates::Verdict;
use crate::dlt::report::{self, ReportMeta};
use crate::dlt::scenario::TestSpec;
use crate::plugin::{AttrPath, Ctx, Diagnostic, Diagnostics, Outcome, Plan, Resource, Schema, Value};
use crate::resources::model::Attr;
use crate::resources::provider_data::SharedData;
use config::TestRunConfig;
use record::RunRecord;
use state::PriorRun;

pub mod config;
mod dlt;
mod local;
pub mod record;
pub mod schema;
pub mod state;

/// How long destroy waits for DLT to delete a test, unless `timeouts.delete` says otherwise.
const DEFAULT_DELETE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long past ramp-up + hold-for a DLT run may take before `timeouts.create` (default):
/// Fargate provisioning, result parsing.
const DLT_SLACK: Duration = Duration::from_secs(30 * 60);

pub struct TestRunResource {
    data: SharedData,
}

impl TestRunResource {
    pub fn new(data: SharedData) -> TestRunResource {
        TestRunResource { data }
    }
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
    if let Some(line) = failures_by_status(&rec.results.status_codes) {
        detail.push_str(&line);
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
    .at(AttrPath::root("gates"))
}

/// The most frequent failure statuses (`"tls: unknown issuer"`, `"503"`, ...), so a failed gate
/// says why requests failed even without a status gate.
fn failures_by_status(codes: &std::collections::BTreeMap<String, u64>) -> Option<String> {
    const SHOWN: usize = 5;
    let mut by_count: Vec<_> = codes.iter().filter(|(_, &n)| n > 0).collect();
    if by_count.is_empty() {
        return None;
    }
    by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let mut shown: Vec<String> = by_count.iter().take(SHOWN).map(|(k, n)| format!("{k} ({n})")).collect();
    if by_count.len() > SHOWN {
        shown.push(format!("{} more in results.status_codes", by_count.len() - SHOWN));
    }
    Some(format!("\nFailed requests by status: {}.\n", shown.join(", ")))
}

/// Every gate column the run judges, its own and its labels' (DLT's per-label percentiles are
/// averaged over tasks too), for the averaged-percentiles note.
fn judged_gates(spec: &TestSpec) -> crate::dlt::gates::Gates {
    let mut all = spec.gates.clone();
    for (g, limit) in spec.label_gates.iter().flat_map(|l| l.gates.iter()) {
        // Every limit comes from a gate of the same table, so it fits.
        let _ = all.set(g.name, limit);
    }
    all
}

/// Writes the configured reports; failures become error diagnostics naming the attribute.
fn write_reports(config: &TestRunConfig, spec: &TestSpec, rec: &RunRecord, verdict: &Verdict) -> Diagnostics {
    let mut d = Diagnostics::new();
    let meta = ReportMeta {
        test_id: rec.id.clone(),
        engine: rec.engine.to_string(),
        status: rec.status.clone(),
        started_at: rec.started_at.clone(),
        finished_at: rec.finished_at.clone(),
        console_url: rec.console_url.clone(),
    };
    for (f, (_, path)) in report::FORMATS.iter().zip(&config.report) {
        if let Attr::Known(path) = path {
            if let Err(e) = (f.write)(path.as_ref(), spec, &rec.results, verdict, &meta) {
                d.attr_error(
                    AttrPath::root("report").attr(f.key),
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
        config::validate(config).1
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan) -> Diagnostics {
        // Only `timeouts` can change without replacement; then nothing computed changes (every
        // computed-only attribute of the schema, so a new one cannot be forgotten here).
        if !plan.is_create() && plan.requires_replace.is_empty() {
            state::keep_computed(&plan.prior, &mut plan.planned);
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: &Value, _config: &Value) -> Outcome {
        let (config, d) = config::validate(planned);
        if d.has_errors() {
            return Outcome::failed(d);
        }
        let spec = match config.spec() {
            Ok(s) => s,
            Err(d) => return Outcome::failed(d),
        };
        let run_time = spec.load.ramp_up + spec.load.hold_for;
        let rec = if let Attr::Known(dlt_config) = &config.dlt {
            let timeout = config
                .timeouts
                .create
                .or(run_time + DLT_SLACK)
                .unwrap_or(run_time + DLT_SLACK);
            match dlt::run(ctx, &self.data, &spec, dlt_config, timeout).await {
                Ok(rec) => rec,
                Err((state_rec, d)) => {
                    // A run that started on DLT exists there: keep its id so destroy can delete it.
                    return match state_rec {
                        Some(rec) => Outcome {
                            state: Some(state::write(
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
            let default = run_time + local::LOCAL_SLACK;
            let timeout = config.timeouts.create.or(default).unwrap_or(default);
            match local::run(
                ctx,
                &spec,
                config.load.request_timeout(),
                config.scenario.tls(),
                timeout,
            )
            .await
            {
                Ok(rec) => rec,
                Err(d) => return Outcome::failed(d),
            }
        };
        let verdict = spec.verdict(&rec.results);
        let passed = verdict.passed;
        let fail_on_gate = config.fail_on_gate();
        let mut diags = write_reports(&config, &spec, &rec, &verdict);
        if rec.engine == "local" && config.scenario.tls().insecure_skip_verify {
            diags.push(
                Diagnostic::warning("TLS certificates not verified", crate::engine::INSECURE_WARNING)
                    .at(AttrPath::parse("scenario.insecure_skip_verify")),
            );
        }
        log::info!(
            "dlt_test_run {:?}: {} requests, success rate {:.2}%, p95 {:.1} ms: {}",
            spec.name,
            rec.results.total.requests,
            rec.results.total.success_rate,
            rec.results.total.p95_ms,
            if passed { "passed" } else { "FAILED" }
        );
        for w in &rec.warnings {
            diags.push(
                Diagnostic::warning("Percentiles are not exact", w.clone())
                    .at(crate::plugin::AttrPath::root("results")),
            );
        }
        // Its own summary, naming the test: Terraform folds warnings that share a summary into
        // the first one, and this note must not vanish behind a fallback warning.
        if let Some(note) = crate::dlt::exact::averaged_percentile_note(&judged_gates(&spec), &rec.results) {
            diags.push(
                Diagnostic::warning(
                    format!("Percentile gates judged on DLT's averaged figures: {}", spec.name),
                    note,
                )
                .at(crate::plugin::AttrPath::root("gates")),
            );
        }
        if !spec.status_gates.is_empty() && rec.results.status_codes_method == crate::dlt::results::CODES_APPROXIMATE {
            diags.push(
                Diagnostic::warning(
                    "Status counts are approximate",
                    "status_gates judged on DLT v3.2.1's response-code counts, which it overcounts for runs on more \
                     than one task (the tasks' own result files could not be read): a max_count or max_percent gate \
                     may fail on counts higher than the real ones.",
                )
                .at(AttrPath::root("status_gates")),
            );
        }
        if !passed {
            diags.push(gate_diagnostic(&spec, &rec, &verdict, fail_on_gate));
        }
        Outcome {
            state: Some(state::write(planned, &rec, &verdict)),
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
        let prior = PriorRun::read(prior);
        match (prior.on_dlt(), prior.id.known(), prior.config.dlt.known()) {
            (true, Some(test_id), Some(dlt_config)) => {
                let timeout = prior
                    .config
                    .timeouts
                    .delete
                    .or(DEFAULT_DELETE_TIMEOUT)
                    .unwrap_or(DEFAULT_DELETE_TIMEOUT);
                dlt::delete(ctx, &self.data, test_id, dlt_config, timeout).await
            }
            _ => Diagnostics::new(),
        }
    }
}
