//! A fake Terraform core: launches the provider binary the way go-plugin does (magic cookie,
//! protocol versions, an AutoMTLS client certificate shaped like Terraform's: self-signed
//! ECDSA P-521 CA), parses the handshake line, calls RPCs over the unix socket and shuts the
//! process down. Needs no Terraform.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use dlt_provider::plugin::proto::plugin::grpc_controller_client::GrpcControllerClient;
use dlt_provider::plugin::proto::plugin::Empty;
use dlt_provider::plugin::proto::tfplugin6::provider_client::ProviderClient;
use dlt_provider::plugin::proto::tfplugin6::{get_metadata, get_provider_schema};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::aws_lc_rs;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tonic::codegen::Service;
use tonic::transport::{Channel, Endpoint, Uri};

const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client certificate like go-plugin's: ECDSA P-521, CA, SAN localhost, client+server EKU.
struct ClientIdentity {
    pem: String,
    der: CertificateDer<'static>,
    key: Vec<u8>,
}

fn client_identity() -> ClientIdentity {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::OrganizationName, "HashiCorp");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.self_signed(&key).unwrap();
    ClientIdentity {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: key.serialize_der(),
    }
}

struct Launched {
    child: Child,
    stdout: BufReader<tokio::process::ChildStdout>,
    socket: PathBuf,
    server_cert: Option<CertificateDer<'static>>,
    _dir: tempfile::TempDir,
}

async fn launch(client_cert: Option<&str>) -> Launched {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_terraform-provider-dlt"));
    cmd.env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_UNIX_SOCKET_DIR", dir.path())
        .env_remove("PLUGIN_CLIENT_CERT")
        .env_remove("TF_LOG")
        .env_remove("TF_LOG_PROVIDER")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some(pem) = client_cert {
        cmd.env("PLUGIN_CLIENT_CERT", pem);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(20), stdout.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let parts: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(parts.len(), 6, "handshake line {line:?}");
    assert_eq!(&parts[..3], &["1", "6", "unix"], "{line:?}");
    assert_eq!(parts[4], "grpc");
    let socket = PathBuf::from(parts[3]);
    assert!(
        socket.starts_with(dir.path()),
        "socket {socket:?} not in PLUGIN_UNIX_SOCKET_DIR"
    );
    let server_cert = if parts[5].is_empty() {
        None
    } else {
        assert!(!parts[5].contains('='), "cert must be unpadded base64");
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(parts[5])
            .unwrap();
        Some(CertificateDer::from(der))
    };
    Launched {
        child,
        stdout,
        socket,
        server_cert,
        _dir: dir,
    }
}

/// Pins the server certificate from the handshake line, as go-plugin does.
#[derive(Debug)]
struct PinnedServer(CertificateDer<'static>);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("server certificate mismatch".into()))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = aws_lc_rs::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = aws_lc_rs::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Connects to the provider's unix socket, over TLS when `tls` is given.
#[derive(Clone)]
struct Connector {
    socket: PathBuf,
    tls: Option<Arc<rustls::ClientConfig>>,
}

type Io = TokioIo<Box<dyn IoStream>>;
trait IoStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> IoStream for T {}

impl Service<Uri> for Connector {
    type Response = Io;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Io, std::io::Error>> + Send>>;
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let sock = UnixStream::connect(&this.socket).await?;
            let io: Box<dyn IoStream> = match this.tls {
                None => Box::new(sock),
                Some(cfg) => {
                    let name = ServerName::try_from("localhost").unwrap();
                    Box::new(tokio_rustls::TlsConnector::from(cfg).connect(name, sock).await?)
                }
            };
            Ok(TokioIo::new(io))
        })
    }
}

fn tls_config(server: &CertificateDer<'static>, client: &ClientIdentity) -> Arc<rustls::ClientConfig> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(server.clone())))
        .with_client_auth_cert(
            vec![client.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client.key.clone())),
        )
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

async fn channel(socket: &Path, tls: Option<Arc<rustls::ClientConfig>>) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_static("http://localhost")
        .connect_with_connector(Connector {
            socket: socket.to_path_buf(),
            tls,
        })
        .await
}

/// Sends Shutdown and checks the process exits 0, removes its socket and printed nothing else.
async fn shutdown(mut p: Launched, ch: Channel) {
    GrpcControllerClient::new(ch).shutdown(Empty {}).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), p.child.wait())
        .await
        .expect("no exit")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(!p.socket.exists(), "socket not removed");
    let mut rest = String::new();
    p.stdout.read_to_string(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "extra stdout: {rest:?}");
}

#[tokio::test]
async fn mtls_handshake_schema_and_shutdown() {
    let client = client_identity();
    let p = launch(Some(&client.pem)).await;
    let server_cert = p
        .server_cert
        .clone()
        .expect("TLS requested but no certificate in the handshake line");
    let ch = channel(&p.socket, Some(tls_config(&server_cert, &client)))
        .await
        .unwrap();
    let mut pc = ProviderClient::new(ch.clone());

    let schema = pc
        .get_provider_schema(get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(schema.provider.is_some());
    assert!(schema.diagnostics.is_empty(), "{:?}", schema.diagnostics);
    let caps = schema.server_capabilities.unwrap();
    assert!(caps.plan_destroy && caps.get_provider_schema_optional);

    let meta = pc.get_metadata(get_metadata::Request {}).await.unwrap().into_inner();
    assert!(meta.server_capabilities.unwrap().get_provider_schema_optional);
    assert_eq!(meta.resources.len(), schema.resource_schemas.len());

    shutdown(p, ch).await;
}

#[tokio::test]
async fn wrong_client_certificate_is_rejected() {
    let client = client_identity();
    let intruder = client_identity();
    let p = launch(Some(&client.pem)).await;
    let server_cert = p.server_cert.clone().unwrap();

    // With TLS 1.3 the client learns of the rejection on its first read, so the RPC fails.
    let rejected = match channel(&p.socket, Some(tls_config(&server_cert, &intruder))).await {
        Err(_) => true,
        Ok(ch) => ProviderClient::new(ch)
            .get_metadata(get_metadata::Request {})
            .await
            .is_err(),
    };
    assert!(rejected, "a foreign client certificate was accepted");

    // The server survives the rejected client and still serves the right one.
    let ch = channel(&p.socket, Some(tls_config(&server_cert, &client)))
        .await
        .unwrap();
    ProviderClient::new(ch.clone())
        .get_metadata(get_metadata::Request {})
        .await
        .unwrap();
    shutdown(p, ch).await;
}

#[tokio::test]
async fn plaintext_without_client_cert() {
    let p = launch(None).await;
    assert!(p.server_cert.is_none(), "no client cert → plaintext, empty cert field");
    let ch = channel(&p.socket, None).await.unwrap();
    ProviderClient::new(ch.clone())
        .get_metadata(get_metadata::Request {})
        .await
        .unwrap();
    shutdown(p, ch).await;
}

#[tokio::test]
async fn refuses_to_run_without_cookie() {
    let out = Command::new(env!("CARGO_BIN_EXE_terraform-provider-dlt"))
        .env_remove("TF_PLUGIN_MAGIC_COOKIE")
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin for Terraform"), "stderr: {err}");
}

#[tokio::test]
async fn refuses_wrong_cookie_and_protocol() {
    let out = Command::new(env!("CARGO_BIN_EXE_terraform-provider-dlt"))
        .env(
            "TF_PLUGIN_MAGIC_COOKIE",
            "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872f2",
        )
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());

    let out = Command::new(env!("CARGO_BIN_EXE_terraform-provider-dlt"))
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "4,5")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("protocol 6"));
}
