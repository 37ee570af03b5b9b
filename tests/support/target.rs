//! A loopback HTTP test target for integration tests: configurable latency, a stall window,
//! deterministic error injection and status override, request/connection counters and a capture of the first
//! requests. HTTP/1.1 on plain TCP; [`TargetServer::start_tls`] adds TLS with ALPN (h2 and
//! HTTP/1.1) and a fresh self-signed certificate for `localhost` / `127.0.0.1`.
//!
//! The server runs on its own thread and runtime, so it works under any test runtime (or none),
//! and stops when the [`TargetServer`] is dropped.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// How the target answers.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetConfig {
    /// Delay before each response.
    pub latency: Duration,
    /// Fraction of requests answered 500, spread evenly and deterministically (0.1 = every 10th).
    pub error_rate: f64,
    /// Answer every request with this status instead.
    pub status_override: Option<u16>,
    /// Response body length in bytes.
    pub body_size: usize,
    /// Send the body chunked (in two chunks) instead of with Content-Length.
    pub chunked: bool,
    /// Answer with `Connection: close`, forcing a new connection per request.
    pub close: bool,
    /// Requests whose path starts with the prefix get this status (the first match wins).
    pub status_by_path: Vec<(String, u16)>,
    /// A warm-up phase: for this long after the first request, answer with `warm_up_status`
    /// (when set) after `warm_up_latency` instead of `latency`.
    pub warm_up: Duration,
    pub warm_up_latency: Duration,
    pub warm_up_status: Option<u16>,
    /// A stall, like a target frozen by a pause: every request received from `stall_at` after the
    /// first request, for `stall_for`, is answered only when the stall ends (plus `latency`).
    pub stall_at: Duration,
    pub stall_for: Duration,
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            latency: Duration::ZERO,
            error_rate: 0.0,
            status_override: None,
            body_size: 106,
            chunked: false,
            close: false,
            status_by_path: Vec::new(),
            warm_up: Duration::ZERO,
            warm_up_latency: Duration::ZERO,
            warm_up_status: None,
            stall_at: Duration::ZERO,
            stall_for: Duration::ZERO,
        }
    }
}

/// One received request, as captured for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedRequest {
    pub method: String,
    pub path: String,
    pub version: http::Version,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CapturedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

const MAX_CAPTURED: usize = 64;
const MAX_CONNECTION_TIMES: usize = 4096;

struct State {
    config: Mutex<TargetConfig>,
    received: AtomicU64,
    served: AtomicU64,
    connections: AtomicU64,
    connection_times: Mutex<Vec<Instant>>,
    captured: Mutex<Vec<CapturedRequest>>,
    first_request: std::sync::OnceLock<Instant>,
}

/// TLS options of [`TargetServer::start_tls_with`].
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// ALPN protocols offered, in preference order.
    pub alpn: Vec<Vec<u8>>,
    /// Use a fresh self-signed certificate that no client trusts, instead of the shared one.
    pub untrusted: bool,
}

impl Default for TlsSetup {
    fn default() -> Self {
        TlsSetup {
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            untrusted: false,
        }
    }
}

type TestCert = (
    rustls_pki_types::CertificateDer<'static>,
    rustls_pki_types::PrivateKeyDer<'static>,
    String,
);

fn generate_cert() -> TestCert {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("generate test certificate");
    let private = rustls_pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    (key.cert.der().clone(), private, key.cert.pem())
}

/// One certificate for every trusted TLS target of the process, so that a single
/// `SSL_CERT_FILE` (process-wide) can trust them all, even with tests running in parallel.
fn shared_cert() -> &'static TestCert {
    static CERT: std::sync::OnceLock<TestCert> = std::sync::OnceLock::new();
    CERT.get_or_init(generate_cert)
}

/// PEM of the certificate of every [`TargetServer::start_tls`] target.
pub fn test_cert_pem() -> &'static str {
    &shared_cert().2
}

/// A running target; stops on drop.
pub struct TargetServer {
    addr: SocketAddr,
    tls: bool,
    cert_pem: Option<String>,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TargetServer {
    /// Plain HTTP/1.1 target on 127.0.0.1 with a free port.
    pub fn start(config: TargetConfig) -> TargetServer {
        Self::spawn(config, None)
    }

    /// HTTPS target (ALPN h2 and http/1.1) with the process-wide test certificate; see
    /// [`test_cert_pem`].
    pub fn start_tls(config: TargetConfig) -> TargetServer {
        Self::start_tls_with(config, TlsSetup::default())
    }

    /// HTTPS target with a chosen ALPN list and certificate.
    pub fn start_tls_with(config: TargetConfig, setup: TlsSetup) -> TargetServer {
        let fresh;
        let (cert, key, pem) = if setup.untrusted {
            fresh = generate_cert();
            (&fresh.0, &fresh.1, &fresh.2)
        } else {
            let shared = shared_cert();
            (&shared.0, &shared.1, &shared.2)
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key.clone_key())
            .expect("server certificate");
        server.alpn_protocols = setup.alpn;
        Self::spawn(
            config,
            Some((tokio_rustls::TlsAcceptor::from(Arc::new(server)), pem.clone())),
        )
    }

    fn spawn(config: TargetConfig, tls: Option<(tokio_rustls::TlsAcceptor, String)>) -> TargetServer {
        let state = Arc::new(State {
            config: Mutex::new(config),
            received: AtomicU64::new(0),
            served: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            connection_times: Mutex::new(Vec::new()),
            captured: Mutex::new(Vec::new()),
            first_request: std::sync::OnceLock::new(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (acceptor, cert_pem) = match tls {
            Some((a, pem)) => (Some(a), Some(pem)),
            None => (None, None),
        };
        let is_tls = acceptor.is_some();
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("test-target".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("target runtime");
                rt.block_on(serve(listener, acceptor, thread_state, rx));
            })
            .expect("spawn target thread");
        TargetServer {
            addr,
            tls: is_tls,
            cert_pem,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http(s)://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}://127.0.0.1:{}{path}",
            if self.tls { "https" } else { "http" },
            self.addr.port()
        )
    }

    /// PEM of the self-signed certificate (TLS targets only).
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.state.served.load(Ordering::SeqCst)
    }

    /// Requests received so far (answered or still waiting for their latency).
    pub fn received(&self) -> u64 {
        self.state.received.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Accept times of the first connections.
    pub fn connection_times(&self) -> Vec<Instant> {
        self.state
            .connection_times
            .lock()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// The first requests received.
    pub fn captured(&self) -> Vec<CapturedRequest> {
        self.state.captured.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn config(&self) -> TargetConfig {
        self.state.config.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Changes how later requests are answered.
    pub fn set_config(&self, config: TargetConfig) {
        if let Ok(mut c) = self.state.config.lock() {
            *c = config;
        }
    }
}

impl Drop for TargetServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut times) = state.connection_times.lock() {
            if times.len() < MAX_CONNECTION_TIMES {
                times.push(Instant::now());
            }
        }
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc_state = Arc::clone(&state);
            let svc = hyper::service::service_fn(move |req| handle(req, Arc::clone(&svc_state)));
            match acceptor {
                None => {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                }
                Some(acceptor) => {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    if h2 {
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(tls), svc)
                            .await;
                    } else {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), svc)
                            .await;
                    }
                }
            }
        });
    }
}

/// True for the requests (0-based `n`) that get a 500 at `rate`: exactly `rate` of any prefix,
/// give or take one.
fn injected_error(n: u64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    ((n + 1) as f64 * rate).floor() > (n as f64 * rate).floor()
}

async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<Response<TargetBody>, Infallible> {
    let n = state.received.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if let Ok(mut captured) = state.captured.lock() {
        if captured.len() < MAX_CAPTURED {
            captured.push(CapturedRequest {
                method: parts.method.to_string(),
                path: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                version: parts.version,
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                    .collect(),
                body: body.to_vec(),
            });
        }
    }
    let config = state.config.lock().map(|c| c.clone()).unwrap_or_default();
    let first = *state.first_request.get_or_init(Instant::now);
    let warming = first.elapsed() < config.warm_up;
    let latency = if warming {
        config.warm_up_latency
    } else {
        config.latency
    };
    let since = first.elapsed();
    if !config.stall_for.is_zero() && since >= config.stall_at && since < config.stall_at + config.stall_for {
        tokio::time::sleep_until(tokio::time::Instant::from_std(
            first + config.stall_at + config.stall_for,
        ))
        .await;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let path = parts.uri.path();
    let by_path = config
        .status_by_path
        .iter()
        .find(|(prefix, _)| path.starts_with(prefix.as_str()))
        .map(|(_, s)| *s);
    let status = match (
        config.status_override,
        config.warm_up_status.filter(|_| warming),
        by_path,
    ) {
        (Some(s), _, _) | (None, Some(s), _) | (None, None, Some(s)) => s,
        _ if injected_error(n, config.error_rate) => 500,
        _ => 200,
    };
    let payload = Bytes::from(vec![b'x'; config.body_size]);
    let body = if config.chunked {
        let half = payload.len() / 2;
        TargetBody::Chunks(VecDeque::from([payload.slice(..half), payload.slice(half..)]))
    } else {
        TargetBody::Full(Some(payload))
    };
    let mut response = Response::new(body);
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if config.close && parts.version == http::Version::HTTP_11 {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    state.served.fetch_add(1, Ordering::SeqCst);
    Ok(response)
}

/// A response body with a known length (Content-Length) or not (chunked on HTTP/1.1).
pub enum TargetBody {
    Full(Option<Bytes>),
    Chunks(VecDeque<Bytes>),
}

impl Body for TargetBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = match self.get_mut() {
            TargetBody::Full(b) => b.take(),
            TargetBody::Chunks(c) => c.pop_front(),
        };
        Poll::Ready(next.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            TargetBody::Full(b) => b.is_none(),
            TargetBody::Chunks(c) => c.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            TargetBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            TargetBody::Full(None) => SizeHint::with_exact(0),
            TargetBody::Chunks(_) => SizeHint::default(),
        }
    }
}
