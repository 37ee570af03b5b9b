//! Provider schema and plan-time validation under real Terraform: the schema Terraform sees,
//! plan-time diagnostics for bad input, unknown values flowing between resources, and loading
//! over mTLS with every available Terraform version.

mod support;

use serde_json::Value as Json;
use support::flat;
use support::terraform::{for_each_terraform, with_terraform, Workspace};

const PROVIDER: &str = "registry.terraform.io/dlt-tools/dlt";

fn attribute_names(block: &Json) -> Vec<String> {
    let mut names: Vec<String> = block["attributes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(blocks) = block["block_types"].as_object() {
        names.extend(blocks.keys().cloned());
    }
    names
}

fn nested_names(block: &Json, attr: &str) -> Vec<String> {
    block["attributes"][attr]["nested_type"]["attributes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[track_caller]
fn assert_has(names: &[String], expected: &[&str], what: &str) {
    for e in expected {
        assert!(names.iter().any(|n| n == e), "{what}: missing {e}; has {names:?}");
    }
}

#[test]
fn schema_lists_every_spec_attribute() {
    for_each_terraform(|tf| {
        let ws = Workspace::new(tf, "provider \"dlt\" {}\n");
        let schema = ws.schema_json();
        let p = &schema["provider_schemas"][PROVIDER];
        assert!(p.is_object(), "provider missing from schema: {schema}");

        let provider = &p["provider"]["block"];
        assert_has(
            &attribute_names(provider),
            &["region", "profile", "assume_role", "endpoints"],
            "provider",
        );
        assert_has(
            &nested_names(provider, "assume_role"),
            &["role_arn", "session_name", "external_id"],
            "assume_role",
        );
        assert_has(
            &nested_names(provider, "endpoints"),
            &["cloudformation", "cognito_idp", "cognito_identity", "ssm", "s3", "sts"],
            "endpoints",
        );

        let stack = &p["resource_schemas"]["dlt_stack"]["block"];
        assert_has(
            &attribute_names(stack),
            &[
                "name",
                "template_url",
                "template_body",
                "parameters",
                "capabilities",
                "on_failure",
                "tags",
                "admin_password",
                "timeouts",
                "id",
                "status",
                "outputs",
                "api_endpoint",
                "console_url",
                "user_pool_id",
                "user_pool_client_id",
                "identity_pool_id",
                "scenarios_bucket",
                "admin_password_version",
                "output_names",
            ],
            "dlt_stack",
        );
        assert_has(
            &nested_names(stack, "admin_password"),
            &["ssm_parameter", "username"],
            "admin_password",
        );

        let run = &p["resource_schemas"]["dlt_test_run"]["block"];
        assert_has(
            &attribute_names(run),
            &[
                "name",
                "description",
                "dlt",
                "scenario",
                "load",
                "gates",
                "fail_on_gate",
                "triggers",
                "report",
                "timeouts",
                "id",
                "status",
                "passed",
                "started_at",
                "finished_at",
                "console_url",
                "results",
                "gate_results",
            ],
            "dlt_test_run",
        );
        assert_has(
            &nested_names(run, "dlt"),
            &["api_endpoint", "region", "scenarios_bucket", "console_url", "cognito"],
            "dlt",
        );
        let cognito: Vec<String> = run["attributes"]["dlt"]["nested_type"]["attributes"]["cognito"]["nested_type"]
            ["attributes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_has(
            &cognito,
            &[
                "user_pool_id",
                "client_id",
                "identity_pool_id",
                "username",
                "password_ssm_parameter",
                "auth_flow",
            ],
            "dlt.cognito",
        );
        assert_has(
            &nested_names(run, "scenario"),
            &["type", "requests", "script"],
            "scenario",
        );
        assert_has(
            &nested_names(run, "load"),
            &["concurrency", "task_count", "regions", "ramp_up", "hold_for"],
            "load",
        );
        assert_has(
            &nested_names(run, "gates"),
            &[
                "min_success_rate",
                "max_p50",
                "max_p90",
                "max_p95",
                "max_p99",
                "max_avg_response_time",
                "min_throughput",
                "max_failures",
            ],
            "gates",
        );
        assert_has(&nested_names(run, "report"), &["junit_path", "json_path"], "report");
        let results: Vec<String> = run["attributes"]["results"]["type"][1]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_has(
            &results,
            &[
                "requests",
                "successes",
                "failures",
                "success_rate",
                "throughput",
                "avg_response_time_ms",
                "p50_ms",
                "p90_ms",
                "p95_ms",
                "p99_ms",
                "max_ms",
                "duration_seconds",
            ],
            "results",
        );

        let data = &p["data_source_schemas"]["dlt_stack"]["block"];
        assert_has(
            &attribute_names(data),
            &[
                "name",
                "outputs",
                "api_endpoint",
                "console_url",
                "user_pool_id",
                "scenarios_bucket",
            ],
            "data dlt_stack",
        );
    });
}

const BAD_CONFIG: &str = r#"
provider "dlt" {
  region = "eu-west-1"
}

resource "dlt_stack" "bad" {
  name          = "DLT-bad"
  template_url  = "https://bucket.s3.amazonaws.com/dlt.yml"
  template_body = "{}"
  on_failure    = "EXPLODE"
}

resource "dlt_test_run" "bad" {
  name = "bad"
  dlt = {
    api_endpoint = "dlt.example.com/prod"
    cognito = {
      user_pool_id           = "eu-west-1_abc"
      client_id              = "client"
      identity_pool_id       = "eu-west-1:pool"
      username               = "dltadmin"
      password_ssm_parameter = "/cognito/password"
      auth_flow              = "PLAIN"
    }
  }
  scenario = {
    requests = [{ url = "not a url" }]
  }
  load = {
    concurrency = -3
    hold_for    = "5 parsecs"
  }
  gates = {
    min_success_rate = 120
    max_p95          = "fast"
  }
}
"#;

#[test]
fn validate_names_every_bad_attribute() {
    for_each_terraform(|tf| {
        let ws = Workspace::new(tf, BAD_CONFIG);
        let out = ws.validate();
        out.assert_failed();
        let text = out.all();
        for needle in [
            "template_body",
            "on_failure",
            "EXPLODE",
            "scenario.requests[0].url",
            "load.concurrency",
            "load.hold_for",
            "gates.min_success_rate",
            "gates.max_p95",
            "dlt.api_endpoint",
            "dlt.cognito.auth_flow",
        ] {
            assert!(text.contains(needle), "validate output does not name {needle}:\n{text}");
        }
        assert!(!text.contains("panic"), "{text}");
    });
}

#[test]
fn plan_time_errors_for_local_engine_misuse() {
    with_terraform(|tf| {
        let ws = Workspace::new(
            tf,
            r#"
resource "dlt_test_run" "jm" {
  name     = "jmeter-local"
  scenario = { type = "jmeter", script = "load/checkout.jmx" }
  load     = { concurrency = 0, hold_for = "10s" }
}
"#,
        );
        let out = ws.plan();
        out.assert_failed();
        let text = out.all();
        assert!(text.contains("Script tests need DLT"), "{text}");
        assert!(text.contains("load.concurrency"), "{text}");
    });
}

#[test]
fn plan_time_errors_for_k6_and_locust_scripts() {
    with_terraform(|tf| {
        let ws = Workspace::new(
            tf,
            r#"
resource "dlt_test_run" "k6" {
  name     = "k6-wrong-extension"
  dlt      = { api_endpoint = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/", region = "eu-west-1" }
  scenario = { type = "k6", script = "load/checkout.py" }
  load     = { concurrency = 1, hold_for = "1m" }
}

resource "dlt_test_run" "locust" {
  name     = "locust-missing-file"
  dlt      = { api_endpoint = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/", region = "eu-west-1" }
  scenario = { type = "locust", script = "load/missing-locustfile.py" }
  load     = { concurrency = 1, hold_for = "1m" }
}

resource "dlt_test_run" "present" {
  name     = "k6-present"
  dlt      = { api_endpoint = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/", region = "eu-west-1" }
  scenario = { type = "k6", script = "checkout.ts" }
  load     = { concurrency = 1, hold_for = "1m" }
}
"#,
        );
        std::fs::write(ws.path().join("checkout.ts"), "export default function () {}\n").expect("script");
        let out = ws.plan();
        out.assert_failed();
        let text = flat(&out.all());
        assert!(
            text.contains("a k6 script must be a .js, .ts, .zip file, got \"load/checkout.py\""),
            "{text}"
        );
        assert!(
            text.contains("scenario.script \"load/missing-locustfile.py\" is not a readable file"),
            "{text}"
        );
        assert!(!text.contains("checkout.ts"), "an existing .ts script is fine: {text}");
    });
}

#[test]
fn unknown_values_from_other_resources_plan() {
    for_each_terraform(|tf| {
        let ws = Workspace::new(
            tf,
            r#"
resource "terraform_data" "target" {
  input = "127.0.0.1:9"
}

resource "dlt_test_run" "later" {
  name     = "depends-on-unknown"
  scenario = { requests = [{ url = "http://${terraform_data.target.output}/health" }] }
  load     = { concurrency = 1, hold_for = "1s" }
  gates    = { min_success_rate = 90 }
  triggers = { target = terraform_data.target.id }
}
"#,
        );
        let out = ws.plan();
        out.assert_ok();
        assert!(
            out.stdout.contains("dlt_test_run.later will be created"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("(known after apply)"), "{}", out.stdout);
    });
}
