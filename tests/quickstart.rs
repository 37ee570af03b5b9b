//! The main job's configuration (`examples/quickstart`, what `scripts/demo` applies) applies under
//! real Terraform against a local target, prints the gate table, and fails with the table when
//! the gate is set below the target's latency. The demo's own target (`examples/quickstart/
//! target.py`) measures what it claims: its p50 is within a few ms of its configured latency.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
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
        let summary = std::fs::read_to_string(ws.path().join("reports/quickstart.md")).expect("Markdown summary");
        assert!(summary.contains("### Quality gates: all passed"), "{summary}");
        let html = std::fs::read_to_string(ws.path().join("reports/quickstart.html")).expect("HTML report");
        assert!(html.contains("id=\"latency-over-time\"") && html.contains("id=\"latency-histogram\""));
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

/// The demo's Python target (`examples/quickstart/target.py`) on a free port; killed on drop.
struct DemoTarget {
    child: Child,
    url: String,
}

impl DemoTarget {
    fn start(latency_ms: u32) -> DemoTarget {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart/target.py");
        let mut child = Command::new("python3")
            .args([script, "--port", "0", "--latency-ms", &latency_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the demo target");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("target stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("target prints its address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        DemoTarget { child, url }
    }
}

impl Drop for DemoTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The quickstart target used to send a response's head and body in two writes: Nagle's
/// algorithm held the body until the client's delayed ACK (~40 ms), so "latency 20 ms" measured
/// a p50 of ~64 ms. Now one send on a TCP_NODELAY socket: p50 is the configured latency plus
/// loopback and Python overhead (about half a millisecond on an idle machine).
#[test]
fn demo_target_p50_is_the_configured_latency() {
    with_terraform(|tf| {
        const LATENCY_MS: f64 = 20.0;
        let target = DemoTarget::start(LATENCY_MS as u32);
        let ws = Workspace::new(tf, &quickstart());
        let var = format!("target_url={}/health", target.url);
        ws.run(&["apply", "-auto-approve", "-no-color", "-var", &var])
            .assert_ok();
        let results = &ws.attributes("dlt_test_run.smoke")["results"];
        let p50 = results["p50_ms"].as_f64().unwrap_or(0.0);
        assert!(
            (LATENCY_MS..LATENCY_MS + 8.0).contains(&p50),
            "demo target configured for {LATENCY_MS} ms measured p50 {p50} ms: {results}"
        );
        ws.run(&["destroy", "-auto-approve", "-no-color", "-var", &var])
            .assert_ok();
    });
}
