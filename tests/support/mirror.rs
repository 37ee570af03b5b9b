//! A static file server over HTTPS on loopback, for Terraform's provider network mirror protocol
//! (Terraform accepts only `https://` network mirrors). Its certificate, for `127.0.0.1` and
//! `localhost`, is issued by a fresh test CA per server; clients trust it through the CA's PEM
//! (Terraform: `SSL_CERT_FILE`). Records each request's path, so a test can tell that Terraform
//! really went through the mirror. Stops on drop.

use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A test CA and a server certificate it issued.
struct TestPki {
    ca_pem: String,
    cert: rustls_pki_types::CertificateDer<'static>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
}

fn issue() -> TestPki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "terraform-provider-dlt test CA");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    TestPki {
        ca_pem: ca.pem(),
        cert: cert.der().clone(),
        key: rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    }
}

/// An HTTP/1.1 server over TLS on loopback, answering every request with `answer`. Stops on
/// drop. The mirror below is one; tests of the engine's TLS use it with broken certificates.
pub struct HttpsServer {
    port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpsServer {
    pub fn serve(
        config: rustls::ServerConfig,
        answer: impl Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync + 'static,
    ) -> HttpsServer {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind HTTPS server");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let answer = Arc::new(answer);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let stream = tokio::select! {
                        _ = &mut rx => return,
                        accepted = listener.accept() => match accepted {
                            Ok((s, _)) => s,
                            Err(_) => continue,
                        },
                    };
                    let (acceptor, answer) = (acceptor.clone(), Arc::clone(&answer));
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(stream).await else { return };
                        let svc = hyper::service::service_fn(move |req| {
                            let answer = Arc::clone(&answer);
                            async move { Ok::<_, Infallible>(answer(&req)) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), svc)
                            .await;
                    });
                }
            });
        });
        HttpsServer {
            port,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running HTTPS file server for one directory.
pub struct HttpsMirror {
    server: HttpsServer,
    ca_pem: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpsMirror {
    /// Serves the files under `root` (GET and HEAD; no directory listings). Files without an
    /// extension (the registry protocol's documents) are JSON.
    pub fn serve(root: &Path) -> HttpsMirror {
        let pki = issue();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![pki.cert], pki.key)
            .expect("server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let requests = Arc::new(Mutex::new(Vec::new()));
        let root = root.to_path_buf();
        let log = Arc::clone(&requests);
        let server = HttpsServer::serve(config, move |req| answer(&root, &log, req));
        HttpsMirror {
            server,
            ca_pem: pki.ca_pem,
            requests,
        }
    }

    /// `https://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.server.port())
    }

    /// The test CA's certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn answer(root: &Path, log: &Mutex<Vec<String>>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if let Ok(mut l) = log.lock() {
        l.push(path.clone());
    }
    let status = |code: u16| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        r
    };
    let head = req.method() == http::Method::HEAD;
    if req.method() != http::Method::GET && !head {
        return status(405);
    }
    let rel = PathBuf::from(path.trim_start_matches('/'));
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return status(404);
    }
    match std::fs::read(root.join(&rel)) {
        Ok(bytes) => {
            // HEAD (Terraform asks before downloading a registry package): the length, no body.
            let length = bytes.len();
            let body = if head { Bytes::new() } else { Bytes::from(bytes) };
            let mut r = Response::new(Full::new(body));
            if head {
                r.headers_mut()
                    .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
            }
            let kind = if path.ends_with(".json") || path.rsplit('/').next().is_some_and(|n| !n.contains('.')) {
                "application/json"
            } else {
                "application/zip"
            };
            r.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(kind));
            r
        }
        Err(_) => status(404),
    }
}
