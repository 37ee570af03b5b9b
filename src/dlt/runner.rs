//! One DLT run end to end, as `dlt_test_run` needs it during apply: build the `POST /scenarios`
//! payload from a [`TestSpec`], refuse to collide with a live run, start, poll until a terminal
//! status, convert the results; cancel on Ctrl-C or timeout; delete on destroy.
//!
//! Polling is adaptive ([`PollPolicy`]): DLT runs last minutes (Fargate provisioning, ramp-up,
//! hold-for and result parsing), so a fixed short interval wastes calls and a fixed long one
//! reports late. The poller is fast right after the start (early failures), slow in the middle,
//! and fast again from shortly before the expected end and whenever DLT shows the end is near
//! (tasks stopped, `parsing results`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use super::client::{DeleteOutcome, DltClient, DltError};
use super::model::{ScenarioDetail, TestStatus};
use super::results::RunResults;
use super::samples::ResultStore;
use super::scenario::{request_labels, Scenario, ScriptType, TestSpec};

/// Where JMeter scripts go: an S3 put, abstracted so tests can use an in-memory store (the S3
/// implementation is in `crate::aws::s3`, beside the other S3 code).
#[async_trait]
pub trait ScriptStore: Send + Sync {
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String>;
}

/// The poll schedule. All durations are DLT wall-clock times; tests scale them down.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    /// Interval near the start and near the end: the detection-latency bound.
    pub fast: Duration,
    /// Longest interval, in the middle of a long run.
    pub slow: Duration,
    /// Fast polling right after the POST, to report early failures quickly.
    pub startup: Duration,
    /// Fast polling starts this long before the expected end.
    pub end_lead: Duration,
    /// ...and lasts this long after it (DLT's 60 s task-poll slack plus parsing).
    pub end_grace: Duration,
    /// Longest interval once the run is overdue beyond the grace period.
    pub overdue_max: Duration,
    /// Assumed Fargate provisioning time (1–5 min in practice).
    pub provisioning_estimate: Duration,
    /// Assumed time from the tasks' end to `complete` (upload, 60 s poll slack, parsing).
    pub finish_estimate: Duration,
}

impl Default for PollPolicy {
    fn default() -> PollPolicy {
        PollPolicy {
            fast: Duration::from_secs(2),
            slow: Duration::from_secs(30),
            startup: Duration::from_secs(12),
            end_lead: Duration::from_secs(30),
            end_grace: Duration::from_secs(60),
            overdue_max: Duration::from_secs(10),
            provisioning_estimate: Duration::from_secs(120),
            finish_estimate: Duration::from_secs(30),
        }
    }
}

impl PollPolicy {
    /// Every duration multiplied by `factor` (scaled-clock tests).
    pub fn scaled(&self, factor: f64) -> PollPolicy {
        let s = |d: Duration| d.mul_f64(factor);
        PollPolicy {
            fast: s(self.fast),
            slow: s(self.slow),
            startup: s(self.startup),
            end_lead: s(self.end_lead),
            end_grace: s(self.end_grace),
            overdue_max: s(self.overdue_max),
            provisioning_estimate: s(self.provisioning_estimate),
            finish_estimate: s(self.finish_estimate),
        }
    }

    /// When the run should be `complete`, measured from the POST.
    pub fn expected_end(&self, ramp_up: Duration, hold_for: Duration) -> Duration {
        self.provisioning_estimate + ramp_up + hold_for + self.finish_estimate
    }

    /// The wait before the next poll. `near_end` is DLT's own hint that the end is close
    /// (tasks stopped, `parsing results`, `cleaning up`, `cancelling`).
    pub fn next_interval(&self, elapsed: Duration, expected_end: Duration, near_end: bool) -> Duration {
        if near_end || elapsed < self.startup {
            return self.fast;
        }
        if elapsed + self.end_lead < expected_end {
            // Slow in the middle: a fifth of the remaining time, so the intervals shrink
            // geometrically towards the fast window instead of overshooting it.
            let remaining = expected_end - elapsed - self.end_lead;
            return (remaining / 5)
                .clamp(self.fast, self.slow)
                .min(remaining.max(self.fast));
        }
        let overdue = elapsed.saturating_sub(expected_end);
        if overdue <= self.end_grace {
            return self.fast;
        }
        // Later than expected (slow provisioning): back off gently.
        (self.fast + (overdue - self.end_grace) / 10).min(self.overdue_max)
    }
}

/// How the runner behaves; the defaults suit real DLT.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// The test id to use (DLT's `testId`); `None` generates one. Chosen client-side so the
    /// JMeter key and the resource id are known before the POST.
    pub test_id: Option<String>,
    /// The stack's region: used when `load.regions` is empty.
    pub default_region: String,
    /// The scenarios bucket (`Bucket3` / `ScenariosBucket`); required for JMeter.
    pub scenarios_bucket: Option<String>,
    /// Overall limit from the POST to results; on expiry the run is cancelled.
    pub timeout: Duration,
    /// How long to wait, from Ctrl-C or the timeout, for DLT to take the cancel and confirm it.
    /// Short on purpose: v4 takes 30 s or more to cancel (its clean-up sleeps first), CI
    /// runners kill a job about 10 s after the interrupt, and the cancel goes on in DLT anyway.
    pub cancel_wait: Duration,
    pub poll: PollPolicy,
}

impl RunnerOptions {
    pub fn new(default_region: impl Into<String>, timeout: Duration) -> RunnerOptions {
        RunnerOptions {
            test_id: None,
            default_region: default_region.into(),
            scenarios_bucket: None,
            timeout,
            cancel_wait: DEFAULT_CANCEL_WAIT,
            poll: PollPolicy::default(),
        }
    }
}

/// The default [`RunnerOptions::cancel_wait`]: with the cancel request and Terraform's own exit,
/// an interrupted apply ends within 5 s of the Ctrl-C.
pub const DEFAULT_CANCEL_WAIT: Duration = Duration::from_secs(3);

/// How far a cancel got before the runner stopped waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelState {
    /// DLT reports the run ended (`cancelled`, or another terminal status).
    Confirmed,
    /// DLT accepted the cancel request; the run was still stopping when the wait ended.
    Requested,
    /// The cancel request failed or got no answer in time.
    NotSent(String),
}

/// Why a cancellation happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelCause {
    /// The caller's token fired (Ctrl-C / StopProvider).
    Interrupted,
    /// The run exceeded [`RunnerOptions::timeout`].
    TimedOut,
}

/// What went wrong, without the test id (see [`RunError`]).
#[derive(Debug, thiserror::Error)]
pub enum RunErrorKind {
    #[error("invalid test definition: {0}")]
    InvalidSpec(String),
    #[error("DLT test {test_id} is already {status}; wait for it to end or cancel it in the DLT console before starting it again")]
    AlreadyRunning { test_id: String, status: TestStatus },
    #[error(
        "region {region} has capacity for {available} more DLT task(s) (Fargate vCPU quota minus vCPUs in use, divided by \
         vCPUs per task) but task_count is {requested}; lower task_count or raise the Fargate On-Demand vCPU quota"
    )]
    NotEnoughCapacity {
        region: String,
        available: i64,
        requested: u32,
    },
    #[error(
        "{what} needs DLT {needed} or later, but this stack is older: {found}. Update the DLT stack, or {instead}"
    )]
    NeedsNewerDlt {
        what: String,
        needed: String,
        found: String,
        /// What the user can do on this stack instead.
        instead: String,
    },
    #[error("cannot read the script {path}: {cause}")]
    ScriptRead { path: String, cause: String },
    #[error("cannot upload the script: {0}")]
    ScriptUpload(String),
    #[error(transparent)]
    Api(#[from] DltError),
    #[error("the DLT run failed: {reason}")]
    Failed { reason: String },
    #[error("the DLT run was cancelled outside Terraform")]
    CancelledExternally,
    #[error("{}", cancel_message(*cause, *timeout, state))]
    Cancelled {
        cause: CancelCause,
        timeout: Duration,
        state: CancelState,
    },
    #[error("the DLT run completed but its results are missing or empty")]
    NoResults,
}

fn cancel_message(cause: CancelCause, timeout: Duration, state: &CancelState) -> String {
    let why = match cause {
        CancelCause::Interrupted => "interrupted".to_string(),
        CancelCause::TimedOut => {
            format!(
                "not finished after the {} timeout",
                crate::duration::format_duration(timeout)
            )
        }
    };
    let state = match state {
        CancelState::Confirmed => "DLT cancelled it".to_string(),
        CancelState::Requested => {
            "the cancel was requested and DLT finishes it asynchronously (DLT v4 takes 30 s or \
                                   more); the test stays in state, so the next apply replaces it and destroy deletes it"
                .to_string()
        }
        CancelState::NotSent(e) => {
            format!("the cancel request did not get through ({e}); stop the test in the DLT console")
        }
    };
    format!("the DLT run was {why}: {state}")
}

/// A failed run. `test_id` is set once the test may exist in DLT (from the POST on), so the
/// caller can save it to state and delete it later.
#[derive(Debug, thiserror::Error)]
#[error("{kind}{}", .test_id.as_ref().map(|id| format!(" (DLT test id {id})")).unwrap_or_default())]
pub struct RunError {
    pub test_id: Option<String>,
    pub kind: RunErrorKind,
}

impl RunError {
    fn before_start(kind: impl Into<RunErrorKind>) -> RunError {
        RunError {
            test_id: None,
            kind: kind.into(),
        }
    }
    fn started(test_id: &str, kind: impl Into<RunErrorKind>) -> RunError {
        RunError {
            test_id: Some(test_id.to_string()),
            kind: kind.into(),
        }
    }
}

/// Figures about one run's polling, for logs and the cost/latency targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunStats {
    /// HTTP requests this run made (all calls, retries included).
    pub api_calls: u64,
    /// Of those, status polls.
    pub polls: u64,
    /// Wall time from the POST to noticing the terminal status.
    pub elapsed: Duration,
    /// How late the terminal status was noticed after DLT's `endTime` (1 s resolution, subject
    /// to clock skew; `None` when DLT gave no end time).
    pub detection_latency: Option<Duration>,
}

/// A completed run.
#[derive(Debug, Clone)]
pub struct RemoteRun {
    pub test_id: String,
    /// The history row of this run, when DLT wrote one.
    pub test_run_id: Option<String>,
    pub status: TestStatus,
    /// RFC 3339 UTC.
    pub started_at: Option<String>,
    /// DLT's own `startTime` (`"YYYY-MM-DD HH:mm:ss"`), which names the run's result files.
    pub dlt_start_time: Option<String>,
    pub finished_at: Option<String>,
    pub results: RunResults,
    pub stats: RunStats,
    /// The stack is DLT v4 (its detail carries `totalTestRuns`): raw samples are in S3.
    pub v4: bool,
}

/// Runs tests on one DLT stack.
#[derive(Clone)]
pub struct DltRunner {
    client: DltClient,
    scripts: Option<Arc<dyn ScriptStore>>,
    /// Reading the scenarios bucket's result files (recounting v3.2.1's response codes).
    results: Option<Arc<dyn ResultStore>>,
}

impl std::fmt::Debug for DltRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DltRunner")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// A DLT-style test id: 10 characters of `[A-Za-z0-9]`.
pub fn new_test_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..10)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

/// DLT time (`"YYYY-MM-DD HH:mm:ss"`, UTC) as RFC 3339; `None` for `""`/`"running"`.
pub fn dlt_time_to_rfc3339(s: &str) -> Option<String> {
    parse_dlt_time(s).and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
}

fn parse_dlt_time(s: &str) -> Option<time::OffsetDateTime> {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s.trim(), &fmt)
        .ok()
        .map(|t| t.assume_utc())
}

/// `hold-for`/`ramp-up` as DLT accepts them: whole seconds or minutes only (DLT rejects `h`,
/// and `"1m30s"` would silently run for 60 s). Sub-second parts round up.
pub fn dlt_duration(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs > 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 3600 {
        // v4 caps seconds at 3600: round up to whole minutes.
        format!("{}m", secs.div_ceil(60))
    } else {
        format!("{secs}s")
    }
}

/// The `testDescription` DLT needs (v4: at least 3 characters), ending with the run key.
fn description(spec: &TestSpec) -> String {
    let d = spec.description.trim();
    let text = if d.chars().count() >= 3 {
        d.to_string()
    } else if spec.name.trim().chars().count() >= 3 {
        spec.name.trim().to_string()
    } else {
        format!("{} load test", spec.name.trim())
    };
    format!("{text} {RUN_KEY_MARK}{}]", run_key(spec))
}

/// Claims DLT test `test_id` of `endpoint` for one run of this process; `false` when a run of this
/// process already started or adopted it. Claims are never released: a test this process
/// started belongs to a resource of this apply (in its state, tainted if the run failed), so it
/// is never an orphan to adopt. The set grows by one id per run.
fn claim(endpoint: &str, test_id: &str) -> bool {
    static CLAIMED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    CLAIMED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(format!("{endpoint} {test_id}"))
}

/// Starts the run key in a test's description: `[terraform-provider-dlt run <key>]`.
pub const RUN_KEY_MARK: &str = "[terraform-provider-dlt run ";

/// What identifies one test configuration's runs in DLT: a hash of everything that shapes the
/// test (name, description, scenario, load). An apply killed outright (the runner lost, Terraform
/// and the provider SIGKILLed together) leaves its test running with no id in state; the next
/// apply of the same configuration finds it by this key and adopts it instead of starting a
/// second test beside it. Gates are left out: they judge a run, they do not shape it.
pub fn run_key(spec: &TestSpec) -> String {
    use sha2::{Digest, Sha256};
    let shape = serde_json::json!([spec.name, spec.description, spec.scenario, spec.load]);
    let digest = Sha256::digest(shape.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn regions(spec: &TestSpec, default_region: &str) -> Vec<String> {
    if spec.load.regions.is_empty() {
        vec![default_region.to_string()]
    } else {
        spec.load.regions.clone()
    }
}

/// A script's S3 key, DLT `fileType` and scenario `script` name for a test id: the container
/// reads `public/test-scenarios/<type>/<testId>.<ext>`.
pub fn script_key(test_id: &str, kind: ScriptType, script: &Path) -> Result<(String, &'static str, String), String> {
    let ext = kind.check_extension(&script.display().to_string())?;
    let file_type = if ext == "zip" { "zip" } else { "script" };
    Ok((
        format!("public/test-scenarios/{}/{test_id}.{ext}", kind.name()),
        file_type,
        format!("{test_id}.{ext}"),
    ))
}

/// The full `POST /scenarios` body: every field DLT requires, portable across v3.2.1
/// and v4 (body as a string, headers as a string map, description of at least 3 characters).
pub fn build_payload(
    spec: &TestSpec,
    test_id: &str,
    default_region: &str,
    available: &BTreeMap<String, Option<i64>>,
) -> Result<Value, String> {
    if spec.load.concurrency == 0 || spec.load.task_count == 0 {
        return Err("concurrency and task_count must be at least 1".into());
    }
    if spec.load.hold_for.is_zero() {
        return Err("hold_for must be longer than 0s".into());
    }
    let scenario_name = if spec.name.trim().is_empty() {
        test_id.to_string()
    } else {
        spec.name.trim().to_string()
    };
    let regions = regions(spec, default_region);
    let configs: Vec<Value> = regions
        .iter()
        .map(|r| json!({"region": r, "taskCount": spec.load.task_count, "concurrency": spec.load.concurrency}))
        .collect();
    let mut details = Map::new();
    for r in &regions {
        // Unknown capacity: send the requested count, which makes DLT's bound check a no-op,
        // as DLT itself does for a non-numeric bound.
        let n = available
            .get(r)
            .copied()
            .flatten()
            .unwrap_or(i64::from(spec.load.task_count));
        details.insert(r.clone(), json!({"dltAvailableTasks": n}));
    }
    let (test_type, file_type, scenario) = match &spec.scenario {
        Scenario::Simple { requests } => {
            if requests.is_empty() {
                return Err("a simple scenario needs at least one request".into());
            }
            // Taurus labels a request by its URL unless told otherwise: a label of another name
            // (the user's, or "METHOD URL") is sent so DLT reports what the local engine does.
            let reqs: Vec<Value> = requests
                .iter()
                .zip(request_labels(requests))
                .map(|(r, label)| {
                    let mut req = json!({"url": r.url, "method": r.method.to_ascii_uppercase(), "body": r.body, "headers": r.headers});
                    if label != r.url {
                        req["label"] = json!(label);
                    }
                    req
                })
                .collect();
            ("simple", "none", json!({"requests": reqs}))
        }
        Scenario::Jmeter { script } | Scenario::K6 { script } | Scenario::Locust { script } => {
            let (kind, _) = spec.scenario.script().ok_or("not a script scenario")?;
            let (_, file_type, name) = script_key(test_id, kind, script)?;
            (kind.name(), file_type, json!({"script": name}))
        }
    };
    let mut execution = json!({
        "ramp-up": dlt_duration(spec.load.ramp_up),
        "hold-for": dlt_duration(spec.load.hold_for),
        "scenario": scenario_name,
    });
    // v4 runs k6 and Locust through Taurus' executor of that name (as its console sends it).
    if matches!(test_type, "k6" | "locust") {
        execution["executor"] = json!(test_type);
    }
    let mut scenarios = Map::new();
    scenarios.insert(scenario_name.clone(), scenario);
    Ok(json!({
        "testId": test_id,
        "testName": spec.name,
        "testDescription": description(spec),
        "testTaskConfigs": configs,
        "testScenario": {
            "execution": [execution],
            "scenarios": scenarios,
        },
        "showLive": false,
        "testType": test_type,
        "fileType": file_type,
        "regionalTaskDetails": details,
    }))
}

impl DltRunner {
    pub fn new(client: DltClient) -> DltRunner {
        DltRunner {
            client,
            scripts: None,
            results: None,
        }
    }

    /// Adds read access to the scenarios bucket's result files, so the response codes of a
    /// v3.2.1 run with several tasks are recounted from the tasks' own files.
    pub fn with_result_store(mut self, store: Arc<dyn ResultStore>) -> DltRunner {
        self.results = Some(store);
        self
    }

    /// Adds the S3 access JMeter runs need (the provider's S3 client, or a test store).
    pub fn with_script_store(mut self, store: Arc<dyn ScriptStore>) -> DltRunner {
        self.scripts = Some(store);
        self
    }

    pub fn client(&self) -> &DltClient {
        &self.client
    }

    /// Runs `spec` to completion. See [`RunError`] for what the caller keeps on failure.
    pub async fn run(
        &self,
        spec: &TestSpec,
        opts: &RunnerOptions,
        cancel: CancellationToken,
    ) -> Result<RemoteRun, RunError> {
        let calls_before = self.client.stats().requests;
        // 0. A live test of this very configuration that the caller does not know was started by
        //    an apply that was killed: watch it to the end instead of running a second one.
        let orphan = self.find_orphan(spec, opts.test_id.as_deref()).await;
        let test_id = match &orphan {
            Some(id) => id.clone(),
            None => {
                let id = opts.test_id.clone().unwrap_or_else(new_test_id);
                claim(self.client.endpoint(), &id);
                id
            }
        };
        let started = match orphan {
            Some(_) => Instant::now(),
            None => self.launch(spec, opts, &test_id).await?,
        };

        // 5. Watch.
        self.watch(spec, opts, &test_id, started, calls_before, cancel).await
    }

    /// A live test whose description carries this configuration's run key and whose id is not
    /// `known` (the caller's own), nor started or adopted by this provider process: two resources
    /// with the same configuration in one apply run side by side, and neither is an orphan of the
    /// other. Listing failures only log: adoption is a courtesy, not a gate.
    async fn find_orphan(&self, spec: &TestSpec, known: Option<&str>) -> Option<String> {
        let mark = format!("{RUN_KEY_MARK}{}]", run_key(spec));
        let list = match self.client.list_scenarios().await {
            Ok(l) => l,
            Err(e) => {
                log::warn!("cannot list DLT tests to look for a run left by a killed apply ({e})");
                return None;
            }
        };
        let orphan = list.into_iter().find(|t| {
            Some(t.test_id.as_str()) != known
                && t.status.is_active()
                && t.test_description.as_deref().is_some_and(|d| d.ends_with(&mark))
                && claim(self.client.endpoint(), &t.test_id)
        })?;
        log::warn!(
            "DLT test {} ({}) runs this configuration but no state records it: an earlier apply was killed \
             while it ran. Adopting it: its results are gated instead of starting a second test.",
            orphan.test_id,
            orphan.status
        );
        Some(orphan.test_id)
    }

    /// Steps 1–4: checks, script upload and the start. Returns when DLT accepted the start.
    async fn launch(&self, spec: &TestSpec, opts: &RunnerOptions, test_id: &str) -> Result<Instant, RunError> {
        let test_id = test_id.to_string();

        // 0. k6 and Locust need DLT v4: ask the stack before anything else happens.
        if let Some((kind, _)) = spec.scenario.script().filter(|(k, _)| k.needs_v4()) {
            self.require_v4(
                format!("scenario.type = \"{}\"", kind.name()),
                "use a jmeter or simple scenario",
            )
            .await?;
        }
        // warm_up is cut from the raw samples' timestamps, which only v4 uploads (v3.2.1 keeps
        // per-task aggregates only): refused before anything starts rather than ignored.
        if let Some(w) = spec.warm_up.filter(|_| !spec.warm_up().is_zero()) {
            let w = serde_json::to_value(w)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string));
            self.require_v4(
                format!(
                    "warm_up = {:?} (leaving the warm-up out needs the raw per-request samples DLT v4 uploads)",
                    w.unwrap_or_default()
                ),
                "remove warm_up (DLT v3.2.1 keeps only per-task aggregates, which cannot be cut by time)",
            )
            .await?;
        }

        // 1. Never POST over a live run: DLT would accept it and break both.
        let prior_start = match self.client.get_scenario(&test_id).await {
            Ok(d) if d.status.is_active() => {
                return Err(RunError::before_start(RunErrorKind::AlreadyRunning {
                    test_id,
                    status: d.status,
                }))
            }
            Ok(d) => Some(d.start_time.unwrap_or_default()),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(RunError::before_start(e)),
        };

        // 2. Capacity, as the console computes it.
        let regions = regions(spec, &opts.default_region);
        let vcpu = match self.client.vcpu_details().await {
            Ok(v) => v,
            Err(e) => {
                log::warn!("cannot read DLT vCPU details ({e}); skipping the capacity check");
                BTreeMap::new()
            }
        };
        let mut available = BTreeMap::new();
        for r in &regions {
            let n = vcpu.get(r).and_then(|d| d.available_tasks());
            if let Some(n) = n {
                if n < i64::from(spec.load.task_count) {
                    return Err(RunError::before_start(RunErrorKind::NotEnoughCapacity {
                        region: r.clone(),
                        available: n,
                        requested: spec.load.task_count,
                    }));
                }
            }
            available.insert(r.clone(), n);
        }

        // 3. The script where the container looks for it, before the POST.
        if let Some((kind, script)) = spec.scenario.script() {
            self.upload_script(&test_id, kind, script, opts).await?;
        }

        let payload = build_payload(spec, &test_id, &opts.default_region, &available)
            .map_err(|e| RunError::before_start(RunErrorKind::InvalidSpec(e)))?;

        // 4. Start.
        let started = Instant::now();
        self.start(&test_id, &payload, prior_start.as_deref(), opts.poll.fast)
            .await?;
        log::info!(
            "DLT test {test_id} started: {} task(s) x {} users in {}, ramp-up {}, hold for {}",
            spec.load.task_count,
            spec.load.concurrency,
            regions.join(", "),
            dlt_duration(spec.load.ramp_up),
            dlt_duration(spec.load.hold_for)
        );

        Ok(started)
    }

    async fn watch(
        &self,
        spec: &TestSpec,
        opts: &RunnerOptions,
        test_id: &str,
        started: Instant,
        calls_before: u64,
        cancel: CancellationToken,
    ) -> Result<RemoteRun, RunError> {
        let test_id = test_id.to_string();
        let expected_end = opts.poll.expected_end(spec.load.ramp_up, spec.load.hold_for);
        let deadline = started + opts.timeout;
        let mut polls = 0u64;
        let mut last_status: Option<TestStatus> = None;
        let mut last_log = Instant::now();
        let mut seen_tasks = false;
        let mut near_end = false;
        loop {
            let elapsed = started.elapsed();
            let wait = opts.poll.next_interval(elapsed, expected_end, near_end);
            let wake = Instant::now() + wait;
            let cause = tokio::select! {
                _ = cancel.cancelled() => Some(CancelCause::Interrupted),
                _ = tokio::time::sleep_until(wake.min(deadline).into()) => {
                    (Instant::now() >= deadline).then_some(CancelCause::TimedOut)
                }
            };
            if let Some(cause) = cause {
                return Err(self.cancel_run(&test_id, cause, opts).await);
            }
            polls += 1;
            // A poll may wait for the shared pacing when DLT throttles: Ctrl-C must not.
            let poll = tokio::select! {
                _ = cancel.cancelled() => None,
                p = self.client.get_scenario(&test_id) => Some(p),
            };
            let Some(poll) = poll else {
                return Err(self.cancel_run(&test_id, CancelCause::Interrupted, opts).await);
            };
            let detail = match poll {
                Ok(d) => d,
                Err(e) if e.is_not_found() => {
                    return Err(RunError::started(
                        &test_id,
                        RunErrorKind::Failed {
                            reason: "the test was deleted from DLT while it ran".into(),
                        },
                    ))
                }
                Err(e) => {
                    // Retries are exhausted for this poll; keep watching, the run goes on.
                    log::warn!("DLT test {test_id}: status poll failed: {e}");
                    continue;
                }
            };
            let tasks = detail.tasks_running;
            if tasks.is_some_and(|n| n > 0) {
                seen_tasks = true;
            }
            near_end = matches!(
                detail.status,
                TestStatus::ParsingResults | TestStatus::CleaningUp | TestStatus::Cancelling
            ) || (seen_tasks && tasks == Some(0));
            if last_status.as_ref() != Some(&detail.status) || last_log.elapsed() >= Duration::from_secs(30) {
                log::info!(
                    "DLT test {test_id}: {} after {}s{}",
                    detail.status,
                    started.elapsed().as_secs(),
                    tasks.map(|n| format!(", {n} task(s) running")).unwrap_or_default()
                );
                last_log = Instant::now();
                last_status = Some(detail.status.clone());
            }
            if !detail.status.is_terminal() {
                continue;
            }
            let stats = RunStats {
                api_calls: self.client.stats().requests - calls_before,
                polls,
                elapsed: started.elapsed(),
                detection_latency: detail.end_time.as_deref().and_then(parse_dlt_time).and_then(|end| {
                    let late = time::OffsetDateTime::now_utc() - end;
                    late.try_into().ok()
                }),
            };
            log::info!(
                "DLT test {test_id} ended {} after {}s: {} API calls ({} polls, {:.1}s per call on average){}",
                detail.status,
                stats.elapsed.as_secs(),
                stats.api_calls,
                stats.polls,
                stats.elapsed.as_secs_f64() / stats.api_calls.max(1) as f64,
                stats
                    .detection_latency
                    .map(|d| format!(", noticed {}s after its end time", d.as_secs()))
                    .unwrap_or_default()
            );
            let mut run = self.finish(&test_id, detail, stats)?;
            self.recount_codes(&mut run, opts).await;
            return Ok(run);
        }
    }

    fn finish(&self, test_id: &str, detail: ScenarioDetail, stats: RunStats) -> Result<RemoteRun, RunError> {
        match detail.status {
            TestStatus::Complete => {}
            TestStatus::Failed => {
                let reason = detail
                    .error_reason
                    .unwrap_or_else(|| "DLT gave no errorReason".to_string());
                return Err(RunError::started(test_id, RunErrorKind::Failed { reason }));
            }
            _ => return Err(RunError::started(test_id, RunErrorKind::CancelledExternally)),
        }
        let start = detail.start_time.clone().unwrap_or_default();
        let results = detail
            .results
            .as_ref()
            .ok_or_else(|| RunError::started(test_id, RunErrorKind::NoResults))?;
        // The run's history row: the newest one ending after this run's start.
        let test_run_id = detail
            .history
            .iter()
            .rev()
            .find(|h| h.end_time >= start && !h.test_run_id.is_empty())
            .map(|h| h.test_run_id.clone());
        Ok(RemoteRun {
            test_id: test_id.to_string(),
            test_run_id,
            status: detail.status,
            started_at: detail.start_time.as_deref().and_then(dlt_time_to_rfc3339),
            dlt_start_time: detail.start_time.clone(),
            finished_at: detail.end_time.as_deref().and_then(dlt_time_to_rfc3339),
            results: results.to_run_results(),
            stats,
            v4: detail.raw.get("totalTestRuns").is_some(),
        })
    }

    /// Replaces approximate (inflated) v3.2.1 response codes by the tasks' own counts when the
    /// scenarios bucket can be read; otherwise they stay marked approximate.
    async fn recount_codes(&self, run: &mut RemoteRun, opts: &RunnerOptions) {
        if run.results.status_codes_method != super::results::CODES_APPROXIMATE {
            return;
        }
        let (Some(store), Some(bucket)) = (&self.results, opts.scenarios_bucket.as_deref()) else {
            log::info!("no scenarios bucket to recount the response codes from; they stay approximate");
            return;
        };
        let Some(start) = run.dlt_start_time.clone() else {
            return;
        };
        match super::task_results::recount_codes(store.as_ref(), bucket, &run.test_id, &start).await {
            Ok(Some(codes)) => {
                run.results.status_codes = codes;
                run.results.status_codes_method = super::results::CODES_FROM_TASK_FILES.to_string();
            }
            Ok(None) => log::info!(
                "no task result files of DLT test {} found; codes stay approximate",
                run.test_id
            ),
            Err(e) => log::warn!(
                "cannot read the task result files of DLT test {}: {e}; codes stay approximate",
                run.test_id
            ),
        }
    }

    /// POST, resolving ambiguous failures (5xx/timeouts after sending) with a GET: the POST was
    /// accepted if the test now exists when it did not before, or carries a new start time, or
    /// is live; otherwise it is safe to send it again. `prior_start` is the start time seen
    /// before the POST (`None`: the test did not exist).
    async fn start(
        &self,
        test_id: &str,
        payload: &Value,
        prior_start: Option<&str>,
        settle: Duration,
    ) -> Result<(), RunError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.client.start_scenario(payload).await {
                Ok(answer) => {
                    let status = answer.get("status").and_then(Value::as_str).map(TestStatus::parse);
                    if let Some(s) = status.filter(|s| s.is_terminal()) {
                        log::warn!("DLT answered the start of {test_id} with status {s}");
                    }
                    return Ok(());
                }
                Err(e) if e.is_ambiguous() && tries < 3 => {
                    log::warn!("DLT test {test_id}: start request outcome unknown ({e}); checking whether it started");
                    tokio::time::sleep(settle).await;
                    match self.client.get_scenario(test_id).await {
                        Ok(d) => {
                            let accepted = d.status.is_active()
                                || match prior_start {
                                    None => true,
                                    Some(before) => d.start_time.as_deref().unwrap_or_default() != before,
                                };
                            if accepted {
                                log::info!("DLT test {test_id} did start ({})", d.status);
                                return Ok(());
                            }
                        }
                        Err(g) if g.is_not_found() => {}
                        // Cannot tell: the test may exist, so the id goes to the caller.
                        Err(_) => return Err(RunError::started(test_id, e)),
                    }
                }
                // Ambiguous, or a definite rejection (400 validation, 403, ...). v3.2.1 may still
                // have started a run on a late 400 (its validation runs after the start), so the id goes to the caller anyway.
                Err(e) => return Err(RunError::started(test_id, e)),
            }
        }
    }

    /// Sends the cancel and waits for confirmation, all within `cancel_wait` (every call is
    /// bounded by what is left of it, retries included), so an interrupted apply ends promptly.
    async fn cancel_run(&self, test_id: &str, cause: CancelCause, opts: &RunnerOptions) -> RunError {
        log::warn!("DLT test {test_id}: cancelling ({cause:?})");
        let kind = |state| RunErrorKind::Cancelled {
            cause,
            timeout: opts.timeout,
            state,
        };
        let until = tokio::time::Instant::now() + opts.cancel_wait;
        match tokio::time::timeout_at(until, self.client.cancel_scenario(test_id)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                log::error!("DLT test {test_id}: cancel request failed: {e}");
                return RunError::started(test_id, kind(CancelState::NotSent(e.to_string())));
            }
            Err(_) => {
                let e = format!("no answer within {}s", opts.cancel_wait.as_secs_f64());
                log::error!("DLT test {test_id}: cancel request: {e}");
                return RunError::started(test_id, kind(CancelState::NotSent(e)));
            }
        }
        log::info!("DLT test {test_id}: cancel requested");
        let interval = opts.poll.fast.min(Duration::from_secs(1));
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(interval.min(left)).await;
            match tokio::time::timeout_at(until, self.client.get_scenario(test_id)).await {
                Ok(Ok(d)) if d.status.is_terminal() => {
                    log::info!("DLT test {test_id} ended {} after the cancel", d.status);
                    return RunError::started(test_id, kind(CancelState::Confirmed));
                }
                Ok(Ok(d)) => log::debug!("DLT test {test_id}: {} while cancelling", d.status),
                Ok(Err(e)) => log::warn!("DLT test {test_id}: status poll while cancelling failed: {e}"),
                Err(_) => break,
            }
        }
        log::warn!("DLT test {test_id}: still stopping; DLT finishes the cancel on its own");
        RunError::started(test_id, kind(CancelState::Requested))
    }

    /// Refuses `what` on a DLT older than v4: v4 answers `GET /stack-info` with its version;
    /// v3.x has no such route (API Gateway answers 403 "Missing Authentication Token").
    async fn require_v4(&self, what: String, instead: &str) -> Result<(), RunError> {
        let found = match self.client.stack_info().await {
            Ok(info) => {
                let version = info.get("version").and_then(Value::as_str).unwrap_or("unknown");
                log::info!("DLT stack version {version}");
                let major = version
                    .trim_start_matches('v')
                    .split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok());
                if major.is_some_and(|m| m < 4) {
                    format!("GET /stack-info reports {version}")
                } else {
                    return Ok(());
                }
            }
            Err(e)
                if e.status() == Some(403)
                    && e.api_message()
                        .is_some_and(|m| m.contains("Missing Authentication Token")) =>
            {
                "its API has no GET /stack-info (403 Missing Authentication Token), so it is DLT v3.x or older"
                    .to_string()
            }
            Err(e) => format!("its version could not be read ({e})"),
        };
        Err(RunError::before_start(RunErrorKind::NeedsNewerDlt {
            what,
            needed: "v4.0".into(),
            found,
            instead: instead.to_string(),
        }))
    }

    async fn upload_script(
        &self,
        test_id: &str,
        kind: ScriptType,
        script: &Path,
        opts: &RunnerOptions,
    ) -> Result<(), RunError> {
        let (key, _, _) =
            script_key(test_id, kind, script).map_err(|e| RunError::before_start(RunErrorKind::InvalidSpec(e)))?;
        let bucket = opts
            .scenarios_bucket
            .as_deref()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                RunError::before_start(RunErrorKind::InvalidSpec(format!(
                    "a {} scenario needs dlt.scenarios_bucket (the stack's scenarios bucket)",
                    kind.name()
                )))
            })?;
        let store = self.scripts.as_ref().ok_or_else(|| {
            RunError::before_start(RunErrorKind::ScriptUpload(
                "no S3 access configured for the runner".into(),
            ))
        })?;
        let body = tokio::fs::read(script).await.map_err(|e| {
            RunError::before_start(RunErrorKind::ScriptRead {
                path: script.display().to_string(),
                cause: e.to_string(),
            })
        })?;
        log::info!(
            "uploading the {} script {} to s3://{bucket}/{key}",
            kind.name(),
            script.display()
        );
        store
            .put(bucket, &key, body)
            .await
            .map_err(|e| RunError::before_start(RunErrorKind::ScriptUpload(e)))
    }

    /// Deletes a test (destroy). Gone already = success. v4.1+ refuses to delete a live test
    /// (409); the error says so, and the caller may cancel first with [`DltRunner::cancel`].
    ///
    /// On that 409 (an interrupted run still `cancelling`, or a run started elsewhere) the test is
    /// cancelled if it is not stopping yet, waited for and deleted; the caller bounds the whole
    /// by its delete timeout.
    pub async fn delete(&self, test_id: &str) -> Result<DeleteOutcome, RunError> {
        let mut cancelled = false;
        loop {
            match self.client.delete_scenario(test_id).await {
                Ok(o) => return Ok(o),
                Err(e) if e.is_conflict() => {
                    let d = self
                        .client
                        .get_scenario(test_id)
                        .await
                        .map_err(|e| RunError::started(test_id, e))?;
                    log::info!(
                        "DLT test {test_id} is {}; waiting for it to stop before deleting it",
                        d.status
                    );
                    if !cancelled && d.status.is_active() && d.status != TestStatus::Cancelling {
                        self.client
                            .cancel_scenario(test_id)
                            .await
                            .map_err(|e| RunError::started(test_id, e))?;
                        cancelled = true;
                    }
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(RunError::started(test_id, e)),
            }
        }
    }

    /// Asks DLT to cancel a run and waits up to `wait` for it to end.
    pub async fn cancel(&self, test_id: &str, wait: Duration) -> Result<TestStatus, RunError> {
        self.client
            .cancel_scenario(test_id)
            .await
            .map_err(|e| RunError::started(test_id, e))?;
        let until = Instant::now() + wait;
        loop {
            let d = self
                .client
                .get_scenario(test_id)
                .await
                .map_err(|e| RunError::started(test_id, e))?;
            if d.status.is_terminal() || Instant::now() >= until {
                return Ok(d.status);
            }
            tokio::time::sleep(Duration::from_secs(2).min(until.saturating_duration_since(Instant::now()))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::dlt::scenario::{Load, RequestSpec};

    fn spec() -> TestSpec {
        TestSpec {
            label_gates: Vec::new(),
            status_gates: Vec::new(),
            warm_up: None,
            name: "checkout-smoke".into(),
            description: "".into(),
            scenario: Scenario::Simple {
                requests: vec![RequestSpec {
                    label: None,
                    url: "https://app.example.com/health".into(),
                    method: "post".into(),
                    headers: [("content-type".to_string(), "application/json".to_string())].into(),
                    body: "{\"a\":1}".into(),
                }],
            },
            load: Load {
                concurrency: 10,
                task_count: 2,
                regions: vec![],
                ramp_up: Duration::from_secs(60),
                hold_for: Duration::from_secs(3600),
                arrival_rate: None,
                start_rate: None,
            },
            gates: Default::default(),
        }
    }

    #[test]
    fn payload_has_every_required_field() {
        let available = [("eu-west-1".to_string(), Some(1994))].into();
        let p = build_payload(&spec(), "Ab3dE6gH9j", "eu-west-1", &available).expect("payload");
        assert_eq!(p["testId"], "Ab3dE6gH9j");
        assert_eq!(p["testName"], "checkout-smoke");
        let d = p["testDescription"].as_str().unwrap_or_default();
        assert!(d.starts_with("checkout-smoke [terraform-provider-dlt run "), "{d}");
        assert!(d.ends_with(&format!("{}]", run_key(&spec()))), "{d}");
        assert_eq!(p["showLive"], false);
        assert_eq!(p["testType"], "simple");
        assert_eq!(p["fileType"], "none");
        assert_eq!(
            p["testTaskConfigs"],
            json!([{"region": "eu-west-1", "taskCount": 2, "concurrency": 10}])
        );
        assert_eq!(
            p["regionalTaskDetails"],
            json!({"eu-west-1": {"dltAvailableTasks": 1994}})
        );
        let exec = &p["testScenario"]["execution"][0];
        assert_eq!(
            (exec["ramp-up"].as_str(), exec["hold-for"].as_str()),
            (Some("1m"), Some("60m"))
        );
        assert_eq!(exec["scenario"], "checkout-smoke");
        let req = &p["testScenario"]["scenarios"]["checkout-smoke"]["requests"][0];
        assert_eq!(req["method"], "POST");
        assert_eq!(req["body"], "{\"a\":1}");
        assert_eq!(req["headers"]["content-type"], "application/json");
    }

    #[test]
    fn jmeter_payload_and_key() {
        let mut s = spec();
        s.scenario = Scenario::Jmeter {
            script: PathBuf::from("load/checkout.JMX"),
        };
        s.load.regions = vec!["eu-west-1".into(), "us-east-1".into()];
        let p = build_payload(&s, "Ab3dE6gH9j", "eu-west-1", &BTreeMap::new()).expect("payload");
        assert_eq!(p["testType"], "jmeter");
        assert_eq!(p["fileType"], "script");
        assert_eq!(
            p["testScenario"]["scenarios"]["checkout-smoke"]["script"],
            "Ab3dE6gH9j.jmx"
        );
        assert_eq!(p["regionalTaskDetails"]["us-east-1"]["dltAvailableTasks"], 2);
        let (key, ft, _) = script_key("id1", ScriptType::Jmeter, Path::new("x.zip")).expect("zip");
        assert_eq!((key.as_str(), ft), ("public/test-scenarios/jmeter/id1.zip", "zip"));
        assert!(script_key("id1", ScriptType::Jmeter, Path::new("x.py")).is_err());
        assert!(p["testScenario"]["execution"][0].get("executor").is_none());
    }

    #[test]
    fn k6_and_locust_payloads_and_keys() {
        let mut s = spec();
        s.scenario = Scenario::K6 {
            script: PathBuf::from("load/checkout.ts"),
        };
        let p = build_payload(&s, "K6id000001", "eu-west-1", &BTreeMap::new()).expect("payload");
        assert_eq!(p["testType"], "k6");
        assert_eq!(p["fileType"], "script");
        assert_eq!(p["testScenario"]["execution"][0]["executor"], "k6");
        assert_eq!(
            p["testScenario"]["scenarios"]["checkout-smoke"]["script"],
            "K6id000001.ts"
        );
        let (key, _, _) = script_key("L1", ScriptType::Locust, Path::new("locustfile.py")).expect("py");
        assert_eq!(key, "public/test-scenarios/locust/L1.py");
        let (key, ft, _) = script_key("K1", ScriptType::K6, Path::new("bundle.ZIP")).expect("zip");
        assert_eq!((key.as_str(), ft), ("public/test-scenarios/k6/K1.zip", "zip"));
        assert!(script_key("K1", ScriptType::K6, Path::new("x.py")).is_err());
        assert!(script_key("L1", ScriptType::Locust, Path::new("x.js")).is_err());
    }

    #[test]
    fn durations_use_seconds_or_minutes_only() {
        assert_eq!(dlt_duration(Duration::from_secs(3600)), "60m");
        assert_eq!(dlt_duration(Duration::from_secs(90)), "90s");
        assert_eq!(dlt_duration(Duration::from_millis(1500)), "2s");
        assert_eq!(dlt_duration(Duration::ZERO), "0s");
        assert_eq!(dlt_duration(Duration::from_secs(3601)), "61m");
        assert_eq!(
            dlt_time_to_rfc3339("2024-03-05 09:07:30").as_deref(),
            Some("2024-03-05T09:07:30Z")
        );
        assert_eq!(dlt_time_to_rfc3339("running"), None);
        let id = new_test_id();
        assert!(id.len() == 10 && id.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn error_carries_test_id() {
        let e = RunError::started(
            "Ab3dE6gH9j",
            RunErrorKind::Failed {
                reason: "Test might be failed to run.".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "the DLT run failed: Test might be failed to run. (DLT test id Ab3dE6gH9j)"
        );
    }

    /// Simulated clock: polls a DLT run whose `complete` happens at `actual_end` with the
    /// schedule, and returns (calls, detection latency).
    fn simulate(
        policy: &PollPolicy,
        ramp: u64,
        hold: u64,
        actual_end: Duration,
        tasks_stop: Option<Duration>,
    ) -> (u64, Duration) {
        let expected = policy.expected_end(Duration::from_secs(ramp), Duration::from_secs(hold));
        let mut t = Duration::ZERO;
        let mut calls = 2; // the pre-start GET and /vCPUDetails
        let mut calls_post = 1;
        let mut near = false;
        loop {
            t += policy.next_interval(t, expected, near);
            calls_post += 1;
            if t >= actual_end {
                calls += calls_post;
                return (calls, t - actual_end);
            }
            near = tasks_stop.is_some_and(|s| t >= s);
        }
    }

    /// The figures: a 10-minute run (2 min provisioning + 1 min ramp-up + 6.5 min hold + 30 s
    /// to results) ending when expected → ≤ 2 s detection and far fewer than 1 call per 5 s;
    /// ending anywhere in [expected − 30 s, expected + 60 s] still ≤ 2 s; ending 3 min late
    /// (slow provisioning) detection within the back-off cap and the budget still holds.
    #[test]
    fn poll_schedule_figures_over_a_ten_minute_run() {
        let p = PollPolicy::default();
        let expected = p.expected_end(Duration::from_secs(60), Duration::from_secs(390));
        assert_eq!(expected, Duration::from_secs(600));
        let mut worst_latency = Duration::ZERO;
        let mut worst_rate: f64 = 0.0;
        for offset in (-30i64..=60).step_by(3) {
            let end = Duration::from_secs((600 + offset) as u64) + Duration::from_millis(500);
            let (calls, latency) = simulate(&p, 60, 390, end, None);
            worst_latency = worst_latency.max(latency);
            worst_rate = worst_rate.max(calls as f64 / (end.as_secs_f64() / 5.0));
        }
        assert!(worst_latency <= Duration::from_secs(2), "latency {worst_latency:?}");
        assert!(worst_rate <= 1.0, "calls per 5 s {worst_rate}");
        let (calls, latency) = simulate(&p, 60, 390, Duration::from_secs(600), None);
        eprintln!(
            "10-min run ending on time: {calls} calls ({:.2} per 5 s), detection {latency:?}",
            calls as f64 / 120.0
        );
        assert!(calls <= 60, "{calls}");
        // Early end (fast provisioning) flagged by DLT: tasks stopped at 7 min, complete at 7.5 min.
        let (_, latency) = simulate(&p, 60, 390, Duration::from_secs(450), Some(Duration::from_secs(420)));
        assert!(latency <= Duration::from_secs(2), "{latency:?}");
        // Three minutes late: backoff keeps the cost bounded, latency capped by overdue_max.
        let (calls, latency) = simulate(&p, 60, 390, Duration::from_secs(780), None);
        assert!(latency <= p.overdue_max, "{latency:?}");
        assert!((calls as f64) / (780.0 / 5.0) <= 1.0, "{calls}");
    }
}
