//! A test double of the DLT REST API on loopback, in two modes ([`DltVersion`]):
//!
//! - **v3.2.1** (`shared/reference/dlt-api.md` §8): `/prod` routes, §5.2 validation with the exact
//!   bodies (`[object Object]`, TypeError texts as plain 400s), §3.2/§3.3 shapes, `running` until
//!   `complete`, history only for completed runs, `cancelling` that ends at once, and 403 "Missing
//!   Authentication Token" for every v4 path.
//! - **v4.2.3** (§7, §9): `queued` → `provisioning` → `running` → `parsing results` → `cleaning
//!   up` → `complete`; `cancelling` lasting ≥ 30 DLT seconds; `"CODE: message"` JSON-string error
//!   bodies with 404/405/409; 409 on deleting a live test; history rows for every run (written at
//!   the start, finished at the end, cancelled and failed included); `/testruns` that needs a query
//!   string, `/baseline`, `/stack-info`; strict query keys; the v4 time-unit rules; k6 and Locust
//!   scripts read from `public/test-scenarios/<type>/<testId>.<ext>`.
//!
//! Both: SigV4 verification with known test credentials, a scaled clock for the run lifecycle,
//! results produced by really running the scenario with the local engine and converted to DLT's
//! §3.4 JSON types, failure injection and per-route call counters. Optionally API Gateway's
//! throttle ([`RateLimit`]: a token bucket answering 429 `{"message":"Too Many Requests"}`, the
//! same in both releases because API Gateway answers it before any Lambda runs), and a log of
//! every request's arrival time and answer ([`DltDouble::arrivals`]) to compute request rates.
//!
//! Every run is planned as per-task work ([`RunPlan::tasks`], each with its task uuid, and the
//! run's S3 prefix `results/<testId>/<ISO time>_<testRunId>/`), so per-task output (the raw
//! `kpi-<uuid>-<region>.jtl` files of v4, with per-task latency skew; on v3.2.1 the CSV file a
//! JMeter script's result collector names, under `JMeter_Result/`) can be written where the
//! real containers write it without changing the lifecycle.
//!
//! The server runs on its own thread and runtime (like the test target), so it works under any
//! test runtime, and stops when dropped.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use dlt_provider::dlt::results::RunResults;
use dlt_provider::dlt::runner::ScriptStore;
use dlt_provider::dlt::scenario::{Load, RequestSpec};
use dlt_provider::engine::{self, EngineOptions};
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub const ACCESS_KEY: &str = "AKIDDLTDOUBLETEST";
pub const SECRET_KEY: &str = "dlt-double-secret-key/for+tests";
pub const REGION: &str = "eu-west-1";

const MISSING_TOKEN: &str = r#"{"message":"Missing Authentication Token"}"#;
const SIG_MISMATCH: &str = r#"{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}"#;
const BAD_TOKEN: &str = r#"{"message":"The security token included in the request is invalid"}"#;
const NOT_FOUND_TYPEERROR: &str = "TypeError: Cannot read properties of undefined (reading 'testTaskConfigs')";
const OBJECT_OBJECT: &str = "[object Object]";

/// Which DLT release the double behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DltVersion {
    /// Upstream v3.2.1 (and the seed's modified v3.2.1: same API).
    V321,
    /// v4.2.3.
    V423,
}

impl DltVersion {
    pub const ALL: [DltVersion; 2] = [DltVersion::V321, DltVersion::V423];

    pub fn is_v4(self) -> bool {
        self == DltVersion::V423
    }

    pub fn tag(self) -> &'static str {
        match self {
            DltVersion::V321 => "v3.2.1",
            DltVersion::V423 => "v4.2.3",
        }
    }
}

/// The double's behaviour. DLT times (provisioning, ramp-up, hold-for) are multiplied by
/// `time_scale` to get real time.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    pub version: DltVersion,
    pub region: String,
    /// DLT seconds → real seconds.
    pub time_scale: f64,
    /// Fargate provisioning (DLT time).
    pub provisioning: Duration,
    /// From the tasks' end to the results (DLT time): upload, poll slack, parsing (v4:
    /// `parsing results`).
    pub finish: Duration,
    /// v4 only: `queued` before `provisioning` (DLT time).
    pub queued: Duration,
    /// v4 only: `cleaning up` before `complete` (DLT time; the real test-cleanup sleeps 30 s).
    pub cleanup: Duration,
    /// How long `cancelling` lasts (DLT time; v4's test-cleanup makes it ≥ 30 s).
    pub cancel_delay: Duration,
    /// Region rows (`region-<r>`).
    pub regions: Vec<String>,
    /// The `/vCPUDetails` body.
    pub vcpu_details: Value,
    /// Known credentials: access key → (secret, session token).
    pub credentials: HashMap<String, (String, Option<String>)>,
    /// Bounds of each local-engine run.
    pub engine_max_requests: u64,
    pub engine_max_real: Duration,
    pub engine_request_timeout: Duration,
    /// Where JMeter scripts really land: an S3 client (bound to moto) and the scenarios bucket.
    /// When set, the run checks there instead of the in-memory store, like the DLT container
    /// reading the scenarios bucket.
    pub s3_bucket: Option<(aws_sdk_s3::Client, String)>,
    /// v4 with `s3_bucket`: each task's latency multiplier, by task index (missing = 1.0), for
    /// the raw `kpi-<uuid>-<region>.jtl` files the tasks upload (and, on v3.2.1, for the CSV
    /// result file of a JMeter script that names one) (e.g. `[1, 1, 1, 10]`: one slow
    /// task of four). DLT's reported figures are then the mean of the per-task figures, as its
    /// results parser computes them.
    pub task_latency_skew: Vec<f64>,
    /// API Gateway's throttle in front of every route; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
}

/// API Gateway's throttling: a token bucket of `burst` requests refilled at `per_second` (real
/// time, not scaled). A request finding the bucket empty gets 429 `{"message":"Too Many
/// Requests"}` (§5.1, "account throttle"), without `Retry-After`, before authentication and
/// before any Lambda: it never reaches DLT's routes or call counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// API Gateway's throttled answer (§5.1).
pub const TOO_MANY_REQUESTS: &str = r#"{"message":"Too Many Requests"}"#;

/// One request as the double saw it: when it arrived (real time), its route
/// (`"GET /scenarios/{id}"`, or the raw path for unknown ones) and the status it was answered with.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub route: String,
    pub status: u16,
}

impl Default for DoubleConfig {
    fn default() -> DoubleConfig {
        DoubleConfig {
            version: DltVersion::V321,
            region: REGION.to_string(),
            time_scale: 1.0 / 60.0,
            provisioning: Duration::from_secs(30),
            finish: Duration::from_secs(20),
            queued: Duration::ZERO,
            cleanup: Duration::ZERO,
            // v3.2.1's canceler is not awaited: `cancelling` lasts under a second (§9).
            cancel_delay: Duration::from_millis(500),
            regions: vec![REGION.to_string()],
            vcpu_details: json!({ REGION: {"vCPULimit": 4000, "vCPUsPerTask": 2, "vCPUsInUse": 10} }),
            credentials: [(ACCESS_KEY.to_string(), (SECRET_KEY.to_string(), None))].into(),
            engine_max_requests: 20_000,
            engine_max_real: Duration::from_secs(2),
            engine_request_timeout: Duration::from_secs(2),
            s3_bucket: None,
            task_latency_skew: Vec::new(),
            rate_limit: None,
        }
    }
}

impl DoubleConfig {
    /// The defaults of one DLT release: v4.2.3 queues first, parses briefly, cleans up for
    /// 30 s and takes ≥ 30 s to cancel (all DLT time, scaled by `time_scale`).
    pub fn for_version(version: DltVersion) -> DoubleConfig {
        let base = DoubleConfig::default();
        match version {
            DltVersion::V321 => base,
            DltVersion::V423 => DoubleConfig {
                version,
                queued: Duration::from_secs(5),
                finish: Duration::from_secs(3),
                cleanup: Duration::from_secs(30),
                cancel_delay: Duration::from_secs(35),
                ..base
            },
        }
    }

    pub fn v4() -> DoubleConfig {
        DoubleConfig::for_version(DltVersion::V423)
    }

    /// Also accepts calls signed with moto's identity-pool credentials (a Cognito login).
    pub fn with_moto_identities(mut self) -> DoubleConfig {
        self.credentials.insert(
            super::moto::IDENTITY_ACCESS_KEY.to_string(),
            (
                super::moto::IDENTITY_SECRET_KEY.to_string(),
                Some(super::moto::IDENTITY_SESSION_TOKEN.to_string()),
            ),
        );
        self
    }
}

/// A scripted answer for the next `times` requests of one route (`"GET /scenarios/{id}"`,
/// `"POST /scenarios"`, ...), checked after authentication.
#[derive(Debug, Clone)]
pub struct Injection {
    pub route: String,
    pub status: u16,
    pub body: String,
    pub times: u32,
    /// Real delay before answering (slow detail → 504, or a client timeout).
    pub delay: Duration,
    /// Act on the request first, then answer with the injected error (an accepted POST whose
    /// answer is lost).
    pub after_effect: bool,
}

impl Injection {
    pub fn new(route: &str, status: u16, body: &str, times: u32) -> Injection {
        Injection {
            route: route.into(),
            status,
            body: body.into(),
            times,
            delay: Duration::ZERO,
            after_effect: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Provisioning,
    Running,
    Finishing,
    Cancelling,
    Done,
}

struct Test {
    item: Map<String, Value>,
    history: Vec<Value>,
    phase: Phase,
    cancel: Option<CancellationToken>,
    completed_at: Option<Instant>,
    /// How many POSTs started an execution of this test (double-start detection).
    executions: u32,
    /// The current (or last) run's `testRunId`, made at the start.
    run_id: Option<String>,
}

#[derive(Default)]
struct State {
    tests: BTreeMap<String, Test>,
    calls: BTreeMap<String, u64>,
    injections: Vec<Injection>,
    fail_next: Option<String>,
    s3: HashSet<String>,
    /// Real lifecycle events for assertions: (test id, status, when).
    events: Vec<(String, String, Instant)>,
    auth_failures: u64,
    /// Every request, in arrival order.
    arrivals: Vec<Arrival>,
    /// The throttle's bucket: tokens left and when it was last refilled.
    bucket: Option<(f64, Instant)>,
}

/// The running double.
pub struct DltDouble {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    config: DoubleConfig,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DltDouble {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The double's S3 bucket as a [`ScriptStore`] for the runner.
#[derive(Clone)]
pub struct DoubleS3 {
    state: Arc<Mutex<State>>,
    pub bucket: String,
}

#[async_trait]
impl ScriptStore for DoubleS3 {
    async fn put(&self, bucket: &str, key: &str, _body: Vec<u8>) -> Result<(), String> {
        if bucket != self.bucket {
            return Err(format!("NoSuchBucket: {bucket}"));
        }
        lock(&self.state).s3.insert(key.to_string());
        Ok(())
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl DltDouble {
    pub fn start(config: DoubleConfig) -> DltDouble {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let ctx = Arc::new(Ctx {
            state: state.clone(),
            config: config.clone(),
            addr,
        });
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let ctx = ctx.clone();
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req| {
                                    let ctx = ctx.clone();
                                    async move { Ok::<_, Infallible>(ctx.handle(req).await) }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        });
        DltDouble {
            addr,
            state,
            config,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The API endpoint as the stack output gives it (`…/prod/`, trailing slash).
    pub fn endpoint(&self) -> String {
        format!("http://{}/prod/", self.addr)
    }

    pub fn config(&self) -> &DoubleConfig {
        &self.config
    }

    pub fn s3(&self, bucket: &str) -> DoubleS3 {
        DoubleS3 {
            state: self.state.clone(),
            bucket: bucket.to_string(),
        }
    }

    /// Calls per route, e.g. `"GET /scenarios/{id}"`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.state).calls.clone()
    }

    pub fn call_count(&self, route: &str) -> u64 {
        lock(&self.state).calls.get(route).copied().unwrap_or(0)
    }

    pub fn total_calls(&self) -> u64 {
        lock(&self.state).calls.values().sum()
    }

    pub fn auth_failures(&self) -> u64 {
        lock(&self.state).auth_failures
    }

    /// Every request so far, in arrival order (throttled ones included).
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.state).arrivals.clone()
    }

    pub fn inject(&self, injection: Injection) {
        lock(&self.state).injections.push(injection);
    }

    /// The next started run ends `failed` with this `errorReason` (and no history).
    pub fn fail_next_run(&self, reason: &str) {
        lock(&self.state).fail_next = Some(reason.to_string());
    }

    /// Every test id the double holds (region rows excluded).
    pub fn test_ids(&self) -> Vec<String> {
        lock(&self.state)
            .tests
            .keys()
            .filter(|id| !id.contains("region"))
            .cloned()
            .collect()
    }

    /// The stored item (as `GET` would return it, without history).
    pub fn item(&self, test_id: &str) -> Option<Value> {
        lock(&self.state)
            .tests
            .get(test_id)
            .map(|t| Value::Object(t.item.clone()))
    }

    pub fn executions(&self, test_id: &str) -> u32 {
        lock(&self.state).tests.get(test_id).map(|t| t.executions).unwrap_or(0)
    }

    /// When the test reached `complete`/`failed`/`cancelled` (real time).
    pub fn completed_at(&self, test_id: &str) -> Option<Instant> {
        lock(&self.state).tests.get(test_id).and_then(|t| t.completed_at)
    }

    pub fn events(&self, test_id: &str) -> Vec<(String, Instant)> {
        lock(&self.state)
            .events
            .iter()
            .filter(|e| e.0 == test_id)
            .map(|e| (e.1.clone(), e.2))
            .collect()
    }

    /// Puts a test in a given status (e.g. a run started by someone else).
    pub fn seed(&self, test_id: &str, status: &str) {
        let mut st = lock(&self.state);
        let mut item = Map::new();
        item.insert("testId".into(), json!(test_id));
        item.insert("testName".into(), json!("seeded"));
        item.insert("status".into(), json!(status));
        item.insert("results".into(), json!({}));
        item.insert("startTime".into(), json!(now_dlt()));
        item.insert(
            "endTime".into(),
            json!(if status == "running" { "running" } else { "" }),
        );
        item.insert("testTaskConfigs".into(), json!([]));
        item.insert("testScenario".into(), json!({}));
        st.tests.insert(
            test_id.to_string(),
            Test {
                item,
                history: vec![],
                phase: Phase::Done,
                cancel: None,
                completed_at: None,
                executions: 0,
                run_id: None,
            },
        );
    }
}

struct Ctx {
    state: Arc<Mutex<State>>,
    config: DoubleConfig,
    addr: SocketAddr,
}

fn respond(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert("content-type", http::HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert("access-control-allow-origin", http::HeaderValue::from_static("*"));
    r
}

fn ok_json(v: &Value) -> Response<Full<Bytes>> {
    respond(200, serde_json::to_vec(v).unwrap_or_default())
}

/// The Lambda's v3.2.1 error envelope: 400 + plain `err.toString()`.
fn lambda_error(text: &str) -> Response<Full<Bytes>> {
    respond(400, text.to_string())
}

/// The v4 envelope: the status and `"CODE: message"` as a JSON string.
fn v4_error(status: u16, text: &str) -> Response<Full<Bytes>> {
    respond(status, serde_json::to_vec(&json!(text)).unwrap_or_default())
}

fn now_dlt() -> String {
    let t = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&fmt).unwrap_or_default()
}

fn random_id(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

/// The route template of a path (`/prod/scenarios/abc` → `/scenarios/{id}`), with the test id and
/// run id it names; `None` for a path API Gateway does not know.
fn route_of(path: &str, v4: bool) -> Option<(&'static str, Option<String>, Option<String>)> {
    let rest = path.strip_prefix("/prod")?.trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    Some(match segments.as_slice() {
        ["regions"] => ("/regions", None, None),
        ["scenarios"] => ("/scenarios", None, None),
        ["scenarios", id] => ("/scenarios/{id}", Some(id.to_string()), None),
        ["scenarios", id, "testruns"] if v4 => ("/scenarios/{id}/testruns", Some(id.to_string()), None),
        ["scenarios", id, "testruns", run] if v4 => (
            "/scenarios/{id}/testruns/{runId}",
            Some(id.to_string()),
            Some(run.to_string()),
        ),
        ["scenarios", id, "baseline"] if v4 => ("/scenarios/{id}/baseline", Some(id.to_string()), None),
        ["stack-info"] if v4 => ("/stack-info", None, None),
        ["tasks"] => ("/tasks", None, None),
        ["vCPUDetails"] => ("/vCPUDetails", None, None),
        _ => return None,
    })
}

impl Ctx {
    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.config.time_scale)
    }

    fn v4(&self) -> bool {
        self.config.version.is_v4()
    }

    /// An error as the release answers it: v3.2.1 = 400 + plain `err.toString()`; v4 = the given
    /// status + the text as a JSON string.
    fn error(&self, v4_status: u16, text: &str) -> Response<Full<Bytes>> {
        if self.v4() {
            v4_error(v4_status, text)
        } else {
            lambda_error(text)
        }
    }

    fn not_found(&self, test_id: &str) -> Response<Full<Bytes>> {
        if self.v4() {
            v4_error(404, &format!("TEST_NOT_FOUND: testId '{test_id}' not found"))
        } else {
            lambda_error(NOT_FOUND_TYPEERROR)
        }
    }

    /// A §5.2 rule broken: v3.2.1 hides it behind `[object Object]`, v4 names it.
    fn invalid(&self, code: &str, message: &str) -> Response<Full<Bytes>> {
        if self.v4() {
            v4_error(400, &format!("{code}: {message}"))
        } else {
            lambda_error(OBJECT_OBJECT)
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let at = Instant::now();
        let raw_route = format!("{} {}", req.method(), req.uri().path());
        let (route, response) = self.clone().handle_request(req).await;
        lock(&self.state).arrivals.push(Arrival {
            at,
            route: route.unwrap_or(raw_route),
            status: response.status().as_u16(),
        });
        response
    }

    /// Takes a token from API Gateway's bucket; `false`: throttled.
    fn admit(&self) -> bool {
        let Some(limit) = self.config.rate_limit else {
            return true;
        };
        let mut st = lock(&self.state);
        let now = Instant::now();
        let burst = f64::from(limit.burst.max(1));
        let (tokens, last) = st.bucket.unwrap_or((burst, now));
        let tokens = (tokens + now.duration_since(last).as_secs_f64() * limit.per_second).min(burst);
        let (left, admitted) = if tokens >= 1.0 {
            (tokens - 1.0, true)
        } else {
            (tokens, false)
        };
        st.bucket = Some((left, now));
        admitted
    }

    /// The request's route (when it matched one) and the answer.
    async fn handle_request(self: Arc<Self>, req: Request<Incoming>) -> (Option<String>, Response<Full<Bytes>>) {
        let route = route_of(req.uri().path(), self.v4()).map(|(p, _, _)| format!("{} {p}", req.method()));
        if !self.admit() {
            return (route, respond(429, TOO_MANY_REQUESTS));
        }
        (route, self.handle_admitted(req).await)
    }

    async fn handle_admitted(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return respond(400, "bad body"),
        };
        let path = parts.uri.path().to_string();
        let method = parts.method.as_str().to_string();
        let v4 = self.v4();
        // API Gateway: an unknown path (every v4 path on v3.2.1) is "Missing Authentication Token".
        let Some((route_path, id, run_id)) = route_of(&path, v4) else {
            return respond(403, MISSING_TOKEN);
        };
        let query = parts.uri.query().filter(|q| !q.is_empty()).map(query_pairs);
        if parts.method == http::Method::OPTIONS {
            return respond(200, "{}");
        }
        // IAM auth on every method (API Gateway answers before the Lambda).
        if let Err(body) = self.verify_sigv4(&parts, &body) {
            lock(&self.state).auth_failures += 1;
            return respond(403, body);
        }
        let route = format!("{method} {route_path}");
        *lock(&self.state).calls.entry(route.clone()).or_insert(0) += 1;

        let injection = {
            let mut st = lock(&self.state);
            let found = st.injections.iter_mut().find(|i| i.route == route && i.times > 0);
            found.map(|i| {
                i.times -= 1;
                i.clone()
            })
        };
        if let Some(inj) = injection {
            if !inj.delay.is_zero() {
                tokio::time::sleep(inj.delay).await;
            }
            if inj.after_effect {
                let _ = self
                    .clone()
                    .dispatch(&method, route_path, id, run_id, query.as_deref(), &body)
                    .await;
            }
            return respond(inj.status, inj.body);
        }
        self.dispatch(&method, route_path, id, run_id, query.as_deref(), &body)
            .await
    }

    async fn dispatch(
        self: Arc<Self>,
        method: &str,
        route_path: &str,
        id: Option<String>,
        run_id: Option<String>,
        query: Option<&[(String, String)]>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let path_for_error = route_path.replace("{id}", "{testId}");
        if self.v4() {
            // v4 validates query keys per resource (unknown keys → 400).
            let allowed: &[&str] = match route_path {
                "/scenarios" => &["op", "tags"],
                "/scenarios/{id}" => &["history", "latest"],
                "/scenarios/{id}/testruns" => &["limit", "start_timestamp", "end_timestamp", "latest", "next_token"],
                "/scenarios/{id}/baseline" => &["data"],
                _ => &[],
            };
            if let Some((k, _)) = query
                .unwrap_or_default()
                .iter()
                .find(|(k, _)| !allowed.contains(&k.as_str()))
            {
                return v4_error(
                    400,
                    &format!("INVALID_QUERY_PARAMETER: Unrecognized key(s) in object: '{k}'"),
                );
            }
        }
        let id = id.as_deref().unwrap_or_default();
        match (method, route_path) {
            ("GET", "/regions") => ok_json(&self.regions_body()),
            ("GET", "/scenarios") => ok_json(&self.list_body()),
            ("POST", "/scenarios") => self.post_scenario(body),
            ("GET", "/scenarios/{id}") => self.get_detail(id),
            ("POST", "/scenarios/{id}") => self.cancel(id),
            ("DELETE", "/scenarios/{id}") => self.delete(id),
            ("GET", "/scenarios/{id}/testruns") => self.test_runs(id, query),
            ("GET", "/scenarios/{id}/testruns/{runId}") => self.test_run(id, run_id.as_deref().unwrap_or_default()),
            ("GET" | "PUT" | "DELETE", "/scenarios/{id}/baseline") => self.baseline(method, id, query, body),
            ("GET", "/stack-info") => ok_json(&self.stack_info()),
            ("GET", "/tasks") => ok_json(&json!([])),
            ("GET", "/vCPUDetails") => ok_json(&self.config.vcpu_details),
            (m, _) if self.v4() => v4_error(
                405,
                &format!("METHOD_NOT_ALLOWED: Method: {m} not supported for this resource: {path_for_error}"),
            ),
            (m, _) => lambda_error(&format!(
                "Error: Method: {m} not supported for this resource: {path_for_error} "
            )),
        }
    }

    fn region_row(&self, r: &str) -> Value {
        json!({
            "testId": format!("region-{r}"), "region": r, "taskCluster": format!("dlt-cluster-{r}"),
            "taskDefinition": format!("arn:aws:ecs:{r}:123456789012:task-definition/dlt:1"),
            "taskImage": "dlt-load-tester", "taskSecurityGroup": "sg-0123", "subnetA": "subnet-a",
            "subnetB": "subnet-b", "ecsCloudWatchLogGroup": "dlt-logs"
        })
    }

    fn regions_body(&self) -> Value {
        let rows: Vec<Value> = self.config.regions.iter().map(|r| self.region_row(r)).collect();
        json!({"regions": rows, "url": "https://example-bucket.s3.amazonaws.com/regional-template.json"})
    }

    fn list_body(&self) -> Value {
        let st = lock(&self.state);
        let items: Vec<Value> = st
            .tests
            .iter()
            .filter(|(id, _)| !id.contains("region"))
            .map(|(_, t)| {
                let mut m = Map::new();
                for k in [
                    "testId",
                    "testName",
                    "testDescription",
                    "status",
                    "startTime",
                    "nextRun",
                    "scheduleRecurrence",
                ] {
                    if let Some(v) = t.item.get(k) {
                        m.insert(k.into(), v.clone());
                    }
                }
                if self.v4() {
                    m.insert("totalTestRuns".into(), json!(t.history.len()));
                }
                Value::Object(m)
            })
            .collect();
        json!({"Items": items})
    }

    /// §5.2 validation (v4: §7's schema and §9's code rules) and the start of a run (§3.1, §3.2, §4).
    fn post_scenario(self: Arc<Self>, body: &[u8]) -> Response<Full<Bytes>> {
        let v4 = self.v4();
        let req = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(req)) => req,
            // v4 parses the body itself; an empty body is `{}` there and skips the schema.
            _ if v4 && body.iter().all(u8::is_ascii_whitespace) => Map::new(),
            _ if v4 => return v4_error(400, "Invalid JSON in request body"),
            _ => return respond(502, r#"{"message":"Internal server error"}"#),
        };
        if req.contains_key("scheduleStep") {
            return self.error(400, "Error: scheduling is not supported by the DLT test double");
        }
        if v4 && !req.is_empty() {
            if let Err(message) = v4_schema(&req) {
                return v4_error(400, &format!("INVALID_REQUEST_BODY: {message}"));
            }
        }
        let Some(configs) = req.get("testTaskConfigs").and_then(Value::as_array).cloned() else {
            return self.error(400, "TypeError: testTaskConfigs is not iterable");
        };
        let details = req.get("regionalTaskDetails").cloned().unwrap_or(Value::Null);
        let mut int_configs = Vec::new();
        for c in &configs {
            let region = c.get("region").and_then(Value::as_str).unwrap_or_default().to_string();
            let Some(rd) = details.get(&region) else {
                if v4 {
                    return v4_error(
                        400,
                        &format!("InvalidRegionalStack: no regional task details for {region}"),
                    );
                }
                return lambda_error("TypeError: Cannot read properties of undefined (reading 'dltAvailableTasks')");
            };
            let task_count = js_parse_int(c.get("taskCount"));
            let concurrency = js_parse_int(c.get("concurrency"));
            let bound = js_parse_int(rd.get("dltAvailableTasks"));
            let Some(tc) = task_count.filter(|n| *n >= 1) else {
                return self.invalid("InvalidParameter", "taskCount must be at least 1");
            };
            if bound.is_some_and(|b| tc > b) {
                return self.invalid("InvalidParameter", "taskCount exceeds the available tasks");
            }
            let Some(cc) = concurrency.filter(|n| *n >= 1) else {
                return self.invalid("InvalidParameter", "concurrency must be at least 1");
            };
            if !self.config.regions.contains(&region) {
                return self.invalid("InvalidRegionRequest", &format!("region {region} is not deployed"));
            }
            int_configs.push((region, tc, cc));
        }
        let Some(mut scenario) = req.get("testScenario").and_then(Value::as_object).cloned() else {
            return self.error(
                400,
                "TypeError: Cannot read properties of undefined (reading 'execution')",
            );
        };
        let exec = scenario
            .get("execution")
            .and_then(|e| e.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let ramp = exec.get("ramp-up").cloned().unwrap_or(json!("0s"));
        // v4's code accepts only `s`/`m` units for both (a number is an "invalid unit" for ramp-up).
        let units: &[&str] = if v4 { &["s", "m"] } else { &["ms", "s", "m", "h", "d"] };
        let ramp_dur = match &ramp {
            Value::Number(_) if v4 => None,
            Value::Number(n) if n.as_f64().is_some_and(|x| x >= 0.0) => {
                Some(Duration::from_secs_f64(n.as_f64().unwrap_or(0.0)))
            }
            Value::String(s) => parse_taurus(&s.replace(' ', ""), units),
            _ => None,
        };
        let Some(ramp_dur) = ramp_dur else {
            return self.invalid("InvalidParameter", "Invalid ramp-up unit, use s or m");
        };
        let hold = exec.get("hold-for").cloned().unwrap_or(Value::Null);
        let hold_dur = match &hold {
            Value::String(s) => {
                let s = s.replace(' ', "");
                if !(s.ends_with('s') || s.ends_with('m')) {
                    None
                } else {
                    // DLT reads only the first group (`"1m30s"` waits 60 s).
                    parse_taurus(&s, units).map(|_| first_group(&s))
                }
            }
            Value::Null => None,
            _ => {
                return self.error(
                    400,
                    "TypeError: testDuration.match is not a function or its return value is not iterable",
                )
            }
        };
        let Some(hold_dur) = hold_dur.filter(|d| *d >= Duration::from_secs(1)) else {
            return self.invalid("InvalidParameter", "Invalid hold-for unit, use s or m");
        };
        let test_type = req
            .get("testType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut file_type = req
            .get("fileType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if test_type == "simple" {
            file_type = "none".into();
        } else if file_type.is_empty() {
            file_type = "script".into();
        }
        let test_id = req
            .get("testId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| random_id(10));

        // Taurus rewrites: normalised execution, per-region counts, reporting replaced.
        if let Some(Value::Array(execs)) = scenario.get_mut("execution") {
            if let Some(Value::Object(e0)) = execs.get_mut(0) {
                e0.insert(
                    "ramp-up".into(),
                    json!(ramp
                        .as_str()
                        .map(|s| s.replace(' ', ""))
                        .unwrap_or_else(|| ramp.to_string())),
                );
                e0.insert(
                    "hold-for".into(),
                    json!(hold.as_str().unwrap_or_default().replace(' ', "")),
                );
                if let Some((_, tc, cc)) = int_configs.first() {
                    e0.insert("taskCount".into(), json!(tc));
                    e0.insert("concurrency".into(), json!(cc));
                }
            }
        }
        scenario.insert(
            "reporting".into(),
            json!([{"module": "final-stats", "summary": true, "percentiles": true,
            "summary-labels": true, "test-duration": true, "dump-xml": "/tmp/artifacts/results.xml"}]),
        );

        // v3.2.1: a missing field fails the DynamoDB update after the execution started (§5.3);
        // v4's schema catches all but `showLive`, which then fails the same way with a 500.
        let required: &[&str] = if v4 {
            &["showLive"]
        } else {
            &["testName", "testDescription", "showLive", "testType"]
        };
        let missing: Vec<&str> = required.iter().copied().filter(|k| !req.contains_key(*k)).collect();
        let token = CancellationToken::new();
        let start = now_dlt();
        let run_id = random_id(10);
        {
            let mut st = lock(&self.state);
            let prior = st.tests.get(&test_id);
            let executions = prior.map(|t| t.executions).unwrap_or(0) + 1;
            let history = prior.map(|t| t.history.clone()).unwrap_or_default();
            if !missing.is_empty() {
                if let Some(t) = st.tests.get_mut(&test_id) {
                    t.executions = executions;
                }
                if v4 {
                    return v4_error(500, "InternalError: Failed to update test configuration");
                }
                return lambda_error(&format!(
                    "ValidationException: ExpressionAttributeValues contains invalid value: One or more parameter values \
                     were invalid: An AttributeValue may not contain an empty string for key {}",
                    missing.join(", ")
                ));
            }
            let mut item = prior.map(|t| t.item.clone()).unwrap_or_default();
            let first_status = if v4 { "queued" } else { "running" };
            for (k, v) in [
                ("testId", json!(test_id)),
                ("testName", req["testName"].clone()),
                ("testDescription", req["testDescription"].clone()),
                (
                    "testTaskConfigs",
                    json!(int_configs
                        .iter()
                        .map(|(r, t, c)| json!({"region": r, "taskCount": t, "concurrency": c}))
                        .collect::<Vec<_>>()),
                ),
                ("testScenario", Value::Object(scenario.clone())),
                ("status", json!(first_status)),
                ("results", json!({})),
                ("startTime", json!(start)),
                ("endTime", json!(if v4 { "" } else { "running" })),
                ("nextRun", json!("")),
                ("scheduleRecurrence", json!("")),
                ("showLive", req["showLive"].clone()),
                ("testType", json!(test_type)),
                ("fileType", json!(file_type)),
            ] {
                item.insert(k.into(), v);
            }
            if v4 {
                let desired: i64 = int_configs.iter().map(|c| c.1).sum();
                for (k, v) in [
                    ("cronValue", json!("")),
                    ("cronExpiryDate", json!("")),
                    ("tags", req.get("tags").cloned().unwrap_or(json!([]))),
                    ("scheduleTimezone", json!("UTC")),
                    (
                        "healthyThreshold",
                        req.get("healthyThreshold").cloned().unwrap_or(json!(90)),
                    ),
                    ("desiredTaskCount", json!(desired)),
                    ("taskFailureCount", json!(0)),
                ] {
                    item.insert(k.into(), v);
                }
            }
            // A re-POST while running is accepted; the new execution fails inside
            // (TestAlreadyRunning) and the first run goes on.
            let already = prior.is_some_and(|t| t.phase != Phase::Done);
            let (phase, cancel, run) = match prior {
                Some(t) if already => (t.phase, t.cancel.clone(), t.run_id.clone()),
                _ => (Phase::Provisioning, Some(token.clone()), Some(run_id.clone())),
            };
            st.tests.insert(
                test_id.clone(),
                Test {
                    item,
                    history,
                    phase,
                    cancel,
                    completed_at: None,
                    executions,
                    run_id: run,
                },
            );
            st.events.push((test_id.clone(), first_status.into(), Instant::now()));
            if already {
                let mut answer = st.tests[&test_id].item.clone();
                answer.insert("testScenario".into(), json!(Value::Object(scenario).to_string()));
                return ok_json(&Value::Object(answer));
            }
            if v4 {
                // v4 writes the run's history row at the start; the end fills it in.
                let t = st.tests.get_mut(&test_id).expect("just inserted");
                let row = json!({
                    "testId": test_id, "testRunId": run_id, "startTime": start, "endTime": "",
                    "status": "running", "results": {}, "testTaskConfigs": t.item["testTaskConfigs"].clone(),
                    "testScenario": Value::Object(scenario.clone()), "testDescription": t.item["testDescription"].clone(),
                    "testType": test_type, "scheduleTimezone": "UTC",
                });
                t.history.push(row);
            }
        }
        let fail = lock(&self.state).fail_next.take();
        let requests = requests_of(&scenario);
        let script_keys = script_keys(&test_type, &file_type, &test_id, v4);
        let (tc, cc) = int_configs.first().map(|(_, t, c)| (*t, *c)).unwrap_or((1, 1));
        let regions: Vec<String> = int_configs.iter().map(|c| c.0.clone()).collect();
        let tasks = int_configs
            .iter()
            .flat_map(|(r, t, _)| {
                (0..*t).map(|_| TaskPlan {
                    region: r.clone(),
                    uuid: uuid_like(),
                })
            })
            .collect();
        let run = RunPlan {
            test_id: test_id.clone(),
            run_id: run_id.clone(),
            prefix: format!("results/{test_id}/{}_{run_id}/", iso_now()),
            v3_prefix: {
                let t = time::OffsetDateTime::now_utc();
                let fmt = time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]"
                );
                t.format(&fmt).unwrap_or_default().chars().rev().collect()
            },
            requests,
            task_count: tc as u32,
            concurrency: cc as u32,
            ramp: ramp_dur,
            hold: hold_dur,
            fail,
            script_keys,
            regions,
            tasks,
        };
        tokio::spawn(self.clone().lifecycle(run, token));

        let st = lock(&self.state);
        let mut answer = st.tests[&test_id].item.clone();
        answer.insert("testScenario".into(), json!(Value::Object(scenario).to_string()));
        ok_json(&Value::Object(answer))
    }

    fn set_status(&self, test_id: &str, status: &str, phase: Phase, extra: &[(&str, Value)]) -> bool {
        let mut st = lock(&self.state);
        let Some(t) = st.tests.get_mut(test_id) else {
            return false;
        };
        if t.cancel.as_ref().is_some_and(|c| c.is_cancelled()) && phase != Phase::Done {
            return false;
        }
        t.phase = phase;
        t.item.insert("status".into(), json!(status));
        for (k, v) in extra {
            t.item.insert((*k).into(), v.clone());
        }
        if matches!(status, "complete" | "failed" | "cancelled") {
            t.completed_at = Some(Instant::now());
        }
        st.events
            .push((test_id.to_string(), status.to_string(), Instant::now()));
        true
    }

    /// v4: fills in the run's history row at its end (every run has one, whatever its status).
    fn finish_history(&self, test_id: &str, fields: &[(&str, Value)]) {
        if !self.v4() {
            return;
        }
        let mut st = lock(&self.state);
        let Some(t) = st.tests.get_mut(test_id) else { return };
        let Some(run_id) = t.run_id.clone() else { return };
        if let Some(row) = t
            .history
            .iter_mut()
            .find(|h| h.get("testRunId").and_then(Value::as_str) == Some(&run_id))
        {
            for (k, v) in fields {
                row[*k] = v.clone();
            }
        }
    }

    /// v3.2.1: each task's Taurus final-stats XML in the scenarios bucket (when the double has
    /// one), with that task's share of the requests and failure codes.
    async fn write_task_xml(&self, run: &RunPlan, r: &RunResults) {
        let Some((client, bucket)) = &self.config.s3_bucket else {
            return;
        };
        let n = run.tasks.len().max(1);
        let codes = split_codes(&r.status_codes, n);
        let requests = split_count(r.total.requests, n);
        for (i, task) in run.tasks.iter().enumerate() {
            let mut rc = String::new();
            let failed: u64 = codes[i].values().sum();
            rc.push_str(&format!(
                "<rc value=\"{ok}\" param=\"200\"><name>rc/200</name><value>{ok}</value></rc>",
                ok = requests[i].saturating_sub(failed)
            ));
            for (code, count) in &codes[i] {
                rc.push_str(&format!(
                    "<rc value=\"{count}\" param=\"{code}\"><name>rc/{code}</name><value>{count}</value></rc>"
                ));
            }
            let xml = format!(
                "<?xml version=\"1.0\" ?>\n<FinalStatus><TestDuration>{:.1}</TestDuration><Group label=\"\">\
                 <throughput value=\"{n}\"><name>throughput</name><value>{n}</value></throughput>\
                 <fail value=\"{failed}\"><name>fail</name><value>{failed}</value></fail>{rc}</Group></FinalStatus>\n",
                r.duration_seconds,
                n = requests[i],
            );
            let key = format!(
                "results/{}/{}-{}-{}.xml",
                run.test_id, run.v3_prefix, task.uuid, task.region
            );
            let put = client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(xml.into_bytes().into())
                .send()
                .await;
            if let Err(e) = put {
                log::warn!("double: cannot write {key}: {e}");
            }
        }
    }

    /// Whether the container would find its script: any of `keys` in the scenarios bucket.
    async fn has_script(&self, keys: &[String]) -> bool {
        for key in keys {
            let found = match &self.config.s3_bucket {
                Some((client, bucket)) => client.head_object().bucket(bucket).key(key).send().await.is_ok(),
                None => lock(&self.state).s3.contains(key),
            };
            if found {
                return true;
            }
        }
        false
    }

    async fn lifecycle(self: Arc<Self>, run: RunPlan, token: CancellationToken) {
        let scaled = |d| self.scaled(d);
        let v4 = self.v4();
        if v4 {
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(scaled(self.config.queued)) => {}
            }
            if !self.set_status(&run.test_id, "provisioning", Phase::Provisioning, &[]) {
                return;
            }
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(scaled(self.config.provisioning)) => {}
        }
        if !self.set_status(&run.test_id, "running", Phase::Running, &[]) {
            return;
        }
        let real_ramp = scaled(run.ramp);
        let real_hold = scaled(run.hold);
        // v3.2.1 JMeter tests: the files the script's result collectors write.
        let mut jmeter_result_files = Vec::new();
        let outcome: Result<Option<RunResults>, String> = if let Some(keys) = &run.script_keys {
            // Script tests: the container needs the script in S3; no engine for them here.
            let have = self.has_script(keys).await;
            if !v4 {
                jmeter_result_files = self.jmeter_result_files(keys).await;
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(real_ramp + real_hold) => {}
            }
            if have {
                Ok(None)
            } else {
                Err("Test might be failed to run.".into())
            }
        } else {
            let load = Load {
                concurrency: run.concurrency,
                task_count: run.task_count,
                regions: run.regions.clone(),
                ramp_up: real_ramp.min(self.config.engine_max_real / 2),
                hold_for: real_hold.min(self.config.engine_max_real),
                arrival_rate: None,
                start_rate: None,
            };
            let opts = EngineOptions {
                request_timeout: self.config.engine_request_timeout,
                max_requests: Some(self.config.engine_max_requests),
                threads: Some(1),
                ..EngineOptions::default()
            };
            match engine::run(&run.requests, &load, &opts, token.child_token()).await {
                Ok(r) => Ok(Some(r)),
                Err(engine::EngineError::Cancelled { .. }) => return,
                Err(e) => {
                    log::warn!("double: engine failed: {e}");
                    Err("Failed to parse the results.".into())
                }
            }
        };
        if token.is_cancelled() {
            return;
        }
        // v4 tasks upload their raw samples and final stats; DLT's figures are then the mean of
        // the per-task ones.
        let outcome = match outcome {
            Ok(r) if v4 && self.config.s3_bucket.is_some() => {
                let r = r.unwrap_or_else(synthetic_jmeter_results);
                Ok(Some(self.upload_task_samples(&run, &r).await))
            }
            Ok(None) if !jmeter_result_files.is_empty() => {
                let r = synthetic_jmeter_results();
                Ok(Some(self.upload_jmeter_results(&run, &r, &jmeter_result_files).await))
            }
            o => o,
        };
        // Tasks stopped: results upload, poll slack, parsing.
        let parsing = if v4 { "parsing results" } else { "running" };
        if !self.set_status(&run.test_id, parsing, Phase::Finishing, &[]) {
            return;
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(scaled(self.config.finish)) => {}
        }
        if v4 {
            if !self.set_status(&run.test_id, "cleaning up", Phase::Finishing, &[]) {
                return;
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(scaled(self.config.cleanup)) => {}
            }
        }
        let outcome = match (&run.fail, outcome) {
            (Some(reason), _) => Err(reason.clone()),
            (None, o) => o,
        };
        let end = now_dlt();
        match outcome {
            Err(reason) => {
                if self.set_status(
                    &run.test_id,
                    "failed",
                    Phase::Done,
                    &[("errorReason", json!(reason)), ("endTime", json!(end))],
                ) {
                    self.finish_history(&run.test_id, &[("status", json!("failed")), ("endTime", json!(end))]);
                }
            }
            Ok(r) => {
                let r = r.unwrap_or_else(synthetic_jmeter_results);
                if !v4 {
                    self.write_task_xml(&run, &r).await;
                }
                let results = dlt_results(&r, &run, v4);
                let complete_tasks: Map<String, Value> =
                    run.regions.iter().map(|r| (r.clone(), json!(run.task_count))).collect();
                let total = &results["total"];
                let count = total["throughput"].as_u64().unwrap_or(0);
                let succ = total["succ"].as_u64().unwrap_or(0);
                let succ_percent = if count == 0 {
                    "NaN".to_string()
                } else {
                    format!("{:.2}", succ as f64 / count as f64 * 100.0)
                };
                {
                    let mut st = lock(&self.state);
                    let Some(t) = st.tests.get_mut(&run.test_id) else {
                        return;
                    };
                    if t.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                        return;
                    }
                    if !v4 {
                        // v3.2.1 writes history only now, for completed runs.
                        let row = json!({
                            "testId": run.test_id, "testRunId": run.run_id,
                            "startTime": t.item.get("startTime").cloned().unwrap_or(json!("")),
                            "endTime": end, "status": "complete", "succPercent": succ_percent,
                            "results": results, "testTaskConfigs": t.item.get("testTaskConfigs").cloned().unwrap_or(json!([])),
                            "testScenario": t.item.get("testScenario").cloned().unwrap_or(json!({})),
                            "testDescription": t.item.get("testDescription").cloned().unwrap_or(json!("")),
                            "testType": t.item.get("testType").cloned().unwrap_or(json!("simple")),
                            "completeTasks": complete_tasks.clone(),
                        });
                        t.history.push(row);
                    }
                    t.item.insert("results".into(), results.clone());
                    t.item.insert("endTime".into(), json!(end));
                    t.item
                        .insert("completeTasks".into(), Value::Object(complete_tasks.clone()));
                    t.item.insert("status".into(), json!("complete"));
                    t.phase = Phase::Done;
                    t.completed_at = Some(Instant::now());
                    st.events.push((run.test_id.clone(), "complete".into(), Instant::now()));
                }
                self.finish_history(
                    &run.test_id,
                    &[
                        ("status", json!("complete")),
                        ("endTime", json!(end)),
                        ("results", results),
                        ("succPercent", json!(succ_percent)),
                        ("completeTasks", Value::Object(complete_tasks)),
                    ],
                );
            }
        }
    }

    /// Each task of the run with its share of `r` as a JTL file and that share's own figures,
    /// its latencies skewed by `task_latency_skew`.
    fn task_shares<'r>(&self, run: &'r RunPlan, r: &RunResults) -> Vec<(&'r TaskPlan, String, RunResults)> {
        let tasks = run.tasks.len().max(1);
        run.tasks
            .iter()
            .enumerate()
            .map(|(k, task)| {
                let skew = self.config.task_latency_skew.get(k).copied().unwrap_or(1.0);
                let (jtl, stats) = task_samples(r, k, tasks, skew);
                (task, jtl, stats)
            })
            .collect()
    }

    /// Writes each task's raw samples (`kpi-<uuid>-<region>.jtl`, Taurus' JTL columns) and its
    /// final-stats XML under the run's prefix, and returns what DLT's results parser makes of
    /// them: counts summed, averages and percentiles (and maxima) averaged over tasks.
    async fn upload_task_samples(&self, run: &RunPlan, r: &RunResults) -> RunResults {
        let Some((client, bucket)) = &self.config.s3_bucket else {
            return r.clone();
        };
        let mut per_task = Vec::with_capacity(run.tasks.len());
        for (task, jtl, stats) in self.task_shares(run, r) {
            let name = format!("{}-{}", task.uuid, task.region);
            let xml = task_xml(&stats);
            for (key, body) in [
                (format!("{}kpi-{name}.jtl", run.prefix), jtl),
                (format!("{}{name}.xml", run.prefix), xml),
                (
                    format!("{}completion/{}/{}", run.prefix, task.region, task.uuid),
                    String::new(),
                ),
            ] {
                put_object(client, bucket, &key, body).await;
            }
            per_task.push(stats);
        }
        averaged(&per_task, r.duration_seconds)
    }

    /// v3.2.1: the files a JMeter script's result collectors name (`<ResultCollector>` … `<stringProp
    /// name="filename">`), read from the uploaded `.jmx` (a zip is not opened).
    async fn jmeter_result_files(&self, keys: &[String]) -> Vec<String> {
        let Some((client, bucket)) = &self.config.s3_bucket else {
            return Vec::new();
        };
        for key in keys.iter().filter(|k| k.ends_with(".jmx")) {
            let Ok(o) = client.get_object().bucket(bucket).key(key).send().await else {
                continue;
            };
            let Ok(body) = o.body.collect().await else {
                continue;
            };
            let jmx = String::from_utf8_lossy(&body.into_bytes()).into_owned();
            let mut files = Vec::new();
            let mut rest = jmx.as_str();
            while let Some(i) = rest.find("<ResultCollector") {
                let block = &rest[i..];
                let end = block.find("</ResultCollector>").unwrap_or(block.len());
                let open = "<stringProp name=\"filename\">";
                if let Some(j) = block[..end].find(open) {
                    let value = &block[j + open.len()..end];
                    // load-test.sh strips spaces from the names.
                    let name: String = value[..value.find('<').unwrap_or(value.len())]
                        .chars()
                        .filter(|c| *c != ' ')
                        .collect();
                    if !name.is_empty() {
                        files.push(name);
                    }
                }
                rest = &block[end..];
            }
            return files;
        }
        Vec::new()
    }

    /// v3.2.1 JMeter tests: each task's samples as the script's CSV result file, uploaded where
    /// load-test.sh puts it (`results/<testId>/JMeter_Result/<prefix>/<uuid>/<file>`, an absolute
    /// file name appended to the uuid), with the per-task latency skew; returns DLT's figures
    /// (the mean of the per-task ones).
    async fn upload_jmeter_results(&self, run: &RunPlan, r: &RunResults, files: &[String]) -> RunResults {
        let Some((client, bucket)) = &self.config.s3_bucket else {
            return r.clone();
        };
        let mut per_task = Vec::with_capacity(run.tasks.len());
        for (task, jtl, stats) in self.task_shares(run, r) {
            for f in files {
                let sep = if f.starts_with('/') { "" } else { "/" };
                let key = format!(
                    "results/{}/JMeter_Result/{}/{}{sep}{f}",
                    run.test_id, run.v3_prefix, task.uuid
                );
                put_object(client, bucket, &key, jtl.clone()).await;
            }
            per_task.push(stats);
        }
        averaged(&per_task, r.duration_seconds)
    }

    fn get_detail(&self, test_id: &str) -> Response<Full<Bytes>> {
        let st = lock(&self.state);
        let Some(t) = st.tests.get(test_id) else {
            return self.not_found(test_id);
        };
        let mut item = t.item.clone();
        // testTaskConfigs merged with the region rows.
        if let Some(Value::Array(configs)) = item.get("testTaskConfigs").cloned() {
            let merged: Vec<Value> = configs
                .into_iter()
                .map(|c| {
                    let mut m = c.as_object().cloned().unwrap_or_default();
                    if let Some(r) = c.get("region").and_then(Value::as_str) {
                        if let Value::Object(row) = self.region_row(r) {
                            for (k, v) in row {
                                m.entry(k).or_insert(v);
                            }
                        }
                    }
                    Value::Object(m)
                })
                .collect();
            item.insert("testTaskConfigs".into(), Value::Array(merged));
        }
        let mut history = t.history.clone();
        shuffle(&mut history);
        if self.v4() {
            item.insert("totalTestRuns".into(), json!(history.len()));
        }
        item.insert("history".into(), Value::Array(history));
        let status = item.get("status").and_then(Value::as_str).unwrap_or_default();
        let live = if self.v4() {
            matches!(status, "provisioning" | "running")
        } else {
            status == "running"
        };
        if live {
            let (tc, _) = first_counts(&item);
            let last = match t.phase {
                Phase::Provisioning => Some("PROVISIONING"),
                Phase::Running => Some("RUNNING"),
                _ => None,
            };
            let per_region = if self.v4() {
                // v4.1+: counts, not ECS task objects.
                let (running, pending) = match last {
                    Some("RUNNING") => (tc, 0),
                    Some(_) => (0, tc),
                    None => (0, 0),
                };
                json!([{"region": self.config.region, "running": running, "pending": pending, "desired": tc}])
            } else {
                let tasks: Vec<Value> = last
                    .map(|s| {
                        (0..tc)
                            .map(|i| {
                                json!({"taskArn": format!("arn:aws:ecs:{}:123456789012:task/dlt/{test_id}{i}", self.config.region),
                                       "lastStatus": s, "desiredStatus": "RUNNING", "group": test_id, "startedBy": test_id})
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!([{"region": self.config.region, "tasks": tasks}])
            };
            item.insert("tasksPerRegion".into(), per_region);
        }
        ok_json(&Value::Object(item))
    }

    fn cancel(self: Arc<Self>, test_id: &str) -> Response<Full<Bytes>> {
        {
            let mut st = lock(&self.state);
            let Some(t) = st.tests.get_mut(test_id) else {
                return self.not_found(test_id);
            };
            // No status check: even a complete test goes cancelling → cancelled.
            if let Some(c) = &t.cancel {
                c.cancel();
            }
            t.phase = Phase::Cancelling;
            t.item.insert("status".into(), json!("cancelling"));
            st.events
                .push((test_id.to_string(), "cancelling".into(), Instant::now()));
        }
        let me = self.clone();
        let id = test_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(me.scaled(me.config.cancel_delay)).await;
            // v3.2.1 leaves endTime at "running"; v4 clears it and records the run as cancelled.
            let extra: Vec<(&str, Value)> = if me.v4() { vec![("endTime", json!(""))] } else { vec![] };
            if me.set_status(&id, "cancelled", Phase::Done, &extra) {
                me.finish_history(&id, &[("status", json!("cancelled")), ("endTime", json!(""))]);
            }
        });
        ok_json(&json!("test cancelling"))
    }

    fn delete(&self, test_id: &str) -> Response<Full<Bytes>> {
        let mut st = lock(&self.state);
        let Some(t) = st.tests.get(test_id) else {
            return self.not_found(test_id);
        };
        let status = t
            .item
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.v4()
            && !matches!(
                status.as_str(),
                "complete" | "cancelled" | "failed" | "scheduled" | "created"
            )
        {
            return v4_error(
                409,
                &format!(
                    "TEST_RUNNING: testId '{test_id}' is currently {status}. Please cancel the test before deleting."
                ),
            );
        }
        // Delete does not stop tasks; a running lifecycle keeps going but writes nowhere.
        st.tests.remove(test_id);
        ok_json(&json!("success"))
    }

    /// v4 `GET /scenarios/{id}/testruns`: newest first, `limit` 1–100, `latest=true`; the real
    /// code reads `limit` off the query object, so no query string at all is a TypeError.
    fn test_runs(&self, test_id: &str, query: Option<&[(String, String)]>) -> Response<Full<Bytes>> {
        let Some(query) = query else {
            return v4_error(400, "TypeError: Cannot read properties of null (reading 'limit')");
        };
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
        let limit = match get("limit").map(str::parse::<usize>) {
            None => 20,
            Some(Ok(n)) if (1..=100).contains(&n) => n,
            Some(_) => return v4_error(400, "INVALID_QUERY_PARAMETER: limit: Number must be between 1 and 100"),
        };
        let st = lock(&self.state);
        let Some(t) = st.tests.get(test_id) else {
            return self.not_found(test_id);
        };
        let mut rows = t.history.clone();
        rows.sort_by(|a, b| b["startTime"].as_str().cmp(&a["startTime"].as_str()));
        let total = rows.len();
        if get("latest") == Some("true") {
            rows.truncate(1);
        }
        let runs: Vec<Value> = rows.iter().take(limit).map(test_run_summary).collect();
        ok_json(&json!({"testRuns": runs, "pagination": {"limit": limit, "next_token": null, "total_count": total}}))
    }

    fn test_run(&self, test_id: &str, run_id: &str) -> Response<Full<Bytes>> {
        let st = lock(&self.state);
        let Some(t) = st.tests.get(test_id) else {
            return self.not_found(test_id);
        };
        match t.history.iter().find(|h| h["testRunId"].as_str() == Some(run_id)) {
            Some(row) => ok_json(row),
            None => v4_error(
                404,
                &format!("TESTRUN_NOT_FOUND: testRunId '{run_id}' not found for test '{test_id}'"),
            ),
        }
    }

    fn baseline(
        &self,
        method: &str,
        test_id: &str,
        query: Option<&[(String, String)]>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let mut st = lock(&self.state);
        let Some(t) = st.tests.get_mut(test_id) else {
            return self.not_found(test_id);
        };
        let current = t.item.get("baselineId").and_then(Value::as_str).map(str::to_string);
        match method {
            "GET" => {
                let Some(b) = current else {
                    return ok_json(
                        &json!({"testId": test_id, "baselineId": null, "message": "No baseline set for this test"}),
                    );
                };
                let mut answer =
                    json!({"testId": test_id, "baselineId": b, "message": "Baseline retrieved successfully"});
                let data = !query
                    .unwrap_or_default()
                    .iter()
                    .any(|(k, v)| k == "data" && v == "false");
                if data {
                    answer["testRunDetails"] = t
                        .history
                        .iter()
                        .find(|h| h["testRunId"].as_str() == Some(&b))
                        .map(|h| {
                            json!({"testRunId": h["testRunId"], "startTime": h["startTime"], "endTime": h["endTime"],
                                   "status": h["status"], "results": h["results"], "scheduleTimezone": "UTC"})
                        })
                        .unwrap_or(Value::Null);
                }
                ok_json(&answer)
            }
            "PUT" => {
                let run = serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|v| v.get("testRunId").and_then(Value::as_str).map(str::to_string));
                let Some(run) = run else {
                    return v4_error(400, "INVALID_PARAMETER: testRunId is required");
                };
                if !t.history.iter().any(|h| h["testRunId"].as_str() == Some(&run)) {
                    return v4_error(
                        404,
                        &format!("TESTRUN_NOT_FOUND: testRunId '{run}' not found for test '{test_id}'"),
                    );
                }
                t.item.insert("baselineId".into(), json!(run));
                let mut answer = json!({"testId": test_id, "baselineId": run});
                match current {
                    Some(prev) => {
                        answer["message"] = json!("Baseline updated successfully");
                        answer["previousBaselineId"] = json!(prev);
                    }
                    None => answer["message"] = json!("Baseline set successfully"),
                }
                ok_json(&answer)
            }
            _ => {
                if current.is_none() {
                    return v4_error(
                        400,
                        &format!("NO_BASELINE_SET: No baseline is currently set for test '{test_id}'"),
                    );
                }
                t.item.remove("baselineId");
                ok_json(&json!({"message": "Baseline cleared successfully", "testId": test_id}))
            }
        }
    }

    /// v4 `GET /stack-info`.
    fn stack_info(&self) -> Value {
        let r = &self.config.region;
        json!({
            "created_time": "2026-01-05T10:00:00.000Z", "region": r, "version": self.config.version.tag(),
            "deployment_id": "00000000-0000-4000-8000-000000000000", "account_id": "123456789012",
            "deployment_method": "cloudformation",
            "stack_id": format!("arn:aws:cloudformation:{r}:123456789012:stack/dlt/0000"),
            "solution_template": "https://solutions-reference.s3.amazonaws.com/distributed-load-testing-on-aws/v4.2.3/distributed-load-testing-on-aws.template",
        })
    }
    /// Verifies SigV4 for real: canonical request from the signed headers, the known secret,
    /// service `execute-api` and the double's region.
    fn verify_sigv4(&self, parts: &http::request::Parts, body: &[u8]) -> Result<(), &'static str> {
        let Some(auth) = parts.headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(MISSING_TOKEN);
        };
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256 ").ok_or(SIG_MISMATCH)?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for kv in rest.split(',') {
            let (k, v) = kv.trim().split_once('=').ok_or(SIG_MISMATCH)?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed_headers = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let (credential, signed_headers, signature) = (
            credential.ok_or(SIG_MISMATCH)?,
            signed_headers.ok_or(SIG_MISMATCH)?,
            signature.ok_or(SIG_MISMATCH)?,
        );
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key, date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(SIG_MISMATCH);
        };
        let (secret, token) = self.config.credentials.get(*access_key).ok_or(SIG_MISMATCH)?;
        if *region != self.config.region || *service != "execute-api" {
            return Err(SIG_MISMATCH);
        }
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if token.as_deref() != header("x-amz-security-token") {
            return Err(BAD_TOKEN);
        }
        let amz_date = header("x-amz-date").ok_or(SIG_MISMATCH)?;
        if !amz_date.starts_with(date) {
            return Err(SIG_MISMATCH);
        }
        let names: Vec<&str> = signed_headers.split(';').collect();
        if !names.contains(&"host") || !names.contains(&"x-amz-date") {
            return Err(SIG_MISMATCH);
        }
        let mut canonical_headers = String::new();
        for n in &names {
            let value = if *n == "host" {
                header("host")
                    .map(str::to_string)
                    .unwrap_or_else(|| self.addr.to_string())
            } else {
                let vals: Vec<String> = parts
                    .headers
                    .get_all(*n)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect();
                if vals.is_empty() {
                    return Err(SIG_MISMATCH);
                }
                vals.join(",")
            };
            canonical_headers.push_str(&format!("{n}:{value}\n"));
        }
        let mut query = parts.uri.query().map(query_pairs).unwrap_or_default();
        query.sort();
        let canonical_query = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        // execute-api: path segments URI-encoded twice; our ids are unreserved, so `%` is the
        // only character that changes.
        let canonical_uri = parts.uri.path().replace('%', "%25");
        let canonical = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            parts.method.as_str(),
            canonical_uri,
            canonical_query,
            canonical_headers,
            signed_headers,
            hex::encode(Sha256::digest(body))
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
        let k_region = hmac(&k_date, region.as_bytes());
        let k_service = hmac(&k_region, service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let expected = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
        if expected == signature {
            Ok(())
        } else {
            Err(SIG_MISMATCH)
        }
    }
}

/// Uploads one result object; a failure is logged (the provider then finds the file missing).
async fn put_object(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: String) {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.into_bytes()))
        .send()
        .await;
    if put.is_err() {
        log::warn!("double: could not upload {key}");
    }
}

/// One started run, planned per task as DLT's step function runs it.
struct RunPlan {
    test_id: String,
    run_id: String,
    /// Where the run's files go in the scenarios bucket: `results/<testId>/<ISO time>_<testRunId>/`
    /// (see `dlt_provider::dlt::samples::run_prefix_of`).
    prefix: String,
    /// v3.2.1's file-name prefix: the POST's ISO time (with milliseconds) reversed; each task's
    /// XML is `results/<testId>/<v3_prefix>-<uuid>-<region>.xml`.
    v3_prefix: String,
    requests: Vec<RequestSpec>,
    task_count: u32,
    concurrency: u32,
    ramp: Duration,
    hold: Duration,
    fail: Option<String>,
    /// Script tests: the keys the container tries, any one will do.
    script_keys: Option<Vec<String>>,
    regions: Vec<String>,
    /// Every ECS task of the run (a task's files are named after its uuid and region).
    tasks: Vec<TaskPlan>,
}

struct TaskPlan {
    region: String,
    uuid: String,
}

fn uuid_like() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)]))
            .collect()
    };
    format!("{}-{}-4{}-a{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12))
}

/// The ISO time the api-services put in a run's prefix (`2026-12-02T07-40-41`).
fn iso_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]");
    t.format(&fmt).unwrap_or_default()
}

/// The S3 keys the load-test container tries for a script test (deployment/ecr/…/load-test.sh):
/// `public/test-scenarios/<type>/<testId>.<ext>`; k6 tries `.ts` then `.js`; a zip is `.zip`.
/// v3.2.1 runs JMeter only.
fn script_keys(test_type: &str, file_type: &str, test_id: &str, v4: bool) -> Option<Vec<String>> {
    let key = |ext: &str| format!("public/test-scenarios/{test_type}/{test_id}.{ext}");
    let exts: Vec<&str> = match (test_type, file_type) {
        ("simple", _) => return None,
        (_, "zip") => vec!["zip"],
        ("jmeter", _) => vec!["jmx"],
        ("k6", _) if v4 => vec!["ts", "js"],
        ("locust", _) if v4 => vec!["py"],
        _ => vec![],
    };
    Some(exts.into_iter().map(key).collect())
}

/// The v4 schema rules of §7 that the provider's payloads could break.
fn v4_schema(req: &Map<String, Value>) -> Result<(), String> {
    let text_len = |k: &str, min: usize, max: usize| -> Result<(), String> {
        let n = req.get(k).and_then(Value::as_str).map(|s| s.chars().count());
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(format!("{k}: must be a string of {min} to {max} characters")),
        }
    };
    text_len("testName", 3, 255)?;
    text_len("testDescription", 3, 60000)?;
    let test_type = req.get("testType").and_then(Value::as_str).unwrap_or_default();
    if !["simple", "jmeter", "locust", "k6"].contains(&test_type) {
        return Err("testType: Invalid enum value. Expected 'simple' | 'jmeter' | 'locust' | 'k6'".into());
    }
    if let Some(ft) = req.get("fileType") {
        if !["none", "script", "zip"].contains(&ft.as_str().unwrap_or_default()) {
            return Err("fileType: Invalid enum value. Expected 'none' | 'script' | 'zip'".into());
        }
    }
    for c in req
        .get("testTaskConfigs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let cc = js_parse_int(c.get("concurrency")).unwrap_or(0);
        if !(1..=25000).contains(&cc) {
            return Err("testTaskConfigs.concurrency: must be between 1 and 25000".into());
        }
    }
    let scenario = req.get("testScenario").cloned().unwrap_or(Value::Null);
    let exec = scenario
        .get("execution")
        .and_then(|e| e.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    for k in ["ramp-up", "hold-for"] {
        if let Some(Value::String(s)) = exec.get(k) {
            // One `<int><unit>` group at most (`1m30s` is rejected by the schema).
            let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            if !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("testScenario.execution.{k}: invalid duration {s:?}"));
            }
        }
    }
    for sc in scenario
        .get("scenarios")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
    {
        for r in sc.get("requests").and_then(Value::as_array).into_iter().flatten() {
            if r.get("body").is_some_and(|b| !b.is_string()) {
                return Err("testScenario.scenarios.requests.body: Expected string".into());
            }
            if r.get("headers")
                .and_then(Value::as_object)
                .is_some_and(|h| h.values().any(|v| !v.is_string()))
            {
                return Err("testScenario.scenarios.requests.headers: Expected string values".into());
            }
        }
    }
    Ok(())
}

/// A history row as v4's `/testruns` lists it: milliseconds, camelCase, zero values omitted.
fn test_run_summary(row: &Value) -> Value {
    let total = &row["results"]["total"];
    let n = |k: &str| {
        total
            .get(k)
            .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0.0)
    };
    let mut m = Map::new();
    for k in ["testRunId", "startTime", "endTime", "status"] {
        m.insert(k.into(), row.get(k).cloned().unwrap_or(json!("")));
    }
    m.insert("scheduleTimezone".into(), json!("UTC"));
    let duration = n("testDuration");
    let mut put = |k: &str, v: f64| {
        if v != 0.0 {
            m.insert(k.into(), json!(v));
        }
    };
    put("requests", n("throughput"));
    put("success", n("succ"));
    put("errors", n("fail"));
    put(
        "requestsPerSecond",
        if duration > 0.0 {
            n("throughput") / duration
        } else {
            0.0
        },
    );
    put("avgResponseTime", n("avg_rt") * 1000.0);
    put("avgLatency", n("avg_lt") * 1000.0);
    put("avgConnectionTime", n("avg_ct") * 1000.0);
    put("avgBandwidth", if duration > 0.0 { n("bytes") / duration } else { 0.0 });
    if total.is_object() {
        let p: Map<String, Value> = [
            ("p0", "p0_0"),
            ("p50", "p50_0"),
            ("p90", "p90_0"),
            ("p95", "p95_0"),
            ("p99", "p99_0"),
            ("p99_9", "p99_9"),
            ("p100", "p100_0"),
        ]
        .iter()
        .map(|(k, src)| ((*k).to_string(), json!(n(src) * 1000.0)))
        .collect();
        m.insert("percentiles".into(), Value::Object(p));
    }
    Value::Object(m)
}

/// A query string's `key=value` pairs, as written (no decoding: the double's keys are plain).
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn first_counts(item: &Map<String, Value>) -> (u64, u64) {
    let c = item
        .get("testTaskConfigs")
        .and_then(|c| c.get(0))
        .cloned()
        .unwrap_or(Value::Null);
    (
        c.get("taskCount").and_then(Value::as_u64).unwrap_or(1),
        c.get("concurrency").and_then(Value::as_u64).unwrap_or(1),
    )
}

fn shuffle(v: &mut [Value]) {
    for i in (1..v.len()).rev() {
        let j = rand::random_range(0..=i);
        v.swap(i, j);
    }
}

/// JavaScript `parseInt` on a JSON value: numbers truncate, strings parse leading digits.
fn js_parse_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_f64().map(|f| f.trunc() as i64),
        Value::String(s) => {
            let s = s.trim();
            let end = s.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(s.len());
            s[..end].parse().ok()
        }
        _ => None,
    }
}

/// Taurus duration: digits only, or `<int><unit>` groups.
fn parse_taurus(s: &str, units: &[&str]) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().ok().map(Duration::from_secs);
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let value: u64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..u];
        if !units.contains(&unit) {
            return None;
        }
        total += match unit {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => Duration::from_secs(value * 86400),
        };
        rest = &rest[u..];
    }
    Some(total)
}

fn first_group(s: &str) -> Duration {
    let n = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let v: u64 = s[..n].parse().unwrap_or(0);
    if s[n..].starts_with('m') && !s[n..].starts_with("ms") {
        Duration::from_secs(v * 60)
    } else {
        Duration::from_secs(v)
    }
}

fn requests_of(scenario: &Map<String, Value>) -> Vec<RequestSpec> {
    let name = scenario
        .get("execution")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("scenario"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reqs = scenario
        .get("scenarios")
        .and_then(|s| s.get(name))
        .and_then(|s| s.get("requests"))
        .and_then(Value::as_array);
    reqs.map(|a| {
        a.iter()
            .map(|r| RequestSpec {
                // Taurus names a request's samples by its `label`, else by its URL.
                label: r.get("label").and_then(Value::as_str).map(str::to_string),
                url: r.get("url").and_then(Value::as_str).unwrap_or_default().to_string(),
                method: r.get("method").and_then(Value::as_str).unwrap_or("GET").to_string(),
                headers: r
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                body: match r.get("body") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                },
            })
            .collect()
    })
    .unwrap_or_default()
}

fn synthetic_jmeter_results() -> RunResults {
    let mut r = RunResults {
        duration_seconds: 60.0,
        ..RunResults::default()
    };
    r.total.requests = 600;
    r.total.successes = 600;
    r.total.avg_response_time_ms = 42.0;
    r.total.p50_ms = 40.0;
    r.total.p90_ms = 55.0;
    r.total.p95_ms = 60.0;
    r.total.p99_ms = 80.0;
    r.total.max_ms = 120.0;
    r
}

/// Engine results → DLT §3.4 JSON: seconds as strings (5 dp averages, 3 dp percentiles),
/// counts as numbers, `throughput` = count, `rc` without 200, integer strings for
/// bytes/concurrency/testDuration (`"0"` in labels).
fn dlt_stats(
    s: &dlt_provider::dlt::results::Stats,
    rc: &BTreeMap<String, u64>,
    duration: u64,
    concurrency: u64,
) -> Value {
    let sec5 = |ms: f64| format!("{:.5}", ms / 1000.0);
    let sec3 = |ms: f64| format!("{:.3}", ms / 1000.0);
    let rc: Vec<Value> = rc
        .iter()
        .filter(|(c, _)| c.as_str() != "200")
        .map(|(c, n)| json!({"code": c, "count": n}))
        .collect();
    json!({
        "avg_ct": sec5(s.avg_response_time_ms * 0.1), "avg_lt": sec5(s.avg_response_time_ms * 0.9),
        "avg_rt": sec5(s.avg_response_time_ms), "stdev_rt": sec3((s.p90_ms - s.p50_ms).max(0.0)),
        "p0_0": sec3(0.0), "p50_0": sec3(s.p50_ms), "p90_0": sec3(s.p90_ms), "p95_0": sec3(s.p95_ms),
        "p99_0": sec3(s.p99_ms), "p99_9": sec3(s.max_ms.max(s.p99_ms)), "p100_0": sec3(s.max_ms),
        "throughput": s.requests, "succ": s.successes, "fail": s.failures,
        "bytes": format!("{}", s.requests * 106), "concurrency": format!("{concurrency}"),
        "testDuration": format!("{duration}"), "rc": rc,
    })
}

/// `total` split over `n` tasks: the first `total mod n` tasks get one more.
fn split_count(total: u64, n: usize) -> Vec<u64> {
    let n64 = n.max(1) as u64;
    (0..n as u64)
        .map(|i| total / n64 + u64::from(i < total % n64))
        .collect()
}

/// Each code's count split over `n` tasks, unevenly on purpose (the first task gets the rounding
/// and a quarter more), so per-task counts differ as real tasks' do.
fn split_codes(codes: &BTreeMap<String, u64>, n: usize) -> Vec<BTreeMap<String, u64>> {
    let mut out = vec![BTreeMap::new(); n.max(1)];
    for (code, &count) in codes {
        let mut left = count;
        for (i, task) in out.iter_mut().enumerate() {
            let share = if i + 1 == n {
                left
            } else {
                (count / n as u64 + count / (4 * n as u64)).min(left)
            };
            left -= share;
            task.insert(code.clone(), share);
        }
    }
    out
}

/// v3.2.1's `getReducedResponseCodes` bug (§9): the reducer mutates the first task's objects and
/// adds every later task's count twice, so N tasks report c1 + 2·(c2+…+cN) per code.
fn v321_inflated_rc(per_task: &[BTreeMap<String, u64>]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (i, task) in per_task.iter().enumerate() {
        for (code, &c) in task {
            *out.entry(code.clone()).or_insert(0) += if i == 0 { c } else { 2 * c };
        }
    }
    out
}

fn dlt_results(r: &RunResults, run: &RunPlan, v4: bool) -> Value {
    let duration = r.duration_seconds.round().max(1.0) as u64;
    let vus = u64::from(run.concurrency);
    let rc = if v4 || run.tasks.len() < 2 {
        r.status_codes.clone()
    } else {
        v321_inflated_rc(&split_codes(&r.status_codes, run.tasks.len()))
    };
    let mut total = dlt_stats(&r.total, &rc, duration, vus);
    let labels: Vec<Value> = r
        .labels
        .iter()
        .map(|l| {
            let mut v = dlt_stats(&l.stats, &BTreeMap::new(), 0, vus);
            v["label"] = json!(l.label);
            v["labels"] = json!([]);
            v
        })
        .collect();
    total["labels"] = json!(labels);
    let mut region_block = total.clone();
    // v4 dropped the widget images (§7).
    if !v4 {
        total["metricS3Location"] = json!(format!("cloudwatch-images/{}/total.png", run.test_id));
    }
    let mut out = Map::new();
    for region in &run.regions {
        if !v4 {
            region_block["metricS3Location"] = json!(format!("cloudwatch-images/{}/{region}.png", run.test_id));
        }
        out.insert(region.clone(), region_block.clone());
    }
    out.insert("total".into(), total);
    Value::Object(out)
}

/// One task's share of a run as raw JTL samples: its slice of the requests, latencies spread
/// around the engine's median times `skew`, its slice of the failures (with the run's commonest
/// failure code), labels in turn. Returns the file and the task's own figures.
fn task_samples(r: &RunResults, k: usize, tasks: usize, skew: f64) -> (String, RunResults) {
    use dlt_provider::dlt::results::{LabelResults, Stats};
    use hdrhistogram::Histogram;
    let total = r.total.requests.max(1);
    let share = |n: u64| n / tasks as u64 + u64::from((k as u64) < n % tasks as u64);
    let n = share(total);
    let failures = share(r.total.failures).min(n);
    let fail_code = r
        .status_codes
        .iter()
        .max_by_key(|(_, c)| **c)
        .map(|(code, _)| code.clone())
        .unwrap_or_else(|| "500".into());
    let labels: Vec<String> = if r.labels.is_empty() {
        vec!["request".into()]
    } else {
        r.labels.iter().map(|l| l.label.clone()).collect()
    };
    let base = r.total.p50_ms.max(1.0) * skew;
    let duration_ms = (r.duration_seconds.max(1.0) * 1000.0) as u64;
    let start = 1_764_000_000_000u64;
    let new_h = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds");
    let mut h = new_h();
    let mut per_label: Vec<(Histogram<u64>, u64, u64)> = labels.iter().map(|_| (new_h(), 0, 0)).collect();
    let mut text = String::from(
        "timeStamp,elapsed,label,responseCode,responseMessage,threadName,success,bytes,grpThreads,allThreads,Latency,Hostname,Connect\n",
    );
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (k as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut succ = 0u64;
    for i in 0..n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        let ms = ((base * (0.5 + u)).round() as u64).max(1);
        let li = (i as usize) % labels.len();
        let ok = i >= failures;
        let code = if ok { "200" } else { fail_code.as_str() };
        let ts = start + i * duration_ms / n.max(1);
        text.push_str(&format!(
            "{ts},{ms},{},{code},msg,Thread Group 1-1,{ok},100,1,1,{ms},h,0\n",
            labels[li]
        ));
        let _ = h.record(ms * 1000);
        let e = &mut per_label[li];
        let _ = e.0.record(ms * 1000);
        e.1 += 1;
        if ok {
            succ += 1;
            e.2 += 1;
        }
    }
    let seconds = r.duration_seconds;
    let mut out = RunResults {
        total: Stats::from_histogram(n, succ, &h, seconds),
        duration_seconds: seconds,
        labels: labels
            .iter()
            .zip(per_label)
            .map(|(label, (h, req, ok))| LabelResults {
                label: label.clone(),
                stats: Stats::from_histogram(req, ok, &h, seconds),
            })
            .collect(),
        ..RunResults::default()
    };
    if failures > 0 {
        out.status_codes.insert(fail_code, failures);
    }
    (text, out)
}

/// A task's final-stats XML (the shape Taurus' `dump-xml` writes, the figures the parser reads).
fn task_xml(r: &RunResults) -> String {
    let t = &r.total;
    let s = |ms: f64| format!("{:.3}", ms / 1000.0);
    format!(
        "<FinalStatus><TestDuration>{}</TestDuration><Group label=\"\"><throughput value=\"{}\"/><concurrency value=\"1\"/><succ value=\"{}\"/><fail value=\"{}\"/><avg_rt value=\"{}\"/><perc param=\"50.0\" value=\"{}\"/><perc param=\"90.0\" value=\"{}\"/><perc param=\"95.0\" value=\"{}\"/><perc param=\"99.0\" value=\"{}\"/><perc param=\"100.0\" value=\"{}\"/></Group></FinalStatus>",
        r.duration_seconds,
        t.requests,
        t.successes,
        t.failures,
        s(t.avg_response_time_ms),
        s(t.p50_ms),
        s(t.p90_ms),
        s(t.p95_ms),
        s(t.p99_ms),
        s(t.max_ms),
    )
}

/// DLT's `createFinalResults`: counts summed, times (percentiles and maxima included) averaged
/// over tasks.
fn averaged(tasks: &[RunResults], duration_seconds: f64) -> RunResults {
    use dlt_provider::dlt::results::{LabelResults, Stats};
    fn mean_of(stats: &[&Stats]) -> Stats {
        let n = stats.len().max(1) as f64;
        let sum = |f: fn(&Stats) -> f64| stats.iter().map(|s| f(s)).sum::<f64>() / n;
        let requests = stats.iter().map(|s| s.requests).sum();
        let successes = stats.iter().map(|s| s.successes).sum();
        Stats {
            requests,
            successes,
            failures: stats.iter().map(|s| s.failures).sum(),
            dropped: 0,
            success_rate: Stats::compute_success_rate(successes, requests),
            throughput: stats.iter().map(|s| s.throughput).sum(),
            avg_response_time_ms: sum(|s| s.avg_response_time_ms),
            p50_ms: sum(|s| s.p50_ms),
            p90_ms: sum(|s| s.p90_ms),
            p95_ms: sum(|s| s.p95_ms),
            p99_ms: sum(|s| s.p99_ms),
            max_ms: sum(|s| s.max_ms),
        }
    }
    let totals: Vec<&Stats> = tasks.iter().map(|t| &t.total).collect();
    let mut out = RunResults {
        total: mean_of(&totals),
        duration_seconds,
        ..RunResults::default()
    };
    if let Some(first) = tasks.first() {
        for (i, l) in first.labels.iter().enumerate() {
            let s: Vec<&Stats> = tasks.iter().filter_map(|t| t.labels.get(i)).map(|l| &l.stats).collect();
            out.labels.push(LabelResults {
                label: l.label.clone(),
                stats: mean_of(&s),
            });
        }
    }
    for t in tasks {
        for (code, c) in &t.status_codes {
            *out.status_codes.entry(code.clone()).or_default() += c;
        }
    }
    out
}
