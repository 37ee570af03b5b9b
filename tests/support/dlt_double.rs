//! A test double of the DLT REST API (v3.2.1 contract, `shared/reference/dlt-api.md` §8) on
//! loopback: `/prod` routes, SigV4 verification with known test credentials, §5.2 validation with
//! the exact bodies, §3.2/§3.3 shapes, a scaled clock for the run lifecycle, results produced by
//! really running the scenario with the local engine and converted to DLT's §3.4 JSON types,
//! cancel/delete per §4, JMeter's S3 check, failure injection and per-route call counters.
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

/// The double's behaviour. DLT times (provisioning, ramp-up, hold-for) are multiplied by
/// `time_scale` to get real time.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    pub region: String,
    /// DLT seconds → real seconds.
    pub time_scale: f64,
    /// Fargate provisioning (DLT time).
    pub provisioning: Duration,
    /// From the tasks' end to `complete` (DLT time): upload, poll slack, parsing.
    pub finish: Duration,
    /// How long `cancelling` lasts (DLT time).
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
}

impl Default for DoubleConfig {
    fn default() -> DoubleConfig {
        DoubleConfig {
            region: REGION.to_string(),
            time_scale: 1.0 / 60.0,
            provisioning: Duration::from_secs(30),
            finish: Duration::from_secs(20),
            cancel_delay: Duration::from_secs(10),
            regions: vec![REGION.to_string()],
            vcpu_details: json!({ REGION: {"vCPULimit": 4000, "vCPUsPerTask": 2, "vCPUsInUse": 10} }),
            credentials: [(ACCESS_KEY.to_string(), (SECRET_KEY.to_string(), None))].into(),
            engine_max_requests: 20_000,
            engine_max_real: Duration::from_secs(2),
            engine_request_timeout: Duration::from_secs(2),
            s3_bucket: None,
        }
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

    pub fn inject(&self, injection: Injection) {
        lock(&self.state).injections.push(injection);
    }

    /// The next started run ends `failed` with this `errorReason` (and no history).
    pub fn fail_next_run(&self, reason: &str) {
        lock(&self.state).fail_next = Some(reason.to_string());
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

impl Ctx {
    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.config.time_scale)
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return respond(400, "bad body"),
        };
        let path = parts.uri.path().to_string();
        let method = parts.method.as_str().to_string();
        let Some(rest) = path.strip_prefix("/prod") else {
            return respond(403, MISSING_TOKEN);
        };
        let rest = rest.trim_end_matches('/');
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let (route_path, id) = match segments.as_slice() {
            ["regions"] => ("/regions", None),
            ["scenarios"] => ("/scenarios", None),
            ["scenarios", id] => ("/scenarios/{id}", Some(id.to_string())),
            ["tasks"] => ("/tasks", None),
            ["vCPUDetails"] => ("/vCPUDetails", None),
            _ => return respond(403, MISSING_TOKEN),
        };
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
                let _ = self.clone().dispatch(&method, route_path, id, &body).await;
            }
            return respond(inj.status, inj.body);
        }
        self.dispatch(&method, route_path, id, &body).await
    }

    async fn dispatch(
        self: Arc<Self>,
        method: &str,
        route_path: &str,
        id: Option<String>,
        body: &[u8],
    ) -> Response<Full<Bytes>> {
        let path_for_error = match &id {
            Some(_) => "/scenarios/{testId}".to_string(),
            None => route_path.to_string(),
        };
        match (method, route_path) {
            ("GET", "/regions") => ok_json(&self.regions_body()),
            ("GET", "/scenarios") => ok_json(&self.list_body()),
            ("POST", "/scenarios") => self.post_scenario(body),
            ("GET", "/scenarios/{id}") => self.get_detail(id.as_deref().unwrap_or_default()),
            ("POST", "/scenarios/{id}") => self.cancel(id.as_deref().unwrap_or_default()),
            ("DELETE", "/scenarios/{id}") => self.delete(id.as_deref().unwrap_or_default()),
            ("GET", "/tasks") => ok_json(&json!([])),
            ("GET", "/vCPUDetails") => ok_json(&self.config.vcpu_details),
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
                Value::Object(m)
            })
            .collect();
        json!({"Items": items})
    }

    /// §5.2 validation and the start of a run (§3.1, §3.2, §4).
    fn post_scenario(self: Arc<Self>, body: &[u8]) -> Response<Full<Bytes>> {
        let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
            return respond(502, r#"{"message":"Internal server error"}"#);
        };
        if req.contains_key("scheduleStep") {
            return lambda_error("Error: scheduling is not supported by the DLT test double");
        }
        let Some(configs) = req.get("testTaskConfigs").and_then(Value::as_array).cloned() else {
            return lambda_error("TypeError: testTaskConfigs is not iterable");
        };
        let details = req.get("regionalTaskDetails").cloned().unwrap_or(Value::Null);
        let mut int_configs = Vec::new();
        for c in &configs {
            let region = c.get("region").and_then(Value::as_str).unwrap_or_default().to_string();
            let Some(rd) = details.get(&region) else {
                return lambda_error("TypeError: Cannot read properties of undefined (reading 'dltAvailableTasks')");
            };
            let task_count = js_parse_int(c.get("taskCount"));
            let concurrency = js_parse_int(c.get("concurrency"));
            let bound = js_parse_int(rd.get("dltAvailableTasks"));
            let Some(tc) = task_count.filter(|n| *n >= 1) else {
                return lambda_error(OBJECT_OBJECT);
            };
            if bound.is_some_and(|b| tc > b) {
                return lambda_error(OBJECT_OBJECT);
            }
            let Some(cc) = concurrency.filter(|n| *n >= 1) else {
                return lambda_error(OBJECT_OBJECT);
            };
            if !self.config.regions.contains(&region) {
                return lambda_error(OBJECT_OBJECT);
            }
            int_configs.push((region, tc, cc));
        }
        let Some(mut scenario) = req.get("testScenario").and_then(Value::as_object).cloned() else {
            return lambda_error("TypeError: Cannot read properties of undefined (reading 'execution')");
        };
        let exec = scenario
            .get("execution")
            .and_then(|e| e.get(0))
            .cloned()
            .unwrap_or(Value::Null);
        let ramp = exec.get("ramp-up").cloned().unwrap_or(json!("0s"));
        let ramp_dur = match &ramp {
            Value::Number(n) if n.as_f64().is_some_and(|x| x >= 0.0) => {
                Some(Duration::from_secs_f64(n.as_f64().unwrap_or(0.0)))
            }
            Value::String(s) => parse_taurus(&s.replace(' ', ""), &["ms", "s", "m", "h", "d"]),
            _ => None,
        };
        let Some(ramp_dur) = ramp_dur else {
            return lambda_error(OBJECT_OBJECT);
        };
        let hold = exec.get("hold-for").cloned().unwrap_or(Value::Null);
        let hold_dur = match &hold {
            Value::String(s) => {
                let s = s.replace(' ', "");
                if !(s.ends_with('s') || s.ends_with('m')) {
                    None
                } else {
                    // DLT reads only the first group (`"1m30s"` waits 60 s).
                    parse_taurus(&s, &["ms", "s", "m", "h", "d"]).map(|_| first_group(&s))
                }
            }
            Value::Null => None,
            _ => return lambda_error("TypeError: testDuration.match is not a function"),
        };
        let Some(hold_dur) = hold_dur.filter(|d| *d >= Duration::from_secs(1)) else {
            return lambda_error(OBJECT_OBJECT);
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

        let missing: Vec<&str> = ["testName", "testDescription", "showLive", "testType"]
            .into_iter()
            .filter(|k| !req.contains_key(*k))
            .collect();
        // Order as in DLT: the execution starts, then the DynamoDB update may fail (§5.3).
        let token = CancellationToken::new();
        let start = now_dlt();
        {
            let mut st = lock(&self.state);
            let prior = st.tests.get(&test_id);
            let executions = prior.map(|t| t.executions).unwrap_or(0) + 1;
            let history = prior.map(|t| t.history.clone()).unwrap_or_default();
            if !missing.is_empty() {
                if let Some(t) = st.tests.get_mut(&test_id) {
                    t.executions = executions;
                }
                return lambda_error(&format!(
                    "ValidationException: ExpressionAttributeValues contains invalid value: One or more parameter values \
                     were invalid: An AttributeValue may not contain an empty string for key {}",
                    missing.join(", ")
                ));
            }
            let mut item = prior.map(|t| t.item.clone()).unwrap_or_default();
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
                ("status", json!("running")),
                ("results", json!({})),
                ("startTime", json!(start)),
                ("endTime", json!("running")),
                ("nextRun", json!("")),
                ("scheduleRecurrence", json!("")),
                ("showLive", req["showLive"].clone()),
                ("testType", json!(test_type)),
                ("fileType", json!(file_type)),
            ] {
                item.insert(k.into(), v);
            }
            // A re-POST while running is accepted; the new execution fails inside
            // (TestAlreadyRunning) and the first run goes on.
            let already =
                prior.is_some_and(|t| matches!(t.phase, Phase::Provisioning | Phase::Running | Phase::Finishing));
            let (phase, cancel, completed_at) = match prior {
                Some(t) if already => (t.phase, t.cancel.clone(), None),
                _ => (Phase::Provisioning, Some(token.clone()), None),
            };
            st.tests.insert(
                test_id.clone(),
                Test {
                    item,
                    history,
                    phase,
                    cancel,
                    completed_at,
                    executions,
                },
            );
            st.events.push((test_id.clone(), "running".into(), Instant::now()));
            if already {
                let mut answer = st.tests[&test_id].item.clone();
                answer.insert("testScenario".into(), json!(Value::Object(scenario).to_string()));
                return ok_json(&Value::Object(answer));
            }
        }
        let fail = lock(&self.state).fail_next.take();
        let requests = requests_of(&scenario);
        let s3_key = (test_type != "simple").then(|| {
            let name = scenario
                .get("scenarios")
                .and_then(Value::as_object)
                .and_then(|m| m.values().next())
                .and_then(|s| s.get("script"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            format!("public/test-scenarios/{test_type}/{name}")
        });
        let (tc, cc) = int_configs.first().map(|(_, t, c)| (*t, *c)).unwrap_or((1, 1));
        let run = RunPlan {
            test_id: test_id.clone(),
            requests,
            task_count: tc as u32,
            concurrency: cc as u32,
            ramp: ramp_dur,
            hold: hold_dur,
            fail,
            s3_key,
            regions: int_configs.iter().map(|c| c.0.clone()).collect(),
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

    async fn lifecycle(self: Arc<Self>, run: RunPlan, token: CancellationToken) {
        let scaled = |d| self.scaled(d);
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(scaled(self.config.provisioning)) => {}
        }
        if !self.set_status(&run.test_id, "running", Phase::Running, &[]) {
            return;
        }
        let real_ramp = scaled(run.ramp);
        let real_hold = scaled(run.hold);
        let outcome: Result<Option<RunResults>, String> = if let Some(key) = &run.s3_key {
            // JMeter: the container needs the script in S3; no engine for JMeter here.
            let have = match &self.config.s3_bucket {
                Some((client, bucket)) => client.head_object().bucket(bucket).key(key).send().await.is_ok(),
                None => lock(&self.state).s3.contains(key),
            };
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
            };
            let opts = EngineOptions {
                request_timeout: self.config.engine_request_timeout,
                max_requests: Some(self.config.engine_max_requests),
                threads: Some(1),
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
        // Tasks stopped: results upload, poll slack, parsing.
        if !self.set_status(&run.test_id, "running", Phase::Finishing, &[]) {
            return;
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(scaled(self.config.finish)) => {}
        }
        let outcome = match (&run.fail, outcome) {
            (Some(reason), _) => Err(reason.clone()),
            (None, o) => o,
        };
        let end = now_dlt();
        match outcome {
            Err(reason) => {
                self.set_status(
                    &run.test_id,
                    "failed",
                    Phase::Done,
                    &[("errorReason", json!(reason)), ("endTime", json!(end))],
                );
            }
            Ok(r) => {
                let results = match r {
                    Some(r) => dlt_results(&r, &run),
                    None => dlt_results(&synthetic_jmeter_results(), &run),
                };
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
                let mut st = lock(&self.state);
                let Some(t) = st.tests.get_mut(&run.test_id) else {
                    return;
                };
                if t.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                    return;
                }
                let row = json!({
                    "testId": run.test_id, "testRunId": random_id(10),
                    "startTime": t.item.get("startTime").cloned().unwrap_or(json!("")),
                    "endTime": end, "status": "complete", "succPercent": succ_percent,
                    "results": results, "testTaskConfigs": t.item.get("testTaskConfigs").cloned().unwrap_or(json!([])),
                    "testScenario": t.item.get("testScenario").cloned().unwrap_or(json!({})),
                    "testDescription": t.item.get("testDescription").cloned().unwrap_or(json!("")),
                    "testType": t.item.get("testType").cloned().unwrap_or(json!("simple")),
                    "completeTasks": complete_tasks.clone(),
                });
                t.history.push(row);
                t.item.insert("results".into(), results);
                t.item.insert("endTime".into(), json!(end));
                t.item.insert("completeTasks".into(), Value::Object(complete_tasks));
                t.item.insert("status".into(), json!("complete"));
                t.phase = Phase::Done;
                t.completed_at = Some(Instant::now());
                st.events.push((run.test_id.clone(), "complete".into(), Instant::now()));
            }
        }
    }

    fn get_detail(&self, test_id: &str) -> Response<Full<Bytes>> {
        let st = lock(&self.state);
        let Some(t) = st.tests.get(test_id) else {
            return lambda_error(NOT_FOUND_TYPEERROR);
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
        item.insert("history".into(), Value::Array(history));
        if item.get("status").and_then(Value::as_str) == Some("running") {
            let (tc, _) = first_counts(&item);
            let last = match t.phase {
                Phase::Provisioning => Some("PROVISIONING"),
                Phase::Running => Some("RUNNING"),
                _ => None,
            };
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
            item.insert(
                "tasksPerRegion".into(),
                json!([{"region": self.config.region, "tasks": tasks}]),
            );
        }
        ok_json(&Value::Object(item))
    }

    fn cancel(self: Arc<Self>, test_id: &str) -> Response<Full<Bytes>> {
        {
            let mut st = lock(&self.state);
            let Some(t) = st.tests.get_mut(test_id) else {
                return lambda_error(NOT_FOUND_TYPEERROR);
            };
            // No status check in v3.2.1: even a complete test goes cancelling → cancelled.
            if let Some(c) = &t.cancel {
                c.cancel();
            }
            t.item.insert("status".into(), json!("cancelling"));
            st.events
                .push((test_id.to_string(), "cancelling".into(), Instant::now()));
        }
        let me = self.clone();
        let id = test_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(me.scaled(me.config.cancel_delay)).await;
            me.set_status(&id, "cancelled", Phase::Done, &[]);
        });
        ok_json(&json!("test cancelling"))
    }

    fn delete(&self, test_id: &str) -> Response<Full<Bytes>> {
        let mut st = lock(&self.state);
        let Some(t) = st.tests.remove(test_id) else {
            return lambda_error(NOT_FOUND_TYPEERROR);
        };
        // Delete does not stop tasks; a running lifecycle keeps going but writes nowhere.
        drop(t);
        ok_json(&json!("success"))
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
        let mut query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (k.to_string(), v.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
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

struct RunPlan {
    test_id: String,
    requests: Vec<RequestSpec>,
    task_count: u32,
    concurrency: u32,
    ramp: Duration,
    hold: Duration,
    fail: Option<String>,
    s3_key: Option<String>,
    regions: Vec<String>,
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

fn dlt_results(r: &RunResults, run: &RunPlan) -> Value {
    let duration = r.duration_seconds.round().max(1.0) as u64;
    let vus = u64::from(run.concurrency);
    let mut total = dlt_stats(&r.total, &r.status_codes, duration, vus);
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
    total["metricS3Location"] = json!(format!("cloudwatch-images/{}/total.png", run.test_id));
    let mut out = Map::new();
    for region in &run.regions {
        region_block["metricS3Location"] = json!(format!("cloudwatch-images/{}/{region}.png", run.test_id));
        out.insert(region.clone(), region_block.clone());
    }
    out.insert("total".into(), total);
    Value::Object(out)
}
