//! The engine's driver: one mio poll loop per worker thread drives all of its users'
//! connections as small state machines (wrk's design). Compared with a tokio task per user this
//! drops the task scheduling, the per-user timer and the readiness bookkeeping from every
//! request, which is most of the engine's own CPU on loopback; the kernel work is the same.
//!
//! HTTPS runs on the same loop and the same sockets: rustls is driven by hand (a
//! `ClientConnection` per connection; ciphertext goes through the socket calls below, peeking
//! included, and rustls's buffers hold the plaintext), so every trick here applies to TLS too.
//! ALPN picks the protocol per connection: HTTP/1.1 through the same push parser as plain HTTP
//! (`http1.rs`), or HTTP/2 through a sans-IO codec (`h2.rs`) holding one stream at a time, as a
//! closed-model user needs. Measured against nginx on a 2-core VM, a tokio task per user (with
//! tokio-rustls and hyper's HTTP/2) was 0.87-0.91x of wrk's and h2load's rates at 18 MiB; see
//! README's benchmark section for this loop's figures.
//!
//! Sockets are registered edge-triggered, and for writing only while connecting or blocked on a
//! full send buffer (no `epoll_ctl` per request). A connection remembers readiness it was told
//! about but could not use yet, and a read is only issued when the socket is known readable, so
//! a request costs one `write`, one `read` and a share of an `epoll_wait`. Timeouts are found by
//! sweeping the users a few times per timeout period instead of keeping a timer each.
//!
//! Two things keep the load generator from loading the target beyond its requests:
//! - Under load the loop naps between empty polls instead of blocking (see [`NAP`]), so the
//!   target's kernel does not have to wake it for every response.
//! - Responses are read with `MSG_PEEK` and taken out of the socket only after the next request
//!   is sent (see [`Conn::unread`]), so the acknowledgement rides on that request instead of
//!   going out as a packet of its own.
//!
//! In the open model (`load.arrival_rate`) the loop also hands the schedule's slots to its users
//! (`pace.rs` decides which user and when): a user that is done waits [`Phase::Idle`] with its
//! connections open, and the loop wakes for the next slot (precisely: see [`SlotTimer`]). The
//! closed model's path is the same but for one branch per request.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use rustls::{ClientConfig, ClientConnection};
use rustls_pki_types::ServerName;

use super::h2::{H2Client, H2Error, H2Request};
use super::http1::{is_closed, Reader, Response};
use super::pace::{Dispatch, Schedule, Slot, Taker};
use super::plan::Prepared;
use super::shared::{log_progress, Done, Progress, Shared, PROGRESS_EVERY};
use super::stats::{ErrorKind, ThreadStats};
use super::tls::TlsReason;

/// Largest response left in the socket by peeking. Bytes left there count against the receive
/// window and are not seen by receive-buffer autotuning, so larger responses, and those whose
/// length is not known from the head, are read normally once that is known.
const MAX_UNREAD: u64 = 16 * 1024;

/// Nap between empty polls while the loop is busy, instead of blocking in `epoll_wait`.
///
/// A thread blocked in `epoll_wait` must be woken by whoever delivers the data: on loopback that
/// is the target's own kernel time, and on a VM each such wake-up is an inter-processor interrupt
/// that costs the target several µs. Under load a response arrives every few µs, so the loop
/// would be woken once per response. Napping instead (off the wait queue, woken by its own
/// timer) batches the responses like a NIC's interrupt moderation: measured on a 2-core VM
/// against nginx, +25–50 % req/s at 8–64 users with less CPU per request and lower, more
/// accurate latencies (the blocking wake-up was slower than the nap). A response is seen at most
/// one nap late.
///
/// This is the shortest nap; the loop naps longer when responses take longer (see
/// [`NAP_SHARE`]), up to [`MAX_NAP`].
const NAP: Duration = Duration::from_micros(5);
/// Longest nap. Each nap costs the loop a timer, a sleep and a wake-up (on a VM, about as much CPU
/// as a request's own socket calls), and a saturated target fills the nap with responses either
/// way: against nginx over TLS at 64 connections, naps of 10-20 µs instead of 5 cut the engine's
/// CPU per request by a fifth at the same rate.
const MAX_NAP: Duration = Duration::from_micros(20);
/// The nap is at most this fraction of the recent response times, so the time it may add to a
/// measured latency stays under 2 % of it (5 µs floor: [`NAP`]).
const NAP_SHARE: u32 = 50;
/// How long after the last readiness event the loop keeps napping before it blocks: one user
/// against a fast target, or a few users against a slow one, go back to blocking waits.
const NAP_WINDOW: Duration = Duration::from_micros(50);
/// Napping relies on fine timer slack (set per thread with `prctl`), so Linux only.
const NAP_ENABLED: bool = cfg!(target_os = "linux");
/// Longest sleep in `poll`, so a cancellation is seen within this time.
const MAX_WAIT: Duration = Duration::from_millis(20);
const EVENTS: usize = 1024;
/// The poller token of the [`SlotTimer`] (user tokens are `user * origins + origin`).
const TIMER: Token = Token(usize::MAX);
/// Received bytes are read into one buffer per thread before TLS decrypts them: one `read` takes
/// a whole burst of records (rustls alone would read 4 KiB at a time).
const SCRATCH: usize = 64 * 1024;
/// Decrypted HTTP/2 bytes are handed to the codec in pieces of this size (it keeps no copy of
/// DATA, so the size only sets how many calls a large body takes).
const H2_IN: usize = 16 * 1024;

/// One keep-alive connection of a user to one origin.
struct Conn {
    stream: TcpStream,
    reader: Reader,
    /// Which of the origin's resolved addresses it is connecting or connected to.
    addr: usize,
    /// Readiness reported by the poller and not yet used up (edge-triggered: it is not repeated).
    readable: bool,
    writable: bool,
    /// Responses completed on it; 0 means fresh, so no failure is "stale".
    completed: u64,
    /// Registered for write readiness too (while connecting, or blocked on a full send buffer).
    watch_write: bool,
    /// Bytes parsed (peeked) but still in the socket; taken out once the next request is sent.
    ///
    /// Linux acknowledges at once when a read empties a socket that got two small segments (the
    /// usual head + body of a response), so reading a response normally sends a bare ACK. With
    /// the bytes left in the socket until the next request has gone out, that request carries the
    /// ACK: one packet less per request for the target to handle (3 instead of 4 on loopback).
    /// Only for small responses (see [`MAX_UNREAD`]).
    unread: usize,
    /// `SO_PEEK_OFF` is on, so reads can peek.
    can_peek: bool,
    /// The current response is being peeked (reset for each request).
    peeking: bool,
    /// The TLS session on an `https://` origin, driven by hand: ciphertext goes through the
    /// socket calls above (peeking included), plaintext through rustls's buffers.
    tls: Option<Box<ClientConnection>>,
    /// HTTP/2 on the TLS session, when ALPN chose it.
    h2: Option<Box<H2Client>>,
}

impl Conn {
    /// After a peek that left the response incomplete: peeking goes on only while the whole
    /// response is known to be small; otherwise the peeked bytes leave the socket and the rest
    /// is read normally.
    fn settle_peek(&mut self) -> io::Result<()> {
        if !self.peeking || self.unread == 0 {
            return Ok(());
        }
        let unread = self.unread as u64;
        if self.reader.body_left().is_some_and(|left| unread + left <= MAX_UNREAD) {
            return Ok(());
        }
        // HTTP/2 frames carry no length of the whole response: peek while it stays small.
        if self.h2.is_some() && unread <= MAX_UNREAD {
            return Ok(());
        }
        self.peeking = false;
        self.discard_unread()
    }

    /// Takes the peeked bytes out of the socket (without copying them: `MSG_TRUNC`).
    fn discard_unread(&mut self) -> io::Result<()> {
        while self.unread > 0 {
            match discard(&self.stream, self.unread) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.unread -= n.min(self.unread),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Conn {
    /// Reads the response on plain TCP: peeked or read straight into the parser's buffer.
    fn read_plain(&mut self) -> io::Result<Option<Response>> {
        loop {
            if let Some(response) = self.reader.advance()? {
                return Ok(Some(response));
            }
            self.settle_peek()?;
            // Only read what the poller said is there: no `read` that is bound to fail.
            if !self.readable {
                return Ok(None);
            }
            let buf = self.reader.spare()?;
            let room = buf.len();
            let got = if self.peeking {
                self.stream.peek(buf).inspect(|&n| self.unread += n)
            } else {
                self.stream.read(buf)
            };
            match got {
                Ok(n) => match self.reader.filled(n)? {
                    // A short read took everything the socket held; newer bytes bring a new
                    // edge, so no `read` just to hear `EAGAIN` (the head and the body of a
                    // response often arrive as two segments).
                    None if n < room => self.readable = false,
                    Some(response) => return Ok(Some(response)),
                    None => {}
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes what the socket holds into `scratch`, peeked while the response is peeked: the byte
    /// count (0 at the end of the stream), or `None` when nothing is there. A short read took
    /// everything, so it clears `readable` (newer bytes bring a new edge).
    fn recv_ciphertext(&mut self, scratch: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            let got = if self.peeking {
                self.stream.peek(scratch).inspect(|&n| self.unread += n)
            } else {
                self.stream.read(scratch)
            };
            match got {
                Ok(n) => {
                    if n < scratch.len() {
                        self.readable = false;
                    }
                    return Ok(Some(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the response over TLS: ciphertext is peeked or read into `scratch` (the same socket
    /// discipline as plain TCP), handed to rustls, and the plaintext goes through the parser.
    fn read_tls(&mut self, scratch: &mut [u8]) -> io::Result<Option<Response>> {
        let Some(mut tls) = self.tls.take() else {
            return Err(io::Error::other("no TLS session"));
        };
        let outcome = self.read_tls_with(&mut tls, scratch);
        self.tls = Some(tls);
        outcome
    }

    fn read_tls_with(&mut self, tls: &mut ClientConnection, scratch: &mut [u8]) -> io::Result<Option<Response>> {
        loop {
            if let Some(response) = self.drain_plaintext(tls)? {
                return Ok(Some(response));
            }
            if !self.readable {
                return Ok(None);
            }
            let Some(n) = self.recv_ciphertext(scratch)? else {
                return Ok(None);
            };
            if n == 0 {
                // The end of the stream: rustls tells a clean close (close_notify) from a cut one.
                tls.read_tls(&mut &[][..])?;
                continue;
            }
            let mut rest = &scratch[..n];
            let mut response = None;
            while !rest.is_empty() {
                tls.read_tls(&mut rest)?;
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                // Plaintext leaves rustls between records, so its buffer never fills; bytes after
                // the response (there should be none) wait in rustls for the next one.
                if response.is_none() {
                    response = self.drain_plaintext(tls)?;
                }
            }
            if response.is_some() {
                return Ok(response);
            }
        }
    }

    /// Moves decrypted bytes from rustls into the parser until it has a whole response or rustls
    /// has no more.
    fn drain_plaintext(&mut self, tls: &mut ClientConnection) -> io::Result<Option<Response>> {
        loop {
            if let Some(response) = self.reader.advance()? {
                return Ok(Some(response));
            }
            match tls.reader().read(self.reader.spare()?) {
                // close_notify: ends a close-delimited body, and is an error anywhere else.
                Ok(0) => return self.reader.filled(0),
                Ok(n) => {
                    if let Some(response) = self.reader.filled(n)? {
                        return Ok(Some(response));
                    }
                }
                // All that arrived is parsed: whether to go on peeking depends on the head.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.settle_peek()?;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Advances the TLS handshake: `Ok(true)` once it is done, `Ok(false)` while it waits for the
    /// socket, or the reason it failed.
    fn handshake(&mut self, scratch: &mut [u8]) -> Result<bool, TlsReason> {
        let Some(mut tls) = self.tls.take() else {
            return Err(TlsReason::HandshakeFailure);
        };
        let outcome = self.handshake_with(&mut tls, scratch);
        if outcome.is_err() {
            // Tell the server why (rustls queued the alert); the connection is dropped anyway.
            let _ = flush_tls(&mut tls, &mut self.stream);
        }
        self.tls = Some(tls);
        outcome
    }

    fn handshake_with(&mut self, tls: &mut ClientConnection, scratch: &mut [u8]) -> Result<bool, TlsReason> {
        loop {
            match flush_tls(tls, &mut self.stream) {
                Ok(true) => {}
                Ok(false) => {
                    self.writable = false;
                    return Ok(false);
                }
                Err(_) => return Err(TlsReason::HandshakeFailure),
            }
            if !tls.is_handshaking() {
                return Ok(true);
            }
            if !self.readable {
                return Ok(false);
            }
            // Not peeking yet: the handshake's records leave the socket as they are read.
            let n = match self.recv_ciphertext(scratch) {
                Ok(Some(0)) | Err(_) => return Err(TlsReason::HandshakeFailure),
                Ok(Some(n)) => n,
                Ok(None) => return Ok(false),
            };
            let mut rest = &scratch[..n];
            while !rest.is_empty() {
                tls.read_tls(&mut rest).map_err(|_| TlsReason::HandshakeFailure)?;
                tls.process_new_packets().map_err(|e| TlsReason::of_rustls(&e))?;
            }
        }
    }
}

/// A whole HTTP/2 response.
struct H2Done {
    status: u16,
    /// The codec can open another stream on this connection.
    keep_alive: bool,
}

/// Why an HTTP/2 read failed: the socket or TLS, or the protocol.
enum H2Fail {
    Io(io::Error),
    H2(H2Error),
}

impl From<io::Error> for H2Fail {
    fn from(e: io::Error) -> Self {
        H2Fail::Io(e)
    }
}

impl Conn {
    /// Reads the response over HTTP/2: ciphertext as on HTTP/1.1 over TLS, the plaintext into the
    /// codec, whose replies (SETTINGS and PING acknowledgements, WINDOW_UPDATEs, more of a
    /// request body) go out at once.
    fn read_h2(&mut self, scratch: &mut [u8], plain: &mut [u8], out: &mut Vec<u8>) -> Result<Option<H2Done>, H2Fail> {
        let (Some(mut tls), Some(mut h2)) = (self.tls.take(), self.h2.take()) else {
            return Err(H2Fail::Io(io::Error::other("no HTTP/2 session")));
        };
        let outcome = self.read_h2_with(&mut tls, &mut h2, scratch, plain, out);
        self.tls = Some(tls);
        self.h2 = Some(h2);
        outcome
    }

    fn read_h2_with(
        &mut self,
        tls: &mut ClientConnection,
        h2: &mut H2Client,
        scratch: &mut [u8],
        plain: &mut [u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<H2Done>, H2Fail> {
        loop {
            // Decrypted bytes first, then the codec's replies.
            let mut done = None;
            loop {
                match tls.reader().read(plain) {
                    Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
                    Ok(n) => {
                        out.clear();
                        let response = h2.received(&plain[..n], out).map_err(H2Fail::H2)?;
                        if !out.is_empty() {
                            tls.writer().write_all(out)?;
                        }
                        if let Some(r) = response {
                            done = Some(H2Done {
                                status: r.status,
                                keep_alive: h2.can_send(),
                            });
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.settle_peek()?;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // A reply that does not fit the send buffer now leaves with the next request.
            flush_tls(tls, &mut self.stream)?;
            if done.is_some() {
                return Ok(done);
            }
            if !self.readable {
                return Ok(None);
            }
            let Some(n) = self.recv_ciphertext(scratch)? else {
                return Ok(None);
            };
            if n == 0 {
                tls.read_tls(&mut &[][..])?;
                continue;
            }
            let mut rest = &scratch[..n];
            while !rest.is_empty() {
                tls.read_tls(&mut rest)?;
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                // Drain between records so rustls's plaintext buffer never fills.
                if rest.is_empty() {
                    break;
                }
                loop {
                    match tls.reader().read(plain) {
                        Ok(0) => break,
                        Ok(k) => {
                            out.clear();
                            let response = h2.received(&plain[..k], out).map_err(H2Fail::H2)?;
                            if !out.is_empty() {
                                tls.writer().write_all(out)?;
                            }
                            if let Some(r) = response {
                                done = Some(H2Done {
                                    status: r.status,
                                    keep_alive: h2.can_send(),
                                });
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            if done.is_some() {
                flush_tls(tls, &mut self.stream)?;
                return Ok(done);
            }
        }
    }
}

/// Opens the request's stream on the HTTP/2 connection (`done` goes from 0 to 1 once it is
/// encoded and handed to rustls) and writes the records out: `Ok(true)` when all is on the wire.
fn write_h2(
    tls: &mut ClientConnection,
    h2: &mut H2Client,
    stream: &mut TcpStream,
    req: &H2Request,
    done: &mut usize,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    if *done == 0 {
        out.clear();
        h2.send(req, out).map_err(|e| io::Error::other(e.to_string()))?;
        tls.writer().write_all(out)?;
        *done = 1;
    }
    flush_tls(tls, stream)
}

/// Writes `data[*done..]` to a plain socket: `Ok(true)` when all is out, `Ok(false)` when the
/// send buffer is full.
fn write_plain(stream: &mut TcpStream, data: &[u8], done: &mut usize) -> io::Result<bool> {
    while *done < data.len() {
        match stream.write(&data[*done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *done += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Hands `data[*done..]` to rustls (`done` counts plaintext it took) and writes the records out:
/// `Ok(true)` when all is on the wire, `Ok(false)` when the send buffer is full.
fn write_tls(tls: &mut ClientConnection, stream: &mut TcpStream, data: &[u8], done: &mut usize) -> io::Result<bool> {
    loop {
        if !flush_tls(tls, stream)? {
            return Ok(false);
        }
        if *done == data.len() {
            return Ok(true);
        }
        match tls.writer().write(&data[*done..])? {
            // Nothing is buffered after a flush, so rustls always takes something.
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => *done += n,
        }
    }
}

/// Writes rustls's pending records (one `writev`): `Ok(false)` when the send buffer is full.
fn flush_tls(tls: &mut ClientConnection, stream: &mut TcpStream) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing with unread bytes would reset the connection instead of closing it.
        let _ = self.discard_unread();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before its ramp-up offset.
    Waiting,
    /// About to send its current request.
    Start,
    Connecting,
    /// TLS handshake on a connected socket.
    Handshaking,
    Writing,
    Reading,
    /// Open model: done with its request, waiting for a slot with its connections open.
    Idle,
    Finished,
}

struct User {
    phase: Phase,
    start_at: Instant,
    /// The current request, an index into the plan.
    req: usize,
    /// What its latency counts from: when it was sent, or in the open model when it was due.
    started: Instant,
    /// When it was sent; its timeout counts from here.
    sent: Instant,
    written: usize,
    /// The current request was already resent once after a stale connection.
    retried: bool,
    /// `conns[origin]`.
    conns: Vec<Option<Conn>>,
}

/// What the state machine does after a step.
enum Step {
    /// Go on with the next step now.
    Continue,
    /// Wait for the poller.
    Wait,
    /// Resume at the next turn of the loop, after the others had theirs (a refused connection
    /// fails without waiting; looping on it would starve everybody else).
    Defer,
}

struct Loop<'a> {
    shared: &'a Shared,
    registry: &'a Registry,
    /// Resolved addresses per origin, tried in order like `TcpStream::connect((host, port))`.
    addrs: Vec<Vec<SocketAddr>>,
    origins: usize,
    users: Vec<User>,
    stats: ThreadStats,
    progress: &'a Progress,
    deferred: Vec<usize>,
    finished: usize,
    /// Smoothed time from sending a request to its whole response, for the nap's length.
    service: Duration,
    /// The open model's slots and free users; `None` in the closed model.
    pace: Option<Dispatch>,
    /// The TLS client configuration, when an origin is `https://`.
    tls: Option<Arc<ClientConfig>>,
    /// Per origin, its TLS server name (`None` for plain HTTP, or a host rustls cannot name).
    names: Vec<Option<ServerName<'static>>>,
    /// Where received ciphertext lands before rustls takes it (see [`SCRATCH`]).
    scratch: Vec<u8>,
    /// HTTP/2: decrypted bytes on their way to the codec, and the frames it writes.
    h2_in: Vec<u8>,
    h2_out: Vec<u8>,
}

/// Runs this thread's share of the virtual users (ids `index`, `index + threads`, ...) until the
/// run ends. Used when no request of the plan needs TLS.
pub(crate) fn thread_main(shared: &Arc<Shared>, index: usize) -> Result<Done, String> {
    let mut poll = Poll::new().map_err(|e| format!("could not create the poller: {e}"))?;
    let mut events = Events::with_capacity(EVENTS);
    let plan = &shared.plan;
    let step = shared.threads.max(1);
    let users: Vec<User> = (index as u64..shared.users)
        .step_by(step)
        .map(|id| User {
            phase: Phase::Waiting,
            start_at: shared.start + shared.ramp_up.mul_f64(id as f64 / shared.users as f64),
            req: 0,
            started: shared.start,
            sent: shared.start,
            written: 0,
            retried: false,
            conns: plan.origins.iter().map(|_| None).collect(),
        })
        .collect();
    let users_here = users.len();
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| format!("could not create the poller: {e}"))?;
    let mut lp = Loop {
        shared,
        registry: &registry,
        // Resolved once per run: a load test measures the target, not the resolver.
        addrs: plan
            .origins
            .iter()
            .map(|o| {
                (o.host.as_str(), o.port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default()
            })
            .collect(),
        origins: plan.origins.len().max(1),
        users,
        stats: ThreadStats::new(plan.labels.len(), shared.start, shared.warm_up),
        progress: &shared.progress[index],
        deferred: Vec::new(),
        finished: 0,
        service: Duration::ZERO,
        pace: shared.pace.map(|rate| {
            let schedule = Schedule::new(rate, shared.start, shared.deadline, index, step);
            Dispatch::new(schedule, users_here, shared.request_timeout)
        }),
        tls: shared.tls.clone(),
        names: plan
            .origins
            .iter()
            .map(|o| o.tls.then(|| ServerName::try_from(o.host.clone()).ok()).flatten())
            .collect(),
        scratch: if shared.tls.is_some() {
            vec![0; SCRATCH]
        } else {
            Vec::new()
        },
        h2_in: if shared.tls.is_some() {
            vec![0; H2_IN]
        } else {
            Vec::new()
        },
        h2_out: Vec::new(),
    };
    let mut timer = if lp.pace.is_some() {
        SlotTimer::new(&registry)
    } else {
        None
    };

    let sweep_every = (shared.request_timeout / 20).clamp(Duration::from_millis(1), Duration::from_millis(10));
    let mut next_sweep = Instant::now() + sweep_every;
    let mut next_progress = shared.start + PROGRESS_EVERY;
    // Users start in id order, and ramp-up offsets grow with the id.
    let mut next_start = 0;
    // Set before the first nap: a 5 µs sleep with the default 50 µs slack would be a long one.
    set_fine_timer_slack();
    let mut last_events = Instant::now();
    let mut event_gap = MAX_WAIT;
    loop {
        let now = Instant::now();
        if now >= shared.deadline || lp.finished == lp.users.len() || shared.stop.is_cancelled() {
            break;
        }
        if lp.pace.is_some() {
            lp.pace_slots(now);
        } else {
            while next_start < lp.users.len() && lp.users[next_start].start_at <= now {
                lp.users[next_start].phase = Phase::Start;
                lp.drive(next_start);
                next_start += 1;
            }
        }
        for u in std::mem::take(&mut lp.deferred) {
            lp.drive(u);
        }
        if now >= next_sweep {
            lp.sweep_timeouts(now);
            next_sweep = now + sweep_every;
        }
        if index == 0 && now >= next_progress {
            log_progress(shared);
            next_progress += PROGRESS_EVERY;
        }

        let mut wait = MAX_WAIT
            .min(shared.deadline.saturating_duration_since(now))
            .min(next_sweep.saturating_duration_since(now));
        let slot_wake = lp.pace.as_ref().and_then(Dispatch::wake_at);
        if let Some(at) = slot_wake {
            wait = wait.min(at.saturating_duration_since(now));
        } else if let Some(user) = lp.users.get(next_start).filter(|_| lp.pace.is_none()) {
            wait = wait.min(user.start_at.saturating_duration_since(now));
        }
        if !lp.deferred.is_empty() {
            wait = Duration::ZERO;
        }
        // Coalescing: while responses keep coming, poll without blocking and nap between
        // empty polls rather than sleep in `epoll_wait` (see `NAP`).
        if !events.is_empty() {
            // Smoothed gap between polls that found work: napping pays only while responses
            // come faster than the window (a slow target's are spaced out: block at once).
            let gap = now.saturating_duration_since(last_events).min(MAX_WAIT);
            event_gap = (event_gap * 7 + gap) / 8;
            last_events = now;
        }
        if NAP_ENABLED && event_gap < NAP_WINDOW && now < last_events + NAP_WINDOW {
            if events.is_empty() {
                std::thread::sleep((lp.service / NAP_SHARE).clamp(NAP, MAX_NAP));
            }
            wait = Duration::ZERO;
        }
        // `epoll_wait` sleeps whole milliseconds: a slot due sooner than that gets the timer.
        if let (Some(at), Some(t)) = (slot_wake, timer.as_mut()) {
            if !wait.is_zero() && at <= now + wait {
                t.arm(at, now);
            }
        }
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("the poller failed: {e}"));
        }
        for event in events.iter() {
            if event.token() == TIMER {
                if let Some(t) = timer.as_mut() {
                    t.fired();
                }
                continue;
            }
            let token = event.token().0;
            let (u, origin) = (token / lp.origins, token % lp.origins);
            let Some(Some(conn)) = lp.users.get_mut(u).and_then(|user| user.conns.get_mut(origin)) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                conn.readable = true;
            }
            if event.is_writable() || event.is_write_closed() || event.is_error() {
                conn.writable = true;
            }
            // Events for a connection the user is not using now (an idle one to another origin)
            // only leave their flags behind.
            let user = &lp.users[u];
            let current = lp.shared.plan.requests.get(user.req).map(|r| r.origin);
            if current == Some(origin)
                && matches!(
                    user.phase,
                    Phase::Connecting | Phase::Handshaking | Phase::Writing | Phase::Reading
                )
            {
                lp.drive(u);
            }
        }
    }
    let finished_at = Instant::now();
    lp.drop_unsent(finished_at.min(shared.deadline));
    Ok(Done {
        stats: lp.stats,
        finished_at,
    })
}

impl Loop<'_> {
    /// Runs user `u`'s state machine until it has to wait.
    fn drive(&mut self, u: usize) {
        loop {
            let step = match self.users[u].phase {
                Phase::Start => self.start(u),
                Phase::Connecting => self.connecting(u),
                Phase::Handshaking => self.handshake(u),
                Phase::Writing => self.write(u),
                Phase::Reading => self.read(u),
                Phase::Waiting | Phase::Idle | Phase::Finished => Step::Wait,
            };
            match step {
                Step::Continue => {}
                Step::Wait => return,
                Step::Defer => {
                    self.deferred.push(u);
                    return;
                }
            }
        }
    }

    fn request(&self, u: usize) -> &Prepared {
        &self.shared.plan.requests[self.users[u].req]
    }

    fn conn(&mut self, u: usize) -> Option<&mut Conn> {
        let origin = self.shared.plan.requests[self.users[u].req].origin;
        self.users[u].conns[origin].as_mut()
    }

    fn finish(&mut self, u: usize) -> Step {
        self.users[u].phase = Phase::Finished;
        self.users[u].conns.iter_mut().for_each(|c| *c = None);
        self.finished += 1;
        Step::Wait
    }

    /// Claims the next request (against `max_requests`), then connects or writes.
    fn start(&mut self, u: usize) -> Step {
        if let Some(max) = self.shared.max_requests {
            if self.shared.claimed.fetch_add(1, Ordering::Relaxed) >= max {
                return self.spent(u);
            }
        }
        let now = Instant::now();
        let user = &mut self.users[u];
        // The open model's latency counts from the slot, set when the user took it.
        if self.pace.is_none() {
            user.started = now;
        }
        user.sent = now;
        user.retried = false;
        self.send(u)
    }

    /// Sends the current request: on the user's connection to its origin, or a new one.
    fn send(&mut self, u: usize) -> Step {
        let origin = self.request(u).origin;
        let head_only = self.request(u).head_only;
        if self.users[u].conns[origin].is_none() {
            return match self.connect(u, origin, 0) {
                Ok(()) => {
                    self.users[u].phase = Phase::Connecting;
                    Step::Wait
                }
                Err(()) => self.fail(u, ErrorKind::Connect),
            };
        }
        if let Some(conn) = self.conn(u) {
            conn.reader.begin(head_only);
            conn.peeking = conn.can_peek;
        }
        let user = &mut self.users[u];
        user.written = 0;
        user.phase = Phase::Writing;
        Step::Continue
    }

    /// Opens a non-blocking connection to the origin's address `from` or a later one.
    fn connect(&mut self, u: usize, origin: usize, from: usize) -> Result<(), ()> {
        let token = Token(u * self.origins + origin);
        for (i, addr) in self.addrs[origin].iter().enumerate().skip(from) {
            let Ok(mut stream) = TcpStream::connect(*addr) else {
                continue;
            };
            if self
                .registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                .is_err()
            {
                continue;
            }
            let can_peek = enable_peek_offset(&stream);
            self.users[u].conns[origin] = Some(Conn {
                stream,
                reader: Reader::new(),
                addr: i,
                watch_write: true,
                readable: false,
                writable: false,
                completed: 0,
                unread: 0,
                can_peek,
                peeking: false,
                tls: None,
                h2: None,
            });
            return Ok(());
        }
        Err(())
    }

    /// A connection in progress: done when writable and it has a peer (mio's recipe).
    fn connecting(&mut self, u: usize) -> Step {
        let origin = self.request(u).origin;
        let Some(conn) = self.users[u].conns[origin].as_mut() else {
            return self.fail(u, ErrorKind::Connect);
        };
        if !conn.writable {
            return Step::Wait;
        }
        let failed = match conn.stream.take_error() {
            Ok(Some(_)) | Err(_) => true,
            Ok(None) => match conn.stream.peer_addr() {
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    conn.writable = false;
                    return Step::Wait;
                }
                Err(_) => true,
            },
        };
        if failed {
            let next = conn.addr + 1;
            self.users[u].conns[origin] = None;
            return match self.connect(u, origin, next) {
                Ok(()) => Step::Wait,
                Err(()) => self.fail(u, ErrorKind::Connect),
            };
        }
        // A request is one small write that must leave at once.
        let _ = conn.stream.set_nodelay(true);
        if self.shared.plan.origins[origin].tls {
            let session = match (&self.tls, &self.names[origin]) {
                (Some(config), Some(name)) => ClientConnection::new(Arc::clone(config), name.clone()).ok(),
                _ => None,
            };
            let Some(session) = session else {
                return self.fail(u, ErrorKind::Tls(TlsReason::HandshakeFailure));
            };
            conn.tls = Some(Box::new(session));
            self.users[u].phase = Phase::Handshaking;
            return Step::Continue;
        }
        self.established(u)
    }

    /// Connected (and through the TLS handshake): stop watching writes, send the request.
    fn established(&mut self, u: usize) -> Step {
        let origin = self.request(u).origin;
        let Some(conn) = self.users[u].conns[origin].as_mut() else {
            return self.fail(u, ErrorKind::Connect);
        };
        // From now on only reads are awaited. Left registered for writing, the socket would
        // signal every ACK of a request too, and each such signal can cost the target's
        // sending thread a wake-up of this one (wrk likewise watches writes only while blocked).
        let token = Token(u * self.origins + origin);
        if self
            .registry
            .reregister(&mut conn.stream, token, Interest::READABLE)
            .is_err()
        {
            return self.broken(u, &io::Error::other("could not watch the connection"));
        }
        conn.watch_write = false;
        self.send(u)
    }

    /// The TLS handshake on a connected socket; on success the request goes out.
    fn handshake(&mut self, u: usize) -> Step {
        let origin = self.request(u).origin;
        let scratch = &mut self.scratch;
        let Some(conn) = self.users[u].conns[origin].as_mut() else {
            return self.fail(u, ErrorKind::Connect);
        };
        match conn.handshake(scratch) {
            Ok(true) => {
                if let Some(tls) = conn.tls.as_deref_mut() {
                    if tls.alpn_protocol() == Some(b"h2") {
                        // The preface and SETTINGS leave with the first request.
                        self.h2_out.clear();
                        conn.h2 = Some(Box::new(H2Client::new(&mut self.h2_out)));
                        // Request bodies go out as fast as the windows open: rustls buffers them.
                        tls.set_buffer_limit(None);
                        if tls.writer().write_all(&self.h2_out).is_err() {
                            return self.fail(u, ErrorKind::Io);
                        }
                    }
                }
                self.established(u)
            }
            Ok(false) => Step::Wait,
            Err(reason) => self.fail(u, ErrorKind::Tls(reason)),
        }
    }

    fn write(&mut self, u: usize) -> Step {
        let shared = self.shared;
        let registry = self.registry;
        let origin = shared.plan.requests[self.users[u].req].origin;
        let token = Token(u * self.origins + origin);
        let prepared = &shared.plan.requests[self.users[u].req];
        let mut done = self.users[u].written;
        let out = &mut self.h2_out;
        let Some(conn) = self.users[u].conns[origin].as_mut() else {
            return self.fail(u, ErrorKind::Io);
        };
        let mut outcome = match (conn.tls.as_deref_mut(), conn.h2.as_deref_mut(), &prepared.h2) {
            (None, _, _) => write_plain(&mut conn.stream, &prepared.h1, &mut done),
            (Some(tls), Some(h2), Some(req)) => write_h2(tls, h2, &mut conn.stream, req, &mut done, out),
            (Some(tls), _, _) => write_tls(tls, &mut conn.stream, &prepared.h1, &mut done),
        };
        if matches!(outcome, Ok(false)) {
            // A full send buffer (a large body): watch for room, until the write is done.
            conn.writable = false;
            if !conn.watch_write {
                match registry.reregister(&mut conn.stream, token, Interest::READABLE | Interest::WRITABLE) {
                    Ok(()) => conn.watch_write = true,
                    Err(e) => outcome = Err(e),
                }
            }
        }
        if matches!(outcome, Ok(true)) && conn.watch_write {
            conn.watch_write = false;
            if let Err(e) = registry.reregister(&mut conn.stream, token, Interest::READABLE) {
                return self.broken(u, &e);
            }
        }
        if matches!(outcome, Ok(true)) {
            // The request (and the ACK it carries) is out: the last response can leave the socket.
            if let Err(e) = conn.discard_unread() {
                return self.broken(u, &e);
            }
        }
        self.users[u].written = done;
        match outcome {
            Ok(true) => {
                self.users[u].phase = Phase::Reading;
                Step::Continue
            }
            Ok(false) => Step::Wait,
            Err(e) => self.broken(u, &e),
        }
    }

    fn read(&mut self, u: usize) -> Step {
        let origin = self.request(u).origin;
        let scratch = &mut self.scratch;
        let Some(conn) = self.users[u].conns[origin].as_mut() else {
            return self.fail(u, ErrorKind::Io);
        };
        if conn.h2.is_some() {
            let outcome = conn.read_h2(scratch, &mut self.h2_in, &mut self.h2_out);
            return self.h2_outcome(u, outcome);
        }
        let outcome = if conn.tls.is_some() {
            conn.read_tls(scratch)
        } else {
            conn.read_plain()
        };
        match outcome {
            Ok(Some(response)) => {
                // No pipelining: once the response is whole, nothing more is due on this socket
                // until the next request, whose answer brings its own readiness edge.
                conn.readable = false;
                conn.completed += 1;
                self.complete(u, response)
            }
            Ok(None) => Step::Wait,
            Err(e) => self.broken(u, &e),
        }
    }

    /// What an HTTP/2 read came to. The connection stays open while the codec can open streams.
    fn h2_outcome(&mut self, u: usize, outcome: Result<Option<H2Done>, H2Fail>) -> Step {
        let origin = self.request(u).origin;
        match outcome {
            Ok(Some(done)) => {
                if let Some(conn) = self.users[u].conns[origin].as_mut() {
                    conn.readable = false;
                    conn.completed += 1;
                }
                self.complete(
                    u,
                    Response {
                        status: done.status,
                        keep_alive: done.keep_alive,
                    },
                )
            }
            Ok(None) => Step::Wait,
            Err(H2Fail::Io(e)) => self.broken(u, &e),
            // Not processed by the server (GOAWAY before our stream, REFUSED_STREAM): safe to send
            // again on a new connection, once, when idempotent.
            Err(H2Fail::H2(H2Error::Refused)) if self.request(u).idempotent && !self.users[u].retried => {
                self.users[u].conns[origin] = None;
                self.users[u].retried = true;
                self.send(u)
            }
            Err(H2Fail::H2(_)) => self.fail(u, ErrorKind::Io),
        }
    }

    /// A response came back: count it and go on with the next request.
    fn complete(&mut self, u: usize, response: Response) -> Step {
        let finished = Instant::now();
        if finished > self.shared.deadline {
            // Completed after the end of hold-for: not part of the measured window.
            return self.finish(u);
        }
        let label = self.request(u).label;
        let ok = self
            .stats
            .record_response(label, response.status, finished, finished - self.users[u].started);
        let took = finished.saturating_duration_since(self.users[u].sent);
        self.service = (self.service * 15 + took) / 16;
        if !response.keep_alive {
            let origin = self.request(u).origin;
            self.users[u].conns[origin] = None;
        }
        self.progress.count(ok);
        self.next(u, finished);
        Step::Continue
    }

    /// The connection failed mid-exchange. A reused connection the server closed before
    /// answering is retried once for idempotent requests: it was never processed, and browsers and
    /// HTTP libraries send it again too.
    fn broken(&mut self, u: usize, e: &io::Error) -> Step {
        let origin = self.request(u).origin;
        let stale = self.users[u].conns[origin]
            .as_ref()
            .is_some_and(|c| c.completed > 0 && !c.reader.received_any() && is_closed(e));
        self.users[u].conns[origin] = None;
        if stale && self.request(u).idempotent && !self.users[u].retried {
            self.users[u].retried = true;
            return self.send(u);
        }
        self.fail(u, ErrorKind::Io)
    }

    /// Counts a failed request, drops its connection and moves on at the next turn.
    fn fail(&mut self, u: usize, kind: ErrorKind) -> Step {
        let now = Instant::now();
        if now > self.shared.deadline {
            return self.finish(u);
        }
        let origin = self.request(u).origin;
        self.users[u].conns[origin] = None;
        let label = self.request(u).label;
        self.stats.record_error(label, kind, self.users[u].started, now);
        self.progress.count(false);
        self.next(u, now);
        Step::Defer
    }

    /// The user's next request: the scenario's next one, or in the open model the oldest due
    /// slot's, else it idles (done, once the request budget is spent).
    fn next(&mut self, u: usize, now: Instant) {
        if self.pace.is_some() {
            self.drop_stale(now);
            match self.pace.as_mut().and_then(|d| d.freed(u, now)) {
                Some(slot) => self.take_slot(u, slot),
                None if self.pace.as_ref().is_some_and(Dispatch::is_closed) => {
                    self.finish(u);
                }
                None => self.users[u].phase = Phase::Idle,
            }
            return;
        }
        let user = &mut self.users[u];
        user.req = (user.req + 1) % self.shared.plan.requests.len();
        user.phase = Phase::Start;
    }

    /// The request budget (`max_requests`) is spent: this user is done, and in the open model so
    /// are the idle ones and those that never started.
    fn spent(&mut self, u: usize) -> Step {
        if let Some(d) = self.pace.as_mut() {
            let (idle, never) = d.close();
            self.finished += never.len();
            for i in idle {
                self.finish(i);
            }
        }
        self.finish(u)
    }

    /// Open model: sends the slots that are due, while there are users for them.
    fn pace_slots(&mut self, now: Instant) {
        self.drop_stale(now);
        while let Some((taker, slot)) = self.pace.as_mut().and_then(|d| d.take(now)) {
            let (Taker::Free(u) | Taker::Fresh(u)) = taker;
            self.take_slot(u, slot);
            self.drive(u);
        }
    }

    /// User `u` sends the request of `slot`, its latency counted from the slot's time.
    fn take_slot(&mut self, u: usize, slot: Slot) {
        let req = self.slot_request(slot);
        let user = &mut self.users[u];
        user.req = req;
        user.started = slot.at;
        user.phase = Phase::Start;
    }

    /// The scenario's requests in order, round-robin over the run's slots.
    fn slot_request(&self, slot: Slot) -> usize {
        let n = self.shared.plan.requests.len() as u64;
        usize::try_from(slot.index % n.max(1)).unwrap_or(0)
    }

    /// Open model: counts the slots that waited for a user for the request timeout.
    fn drop_stale(&mut self, now: Instant) {
        let Some(mut d) = self.pace.take() else { return };
        d.drop_stale(now, |s| self.record_dropped(s));
        self.pace = Some(d);
    }

    /// Open model, at the end: counts the slots that were due and never sent.
    fn drop_unsent(&mut self, until: Instant) {
        let Some(mut d) = self.pace.take() else { return };
        d.drop_unsent(until, |s| self.record_dropped(s));
        self.pace = Some(d);
    }

    fn record_dropped(&mut self, slot: Slot) {
        let label = self.shared.plan.requests[self.slot_request(slot)].label;
        self.stats.record_dropped(label, slot.at);
    }

    /// Fails every request that has been in flight longer than the request timeout.
    fn sweep_timeouts(&mut self, now: Instant) {
        let timeout = self.shared.request_timeout;
        for u in 0..self.users.len() {
            let user = &self.users[u];
            let in_flight = matches!(
                user.phase,
                Phase::Connecting | Phase::Handshaking | Phase::Writing | Phase::Reading
            );
            if in_flight && now.saturating_duration_since(user.sent) >= timeout {
                let _ = self.fail(u, ErrorKind::Timeout);
                self.deferred.push(u);
            }
        }
    }
}

/// Wakes the open model's loop when a slot is due, to the microsecond: `epoll_wait`'s timeout is
/// in whole milliseconds (mio rounds it up), up to a millisecond late, which would add to every
/// latency counted from the slot's time (against a fast target, more than its answer takes). A
/// timerfd in the poller, armed only when the loop is about to block past a slot; Linux only,
/// elsewhere the loop wakes with the poll timeout.
struct SlotTimer {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
    /// The time it is armed for, so that re-arming for the same slot costs no system call.
    armed: Option<Instant>,
}

impl SlotTimer {
    #[cfg(target_os = "linux")]
    fn new(registry: &Registry) -> Option<SlotTimer> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        // SAFETY: timerfd_create takes plain integers; a non-negative result is a new descriptor
        // that nothing else owns.
        let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        registry
            .register(&mut mio::unix::SourceFd(&fd.as_raw_fd()), TIMER, Interest::READABLE)
            .ok()?;
        Some(SlotTimer { fd, armed: None })
    }

    #[cfg(not(target_os = "linux"))]
    fn new(_registry: &Registry) -> Option<SlotTimer> {
        None
    }

    /// Fires at `at` (relative to `now`; Instant is CLOCK_MONOTONIC on Linux).
    fn arm(&mut self, at: Instant, now: Instant) {
        if self.armed == Some(at) {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // Zero would disarm it: a slot due now fires at once.
            let d = at.saturating_duration_since(now).max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec {
                    tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
                    tv_nsec: d.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: a valid timerfd and itimerspec; the old value is not asked for.
            unsafe {
                libc::timerfd_settime(self.fd.as_raw_fd(), 0, &raw const spec, std::ptr::null_mut());
            }
        }
        let _ = now;
        self.armed = Some(at);
    }

    /// It fired: reads the expiry count, so that the next one is a new edge.
    fn fired(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let mut ticks = 0u64;
            // SAFETY: reads 8 bytes into a u64 from a non-blocking timerfd.
            unsafe {
                libc::read(self.fd.as_raw_fd(), (&raw mut ticks).cast(), std::mem::size_of::<u64>());
            }
        }
        self.armed = None;
    }
}

/// Lets this thread's short sleeps end within 1 µs of their deadline (the default slack is
/// 50 µs), for [`NAP`].
fn set_fine_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

/// Turns on `SO_PEEK_OFF` (Linux 6.9+ for TCP), so that successive `MSG_PEEK` reads walk
/// through the received bytes instead of returning the same ones. False where unsupported: the
/// connection then reads normally.
fn enable_peek_offset(stream: &TcpStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let zero: libc::c_int = 0;
        // SAFETY: a valid socket and an option value of the size passed.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEEK_OFF,
                (&raw const zero).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        false
    }
}

/// Drops up to `len` received bytes from the socket without copying them: for TCP, Linux's
/// `MSG_TRUNC` discards the data (tcp(7)), so no buffer is passed.
#[cfg(target_os = "linux")]
fn discard(stream: &TcpStream, len: usize) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: with MSG_TRUNC the kernel copies nothing for TCP; a null buffer makes any other
    // behaviour fail with EFAULT instead of writing anywhere.
    let n = unsafe { libc::recv(stream.as_raw_fd(), std::ptr::null_mut(), len, libc::MSG_TRUNC) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Peeking is Linux-only (see [`enable_peek_offset`]), so there is never anything to discard.
#[cfg(not(target_os = "linux"))]
fn discard(_stream: &TcpStream, _len: usize) -> io::Result<usize> {
    Err(io::Error::other("peeked bytes on a platform without SO_PEEK_OFF"))
}
