//! `dlt_test_run` on Distributed Load Testing on AWS: credentials (Cognito or the provider's IAM
//! identity), then the domain runner in `crate::dlt::runner` starts, watches, cancels and reads
//! the run. This file only translates between Terraform values and that runner; its local-engine
//! sibling is `local.rs`.

use std::sync::Arc;
use std::time::Duration;

use aws_config::Region;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::aws::cognito_auth::{AuthFlow, CognitoCredentialsProvider, CognitoSettings};
use crate::aws::{ssm, Clients};
use crate::dlt::api_route;
use crate::dlt::client::{DeleteOutcome, DltClient, DltClientConfig};
use crate::dlt::exact::{self, RunLocation};
use crate::dlt::results::RunResults;
use crate::dlt::runner::{new_test_id, DltRunner, RunErrorKind, RunnerOptions};
use crate::dlt::samples::ResultStore;
use crate::dlt::scenario::{Scenario, TestSpec};
use crate::plugin::{Ctx, Diagnostics};
use crate::resources::model::Attr;
use crate::resources::provider_data::{aws_clients, configured, SharedData};

use super::config::{CognitoConfig, DltConfig};
use super::record::{now_rfc3339, RunRecord};

/// A DLT client for the `dlt` block, signing with Cognito-issued or IAM credentials.
async fn dlt_client(data: &SharedData, dlt: &DltConfig) -> Result<(DltClient, String), Diagnostics> {
    let clients = aws_clients(data).await?;
    let region = dlt
        .region
        .known()
        .cloned()
        .or_else(|| clients.region().map(str::to_string));
    let Some(region) = region else {
        let mut d = Diagnostics::new();
        d.attr_error(
            "dlt.region",
            "No region for DLT",
            "Set dlt.region or the provider's region (or AWS_REGION) so DLT API calls can be signed.",
        );
        return Err(d);
    };
    let credentials = if let Attr::Known(cognito) = &dlt.cognito {
        SharedCredentialsProvider::new(cognito_provider(clients, data, cognito).await?)
    } else {
        match clients.sdk_config.credentials_provider() {
            Some(p) => p,
            None => {
                let mut d = Diagnostics::new();
                d.attr_error(
                    "dlt",
                    "No AWS credentials",
                    "Without dlt.cognito the provider signs DLT API calls with its own AWS credentials, but none were found.",
                );
                return Err(d);
            }
        }
    };
    let mut endpoint = dlt.api_endpoint.known().cloned().unwrap_or_default();
    let mut api_id = None;
    if let Some(via) = configured(data)?.aws.settings().endpoints.execute_api.as_deref() {
        let (routed, id) = api_route::route(&endpoint, via).map_err(|e| {
            let mut d = Diagnostics::new();
            d.attr_error("dlt.api_endpoint", "Invalid DLT API endpoint", e);
            d
        })?;
        log::info!("DLT API {endpoint} reached through endpoints.execute_api: {routed}");
        (endpoint, api_id) = (routed, id);
    }
    let mut client_config = DltClientConfig::new(endpoint, region.clone(), credentials);
    client_config.api_id = api_id;
    let client = DltClient::new(client_config).map_err(|e| {
        let mut d = Diagnostics::new();
        d.attr_error("dlt.api_endpoint", "Invalid DLT API endpoint", e.to_string());
        d
    })?;
    Ok((client, region))
}

/// Reads the password from SSM and builds the refreshing Cognito credentials provider.
async fn cognito_provider(
    clients: &Clients,
    data: &SharedData,
    cognito: &CognitoConfig,
) -> Result<CognitoCredentialsProvider, Diagnostics> {
    let s = |a: &Attr<String>| a.known().cloned().unwrap_or_default();
    let parameter = s(&cognito.password_ssm_parameter);
    let password = ssm::get_secure_parameter(&clients.ssm, &parameter).await.map_err(|e| {
        let mut d = Diagnostics::new();
        d.attr_error(
            "dlt.cognito.password_ssm_parameter",
            "Cannot read the DLT password",
            e.to_string(),
        );
        d
    })?;
    let settings = CognitoSettings {
        user_pool_id: s(&cognito.user_pool_id),
        client_id: s(&cognito.client_id),
        identity_pool_id: s(&cognito.identity_pool_id),
        username: s(&cognito.username),
        password: password.value,
        auth_flow: cognito.auth_flow.or(AuthFlow::UserPassword).unwrap_or_default(),
    };
    // The user pool lives in the region its id names, whatever region the provider uses.
    let mut sdk = clients.sdk_config.clone();
    if let Some((pool_region, _)) = settings.user_pool_id.split_once('_') {
        sdk = sdk.to_builder().region(Region::new(pool_region.to_string())).build();
    }
    let endpoints = &configured(data)?.aws.settings().endpoints;
    Ok(CognitoCredentialsProvider::from_sdk_config(
        &sdk,
        endpoints.cognito_idp.as_deref(),
        endpoints.cognito_identity.as_deref(),
        settings,
    ))
}

fn console_link(dlt: &DltConfig, test_id: &str) -> Option<String> {
    let base = dlt.console_url.known()?.trim_end_matches('/');
    let base = if base.contains("://") {
        base.to_string()
    } else {
        format!("https://{base}")
    };
    Some(format!("{base}/details/{test_id}"))
}

/// Runs `spec` on DLT. When the test may exist in DLT but the run failed, the record of that test
/// comes back with the diagnostics so its id is saved (tainted) and destroy can delete it.
pub async fn run(
    ctx: &Ctx,
    data: &SharedData,
    spec: &TestSpec,
    dlt: &DltConfig,
    timeout: Duration,
) -> Result<RunRecord, (Option<RunRecord>, Diagnostics)> {
    let (client, region) = dlt_client(data, dlt).await.map_err(|d| (None, d))?;
    let mut runner = DltRunner::new(client);
    let s3 = aws_clients(data).await.ok().map(|c| c.s3.clone());
    if let Some(s3) = &s3 {
        runner = runner
            .with_script_store(Arc::new(s3.clone()))
            .with_result_store(Arc::new(s3.clone()));
    }
    let test_id = new_test_id();
    let mut opts = RunnerOptions::new(region, timeout);
    opts.test_id = Some(test_id.clone());
    opts.scenarios_bucket = dlt.scenarios_bucket.known().cloned();
    let started_at = now_rfc3339();
    match runner.run(spec, &opts, ctx.stop.child_token()).await {
        Ok(remote) => {
            log::info!(
                "DLT test {} finished: {} API calls ({} polls) over {:.0}s; end noticed {:?} after DLT's endTime",
                remote.test_id,
                remote.stats.api_calls,
                remote.stats.polls,
                remote.stats.elapsed.as_secs_f64(),
                remote.stats.detection_latency
            );
            let refined = exact::refine(
                s3.as_ref().map(|c| c as &dyn ResultStore),
                opts.scenarios_bucket.as_deref(),
                RunLocation {
                    test_id: &remote.test_id,
                    test_run_id: remote.test_run_id.as_deref(),
                    v4: remote.v4,
                    warm_up: spec.warm_up(),
                    jmeter: matches!(spec.scenario, Scenario::Jmeter { .. }),
                    dlt_start_time: remote.dlt_start_time.as_deref(),
                },
                remote.results,
            )
            .await;
            Ok(RunRecord {
                console_url: console_link(dlt, &remote.test_id),
                id: remote.test_id,
                engine: "dlt",
                status: remote.status.to_string(),
                started_at: remote.started_at.unwrap_or(started_at),
                finished_at: remote.finished_at.unwrap_or_else(now_rfc3339),
                results: refined.results,
                warnings: refined.warnings,
            })
        }
        Err(e) => {
            let (summary, status) = match &e.kind {
                RunErrorKind::Failed { .. } => ("DLT test run failed", "failed"),
                RunErrorKind::Cancelled { .. } | RunErrorKind::CancelledExternally => {
                    ("DLT test run cancelled", "cancelled")
                }
                RunErrorKind::AlreadyRunning { .. } => ("DLT test already running", "failed"),
                _ => ("DLT test run error", "failed"),
            };
            let mut d = Diagnostics::new();
            let mut detail = format!("Test {:?}: {e}", spec.name);
            if let Some(id) = &e.test_id {
                if let Some(url) = console_link(dlt, id) {
                    detail.push_str(&format!("\nDLT console: {url}"));
                }
            }
            d.error(summary, detail);
            let record = e.test_id.map(|id| RunRecord {
                console_url: console_link(dlt, &id),
                id,
                engine: "dlt",
                status: status.to_string(),
                started_at,
                finished_at: now_rfc3339(),
                results: RunResults::default(),
                warnings: Vec::new(),
            });
            Err((record, d))
        }
    }
}

/// Deletes DLT test `test_id`; a test already gone is success.
pub async fn delete(ctx: &Ctx, data: &SharedData, test_id: &str, dlt: &DltConfig, timeout: Duration) -> Diagnostics {
    let (client, _) = match dlt_client(data, dlt).await {
        Ok(c) => c,
        Err(d) => return d,
    };
    let runner = DltRunner::new(client);
    let mut d = Diagnostics::new();
    let outcome = tokio::select! {
        r = runner.delete(test_id) => r,
        _ = tokio::time::sleep(timeout) => {
            d.error("Timed out deleting the DLT test", format!("DLT test {test_id} was not deleted within timeouts.delete."));
            return d;
        }
        _ = ctx.stop.cancelled() => {
            d.error("Interrupted", format!("Deleting DLT test {test_id} was interrupted."));
            return d;
        }
    };
    match outcome {
        Ok(DeleteOutcome::Deleted) => log::info!("deleted DLT test {test_id}"),
        Ok(DeleteOutcome::AlreadyGone) => log::info!("DLT test {test_id} was already gone"),
        Err(e) => d.error("Cannot delete the DLT test", e.to_string()),
    }
    d
}
