//! DLT client and runner against the DLT API test double, each test in both its v3.2.1 and v4.2.3
//! modes, signed with static IAM test credentials; the double runs each scenario for real with the
//! local engine against a loopback target. Every load is bounded (≤ 2 s, capped request count).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;
use dlt_provider::dlt::client::{DeleteOutcome, DltClient, DltClientConfig, RetryPolicy};
use dlt_provider::dlt::model::TestStatus;
use dlt_provider::dlt::runner::{CancelCause, CancelState, DltRunner, PollPolicy, RunErrorKind, RunnerOptions};
use dlt_provider::dlt::scenario::{Load, RequestSpec, Scenario, TestSpec};
use serde_json::json;
use support::dlt_double::{DltDouble, DltVersion, DoubleConfig, Injection, ACCESS_KEY, REGION, SECRET_KEY};
use support::target::{TargetConfig, TargetServer};
use tokio_util::sync::CancellationToken;

fn creds(access: &str, secret: &str, token: Option<&str>) -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new(
        access,
        secret,
        token.map(str::to_string),
        None,
        "test",
    ))
}

fn client_with(double: &DltDouble, provider: SharedCredentialsProvider) -> DltClient {
    let mut cfg = DltClientConfig::new(double.endpoint(), REGION, provider);
    cfg.retry = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    cfg.request_timeout = Duration::from_secs(5);
    DltClient::new(cfg).expect("client")
}

fn client(double: &DltDouble) -> DltClient {
    client_with(double, creds(ACCESS_KEY, SECRET_KEY, None))
}

fn options(double: &DltDouble) -> RunnerOptions {
    let c = double.config();
    let mut o = RunnerOptions::new(REGION, Duration::from_secs(20));
    let mut poll = PollPolicy::default().scaled(c.time_scale);
    poll.provisioning_estimate = (c.queued + c.provisioning).mul_f64(c.time_scale);
    poll.finish_estimate = (c.finish + c.cleanup).mul_f64(c.time_scale);
    o.poll = poll;
    o.cancel_wait = Duration::from_secs(3);
    o.scenarios_bucket = Some("dlt-scenarios".into());
    o
}

fn spec(url: String, hold: Duration) -> TestSpec {
    TestSpec {
        label_gates: Vec::new(),
        status_gates: Vec::new(),
        warm_up: None,
        name: "checkout-smoke".into(),
        description: "PR gate".into(),
        scenario: Scenario::Simple {
            requests: vec![RequestSpec {
                label: None,
                url,
                method: "GET".into(),
                headers: Default::default(),
                body: String::new(),
            }],
        },
        load: Load {
            concurrency: 4,
            task_count: 1,
            regions: vec![],
            ramp_up: Duration::ZERO,
            hold_for: hold,
            arrival_rate: None,
            start_rate: None,
        },
        gates: Default::default(),
    }
}

/// A 1-minute DLT hold that takes 1 s of real time (scale 1/60).
const HOLD: Duration = Duration::from_secs(60);

async fn passing_run_results_match_the_target(version: DltVersion) {
    let target = TargetServer::start(TargetConfig {
        latency: Duration::from_millis(20),
        error_rate: 0.1,
        ..Default::default()
    });
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let runner = DltRunner::new(client(&double));
    let mut opts = options(&double);
    opts.test_id = Some("PassRun001".into());
    let url = target.url("/health");
    let run = runner
        .run(&spec(url.clone(), HOLD), &opts, CancellationToken::new())
        .await
        .expect("run passes");
    let noticed = Instant::now();

    assert_eq!(run.test_id, "PassRun001");
    assert_eq!(run.status, TestStatus::Complete);
    assert!(run.test_run_id.as_deref().is_some_and(|id| id.len() == 10));
    assert!(run.started_at.as_deref().is_some_and(|s| s.ends_with('Z')));
    let r = &run.results;
    assert!(r.total.requests > 20, "{r:?}");
    assert_eq!(r.total.requests, r.total.successes + r.total.failures);
    assert!(
        (r.total.success_rate - 90.0).abs() < 3.0,
        "success rate {}",
        r.total.success_rate
    );
    assert!(
        r.total.avg_response_time_ms >= 19.0 && r.total.avg_response_time_ms < 80.0,
        "{r:?}"
    );
    assert!(r.total.p95_ms >= 19.0 && r.total.max_ms >= r.total.p95_ms, "{r:?}");
    assert!(r.duration_seconds >= 1.0);
    assert!((r.total.throughput - r.total.requests as f64 / r.duration_seconds).abs() < 1e-9);
    assert_eq!(r.status_codes.get("500").copied(), Some(r.total.failures));
    assert_eq!(r.labels.len(), 1);
    assert_eq!(r.labels[0].label, url);
    assert_eq!(r.regions.get(REGION).map(|s| s.requests), Some(r.total.requests));
    assert_eq!(r.percentile_method, dlt_provider::dlt::results::METHOD_DLT_AVERAGED);
    assert_eq!(double.executions("PassRun001"), 1);

    // The figures, in DLT time (real ÷ scale).
    let scale = double.config().time_scale;
    let completed = double.completed_at("PassRun001").expect("completed");
    let latency = noticed.duration_since(completed).as_secs_f64() / scale;
    let dlt_elapsed = run.stats.elapsed.as_secs_f64() / scale;
    let per_5s = run.stats.api_calls as f64 / (dlt_elapsed / 5.0);
    eprintln!(
        "scaled run: {} API calls ({} polls) over {dlt_elapsed:.0} DLT-s = {per_5s:.2} calls per 5 s; detection latency \
         {latency:.2} DLT-s; per route {:?}",
        run.stats.api_calls,
        run.stats.polls,
        double.calls()
    );
    // 2 DLT-s of schedule plus up to 50 ms of real scheduling/HTTP overhead (× 60 in DLT time).
    assert!(latency <= 2.0 + 0.05 / scale, "detection latency {latency} DLT-s");
    assert!(per_5s <= 1.0, "{per_5s} calls per 5 s");
}

async fn failed_run_reports_error_reason_and_keeps_the_id(version: DltVersion) {
    let target = TargetServer::start(TargetConfig::default());
    let double = DltDouble::start(DoubleConfig::for_version(version));
    double.fail_next_run("Failed to run Fargate tasks.");
    let runner = DltRunner::new(client(&double));
    let err = runner
        .run(
            &spec(target.url("/"), HOLD),
            &options(&double),
            CancellationToken::new(),
        )
        .await
        .expect_err("run fails");
    let id = err.test_id.clone().expect("id kept after the POST");
    assert!(
        matches!(&err.kind, RunErrorKind::Failed { reason } if reason == "Failed to run Fargate tasks."),
        "{err}"
    );
    assert!(err.to_string().contains(&id));
    let item = double.item(&id).expect("item");
    assert_eq!(item["status"], "failed");
}

async fn interrupt_cancels_the_dlt_run(version: DltVersion) {
    let target = TargetServer::start(TargetConfig::default());
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let runner = DltRunner::new(client(&double));
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        c2.cancel();
    });
    let err = runner
        .run(&spec(target.url("/"), HOLD), &options(&double), cancel)
        .await
        .expect_err("cancelled");
    assert!(
        matches!(
            err.kind,
            RunErrorKind::Cancelled {
                cause: CancelCause::Interrupted,
                state: CancelState::Confirmed,
                ..
            }
        ),
        "{err}"
    );
    let id = err.test_id.expect("id");
    let item = double.item(&id).expect("item");
    assert_eq!(item["status"], "cancelled");
    if version.is_v4() {
        // v4: endTime "" and a history row for the cancelled run, as the real v4.2.3 code writes.
        assert_eq!(item["endTime"], "", "{item}");
        let detail = runner.client().get_scenario(&id).await.expect("detail");
        assert_eq!(detail.history.len(), 1, "{:?}", detail.history);
        assert_eq!(detail.raw["history"][0]["status"], "cancelled");
    } else {
        assert_eq!(item["endTime"], "running", "v3.2.1 leaves endTime at running on cancel");
    }
    assert_eq!(double.call_count("POST /scenarios/{id}"), 1);
}

async fn timeout_cancels_and_says_so(version: DltVersion) {
    let target = TargetServer::start(TargetConfig::default());
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let runner = DltRunner::new(client(&double));
    let mut opts = options(&double);
    opts.timeout = Duration::from_millis(300);
    let err = runner
        .run(&spec(target.url("/"), HOLD), &opts, CancellationToken::new())
        .await
        .expect_err("timed out");
    assert!(
        matches!(
            err.kind,
            RunErrorKind::Cancelled {
                cause: CancelCause::TimedOut,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("timeout"), "{err}");
}

async fn throttling_and_server_errors_are_retried_without_double_start(version: DltVersion) {
    let target = TargetServer::start(TargetConfig::default());
    let double = DltDouble::start(DoubleConfig::for_version(version));
    double.inject(Injection::new(
        "POST /scenarios",
        429,
        r#"{"message":"Too Many Requests"}"#,
        2,
    ));
    double.inject(Injection::new("GET /scenarios/{id}", 500, "\"Internal error\"", 2));
    double.inject(Injection::new(
        "GET /scenarios/{id}",
        504,
        r#"{"message":"Endpoint request timed out"}"#,
        1,
    ));
    double.inject(Injection::new(
        "GET /vCPUDetails",
        502,
        r#"{"message":"Internal server error"}"#,
        1,
    ));
    let c = client(&double);
    let runner = DltRunner::new(c.clone());
    let mut opts = options(&double);
    opts.test_id = Some("Retry00001".into());
    let run = runner
        .run(&spec(target.url("/"), HOLD), &opts, CancellationToken::new())
        .await
        .expect("run passes");
    assert_eq!(run.status, TestStatus::Complete);
    assert_eq!(double.call_count("POST /scenarios"), 3);
    assert_eq!(double.executions("Retry00001"), 1);
    assert!(c.stats().retries >= 6, "{:?}", c.stats());
}

async fn ambiguous_start_is_resolved_without_a_second_post(version: DltVersion) {
    let target = TargetServer::start(TargetConfig::default());
    let double = DltDouble::start(DoubleConfig::for_version(version));
    // DLT started the run but the answer was lost behind a 504.
    let mut inj = Injection::new("POST /scenarios", 504, r#"{"message":"Endpoint request timed out"}"#, 1);
    inj.after_effect = true;
    double.inject(inj);
    let runner = DltRunner::new(client(&double));
    let mut opts = options(&double);
    opts.test_id = Some("Ambig00001".into());
    let run = runner
        .run(&spec(target.url("/"), HOLD), &opts, CancellationToken::new())
        .await
        .expect("run passes");
    assert_eq!(run.status, TestStatus::Complete);
    assert_eq!(double.call_count("POST /scenarios"), 1);
    assert_eq!(double.executions("Ambig00001"), 1);
}

async fn refuses_to_start_over_a_running_test(version: DltVersion) {
    let double = DltDouble::start(DoubleConfig::for_version(version));
    double.seed("Busy000001", "running");
    let runner = DltRunner::new(client(&double));
    let mut opts = options(&double);
    opts.test_id = Some("Busy000001".into());
    let err = runner
        .run(
            &spec("http://127.0.0.1:9/".into(), HOLD),
            &opts,
            CancellationToken::new(),
        )
        .await
        .expect_err("refused");
    assert!(matches!(err.kind, RunErrorKind::AlreadyRunning { .. }), "{err}");
    assert!(err.test_id.is_none(), "nothing was started");
    assert_eq!(double.call_count("POST /scenarios"), 0);
}

async fn delete_and_already_gone(version: DltVersion) {
    let double = DltDouble::start(DoubleConfig::for_version(version));
    double.seed("Done000001", "complete");
    let runner = DltRunner::new(client(&double));
    assert_eq!(
        runner.delete("Done000001").await.expect("delete"),
        DeleteOutcome::Deleted
    );
    assert!(double.item("Done000001").is_none());
    assert_eq!(
        runner.delete("Done000001").await.expect("gone"),
        DeleteOutcome::AlreadyGone
    );
    // A live test: v4 refuses the delete (409 TEST_RUNNING), so the runner cancels it, waits for
    // `cancelled` and deletes it; v3.2.1 deletes it as it is.
    double.seed("Live000001", "running");
    assert_eq!(
        runner.delete("Live000001").await.expect("delete a live test"),
        DeleteOutcome::Deleted
    );
    assert!(double.item("Live000001").is_none());
    let cancels = double.call_count("POST /scenarios/{id}");
    assert_eq!(cancels, u64::from(version.is_v4()), "{:?}", double.calls());
}

async fn sigv4_is_verified(version: DltVersion) {
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let bad_secret = client_with(&double, creds(ACCESS_KEY, "wrong-secret", None));
    let err = bad_secret.list_scenarios().await.expect_err("403");
    assert_eq!(err.status(), Some(403));
    assert!(
        err.to_string().contains("signature we calculated does not match"),
        "{err}"
    );
    let unknown = client_with(&double, creds("AKIDUNKNOWN", SECRET_KEY, None));
    assert_eq!(unknown.list_scenarios().await.expect_err("403").status(), Some(403));
    assert_eq!(double.auth_failures(), 2);

    // Unsigned request → API Gateway's Missing Authentication Token.
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let uri: http::Uri = format!("{}scenarios", double.endpoint()).parse().expect("uri");
    let resp = http.get(uri).await.expect("response");
    assert_eq!(resp.status(), 403);
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], br#"{"message":"Missing Authentication Token"}"#);
    // Unknown paths: API Gateway's 403 too.
    let uri: http::Uri = format!("{}nope", double.endpoint()).parse().expect("uri");
    assert_eq!(http.get(uri).await.expect("response").status(), 403);

    // Session tokens (Cognito identity-pool credentials) are signed and checked.
    let mut cfg = DoubleConfig::for_version(version);
    cfg.credentials.insert(
        "ASIATEMP".into(),
        ("temp-secret".into(), Some("session-token-1".into())),
    );
    let double = DltDouble::start(cfg);
    let ok = client_with(&double, creds("ASIATEMP", "temp-secret", Some("session-token-1")));
    assert!(ok.list_scenarios().await.expect("signed with token").is_empty());
    let bad = client_with(&double, creds("ASIATEMP", "temp-secret", Some("other")));
    assert!(bad
        .list_scenarios()
        .await
        .expect_err("bad token")
        .to_string()
        .contains("security token"));
}

async fn validation_errors_come_back_with_dlt_text(version: DltVersion) {
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let c = client(&double);
    if version.is_v4() {
        return v4_contract(&double, &c).await;
    }
    let base = json!({
        "testName": "v", "testDescription": "validation", "showLive": false, "testType": "simple", "fileType": "none",
        "testTaskConfigs": [{"region": REGION, "taskCount": 2, "concurrency": 1}],
        "regionalTaskDetails": {REGION: {"dltAvailableTasks": 1}},
        "testScenario": {"execution": [{"ramp-up": "0s", "hold-for": "1m", "scenario": "v"}],
                         "scenarios": {"v": {"requests": [{"url": "http://127.0.0.1:9/", "method": "GET", "body": "", "headers": {}}]}}}
    });
    let err = c.start_scenario(&base).await.expect_err("too many tasks");
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("[object Object] (DLT v3.2.1"), "{err}");

    let mut p = base.clone();
    p["testTaskConfigs"] = json!("nope");
    let err = c.start_scenario(&p).await.expect_err("not iterable");
    assert!(
        err.to_string()
            .ends_with("HTTP 400: TypeError: testTaskConfigs is not iterable"),
        "{err}"
    );

    let mut p = base.clone();
    p["regionalTaskDetails"] = json!({"us-east-1": {"dltAvailableTasks": 5}});
    let err = c.start_scenario(&p).await.expect_err("no region details");
    assert!(err.to_string().contains("reading 'dltAvailableTasks'"), "{err}");

    let mut p = base.clone();
    p["regionalTaskDetails"][REGION]["dltAvailableTasks"] = json!(5);
    p["testScenario"]["execution"][0]["hold-for"] = json!("1h");
    assert!(c
        .start_scenario(&p)
        .await
        .expect_err("1h")
        .to_string()
        .contains("[object Object]"));
    p["testScenario"]["execution"][0]["hold-for"] = json!(60);
    assert!(c
        .start_scenario(&p)
        .await
        .expect_err("number")
        .to_string()
        .contains("testDuration.match is not a function"));

    // A valid POST answers with the stringified scenario and endTime "running", as DLT does.
    p["testScenario"]["execution"][0]["hold-for"] = json!("1m");
    p["testId"] = json!("Valid00001");
    let answer = c.start_scenario(&p).await.expect("accepted");
    assert!(answer["testScenario"].is_string());
    assert_eq!(answer["endTime"], "running");
    assert_eq!(answer["status"], "running");
    let detail = c.get_scenario("Valid00001").await.expect("detail");
    assert!(detail.test_scenario.as_ref().is_some_and(|s| s["reporting"].is_array()));
    assert!(detail.raw["testScenario"].is_object());
    c.cancel_scenario("Valid00001").await.expect("cancel");

    // A missing test: v3.2.1's 400 TypeError reads as "not found".
    let err = c.get_scenario("Missing001").await.expect_err("missing");
    assert!(err.is_not_found(), "{err}");
}

/// A valid simple-test body for `testId`.
fn valid_body(test_id: &str) -> serde_json::Value {
    json!({
        "testId": test_id, "testName": "contract", "testDescription": "v4 contract", "showLive": false,
        "testType": "simple", "fileType": "none",
        "testTaskConfigs": [{"region": REGION, "taskCount": 1, "concurrency": 1}],
        "regionalTaskDetails": {REGION: {"dltAvailableTasks": 5}},
        "testScenario": {"execution": [{"ramp-up": "0s", "hold-for": "1m", "scenario": "contract"}],
                         "scenarios": {"contract": {"requests": [{"url": "http://127.0.0.1:9/", "method": "GET", "body": "", "headers": {}}]}}}
    })
}

/// The v4.2.3 double's contract (the real v4.2.3 code's behaviour) as the client sees it: `"CODE: message"` bodies, 404 for
/// a missing test, 405, 409 on deleting a live test, the time-unit rules, `/testruns` needing a
/// query string, strict query keys, `/baseline`, `/stack-info` and history for every run.
async fn v4_contract(double: &DltDouble, c: &DltClient) {
    let mut p = valid_body("Contract01");
    p["testScenario"]["execution"][0]["hold-for"] = json!("1h");
    let err = c.start_scenario(&p).await.expect_err("1h");
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().contains("InvalidParameter: Invalid hold-for unit"),
        "{err}"
    );
    p["testScenario"]["execution"][0]["hold-for"] = json!("1m30s");
    let err = c.start_scenario(&p).await.expect_err("1m30s");
    assert!(err.to_string().contains("INVALID_REQUEST_BODY"), "{err}");
    p["testScenario"]["execution"][0]["hold-for"] = json!("1m");
    p["testScenario"]["execution"][0]["ramp-up"] = json!(30);
    let err = c.start_scenario(&p).await.expect_err("numeric ramp-up");
    assert!(err.to_string().contains("Invalid ramp-up unit"), "{err}");
    let mut p = valid_body("Contract01");
    p["testName"] = json!("ab");
    let err = c.start_scenario(&p).await.expect_err("short name");
    assert!(err.to_string().contains("INVALID_REQUEST_BODY: testName"), "{err}");

    // Accepted: queued, no testRunId in the answer, v4's extra fields.
    let answer = c.start_scenario(&valid_body("Contract01")).await.expect("accepted");
    assert_eq!(answer["status"], "queued", "{answer}");
    assert!(answer.get("testRunId").is_none());
    assert_eq!(answer["healthyThreshold"], 90);
    // Deleting a live test: 409 TEST_RUNNING.
    let err = c.delete_scenario("Contract01").await.expect_err("409");
    assert!(err.is_conflict() && err.to_string().contains("TEST_RUNNING"), "{err}");
    let err = c.get_scenario("Missing001").await.expect_err("missing");
    assert_eq!(err.status(), Some(404));
    assert!(
        err.is_not_found()
            && err
                .to_string()
                .contains("TEST_NOT_FOUND: testId 'Missing001' not found")
    );

    // Raw routes, signed like the client signs (the client has no call for them).
    let raw = |method: &'static str, path: &'static str| async move {
        let url = format!("{}{path}", double.endpoint().trim_end_matches('/'));
        signed(method, &url).await
    };
    let (status, body) = raw("GET", "/scenarios/Contract01/testruns").await;
    assert_eq!(status, 400);
    assert!(body.contains("reading 'limit'"), "{body}");
    let (status, body) = raw("GET", "/scenarios/Contract01/testruns?limit=5&latest=true").await;
    assert_eq!(status, 200, "{body}");
    let runs: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(runs["testRuns"].as_array().map(Vec::len), Some(1), "{runs}");
    assert_eq!(runs["pagination"]["limit"], 5);
    let (status, body) = raw("GET", "/scenarios/Contract01?bogus=1").await;
    assert_eq!(status, 400);
    assert!(body.contains("INVALID_QUERY_PARAMETER"), "{body}");
    let (status, body) = raw("PUT", "/scenarios").await;
    assert_eq!(status, 405, "{body}");
    assert!(body.contains("METHOD_NOT_ALLOWED"), "{body}");
    let (status, body) = raw("GET", "/stack-info").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"version\":\"v4.2.3\""), "{body}");
    let (status, body) = raw("GET", "/scenarios/Contract01/baseline").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"baselineId\":null"), "{body}");

    // Cancel: `cancelling` for ≥ 30 DLT seconds, then cancelled with a history row.
    c.cancel_scenario("Contract01").await.expect("cancel");
    assert_eq!(
        c.get_scenario("Contract01").await.expect("detail").status,
        TestStatus::Cancelling
    );
    let cancelling = double.config().cancel_delay.mul_f64(double.config().time_scale);
    assert!(double.config().cancel_delay >= Duration::from_secs(30));
    tokio::time::sleep(cancelling + Duration::from_millis(300)).await;
    let d = c.get_scenario("Contract01").await.expect("detail");
    assert_eq!(d.status, TestStatus::Cancelled);
    assert_eq!(d.raw["history"][0]["status"], "cancelled", "{}", d.raw);
    assert_eq!(
        c.delete_scenario("Contract01").await.expect("delete"),
        DeleteOutcome::Deleted
    );
}

/// One SigV4-signed request to the double (for routes the client has no call for).
async fn signed(method: &str, url: &str) -> (u16, String) {
    use aws_credential_types::provider::ProvideCredentials;
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_smithy_runtime_api::client::identity::Identity;
    let identity: Identity = creds(ACCESS_KEY, SECRET_KEY, None)
        .provide_credentials()
        .await
        .expect("creds")
        .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("execute-api")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let signable = SignableRequest::new(method, url, std::iter::empty(), SignableBody::Bytes(b"")).expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .body(String::new())
        .expect("request");
    instructions.apply_to_request_http1x(&mut req);
    let uri: http::Uri = url.parse().expect("uri");
    let addr = format!("{}:{}", uri.host().unwrap_or_default(), uri.port_u16().unwrap_or(80));
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let (parts, body) = req.into_parts();
    let mut req = http::Request::from_parts(parts, http_body_util::Full::new(bytes::Bytes::from(body)));
    req.headers_mut().insert(
        "host",
        uri.authority().expect("authority").as_str().parse().expect("host"),
    );
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status().as_u16();
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn jmeter_needs_the_script_in_s3(version: DltVersion) {
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("checkout.jmx");
    std::fs::write(&script, "<jmeterTestPlan/>").expect("write");
    let mut s = spec(String::new(), HOLD);
    s.scenario = Scenario::Jmeter { script: script.clone() };

    // With the runner's store wired to the double's bucket: the run completes.
    let runner = DltRunner::new(client(&double)).with_script_store(Arc::new(double.s3("dlt-scenarios")));
    let run = runner
        .run(&s, &options(&double), CancellationToken::new())
        .await
        .expect("jmeter run");
    assert_eq!(run.status, TestStatus::Complete);
    assert!(run.results.total.requests > 0);

    // A bucket that does not exist: the upload fails before anything starts.
    let mut opts = options(&double);
    opts.scenarios_bucket = Some("other-bucket".into());
    let err = runner
        .run(&s, &opts, CancellationToken::new())
        .await
        .expect_err("upload refused");
    assert!(matches!(err.kind, RunErrorKind::ScriptUpload(_)), "{err}");
    // Started without any upload (a script store that drops the object).
    struct Drop_;
    #[async_trait::async_trait]
    impl dlt_provider::dlt::runner::ScriptStore for Drop_ {
        async fn put(&self, _: &str, _: &str, _: Vec<u8>) -> Result<(), String> {
            Ok(())
        }
    }
    let runner = DltRunner::new(client(&double)).with_script_store(Arc::new(Drop_));
    let err = runner
        .run(&s, &options(&double), CancellationToken::new())
        .await
        .expect_err("no script");
    assert!(
        matches!(&err.kind, RunErrorKind::Failed { reason } if reason == "Test might be failed to run."),
        "{err}"
    );
}

async fn slow_answers_time_out_and_are_retried_for_reads(version: DltVersion) {
    let double = DltDouble::start(DoubleConfig::for_version(version));
    let mut slow = Injection::new("GET /scenarios", 504, r#"{"message":"Endpoint request timed out"}"#, 1);
    slow.delay = Duration::from_millis(1500);
    double.inject(slow);
    let mut cfg = DltClientConfig::new(double.endpoint(), REGION, creds(ACCESS_KEY, SECRET_KEY, None));
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    cfg.request_timeout = Duration::from_millis(400);
    let c = DltClient::new(cfg).expect("client");
    assert!(c.list_scenarios().await.expect("second attempt answers").is_empty());
    assert_eq!(c.stats().retries, 1);

    // /regions lists the region rows.
    assert_eq!(
        client(&double).regions().await.expect("regions"),
        vec![REGION.to_string()]
    );
}

crate::in_both_dlt_modes!(async: passing_run_results_match_the_target, failed_run_reports_error_reason_and_keeps_the_id, interrupt_cancels_the_dlt_run, timeout_cancels_and_says_so, throttling_and_server_errors_are_retried_without_double_start, ambiguous_start_is_resolved_without_a_second_post, refuses_to_start_over_a_running_test, delete_and_already_gone, sigv4_is_verified, validation_errors_come_back_with_dlt_text, jmeter_needs_the_script_in_s3, slow_answers_time_out_and_are_retried_for_reads);
