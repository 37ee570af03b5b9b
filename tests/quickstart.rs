//! The main job's configuration (`examples/quickstart`, what `scripts/demo` applies) applies under
//! real Terraform against a local target, prints the gate table, and fails with the table when
//! the gate is set below the target's latency.

mod support;

use std::time::Duration;

use support::target::{TargetConfig, TargetServer};
use support::terraform::{with_terraform, Workspace};

fn quickstart() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart/main.tf"))
        .expect("quickstart config")
}

#[test]
fn quickstart_applies_and_prints_gate_table() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(20),
            ..TargetConfig::default()
        });
        let ws = Workspace::new(tf, &quickstart());
        let var = format!("target_url={}", target.url("/health"));
        let out = ws.run(&["apply", "-auto-approve", "-no-color", "-var", &var]);
        out.assert_ok();
        let table = ws.run(&["output", "-raw", "gate_table"]);
        table.assert_ok();
        for gate in ["min_success_rate", "max_p95", "max_avg_response_time", "max_failures"] {
            assert!(table.stdout.contains(gate), "{}", table.stdout);
        }
        assert!(!table.stdout.contains("FAIL"), "{}", table.stdout);
        assert!(ws.path().join("reports/quickstart.xml").is_file());
        assert!(ws.path().join("reports/quickstart.json").is_file());
        let p50 = ws.attributes("dlt_test_run.smoke")["results"]["p50_ms"]
            .as_f64()
            .unwrap_or(0.0);
        assert!(p50 >= 20.0, "p50 {p50} below the target's 20 ms latency");
        ws.run(&["destroy", "-auto-approve", "-no-color", "-var", &var])
            .assert_ok();
    });
}

#[test]
fn quickstart_failing_variant_shows_the_table() {
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(20),
            ..TargetConfig::default()
        });
        let ws = Workspace::new(tf, &quickstart());
        let var = format!("target_url={}", target.url("/health"));
        let out = ws.run(&[
            "apply",
            "-auto-approve",
            "-no-color",
            "-var",
            &var,
            "-var",
            "max_p95=5ms",
        ]);
        out.assert_failed();
        let text = out.all();
        assert!(text.contains("Quality gate failed: quickstart-smoke"), "{text}");
        assert!(
            text.contains("max_p95") && text.contains("<= 5ms") && text.contains("FAIL"),
            "{text}"
        );
        assert!(ws.is_tainted("dlt_test_run.smoke"));
    });
}
