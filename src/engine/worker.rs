//! Worker threads and virtual users on tokio, used when the plan has an HTTPS origin (plain
//! HTTP runs on `plain.rs`). Each thread runs a current-thread runtime with a share of
//! the users as local tasks recording into one thread-local [`ThreadStats`] (no locks, no
//! cross-thread traffic per request beyond two relaxed counters); the thread stops the moment
//! the deadline passes, the stop token fires or all its users are done.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::{JoinSet, LocalSet};
use tokio_rustls::client::TlsStream;

use super::http1::{SendError, H1};
use super::plan::{Origin, Prepared};
use super::shared::{log_progress, Done, Shared, PROGRESS_EVERY};
use super::stats::{ErrorKind, ThreadStats};
use super::tls::TlsReason;

/// Runs this thread's share of the virtual users until the run ends. Used when a request of the
/// plan needs TLS.
pub(crate) fn thread_main(shared: &Arc<Shared>, index: usize) -> Result<Done, String> {
    // I/O and timers are all a worker needs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("could not build the worker runtime: {e}"))?;
    let stats = Rc::new(RefCell::new(ThreadStats::new(
        shared.plan.labels.len(),
        shared.start,
        shared.warm_up,
    )));
    let local = LocalSet::new();
    let finished_at = local.block_on(&rt, async {
        let mut users = JoinSet::new();
        let step = shared.threads.max(1);
        for user_id in (index as u64..shared.users).step_by(step) {
            users.spawn_local(virtual_user(Arc::clone(shared), Rc::clone(&stats), index, user_id));
        }
        if index == 0 {
            tokio::task::spawn_local(progress_log(Arc::clone(shared)));
        }
        let deadline = tokio::time::Instant::from_std(shared.deadline);
        tokio::select! {
            biased;
            _ = shared.stop.cancelled() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = async {
                while let Some(joined) = users.join_next().await {
                    if let Err(e) = joined {
                        log::warn!("local engine: a virtual user stopped: {e}");
                    }
                }
            } => {}
        }
        Instant::now()
    });
    // Dropping the LocalSet drops every user still running: in-flight requests are cut here.
    drop(local);
    drop(rt);
    let stats = Rc::try_unwrap(stats)
        .map(RefCell::into_inner)
        .unwrap_or_else(|rc| rc.borrow().clone());
    Ok(Done { stats, finished_at })
}

async fn progress_log(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        tick.tick().await;
        log_progress(&shared);
    }
}

/// One keep-alive connection of a virtual user.
enum Conn {
    Plain(H1<TcpStream>),
    Tls(Box<H1<TlsStream<TcpStream>>>),
    H2(SendRequest<Full<Bytes>>),
}

/// A closed-model user: starts at its ramp-up offset, then sends the scenario's requests in
/// order, each after the previous response, until the run ends.
async fn virtual_user(shared: Arc<Shared>, stats: Rc<RefCell<ThreadStats>>, thread: usize, user_id: u64) {
    let offset = shared.ramp_up.mul_f64(user_id as f64 / shared.users as f64);
    tokio::time::sleep_until(tokio::time::Instant::from_std(shared.start + offset)).await;
    let progress = &shared.progress[thread];
    let mut conns: Vec<Option<Conn>> = shared.plan.origins.iter().map(|_| None).collect();
    // One timer per user, armed lazily: it keeps the deadline of an earlier request (always
    // earlier than the current one's) and is only moved when it fires before the current request
    // is really late. That is one timer-wheel update per timeout period instead of per request.
    let timeout = shared.request_timeout;
    let mut timer = pin!(tokio::time::sleep(timeout));
    loop {
        for req in &shared.plan.requests {
            if let Some(max) = shared.max_requests {
                if shared.claimed.fetch_add(1, Ordering::Relaxed) >= max {
                    return;
                }
            }
            let slot = &mut conns[req.origin];
            let started = Instant::now();
            let due = started + timeout;
            let outcome = {
                let mut exchange = pin!(exchange(
                    slot,
                    req,
                    &shared.plan.origins[req.origin],
                    shared.tls.as_ref()
                ));
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = exchange.as_mut().poll(cx) {
                        return Poll::Ready(r);
                    }
                    while timer.as_mut().poll(cx).is_ready() {
                        if Instant::now() >= due {
                            return Poll::Ready(Err(ErrorKind::Timeout));
                        }
                        // Fired for an earlier request: re-arm for this one and poll again.
                        timer.as_mut().reset(tokio::time::Instant::from_std(due));
                    }
                    Poll::Pending
                })
                .await
            };
            let finished = Instant::now();
            if finished > shared.deadline {
                // Completed after the end of hold-for: not part of the measured window.
                return;
            }
            let ok = match outcome {
                Ok(status) => stats
                    .borrow_mut()
                    .record_response(req.label, status, finished, finished - started),
                Err(kind) => {
                    // The connection may be mid-exchange: never reuse it after a failure.
                    *slot = None;
                    stats.borrow_mut().record_error(req.label, kind, started, finished);
                    false
                }
            };
            progress.count(ok);
            if !ok {
                // Refused connections fail without ever waiting; let the timers and others run.
                tokio::task::yield_now().await;
            }
        }
    }
}

/// One request on the user's connection to `origin`, connecting first when needed.
///
/// A server may close an idle keep-alive connection just as the user sends on it; the request was
/// then never processed. Like browsers and HTTP libraries, an idempotent request is sent once more
/// on a new connection instead of counting a failure the target did not cause.
async fn exchange(
    slot: &mut Option<Conn>,
    req: &Prepared,
    origin: &Origin,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<u16, ErrorKind> {
    let mut retried = false;
    loop {
        let conn = match slot {
            Some(conn) => conn,
            None => slot.insert(connect(origin, tls).await?),
        };
        let sent = match conn {
            Conn::Plain(h1) => h1.send(&req.h1, req.head_only).await,
            Conn::Tls(h1) => h1.send(&req.h1, req.head_only).await,
            Conn::H2(sender) => return h2_request(sender, req).await,
        };
        match sent {
            Ok(r) => {
                if !r.keep_alive {
                    *slot = None;
                }
                return Ok(r.status);
            }
            Err(SendError::Stale) if req.idempotent && !retried => {
                *slot = None;
                retried = true;
            }
            Err(_) => return Err(ErrorKind::Io),
        }
    }
}

async fn connect(origin: &Origin, tls: Option<&Arc<ClientConfig>>) -> Result<Conn, ErrorKind> {
    let tcp = TcpStream::connect((origin.host.as_str(), origin.port))
        .await
        .map_err(|_| ErrorKind::Connect)?;
    let _ = tcp.set_nodelay(true);
    if !origin.tls {
        return Ok(Conn::Plain(H1::new(tcp)));
    }
    let failed = ErrorKind::Tls(TlsReason::HandshakeFailure);
    let config = tls.ok_or(failed)?;
    let name = ServerName::try_from(origin.host.clone()).map_err(|_| failed)?;
    let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
        .connect(name, tcp)
        .await
        .map_err(|e| ErrorKind::Tls(TlsReason::of_io(&e)))?;
    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|_| ErrorKind::Io)?;
        // Drives the HTTP/2 connection; ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn::H2(sender))
    } else {
        Ok(Conn::Tls(Box::new(H1::new(stream))))
    }
}

async fn h2_request(sender: &mut SendRequest<Full<Bytes>>, req: &Prepared) -> Result<u16, ErrorKind> {
    sender.ready().await.map_err(|_| ErrorKind::Io)?;
    let mut request = http::Request::new(Full::new(req.body.clone()));
    *request.method_mut() = req.method.clone();
    *request.uri_mut() = req.uri.clone();
    *request.headers_mut() = req.headers.clone();
    let response = sender.send_request(request).await.map_err(|_| ErrorKind::Io)?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        frame.map_err(|_| ErrorKind::Io)?;
    }
    Ok(status)
}
