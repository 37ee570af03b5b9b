//! The DLT REST API client: SigV4-signed calls (service `execute-api`) to the stack's API
//! Gateway endpoint, with retries where they are safe.
//!
//! Credentials come from any `SharedCredentialsProvider`, so the same client signs with the
//! provider's own IAM credentials or with Cognito identity-pool credentials
//! (`aws::cognito_auth::CognitoCredentialsProvider`); the provider is asked on every
//! attempt, which is what lets short-lived credentials be renewed during a long run.
//!
//! Retries: GET and DELETE (and the cancel POST, which is harmless to repeat) retry on
//! 429/5xx/connection errors. The start POST is not idempotent (DLT accepts a second POST and
//! starts a second execution), so the client retries it only when DLT cannot have acted: 429
//! (API Gateway throttled it), 502 (the Lambda failed before doing anything) or a failed
//! connect. Other failures are returned as [`DltError::is_ambiguous`] for the runner to resolve
//! with a GET.
//!
//! Throttling (429) is not backed off per call: every client of the process that calls the same
//! endpoint shares one [`Throttle`], so one throttled run slows all of them down (see
//! [`super::throttle`]). A throttled call is retried up to [`THROTTLED_ATTEMPTS`] times, after the
//! shared pause, besides the other retries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::model::{error_code, error_message, ScenarioDetail, ScenarioSummary, VcpuDetails};
pub use super::retry::RetryPolicy;
use super::throttle::{self, Throttle};

/// How often one call is retried after 429s. Under the shared pacing a call is rarely throttled
/// twice; the budget covers a throttle far below the rate the runs need.
pub const THROTTLED_ATTEMPTS: u32 = 20;

/// Why a DLT API call failed. Display gives the call, the HTTP status and DLT's own message.
#[derive(Debug, thiserror::Error)]
pub enum DltError {
    #[error("DLT API {method} {path} returned HTTP {status}: {message}")]
    Api {
        method: String,
        path: String,
        status: u16,
        message: String,
    },
    #[error("DLT API {method} {path} failed: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
        /// The connection was never established, so the request was not sent.
        connect: bool,
    },
    #[error("DLT API {method} {path} timed out after {seconds}s")]
    Timeout { method: String, path: String, seconds: u64 },
    #[error("no credentials to sign DLT API calls: {0}")]
    Credentials(String),
    #[error("cannot sign the DLT API request: {0}")]
    Signing(String),
    #[error("invalid DLT API endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("DLT API {method} {path} returned a body that is not the expected JSON: {detail}")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },
}

impl DltError {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            DltError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// DLT's message, for API errors.
    pub fn api_message(&self) -> Option<&str> {
        match self {
            DltError::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The test does not exist: 404 (3.3.1+/v4 `TEST_NOT_FOUND`) or v3.2.1's 400 TypeError on a
    /// missing item.
    pub fn is_not_found(&self) -> bool {
        match self {
            DltError::Api { status: 404, .. } => true,
            DltError::Api {
                status: 400, message, ..
            } => {
                message.contains("TypeError: Cannot read properties of undefined")
                    || message.contains("TypeError: Cannot read property")
                    || error_code(message) == Some("TEST_NOT_FOUND")
            }
            _ => false,
        }
    }

    /// v4.1+: the test is running (DELETE of a non-terminal test).
    pub fn is_conflict(&self) -> bool {
        matches!(self, DltError::Api { status: 409, .. })
    }

    /// A start POST whose fate is unknown: DLT may or may not have started the test.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            DltError::Api { status, .. } => matches!(status, 500 | 503 | 504),
            DltError::Transport { connect, .. } => !connect,
            DltError::Timeout { .. } => true,
            _ => false,
        }
    }

    fn retryable(&self, mode: RetryMode) -> bool {
        match (self, mode) {
            (DltError::Api { status, .. }, RetryMode::Idempotent) => matches!(status, 429 | 500 | 502 | 503 | 504),
            (DltError::Api { status, .. }, RetryMode::NotAccepted) => matches!(status, 429 | 502),
            (DltError::Transport { .. } | DltError::Timeout { .. }, RetryMode::Idempotent) => true,
            (DltError::Transport { connect, .. }, RetryMode::NotAccepted) => *connect,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryMode {
    Idempotent,
    /// Retry only failures that prove the request was not acted upon.
    NotAccepted,
}

/// Where and how to reach one DLT stack's API.
#[derive(Clone)]
pub struct DltClientConfig {
    /// The API endpoint including the stage, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod/`
    /// (with or without the trailing slash).
    pub endpoint: String,
    /// The stack's region: the SigV4 signing region.
    pub region: String,
    pub credentials: SharedCredentialsProvider,
    /// One attempt's limit; above API Gateway's 29 s cap so its own 504 arrives first.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Sent as `x-apigw-api-id` when the endpoint is not the API's own address (a VPC endpoint
    /// or proxy, [`crate::dlt::api_route`]).
    pub api_id: Option<String>,
}

impl std::fmt::Debug for DltClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DltClientConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl DltClientConfig {
    pub fn new(endpoint: impl Into<String>, region: impl Into<String>, credentials: SharedCredentialsProvider) -> Self {
        DltClientConfig {
            endpoint: endpoint.into(),
            region: region.into(),
            credentials,
            request_timeout: Duration::from_secs(35),
            retry: RetryPolicy::default(),
            api_id: None,
        }
    }
}

/// Call counters, for logs and for the polling-cost figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Of those, repeats after a retryable failure.
    pub retries: u64,
    /// Answers that were 429 (throttled).
    pub throttled: u64,
}

/// Result of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// The test did not exist (deleted outside Terraform): success for a destroy.
    AlreadyGone,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A DLT API client. Cheap to clone.
#[derive(Clone)]
pub struct DltClient {
    base: Arc<String>,
    region: Arc<String>,
    credentials: SharedCredentialsProvider,
    request_timeout: Duration,
    retry: RetryPolicy,
    api_id: Option<Arc<String>>,
    http: HttpsClient,
    requests: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    throttled: Arc<AtomicU64>,
    /// Shared with every client of this process calling the same endpoint.
    throttle: Arc<Throttle>,
}

impl std::fmt::Debug for DltClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DltClient")
            .field("endpoint", &self.base)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl DltClient {
    pub fn new(config: DltClientConfig) -> Result<DltClient, DltError> {
        let endpoint = config.endpoint.trim();
        let bad = |reason: &str| DltError::Endpoint {
            endpoint: config.endpoint.clone(),
            reason: reason.to_string(),
        };
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") | Some("https") => {}
            _ => return Err(bad("it must start with https:// (or http:// for a local test double)")),
        }
        if uri.host().is_none() {
            return Err(bad("it has no host"));
        }
        if uri.query().is_some() {
            return Err(bad("it must not contain a query string"));
        }
        if config.region.trim().is_empty() {
            return Err(bad("no region to sign requests for"));
        }
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| bad(&format!("cannot load the system's TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build::<_, Full<Bytes>>(connector);
        let base = endpoint.trim_end_matches('/').to_string();
        Ok(DltClient {
            throttle: throttle::for_endpoint(&base),
            base: Arc::new(base),
            region: Arc::new(config.region.trim().to_string()),
            credentials: config.credentials,
            request_timeout: config.request_timeout,
            retry: config.retry,
            api_id: config.api_id.map(Arc::new),
            http,
            requests: Arc::default(),
            retries: Arc::default(),
            throttled: Arc::default(),
        })
    }

    /// The endpoint without its trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }

    /// `GET /scenarios/{testId}`.
    pub async fn get_scenario(&self, test_id: &str) -> Result<ScenarioDetail, DltError> {
        let path = scenario_path(test_id);
        let v = self.call_json(Method::GET, &path, None, RetryMode::Idempotent).await?;
        Ok(ScenarioDetail::from_value(v))
    }

    /// `GET /scenarios`.
    pub async fn list_scenarios(&self) -> Result<Vec<ScenarioSummary>, DltError> {
        let v = self
            .call_json(Method::GET, "scenarios", None, RetryMode::Idempotent)
            .await?;
        Ok(ScenarioSummary::list_from_value(&v))
    }

    /// `POST /scenarios`: creates or updates the test **and starts a run**. Retried only when
    /// DLT cannot have acted; see [`DltError::is_ambiguous`] for the rest.
    pub async fn start_scenario(&self, payload: &Value) -> Result<Value, DltError> {
        self.call_json(Method::POST, "scenarios", Some(payload), RetryMode::NotAccepted)
            .await
    }

    /// `POST /scenarios/{testId}`: asks DLT to cancel a run (answer `"test cancelling"`).
    pub async fn cancel_scenario(&self, test_id: &str) -> Result<(), DltError> {
        let path = scenario_path(test_id);
        // Urgent: a cancel (Ctrl-C, a timeout) does not queue behind the shared pacing.
        self.send(
            Method::POST,
            &path,
            Some(&Value::Object(Default::default())),
            RetryMode::Idempotent,
            true,
        )
        .await?;
        Ok(())
    }

    /// `DELETE /scenarios/{testId}`; a test that is already gone is success.
    pub async fn delete_scenario(&self, test_id: &str) -> Result<DeleteOutcome, DltError> {
        match self
            .call(Method::DELETE, &scenario_path(test_id), None, RetryMode::Idempotent)
            .await
        {
            Ok(_) => Ok(DeleteOutcome::Deleted),
            Err(e) if e.is_not_found() => Ok(DeleteOutcome::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    /// `GET /vCPUDetails`: Fargate vCPU quota and usage per region.
    pub async fn vcpu_details(&self) -> Result<std::collections::BTreeMap<String, VcpuDetails>, DltError> {
        let v = self
            .call_json(Method::GET, "vCPUDetails", None, RetryMode::Idempotent)
            .await?;
        Ok(VcpuDetails::map_from_value(&v))
    }

    /// `GET /stack-info` (DLT v4.0+): the stack's version and ids. Older DLT has no such route
    /// and API Gateway answers 403 "Missing Authentication Token".
    pub async fn stack_info(&self) -> Result<Value, DltError> {
        self.call_json(Method::GET, "stack-info", None, RetryMode::Idempotent)
            .await
    }

    /// `GET /regions`: the regions with a deployed DLT regional stack.
    pub async fn regions(&self) -> Result<Vec<String>, DltError> {
        let v = self
            .call_json(Method::GET, "regions", None, RetryMode::Idempotent)
            .await?;
        Ok(v.get("regions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.get("region").and_then(Value::as_str).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn call_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        mode: RetryMode,
    ) -> Result<Value, DltError> {
        let bytes = self.call(method.clone(), path, body, mode).await?;
        serde_json::from_slice(&bytes).map_err(|e| DltError::Decode {
            method: method.to_string(),
            path: format!("/{path}"),
            detail: format!(
                "{e}; body starts with {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
        })
    }

    /// Sends with retries; returns the body of a 2xx answer.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>, mode: RetryMode) -> Result<Bytes, DltError> {
        self.send(method, path, body, mode, false).await
    }

    /// [`DltClient::call`]; an `urgent` call starts without waiting for the shared pacing.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        mode: RetryMode,
        urgent: bool,
    ) -> Result<Bytes, DltError> {
        let body = match body {
            Some(v) => Bytes::from(serde_json::to_vec(v).map_err(|e| DltError::Signing(e.to_string()))?),
            None => Bytes::new(),
        };
        let mut attempt = 0u32;
        let mut throttled = 0u32;
        loop {
            let ticket = self.throttle.ready(urgent, &self.retry).await;
            let (result, retry_after) = self.attempt(&method, path, body.clone()).await;
            match result {
                Ok(b) => {
                    self.throttle.succeeded(ticket);
                    return Ok(b);
                }
                Err(e) if e.status() == Some(429) && e.retryable(mode) && throttled + 1 < THROTTLED_ATTEMPTS => {
                    throttled += 1;
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    let pause = self.throttle.throttled(ticket, retry_after, &self.retry);
                    log::warn!(
                        "{e}; every DLT call of this provider now waits {:.1}s and is paced (throttled {throttled} time(s))",
                        pause.as_secs_f64()
                    );
                }
                Err(e) if attempt + 1 < self.retry.max_attempts && e.retryable(mode) => {
                    let delay = self.retry.delay(attempt).max(retry_after.unwrap_or_default());
                    log::warn!(
                        "{e}; retrying in {:.1}s (attempt {} of {})",
                        delay.as_secs_f64(),
                        attempt + 2,
                        self.retry.max_attempts
                    );
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn attempt(&self, method: &Method, path: &str, body: Bytes) -> (Result<Bytes, DltError>, Option<Duration>) {
        let url = format!("{}/{}", self.base, path);
        let show_path = format!("/{path}");
        let req = match self.signed_request(method, &url, body).await {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let send = async {
            let resp = self.http.request(req).await?;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, bytes))
        };
        let outcome = tokio::time::timeout(self.request_timeout, send).await;
        let (parts, bytes) = match outcome {
            Err(_) => {
                let e = DltError::Timeout {
                    method: method.to_string(),
                    path: show_path,
                    seconds: self.request_timeout.as_secs(),
                };
                return (Err(e), None);
            }
            Ok(Err(e)) => {
                let connect = e
                    .downcast_ref::<hyper_util::client::legacy::Error>()
                    .is_some_and(hyper_util::client::legacy::Error::is_connect);
                let e = DltError::Transport {
                    method: method.to_string(),
                    path: show_path,
                    message: chain(&*e),
                    connect,
                };
                return (Err(e), None);
            }
            Ok(Ok(r)) => r,
        };
        log::debug!(
            "DLT API {method} {show_path} -> {} in {} ms",
            parts.status.as_u16(),
            started.elapsed().as_millis()
        );
        if parts.status.is_success() {
            return (Ok(bytes), None);
        }
        let retry_after = parts
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(60)));
        let e = DltError::Api {
            method: method.to_string(),
            path: show_path,
            status: parts.status.as_u16(),
            message: error_message(&bytes),
        };
        (
            Err(e),
            retry_after.filter(|_| parts.status == StatusCode::TOO_MANY_REQUESTS || parts.status.is_server_error()),
        )
    }

    async fn signed_request(&self, method: &Method, url: &str, body: Bytes) -> Result<Request<Full<Bytes>>, DltError> {
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| DltError::Credentials(error_chain(&e)))?;
        let identity: Identity = creds.into();
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(url)
            .header("accept", "application/json");
        if !body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        if let Some(id) = &self.api_id {
            builder = builder.header("x-apigw-api-id", id.as_str());
        }
        let mut req = builder
            .body(Full::new(body.clone()))
            .map_err(|e| DltError::Signing(e.to_string()))?;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| DltError::Signing(e.to_string()))?
            .into();
        let headers: Vec<(&str, &str)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(method.as_str(), url, headers.into_iter(), SignableBody::Bytes(&body))
            .map_err(|e| DltError::Signing(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| DltError::Signing(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut req);
        Ok(req)
    }
}

fn scenario_path(test_id: &str) -> String {
    let mut p = String::from("scenarios/");
    for b in test_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b'~' {
            p.push(b as char);
        } else {
            p.push_str(&format!("%{b:02X}"));
        }
    }
    p
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = inner.source();
    }
    s
}

/// An error and its sources as one readable line (Display only, each distinct message once).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let msg = cause.to_string();
        if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;

    use super::*;

    fn client(endpoint: &str) -> Result<DltClient, DltError> {
        let creds = SharedCredentialsProvider::new(Credentials::new("AKID", "SECRET", None, None, "test"));
        DltClient::new(DltClientConfig::new(endpoint, "eu-west-1", creds))
    }

    #[test]
    fn joins_endpoint_with_or_without_slash() {
        for e in [
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod/",
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ] {
            assert_eq!(
                client(e).expect("client").endpoint(),
                "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
            );
        }
        assert!(client("abc.execute-api.amazonaws.com/prod").is_err());
        assert!(client("ftp://x/prod").is_err());
        assert_eq!(scenario_path("Ab3-x y"), "scenarios/Ab3-x%20y");
    }

    #[tokio::test]
    async fn a_routed_client_names_the_api_in_a_signed_header() {
        let creds = SharedCredentialsProvider::new(Credentials::new("AKID", "SECRET", None, None, "test"));
        let mut config = DltClientConfig::new(
            "https://vpce-1.execute-api.eu-west-1.vpce.amazonaws.com/prod/",
            "eu-west-1",
            creds,
        );
        config.api_id = Some("a1b2c3d4e5".into());
        let c = DltClient::new(config).expect("client");
        let url = format!("{}/scenarios", c.endpoint());
        let req = c
            .signed_request(&Method::GET, &url, Bytes::new())
            .await
            .expect("signed");
        assert_eq!(req.headers()["x-apigw-api-id"], "a1b2c3d4e5");
        let auth = req.headers()["authorization"].to_str().expect("ascii");
        assert!(auth.contains("x-apigw-api-id"), "signed over: {auth}");
        // Without a route: no such header.
        let plain = client("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/").expect("client");
        let req = plain
            .signed_request(&Method::GET, &url, Bytes::new())
            .await
            .expect("signed");
        assert!(req.headers().get("x-apigw-api-id").is_none());
    }

    #[test]
    fn error_classification() {
        let api = |status, message: &str| DltError::Api {
            method: "GET".into(),
            path: "/scenarios/x".into(),
            status,
            message: message.into(),
        };
        assert!(api(404, "TEST_NOT_FOUND: x").is_not_found());
        assert!(api(
            400,
            "TypeError: Cannot read properties of undefined (reading 'testTaskConfigs')"
        )
        .is_not_found());
        assert!(!api(400, "[object Object]").is_not_found());
        assert!(api(429, "").retryable(RetryMode::NotAccepted));
        assert!(api(502, "").retryable(RetryMode::NotAccepted));
        assert!(!api(504, "").retryable(RetryMode::NotAccepted) && api(504, "").is_ambiguous());
        assert!(api(504, "").retryable(RetryMode::Idempotent));
        assert!(!api(400, "").retryable(RetryMode::Idempotent));
        let shown = api(400, "TypeError: testTaskConfigs is not iterable").to_string();
        assert_eq!(
            shown,
            "DLT API GET /scenarios/x returned HTTP 400: TypeError: testTaskConfigs is not iterable"
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert!(p.delay(0) <= Duration::from_millis(125));
        assert!(p.delay(10) <= Duration::from_millis(1250) && p.delay(10) >= Duration::from_millis(750));
    }
}
