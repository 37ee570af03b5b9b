//! `dlt_test_run` on the local engine: runs the scenario from the machine running Terraform,
//! bounded by `timeouts.create` and Terraform's stop signal. The DLT sibling is `dlt.rs`.

use std::time::Duration;

use crate::dlt::scenario::{RequestSpec, Scenario, TestSpec};
use crate::duration::format_duration;
use crate::engine::{self, EngineError, EngineOptions, TlsOptions};
use crate::plugin::{Ctx, Diagnostics};

use super::record::{now_rfc3339, RunRecord};

/// How long past ramp-up + hold-for a local run may take before `timeouts.create` (default).
pub const LOCAL_SLACK: Duration = Duration::from_secs(120);

/// The engine's own check of the requests (methods, header values), as diagnostics.
pub fn check_requests(d: &mut Diagnostics, requests: &[RequestSpec]) {
    if let Err((i, reason)) = engine::validate_requests(requests) {
        d.attr_error(&format!("scenario.requests[{i}]"), "Invalid request", reason);
    }
}

/// Runs the spec on the local engine, bounded by `timeout` and Terraform's stop signal.
pub async fn run(
    ctx: &Ctx,
    spec: &TestSpec,
    request_timeout: Duration,
    tls: TlsOptions,
    timeout: Duration,
) -> Result<RunRecord, Diagnostics> {
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
    let opts = EngineOptions {
        request_timeout,
        warm_up: spec.warm_up(),
        tls,
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
            warnings: Vec::new(),
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
