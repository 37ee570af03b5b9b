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
