//! `terraform-provider-dlt run --config test.json [--json]`: runs a test definition on the local
//! engine outside Terraform (quick checks, benchmarks, CI without Terraform). An application of
//! its own beside the plugin: it reads its JSON through `dlt_test_run`'s configuration model
//! (the same checks and defaults as HCL), then uses the engine, the gates' verdict and the
//! reports as the resource does.
//!
//! Exit codes: 0 every gate passed, 1 a gate failed, 2 anything else (bad arguments or config,
//! engine error, Ctrl-C).

use std::path::PathBuf;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::dlt::gates::{GateResult, Verdict};
use crate::dlt::report::{self, ReportMeta};
use crate::dlt::results::RunResults;
use crate::dlt::scenario::{Scenario, TestSpec};
use crate::duration::parse_duration;
use crate::engine::{self, EngineError, EngineOptions, TlsOptions};
use crate::plugin::codec::json_to_value;
use crate::resources::test_run::{config, schema};

const USAGE: &str = "usage: terraform-provider-dlt run --config <test.json> [--json] [--timeout <30s>] \
[--max-requests <n>] [--threads <n>] [--junit <path>] [--report <path>]";

#[derive(Debug, Default)]
struct Args {
    config: PathBuf,
    json: bool,
    opts: EngineOptions,
    junit: Option<PathBuf>,
    report: Option<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = Args::default();
    let mut config = None;
    let mut it = args.iter().peekable();
    // Accept the subcommand name whether or not the caller stripped it.
    if it.peek().is_some_and(|a| *a == "run") {
        it.next();
    }
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--config" | "-c" => config = Some(PathBuf::from(value("--config")?)),
            "--json" => out.json = true,
            "--timeout" => out.opts.request_timeout = parse_duration(&value("--timeout")?)?,
            "--max-requests" => {
                let v = value("--max-requests")?;
                out.opts.max_requests = Some(
                    v.parse()
                        .map_err(|_| format!("--max-requests: {v:?} is not a number"))?,
                );
            }
            "--threads" => {
                let v = value("--threads")?;
                let n: usize = v.parse().map_err(|_| format!("--threads: {v:?} is not a number"))?;
                out.opts.threads = Some(n.max(1));
            }
            "--junit" => out.junit = Some(PathBuf::from(value("--junit")?)),
            "--report" => out.report = Some(PathBuf::from(value("--report")?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    out.config = config.ok_or("--config is required")?;
    Ok(out)
}

/// Reads the test definition: JSON in the shape of `dlt_test_run`'s arguments, read by the
/// resource's own configuration model, so its checks and defaults are the same as in HCL.
fn load_spec(path: &PathBuf) -> Result<(TestSpec, TlsOptions), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    let value = json_to_value(&json, &schema::schema().block.value_type())
        .map_err(|e| format!("reading {}: {e}", path.display()))?;
    let (config, d) = config::validate(&value);
    let spec = if d.has_errors() { Err(d) } else { config.spec() };
    spec.map(|s| (s, config.scenario.tls())).map_err(|d| {
        let problems: Vec<String> = d
            .iter()
            .map(|x| match &x.attribute {
                Some(at) => format!("{at}: {}: {}", x.summary, x.detail),
                None => format!("{}: {}", x.summary, x.detail),
            })
            .collect();
        format!("{}:\n  {}", path.display(), problems.join("\n  "))
    })
}

/// Entry point of the `run` subcommand; `args` are the arguments after the program name.
pub fn main(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    init_logger();
    let (spec, tls) = match load_spec(&args.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Scenario::Simple { requests } = &spec.scenario else {
        eprintln!(
            "error: {}: {} scenarios run on DLT only; the local engine runs simple scenarios",
            spec.name,
            spec.scenario.script().map(|(k, _)| k.name()).unwrap_or_default()
        );
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let started_at = now_rfc3339();
    let outcome = runtime.block_on(async {
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                log::warn!("interrupted: stopping the run");
                on_ctrl_c.cancel();
            }
        });
        if tls.insecure_skip_verify {
            log::warn!("{}", engine::INSECURE_WARNING);
        }
        let opts = engine::EngineOptions {
            warm_up: spec.warm_up(),
            tls,
            ..args.opts.clone()
        };
        engine::run(requests, &spec.load, &opts, cancel).await
    });
    let finished_at = now_rfc3339();
    let (results, cancelled) = match outcome {
        Ok(r) => (r, false),
        Err(EngineError::Cancelled { partial }) => (*partial, true),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let verdict = spec.verdict(&results);
    let meta = ReportMeta {
        test_id: format!("local-{}", std::process::id()),
        engine: "local".to_string(),
        status: if cancelled { "cancelled" } else { "complete" }.to_string(),
        started_at,
        finished_at,
        console_url: None,
    };
    let mut failed_io = false;
    if let Some(path) = &args.junit {
        if let Err(e) = report::write_junit(path, &spec, &results, &verdict, &meta) {
            eprintln!("error: {e}");
            failed_io = true;
        }
    }
    if let Some(path) = &args.report {
        if let Err(e) = report::write_json(path, &spec, &results, &verdict, &meta) {
            eprintln!("error: {e}");
            failed_io = true;
        }
    }
    if args.json {
        let doc = JsonOutput {
            name: &spec.name,
            status: &meta.status,
            passed: verdict.passed,
            results: &results,
            gates: &verdict.gates,
        };
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: encoding results: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", summary(&spec.name, &results, &verdict));
    }
    if cancelled {
        eprintln!("run cancelled: results are partial");
        return ExitCode::from(2);
    }
    if failed_io {
        return ExitCode::from(2);
    }
    if verdict.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `--json` output; a struct (not a map) so the run totals come first, before the labels.
#[derive(serde::Serialize)]
struct JsonOutput<'a> {
    name: &'a str,
    status: &'a str,
    passed: bool,
    results: &'a RunResults,
    gates: &'a [GateResult],
}

/// Human-readable results and gate table.
pub fn summary(name: &str, r: &RunResults, verdict: &Verdict) -> String {
    use std::fmt::Write as _;
    let t = &r.total;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{name}: {} requests in {:.2}s, {:.1} req/s",
        t.requests, r.duration_seconds, t.throughput
    );
    let _ = writeln!(
        s,
        "  successes {} ({:.2}%), failures {}",
        t.successes, t.success_rate, t.failures
    );
    if t.dropped > 0 {
        let _ = writeln!(
            s,
            "  dropped {} (open model: due while every user was busy, never sent)",
            t.dropped
        );
    }
    let _ = writeln!(
        s,
        "  latency ms: avg {:.3}  p50 {:.3}  p90 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}",
        t.avg_response_time_ms, t.p50_ms, t.p90_ms, t.p95_ms, t.p99_ms, t.max_ms
    );
    if !r.status_codes.is_empty() {
        let codes: Vec<String> = r.status_codes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "  failures by code: {}", codes.join(" "));
    }
    if r.labels.len() > 1 {
        for l in &r.labels {
            let _ = writeln!(
                s,
                "  {}: {} requests, {:.2}% ok, p95 {:.3} ms",
                l.label, l.stats.requests, l.stats.success_rate, l.stats.p95_ms
            );
        }
    }
    if verdict.gates.is_empty() {
        let _ = writeln!(s, "no gates configured");
    } else {
        let _ = writeln!(s);
        s.push_str(&verdict.table());
        let _ = writeln!(s, "{}", if verdict.passed { "PASSED" } else { "FAILED" });
    }
    s
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Progress goes to stderr at info level unless the host process installed its own logger.
fn init_logger() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.level() <= log::Level::Info
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                eprintln!("[{}] {}", r.level(), r.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_arguments() {
        let a = parse_args(&strings(&[
            "run",
            "--config",
            "t.json",
            "--json",
            "--max-requests",
            "10",
            "--timeout",
            "2s",
        ]))
        .unwrap();
        assert_eq!(a.config, PathBuf::from("t.json"));
        assert!(a.json);
        assert_eq!(a.opts.max_requests, Some(10));
        assert_eq!(a.opts.request_timeout, Duration::from_secs(2));
        assert!(parse_args(&strings(&["--json"])).is_err());
        assert!(parse_args(&strings(&["--config"])).is_err());
        assert!(parse_args(&strings(&["--config", "x", "--bogus"])).is_err());
    }

    #[test]
    fn bad_config_exits_2() {
        assert_eq!(
            main(&strings(&["--config", "/nonexistent/test.json"])),
            ExitCode::from(2)
        );
    }
}
