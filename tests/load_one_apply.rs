//! Load on one apply: many `dlt_test_run` resources in one configuration under real Terraform
//! with `-parallelism=10`.
//!
//! - Fifty runs on the DLT double behind an API-Gateway-like throttle (a token bucket answering
//!   429): every run is recorded correctly (ids, results, gates), no two resources share a DLT
//!   test, and the API sees few 429s and no burst beyond the throttle, because the provider
//!   backs off for all its runs together when one is throttled. The double logs every request's
//!   arrival, from which the test computes the busiest 1 s window and the 429 count.
//! - Twenty local-engine runs with small, bounded, mixed loads against local targets.
//!
//! Both record the provider's peak RSS (`VmHWM` of every provider process Terraform starts,
//! sampled from `/proc`) and assert only sane bounds; the figures are printed for the notes.
//! No timed assertions: wall times are printed, never checked.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::dlt_double::{self, Arrival, DltDouble, DltVersion, DoubleConfig, RateLimit};
use support::moto::workspace_as;
use support::target::{TargetConfig, TargetServer};
use support::terraform::{self, provider_binary, Run, Workspace};

/// Peak resident memory of the provider processes of one Terraform command.
#[derive(Debug, Default)]
struct ProviderMemory {
    /// VmHWM in KiB, per provider process seen.
    peaks: BTreeMap<u32, u64>,
}

impl ProviderMemory {
    fn peak_mib(&self) -> f64 {
        self.peaks.values().copied().max().unwrap_or(0) as f64 / 1024.0
    }
}

/// Runs `terraform <args>` while sampling `VmHWM` of every provider process that is a child of
/// Terraform (plan, apply and schema calls each start one). VmHWM is the process's own high-water
/// mark, so the last sample before a process exits is its peak up to that moment.
fn run_measured(ws: &Workspace, args: &[&str]) -> (Run, ProviderMemory) {
    let child = ws
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start terraform");
    let terraform_pid = child.id();
    let binary = std::fs::canonicalize(provider_binary()).unwrap_or_else(|_| provider_binary());
    let done = Arc::new(AtomicBool::new(false));
    let memory = Arc::new(Mutex::new(ProviderMemory::default()));
    let sampler = {
        let (done, memory) = (done.clone(), memory.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                for (pid, kib) in provider_children(terraform_pid, &binary) {
                    let mut m = memory.lock().unwrap_or_else(|p| p.into_inner());
                    let peak = m.peaks.entry(pid).or_insert(0);
                    *peak = (*peak).max(kib);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = child.wait_with_output().expect("terraform output");
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let memory = std::mem::take(&mut *memory.lock().unwrap_or_else(|p| p.into_inner()));
    (out.into(), memory)
}

/// `terraform apply -parallelism=10`, which must succeed: its wall time and provider memory.
fn apply_ten_at_a_time(ws: &Workspace) -> (Duration, ProviderMemory) {
    let started = Instant::now();
    let (out, memory) = run_measured(
        ws,
        &["apply", "-no-color", "-input=false", "-auto-approve", "-parallelism=10"],
    );
    out.assert_ok();
    (started.elapsed(), memory)
}

/// `(pid, VmHWM KiB)` of the children of `parent` running `binary`.
fn provider_children(parent: u32, binary: &Path) -> Vec<(u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            };
            if field("PPid:")? != u64::from(parent) {
                return None;
            }
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            (exe.as_path() == binary).then_some(())?;
            Some((pid, field("VmHWM:")?))
        })
        .collect()
}

/// The most requests that arrived in any 1 s window.
fn busiest_second(arrivals: &[Arrival]) -> usize {
    let mut times: Vec<Instant> = arrivals.iter().map(|a| a.at).collect();
    times.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].duration_since(times[start]) >= Duration::from_secs(1) {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Requests and 429s in each second from the first arrival, as `requests/429s`.
fn per_second(arrivals: &[Arrival]) -> String {
    let Some(first) = arrivals.iter().map(|a| a.at).min() else {
        return String::new();
    };
    let mut seconds: Vec<(usize, usize)> = Vec::new();
    for a in arrivals {
        let s = a.at.duration_since(first).as_secs() as usize;
        if seconds.len() <= s {
            seconds.resize(s + 1, (0, 0));
        }
        seconds[s].0 += 1;
        seconds[s].1 += usize::from(a.status == 429);
    }
    seconds
        .iter()
        .map(|(n, t)| format!("{n}/{t}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every instance of `dlt_test_run.<name>` in state, by index.
fn instances(ws: &Workspace, name: &str) -> Vec<Json> {
    let state = ws.state();
    let mut found: Vec<(i64, Json)> = state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["mode"] == "managed" && r["type"] == "dlt_test_run" && r["name"] == name)
        .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
        .map(|i| (i["index_key"].as_i64().unwrap_or(-1), i))
        .collect();
    found.sort_by_key(|(k, _)| *k);
    found.into_iter().map(|(_, i)| i).collect()
}

/// Prints a test's figures (shown with `cargo test --test load_one_apply -- --nocapture`).
fn print_figures(section: &str, text: &str) {
    eprintln!("--- {section}\n{text}");
}

const DLT_RUNS: usize = 50;
/// The double's throttle: API Gateway's token bucket (real requests per second, burst).
const LIMIT: RateLimit = RateLimit {
    per_second: 12.0,
    burst: 12,
};

/// Fifty DLT runs, ten at a time, against a throttled double. Pairs of instances share a name
/// (`load-<index % 25>`), so identical configurations run side by side: neither may take the
/// other's live test for one left by a killed apply.
#[test]
fn fifty_dlt_runs_under_throttling_are_recorded_and_back_off_together() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let version = DltVersion::V423;
    let target = TargetServer::start(TargetConfig {
        latency: Duration::from_millis(5),
        ..TargetConfig::default()
    });
    let double = DltDouble::start(DoubleConfig {
        rate_limit: Some(LIMIT),
        engine_max_requests: 40,
        ..DoubleConfig::for_version(version)
    });
    let hcl = format!(
        r#"provider "dlt" {{
  region = "{region}"
}}

resource "dlt_test_run" "load" {{
  count       = {DLT_RUNS}
  name        = "load-${{count.index % 25}}"
  description = "fifty runs on one apply"
  dlt = {{
    api_endpoint = "{endpoint}"
    region       = "{region}"
  }}
  scenario = {{
    requests = [{{ url = "{url}", method = "GET" }}]
  }}
  load  = {{ concurrency = 1, task_count = 1, ramp_up = "0s", hold_for = "30s" }}
  gates = {{ min_success_rate = 99, max_p95 = "2s" }}
}}
"#,
        region = dlt_double::REGION,
        endpoint = double.endpoint(),
        url = target.url("/load"),
    );
    let ws = workspace_as(tf, &hcl, dlt_double::ACCESS_KEY, dlt_double::SECRET_KEY);
    let (wall, memory) = apply_ten_at_a_time(&ws);

    // Every run in state, each with its own DLT test, run once, complete, with results and gates.
    let runs = instances(&ws, "load");
    assert_eq!(runs.len(), DLT_RUNS, "{}", ws.state_text());
    let mut ids = HashSet::new();
    for (i, inst) in runs.iter().enumerate() {
        let a = &inst["attributes"];
        let id = a["id"].as_str().unwrap_or_default().to_string();
        assert_eq!(id.len(), 10, "run {i}: {a}");
        assert!(ids.insert(id.clone()), "run {i} shares DLT test {id} with another run");
        assert_eq!(a["engine"], "dlt", "run {i}: {a}");
        assert_eq!(a["status"], "complete", "run {i}: {a}");
        assert_eq!(a["passed"], true, "run {i}: {a}");
        assert_eq!(a["name"], format!("load-{}", i % 25), "run {i}: {a}");
        assert!(a["results"]["requests"].as_f64().unwrap_or(0.0) >= 1.0, "run {i}: {a}");
        assert_eq!(a["results"]["success_rate"], 100.0, "run {i}: {a}");
        let gates = a["gate_results"].as_array().cloned().unwrap_or_default();
        assert_eq!(gates.len(), 2, "run {i}: {a}");
        assert!(gates.iter().all(|g| g["passed"] == true), "run {i}: {a}");
        assert_eq!(double.executions(&id), 1, "run {i}: DLT test {id} started once");
        assert_eq!(
            double.item(&id).and_then(|t| t["status"].as_str().map(str::to_string)),
            Some("complete".to_string()),
            "run {i}: DLT test {id}"
        );
    }
    assert_eq!(double.test_ids().len(), DLT_RUNS, "no extra DLT test was started");

    // What the API saw.
    let arrivals = double.arrivals();
    let throttled = arrivals.iter().filter(|a| a.status == 429).count();
    let busiest = busiest_second(&arrivals);
    // Before the first 429 nobody knows the limit; from a second after it, the pacing holds.
    let first_429 = arrivals.iter().find(|a| a.status == 429).map(|a| a.at);
    let after: Vec<Arrival> = arrivals
        .iter()
        .filter(|a| first_429.is_some_and(|t| a.at >= t + Duration::from_secs(1)))
        .cloned()
        .collect();
    let busiest_after = busiest_second(&after);
    let throttled_after = after.iter().filter(|a| a.status == 429).count();
    let mut per_route: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &arrivals {
        *per_route.entry(a.route.as_str()).or_default() += 1;
    }
    print_figures(
        "fifty DLT runs",
        &format!(
            "DLT {}: {DLT_RUNS} runs, -parallelism=10, throttle {} req/s burst {}\n\
             wall time {:.1}s; requests {} ({:.1} per run), 429s {throttled} ({:.1}%), busiest 1 s window {busiest}\n\
             from 1 s after the first 429: {} requests, {throttled_after} 429s, busiest 1 s window {busiest_after}\n\
             provider peak RSS {:.1} MiB over {} provider process(es)\nper route: {per_route:?}\n\
             per second (requests/429s): {}",
            version.tag(),
            LIMIT.per_second,
            LIMIT.burst,
            wall.as_secs_f64(),
            arrivals.len(),
            arrivals.len() as f64 / DLT_RUNS as f64,
            100.0 * throttled as f64 / arrivals.len().max(1) as f64,
            after.len(),
            memory.peak_mib(),
            memory.peaks.len(),
            per_second(&arrivals),
        ),
    );
    // Throttling happened (the test means something), and the provider slowed down for it: most
    // requests got through, and no second saw much more than the throttle's rate plus its burst.
    assert!(throttled > 0, "the throttle never answered 429: raise the load");
    assert!(
        throttled * 5 <= arrivals.len(),
        "{throttled} of {} requests were throttled: the runs did not back off together",
        arrivals.len()
    );
    let ceiling = LIMIT.per_second as usize + LIMIT.burst as usize;
    assert!(
        busiest_after <= ceiling,
        "{busiest_after} requests in one second, after the first 429, against a throttle of {} req/s",
        LIMIT.per_second
    );
    assert!(memory.peak_mib() > 0.0, "the provider's memory was sampled");
    assert!(
        memory.peak_mib() < 200.0,
        "provider peak RSS {:.1} MiB",
        memory.peak_mib()
    );
}

const LOCAL_RUNS: usize = 20;

/// Twenty local-engine runs in one apply, ten at a time: three targets (fast, slow, one failing
/// every tenth request), GET and POST with a body, 1–3 users for 0.5–1.25 s each. Every run is
/// recorded with its own results and gates.
#[test]
fn twenty_mixed_local_runs_in_one_apply_are_recorded() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let fast = TargetServer::start(TargetConfig {
        latency: Duration::from_millis(2),
        ..TargetConfig::default()
    });
    let slow = TargetServer::start(TargetConfig {
        latency: Duration::from_millis(20),
        ..TargetConfig::default()
    });
    let flaky = TargetServer::start(TargetConfig {
        latency: Duration::from_millis(5),
        error_rate: 0.1,
        ..TargetConfig::default()
    });
    let targets = [&fast, &slow, &flaky];
    let mut hcl = String::from("provider \"dlt\" {}\n");
    for i in 0..LOCAL_RUNS {
        let url = targets[i % 3].url(&format!("/mixed/{i}"));
        let request = if i % 2 == 0 {
            format!(r#"{{ url = "{url}", method = "GET" }}"#)
        } else {
            format!(
                r#"{{ url = "{url}", method = "POST", body = "{{\"run\":{i}}}", headers = {{ "Content-Type" = "application/json" }} }}"#
            )
        };
        let min_success = if i % 3 == 2 { 80 } else { 99 };
        hcl.push_str(&format!(
            r#"
resource "dlt_test_run" "mixed_{i}" {{
  name     = "mixed-{i}"
  scenario = {{
    requests = [{request}]
  }}
  load  = {{ concurrency = {c}, task_count = 1, ramp_up = "0s", hold_for = "{hold}ms" }}
  gates = {{ min_success_rate = {min_success}, max_p95 = "2s" }}
}}
"#,
            c = 1 + i % 3,
            hold = 500 + (i % 4) * 250,
        ));
    }
    let ws = Workspace::new(tf, &hcl);
    let (wall, memory) = apply_ten_at_a_time(&ws);

    let mut ids = HashSet::new();
    let mut total = 0.0;
    for i in 0..LOCAL_RUNS {
        let a = ws.attributes(&format!("dlt_test_run.mixed_{i}"));
        assert!(ids.insert(a["id"].to_string()), "run {i}: {a}");
        assert_eq!(a["engine"], "local", "run {i}: {a}");
        assert_eq!(a["status"], "complete", "run {i}: {a}");
        assert_eq!(a["passed"], true, "run {i}: {a}");
        let r = &a["results"];
        let requests = r["requests"].as_f64().unwrap_or(0.0);
        assert!(requests >= 5.0, "run {i}: {r}");
        total += requests;
        let rate = r["success_rate"].as_f64().unwrap_or(0.0);
        match i % 3 {
            2 => assert!((85.0..=95.0).contains(&rate), "run {i}: every tenth request fails: {r}"),
            _ => assert_eq!(rate, 100.0, "run {i}: {r}"),
        }
        if i % 3 == 1 {
            assert!(
                r["p50_ms"].as_f64().unwrap_or(0.0) >= 20.0,
                "run {i}: the slow target's 20 ms: {r}"
            );
        }
        let gates = a["gate_results"].as_array().cloned().unwrap_or_default();
        assert_eq!(gates.len(), 2, "run {i}: {a}");
    }
    // The targets saw at least the requests the runs counted.
    let served: u64 = targets.iter().map(|t| t.served()).sum();
    assert!(served as f64 >= total, "served {served} < counted {total}");
    print_figures(
        "twenty local runs",
        &format!(
            "{LOCAL_RUNS} local runs, -parallelism=10: wall time {:.1}s, {total} requests in all; \
             provider peak RSS {:.1} MiB over {} provider process(es)",
            wall.as_secs_f64(),
            memory.peak_mib(),
            memory.peaks.len(),
        ),
    );
    assert!(memory.peak_mib() > 0.0, "the provider's memory was sampled");
    assert!(
        memory.peak_mib() < 200.0,
        "provider peak RSS {:.1} MiB",
        memory.peak_mib()
    );
}
