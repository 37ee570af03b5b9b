//! The `run` subcommand (a test definition outside Terraform, on the local engine) end to end
//! against a loopback target: exit codes follow the gates, reports are written.

mod support;

use dlt_provider::cli;
use support::target::{TargetConfig, TargetServer};

/// The `run` subcommand end to end: exit 0 when gates pass, 1 when one fails, reports written.
#[test]
fn cli_exit_codes_follow_the_gates() {
    let target = TargetServer::start(TargetConfig {
        error_rate: 0.5,
        ..TargetConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let write_config = |min_success_rate: f64| {
        let path = dir.path().join(format!("test-{min_success_rate}.json"));
        let config = serde_json::json!({
            "name": "cli-smoke",
            "scenario": { "type": "simple", "requests": [{ "url": target.url("/") }] },
            "load": { "concurrency": 2, "task_count": 1, "ramp_up": "0s", "hold_for": "2s" },
            "gates": { "min_success_rate": min_success_rate, "max_p95": "1s" }
        });
        std::fs::write(&path, config.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    };
    let junit = dir.path().join("out/junit.xml");
    let report = dir.path().join("out/report.json");
    let args = |config: String| -> Vec<String> {
        [
            "run",
            "--config",
            &config,
            "--json",
            "--max-requests",
            "100",
            "--junit",
            &junit.to_string_lossy(),
            "--report",
            &report.to_string_lossy(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let pass = cli::main(&args(write_config(40.0)));
    assert_eq!(pass, std::process::ExitCode::SUCCESS);
    let fail = cli::main(&args(write_config(90.0)));
    assert_eq!(fail, std::process::ExitCode::from(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testcase name=\"min_success_rate\"") && xml.contains("<failure"),
        "{xml}"
    );
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["results"]["requests"], 100);
    assert_eq!(
        cli::main(&["run".to_string(), "--config".to_string()]),
        std::process::ExitCode::from(2)
    );
}

/// The `run` command reads label gates, status gates and the warm-up from its JSON like HCL:
/// the checkout label's 404s fail its own gates and the 4xx status gate, the home label passes,
/// and a label no request has is refused before any load is sent.
#[test]
fn cli_runs_label_and_status_gates() {
    let target = TargetServer::start(TargetConfig {
        status_by_path: vec![("/cart".into(), 404)],
        ..TargetConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let write = |label: &str| {
        let path = dir.path().join(format!("{label}.json"));
        let config = serde_json::json!({
            "name": "cli-labels",
            "scenario": { "type": "simple", "requests": [
                { "url": target.url("/") },
                { "url": target.url("/cart"), "label": "checkout" }
            ] },
            "load": { "concurrency": 2, "task_count": 1, "ramp_up": "200ms", "hold_for": "800ms" },
            "label_gates": [
                { "label": target.url("/"), "min_success_rate": 100 },
                { "label": label, "max_failures": 0 }
            ],
            "status_gates": [{ "status": "4xx", "max_percent": 10 }],
            "warm_up": "ramp_up"
        });
        std::fs::write(&path, config.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    };
    let report = dir.path().join("report.json");
    let run = |config: String| {
        cli::main(&[
            "run".to_string(),
            "--config".to_string(),
            config,
            "--report".to_string(),
            report.to_string_lossy().into_owned(),
        ])
    };
    assert_eq!(run(write("checkout")), std::process::ExitCode::from(1));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let gates = doc["gates"].as_array().cloned().unwrap_or_default();
    let verdicts: Vec<(String, bool)> = gates
        .iter()
        .map(|g| (g["scope"].as_str().unwrap_or("").to_string(), g["passed"] == true))
        .collect();
    assert_eq!(
        verdicts,
        [
            (format!("label {}", target.url("/")), true),
            ("label checkout".to_string(), false),
            ("status 4xx".to_string(), false),
        ],
        "{doc}"
    );
    assert_eq!(doc["test"]["warm_up"], "ramp_up", "{doc}");
    let served = target.served();
    assert_eq!(run(write("chekout")), std::process::ExitCode::from(2));
    assert_eq!(target.served(), served, "an unknown label is refused before the run");
}
