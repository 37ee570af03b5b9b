//! go-plugin launch protocol: check the magic cookie and protocol version, listen on a unix
//! socket (TLS when Terraform asks for AutoMTLS), print the one handshake line, serve until
//! `GRPCController/Shutdown`.
//!
//! Terraform starts a provider process per phase (a `plan` launches three), so everything
//! before the handshake line is on the user's critical path: one current-thread runtime, no
//! schema building, a P-256 certificate.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::resource::Provider;
use super::server::{Controller, ProviderService};
use super::tls;

/// The cookie Terraform sets for plugin-protocol 6 providers (terraform `internal/plugin6`).
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin core protocol version (field 1 of the handshake line).
const CORE_PROTOCOL_VERSION: u32 = 1;
const APP_PROTOCOL_VERSION: u32 = 6;
/// How long a SIGTERM waits for in-flight RPCs (an apply cancelling its load test) before the
/// process exits. CI runners send SIGKILL about 10 s after SIGTERM.
const SIGTERM_GRACE: Duration = Duration::from_secs(8);
/// How often the provider checks that Terraform, its parent, is still alive.
const PARENT_CHECK: Duration = Duration::from_millis(250);

/// Serves `provider` to Terraform. Returns the process exit code: 0 after `Shutdown`, 1 when
/// not launched by Terraform or when the socket cannot be served.
pub fn serve(provider: Arc<dyn Provider>, _address: &str) -> ExitCode {
    if std::env::var(MAGIC_COOKIE_KEY).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This binary is a plugin for Terraform (or OpenTofu). It is not meant to be run directly.\n\
             Put it where Terraform finds providers and run `terraform init`/`plan` instead.\n\
             To debug it, run it with `--debug` and follow the printed instructions."
        );
        return ExitCode::from(1);
    }
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_default();
    if !versions.split(',').any(|v| v.trim() == "6") {
        eprintln!(
            "This provider speaks plugin protocol 6 only, but Terraform offered {versions:?}. \
             Use Terraform 1.0 or later (or OpenTofu)."
        );
        return ExitCode::from(1);
    }
    super::log::init(provider.type_name());
    let client_cert = std::env::var("PLUGIN_CLIENT_CERT")
        .ok()
        .filter(|c| !c.trim().is_empty());
    run(provider, Mode::Terraform { client_cert })
}

/// Serves `provider` for `TF_REATTACH_PROVIDERS` debugging: plaintext, no cookie, prints the
/// variable to set, serves until Ctrl-C. `address` is the provider's source address, e.g.
/// `registry.terraform.io/dlt-tools/dlt`.
pub fn serve_debug(provider: Arc<dyn Provider>, address: &str) -> ExitCode {
    super::log::init(provider.type_name());
    run(
        provider,
        Mode::Debug {
            address: address.to_string(),
        },
    )
}

enum Mode {
    Terraform { client_cert: Option<String> },
    Debug { address: String },
}

fn run(provider: Arc<dyn Provider>, mode: Mode) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(async move {
        match serve_async(provider, mode).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("terraform-provider: {e}");
                ExitCode::from(1)
            }
        }
    });
    // Do not wait for blocking threads still running provider work: we are exiting.
    rt.shutdown_background();
    code
}

/// A unique socket path in `PLUGIN_UNIX_SOCKET_DIR` or the temp dir.
fn socket_path() -> PathBuf {
    let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    dir.join(format!("tf-plugin-{}-{nanos:x}", std::process::id()))
}

/// Removes the socket file when serving ends, whichever way it ends.
struct SocketGuard(PathBuf);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn bind(path: &Path) -> Result<UnixListener, String> {
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))
}

async fn serve_async(provider: Arc<dyn Provider>, mode: Mode) -> Result<(), String> {
    let path = socket_path();
    let listener = bind(&path)?;
    let _guard = SocketGuard(path.clone());
    let shutdown = CancellationToken::new();
    let stop = CancellationToken::new();
    let service = ProviderService::new(provider, stop.clone());

    match mode {
        Mode::Terraform { client_cert } => {
            // Terraform handles Ctrl-C itself (StopProvider); the signal also reaches us as a
            // member of its process group and must not kill us mid-apply. Registering a tokio
            // handler replaces the default action; the stream is kept but never polled.
            use tokio::signal::unix::{signal, SignalKind};
            let _sigint = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
            // SIGTERM: a CI runner ending the job sends it to the whole process group, so it can
            // reach us before (or without) Terraform's StopProvider. Treat it as a stop request
            // first — an apply in flight cancels its load test and answers Terraform — and only
            // then shut down, within the grace CI runners give before SIGKILL.
            let mut sigterm = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
            let exit = GracefulExit {
                stop: stop.clone(),
                in_flight: service.in_flight(),
                shutdown: shutdown.clone(),
            };
            let on_term = exit.clone();
            tokio::spawn(async move {
                if sigterm.recv().await.is_some() {
                    on_term.run("SIGTERM").await;
                }
            });
            // Terraform killed with SIGKILL (a CI timeout, a lost runner) cannot stop us, and an
            // apply would go on watching a load test nobody waits for. When our parent is gone
            // (we were re-parented), stop the same way: the load test is cancelled, not orphaned.
            let parent = std::os::unix::process::parent_id();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PARENT_CHECK);
                loop {
                    tick.tick().await;
                    if std::os::unix::process::parent_id() != parent {
                        exit.run("Terraform exited").await;
                        return;
                    }
                }
            });
            let acceptor = match client_cert {
                Some(pem) => {
                    let client = tls::pem_to_der(&pem)?;
                    let identity = tls::generate_server_identity()?;
                    let cert_b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(identity.cert.as_ref());
                    let config = tls::server_config(identity, client)?;
                    handshake_line(&path, &cert_b64)?;
                    Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
                }
                None => {
                    handshake_line(&path, "")?;
                    None
                }
            };
            let served = serve_grpc(service, listener, acceptor, shutdown.clone());
            tokio::pin!(served);
            tokio::select! {
                r = &mut served => r,
                () = shutdown.cancelled() => {
                    // Let the Shutdown response and GOAWAY go out, but never hang on a client
                    // that keeps its connection open.
                    let t0 = std::time::Instant::now();
                    let _ = tokio::time::timeout(Duration::from_millis(200), served).await;
                    log::debug!("server drained {:?} after Shutdown", t0.elapsed());
                    Ok(())
                }
            }
        }
        Mode::Debug { address } => {
            let reattach = serde_json::json!({
                address: {
                    "Protocol": "grpc",
                    "ProtocolVersion": APP_PROTOCOL_VERSION,
                    "Pid": std::process::id(),
                    "Test": true,
                    "Addr": { "Network": "unix", "String": path.to_string_lossy() },
                }
            });
            println!(
                "Provider started in debug mode. To attach Terraform, set in your shell:\n\n\
                 \tTF_REATTACH_PROVIDERS='{reattach}'\n\nPress Ctrl-C to stop."
            );
            let _ = std::io::stdout().flush();
            let ctrl_c = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                ctrl_c.cancel();
            });
            serve_grpc(service, listener, None, shutdown).await
        }
    }
}

/// Stops in-flight work, waits for it (bounded), then shuts the server down: the way out when the
/// process must exit without Terraform's StopProvider/Shutdown sequence.
#[derive(Clone)]
struct GracefulExit {
    stop: CancellationToken,
    in_flight: TaskTracker,
    shutdown: CancellationToken,
}

impl GracefulExit {
    async fn run(&self, why: &str) {
        log::info!("{why}: stopping in-flight work before exiting");
        self.stop.cancel();
        self.in_flight.close();
        if tokio::time::timeout(SIGTERM_GRACE, self.in_flight.wait())
            .await
            .is_err()
        {
            log::warn!("{why}: work still running after {SIGTERM_GRACE:?}; exiting anyway");
        }
        self.shutdown.cancel();
    }
}

/// Prints `1|6|unix|<path>|grpc|<cert>`: the only thing we ever write to stdout.
fn handshake_line(path: &Path, cert_b64: &str) -> Result<(), String> {
    let line = format!(
        "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{}|grpc|{cert_b64}\n",
        path.to_string_lossy()
    );
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write handshake: {e}"))
}

async fn serve_grpc(
    service: ProviderService,
    listener: UnixListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let router = tonic::transport::Server::builder()
        .add_service(service.into_server())
        .add_service(Controller::new(shutdown.clone()).into_server());
    let incoming = accept_loop(listener, acceptor, shutdown.clone());
    router
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
        .map_err(|e| format!("gRPC server failed: {e}"))
}

/// Accepts connections (completing TLS handshakes in their own tasks, so one slow or rejected
/// client holds up nobody) and yields only the established ones: a failed handshake must not
/// end the stream, which would stop the server.
fn accept_loop(
    listener: UnixListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shutdown: CancellationToken,
) -> Incoming {
    let (tx, rx) = mpsc::channel::<Conn>(16);
    tokio::spawn(async move {
        loop {
            let sock = tokio::select! {
                () = shutdown.cancelled() => return,
                r = listener.accept() => match r {
                    Ok((sock, _)) => sock,
                    Err(e) => {
                        log::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
            };
            match &acceptor {
                None => {
                    if tx.send(Conn::Plain(sock)).await.is_err() {
                        return;
                    }
                }
                Some(acc) => {
                    let acc = acc.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let t0 = std::time::Instant::now();
                        match acc.accept(sock).await {
                            Ok(tls) => {
                                log::debug!("TLS handshake done in {:?}", t0.elapsed());
                                let _ = tx.send(Conn::Tls(Box::new(tls))).await;
                            }
                            Err(e) => log::warn!("TLS handshake with client failed: {e}"),
                        }
                    });
                }
            }
        }
    });
    Incoming(rx)
}

/// The connection stream handed to tonic.
struct Incoming(mpsc::Receiver<Conn>);

impl tokio_stream::Stream for Incoming {
    type Item = Result<Conn, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// A plaintext or TLS unix connection. Our own type because tonic only implements `Connected`
/// for TLS streams with a feature we do not need otherwise.
enum Conn {
    Plain(UnixStream),
    Tls(Box<tokio_rustls::server::TlsStream<UnixStream>>),
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }
}
