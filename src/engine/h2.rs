//! A sans-IO HTTP/2 client codec (RFC 9113) for the engine's poll loop: bytes in, bytes out, no
//! sockets, no timers, no async. The driver feeds it the plaintext it read (after TLS) and
//! writes out what it appended; the codec keeps only the protocol state of one connection.
//!
//! Shaped by what a closed-model virtual user does, which is also what `h2load -m1` measures:
//! - **One stream in flight per connection.** A user sends a request and waits for its response
//!   before the next, so there is never a second stream to multiplex. That removes stream maps,
//!   priorities and per-stream buffers: the codec holds one stream's counters, and a response is
//!   complete when its END_STREAM arrives.
//! - **Large receive windows, replenished rarely.** We advertise the largest INITIAL_WINDOW_SIZE
//!   and open the connection window to the same size at once, and top them up only when half is
//!   used (so after a GiB of bodies, not per request): the server never waits for us, and no
//!   request costs a WINDOW_UPDATE frame. Bodies are never buffered, so a large window costs no
//!   memory: DATA payloads are counted and skipped in place, whatever their size.
//! - **Requests are encoded once per plan request** ([`H2Request`]): each field as a static-table
//!   index or a literal with incremental indexing. The connection's encoder (`hpack::Encoder`, a
//!   fixed ring) sends a literal the first time and its dynamic-table index after, as browsers
//!   and h2load do: the server decodes a few bytes per request, not the authority and user agent
//!   again. A block that needs CONTINUATION frames, or a server that shrinks its table, gets the
//!   stateless form (literals without indexing).
//! - **The server's dynamic table is honoured with the default 4096 bytes** (see `hpack.rs` for
//!   why): it keeps only lengths and the `:status` of each entry, in a fixed ring.
//!
//! No allocation per request: the output is the caller's buffer, a request body is a shared
//! [`Bytes`], and the only internal buffers hold a frame split across reads (never DATA, at most
//! our SETTINGS_MAX_FRAME_SIZE, left at the default 16384) and a header block continued in
//! CONTINUATION frames; both are sized by what arrived and reused.
//!
//! Errors: a connection error (protocol violation, HPACK failure, GOAWAY with an error code) is
//! sticky: every later call returns it and the driver closes the connection. Stream-level
//! outcomes (RST_STREAM, or a GOAWAY that did not take our stream) end the current request only.

use std::fmt;

use bytes::{Buf, Bytes};

use super::hpack::{self, Decoder, Kind};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
const SETTINGS_ENABLE_PUSH: u16 = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

const NO_ERROR: u32 = 0x0;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;

/// Our SETTINGS_MAX_FRAME_SIZE: the default, never raised, so a buffered frame stays small.
const MAX_FRAME: usize = 16_384;
/// Flow-control windows are at most 2^31 - 1 (RFC 9113 6.9.1).
const MAX_WINDOW: i64 = (1 << 31) - 1;
/// Our receive windows, stream (INITIAL_WINDOW_SIZE) and connection: the largest allowed.
const WINDOW: i64 = MAX_WINDOW;
/// The protocol's initial windows, until SETTINGS say otherwise.
const DEFAULT_WINDOW: i64 = 65_535;
const LAST_STREAM_ID: u32 = (1 << 31) - 1;
/// Largest response header block assembled from HEADERS + CONTINUATION frames.
const MAX_BLOCK: usize = 256 * 1024;

/// One request, encoded once per plan request.
#[derive(Debug, Clone)]
pub(crate) struct H2Request {
    /// The HPACK header block: static-table indices and literals without indexing, no Huffman.
    /// Sent when indexing is off or the block needs CONTINUATION frames.
    block: Box<[u8]>,
    /// The same fields for the connection's [`hpack::Encoder`], which sends a literal once and
    /// indexes it after (as browsers, nghttp2 and h2load do), so the server decodes a few index
    /// bytes per request instead of the authority and user agent.
    fields: Box<[hpack::ReqField]>,
    /// Tells this request's fields apart from other requests' in the encoder's table.
    id: u32,
    body: Bytes,
}

/// Ids of [`H2Request`]s, unique in the process.
static NEXT_REQUEST_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Dropped from requests: connection-specific fields are malformed in HTTP/2 (RFC 9113 8.2.2);
/// `content-length` is written by the codec from the body.
const DROPPED: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

impl H2Request {
    /// Encodes a request. Header names are lowercased; connection-specific headers are dropped
    /// (and `te` unless it is `trailers`); a `host` header becomes `:authority` (RFC 9113 8.3.1).
    /// A body, or a POST/PUT/PATCH, gets a `content-length`, as on HTTP/1.1.
    pub(crate) fn new(
        method: &str,
        scheme: &str,
        authority: &str,
        path: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<H2Request, String> {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(format!("invalid HTTP method {method:?}"));
        }
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) {
            return Err(format!("invalid URL scheme {scheme:?}"));
        }
        if !(path.starts_with('/') || path == "*") || !path.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80) {
            return Err(format!("invalid request path {path:?}"));
        }
        let mut authority = authority;
        let mut regular = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(format!("invalid header name {name:?}"));
            }
            let value = value.trim_matches([' ', '\t']);
            if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
                return Err(format!("invalid value for header {name:?}"));
            }
            if DROPPED.contains(&name.as_str()) || (name == "te" && !value.eq_ignore_ascii_case("trailers")) {
                continue;
            }
            if name == "host" {
                authority = value;
                continue;
            }
            regular.push((name, value));
        }
        if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_graphic() || b >= 0x80) {
            return Err(format!("invalid authority {authority:?}"));
        }
        let length = (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")).then(|| body.len().to_string());
        let all = [
            (":method", method),
            (":scheme", scheme),
            (":authority", authority),
            (":path", path),
        ]
        .into_iter()
        .chain(regular.iter().map(|(n, v)| (n.as_str(), *v)))
        .chain(length.as_deref().map(|l| ("content-length", l)));
        let mut block = Vec::with_capacity(32 + authority.len() + path.len());
        let mut fields = Vec::new();
        for (name, value) in all {
            hpack::encode_field(&mut block, name, value);
            fields.push(hpack::request_field(name, value));
        }
        if fields.len() > 1 << 16 {
            return Err("too many header fields".into());
        }
        Ok(H2Request {
            block: block.into_boxed_slice(),
            fields: fields.into_boxed_slice(),
            id: NEXT_REQUEST_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            body,
        })
    }
}

/// RFC 9110 5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A completed response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct H2Response {
    pub status: u16,
    /// DATA payload bytes, padding excluded.
    pub body_len: u64,
}

/// Why a request (or the connection) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum H2Error {
    /// Not processed by the server, so retriable on a new connection: a GOAWAY whose last stream
    /// id is below our stream, or RST_STREAM(REFUSED_STREAM).
    Refused,
    /// The server reset our stream with this error code.
    Reset(u32),
    /// The server closed the connection with this error code while our stream was in flight.
    GoAway(u32),
    /// The server broke the protocol (or HPACK); the connection is unusable.
    Protocol(&'static str),
}

impl fmt::Display for H2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2Error::Refused => f.write_str("HTTP/2 stream refused"),
            H2Error::Reset(code) => write!(f, "HTTP/2 stream reset (error code {code:#x})"),
            H2Error::GoAway(code) => write!(f, "HTTP/2 GOAWAY (error code {code:#x})"),
            H2Error::Protocol(what) => write!(f, "HTTP/2 protocol error: {what}"),
        }
    }
}

fn protocol(what: &'static str) -> H2Error {
    H2Error::Protocol(what)
}

/// Where the receive side is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rx {
    /// Reading a 9-byte frame header.
    Head,
    /// A non-DATA frame's payload, handled once complete (in place when it arrived whole).
    Frame { ty: u8, flags: u8, stream: u32, len: usize },
    /// A DATA payload, counted and skipped; `pad` while its pad length byte is still to come.
    Data {
        left: usize,
        pad: bool,
        end: bool,
        current: bool,
    },
    /// An unknown frame type's payload, ignored (RFC 9113 5.5).
    Skip { left: usize },
}

/// The current stream's response, by what has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No final (non-1xx) HEADERS yet.
    Head,
    /// Final HEADERS seen: DATA, then maybe trailers.
    Body,
}

/// A HEADERS frame without END_HEADERS: its block continues in CONTINUATION frames.
#[derive(Debug, Clone, Copy)]
struct Continuing {
    stream: u32,
    end_stream: bool,
}

/// One HTTP/2 connection's client side, one stream at a time.
pub(crate) struct H2Client {
    hpack: Decoder,
    encoder: hpack::Encoder,
    head: [u8; 9],
    head_len: usize,
    rx: Rx,
    /// A non-DATA frame's payload split across reads.
    frame: Vec<u8>,
    /// A header block continued in CONTINUATION frames.
    block: Vec<u8>,
    continuing: Option<Continuing>,
    /// The server's preface (a SETTINGS frame) arrived.
    preface: bool,
    /// What the server may still send us (connection, current stream).
    recv_conn: i64,
    recv_stream: i64,
    /// What we may still send (connection, current stream); the stream's can go negative when
    /// the server lowers INITIAL_WINDOW_SIZE.
    send_conn: i64,
    send_stream: i64,
    peer_initial_window: i64,
    peer_max_frame: usize,
    peer_max_streams: u32,
    next_stream: u32,
    /// The current (or last) stream's id.
    stream: u32,
    open: bool,
    phase: Phase,
    status: u16,
    body_len: u64,
    /// The part of the request body not sent yet.
    pending: Bytes,
    end_stream_sent: bool,
    goaway: bool,
    dead: Option<H2Error>,
    /// How the current stream ended during this call to `received`.
    outcome: Option<Result<H2Response, H2Error>>,
}

fn frame_head(out: &mut Vec<u8>, len: usize, ty: u8, flags: u8, stream: u32) {
    let len = len as u32;
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn window_update(out: &mut Vec<u8>, stream: u32, increment: i64) {
    frame_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment as u32).to_be_bytes());
}

impl H2Client {
    /// Starts a connection: appends the client preface, our SETTINGS (no push, the largest
    /// stream window) and a WINDOW_UPDATE opening the connection window as wide.
    pub(crate) fn new(out: &mut Vec<u8>) -> H2Client {
        out.extend_from_slice(PREFACE);
        frame_head(out, 12, SETTINGS, 0, 0);
        for (id, value) in [
            (SETTINGS_ENABLE_PUSH, 0u32),
            (SETTINGS_INITIAL_WINDOW_SIZE, WINDOW as u32),
        ] {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&value.to_be_bytes());
        }
        window_update(out, 0, WINDOW - DEFAULT_WINDOW);
        H2Client {
            hpack: Decoder::new(hpack::TABLE_SIZE),
            encoder: hpack::Encoder::new(),
            head: [0; 9],
            head_len: 0,
            rx: Rx::Head,
            frame: Vec::new(),
            block: Vec::new(),
            continuing: None,
            preface: false,
            recv_conn: WINDOW,
            recv_stream: WINDOW,
            send_conn: DEFAULT_WINDOW,
            send_stream: DEFAULT_WINDOW,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame: MAX_FRAME,
            peer_max_streams: u32::MAX,
            next_stream: 1,
            stream: 0,
            open: false,
            phase: Phase::Head,
            status: 0,
            body_len: 0,
            pending: Bytes::new(),
            end_stream_sent: true,
            goaway: false,
            dead: None,
            outcome: None,
        }
    }

    /// A new stream may be opened: no GOAWAY, no connection error, stream ids left, and the
    /// server allows a stream. When false, the driver opens a new connection.
    pub(crate) fn can_send(&self) -> bool {
        self.dead.is_none() && !self.goaway && self.next_stream <= LAST_STREAM_ID && self.peer_max_streams > 0
    }

    /// A request was sent and its response has not completed (the driver tracks this itself).
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> bool {
        self.open
    }

    /// Opens the next stream with `req`: HEADERS (and CONTINUATION beyond the server's frame
    /// size), then as much of the body as the windows allow; the rest follows from
    /// [`received`](Self::received) as WINDOW_UPDATEs arrive.
    pub(crate) fn send(&mut self, req: &H2Request, out: &mut Vec<u8>) -> Result<(), H2Error> {
        if let Some(e) = self.dead {
            return Err(e);
        }
        if self.open {
            return Err(protocol("a request is already in flight"));
        }
        if !self.can_send() {
            return Err(H2Error::Refused);
        }
        let id = self.next_stream;
        self.next_stream += 2;
        self.stream = id;
        self.open = true;
        self.phase = Phase::Head;
        self.status = 0;
        self.body_len = 0;
        self.recv_stream = WINDOW;
        self.send_stream = self.peer_initial_window;
        self.end_stream_sent = req.body.is_empty();

        let max = self.peer_max_frame;
        // Indexed, a block is never longer than the literal one plus a size update and a byte
        // per field (a name index re-encoded with another prefix).
        if req.block.len() + req.fields.len() + 8 <= max {
            let flags = END_HEADERS | if self.end_stream_sent { END_STREAM } else { 0 };
            let at = out.len();
            frame_head(out, 0, HEADERS, flags, id);
            let start = out.len();
            for (i, field) in req.fields.iter().enumerate() {
                self.encoder.encode(out, req.id << 16 | i as u32, field);
            }
            let len = (out.len() - start) as u32;
            out[at..at + 3].copy_from_slice(&len.to_be_bytes()[1..]);
            self.pending = req.body.clone();
            self.flush_body(out);
            return Ok(());
        }
        let (first, mut rest) = req.block.split_at(req.block.len().min(max));
        let mut flags = if self.end_stream_sent { END_STREAM } else { 0 };
        if rest.is_empty() {
            flags |= END_HEADERS;
        }
        frame_head(out, first.len(), HEADERS, flags, id);
        out.extend_from_slice(first);
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(rest.len().min(max));
            frame_head(
                out,
                chunk.len(),
                CONTINUATION,
                if tail.is_empty() { END_HEADERS } else { 0 },
                id,
            );
            out.extend_from_slice(chunk);
            rest = tail;
        }
        self.pending = req.body.clone();
        self.flush_body(out);
        Ok(())
    }

    /// Sends what the windows allow of the pending body; END_STREAM on its last frame.
    fn flush_body(&mut self, out: &mut Vec<u8>) {
        while self.open && !self.end_stream_sent {
            let window = self.send_conn.min(self.send_stream);
            if window <= 0 {
                return;
            }
            let n = self.pending.len().min(window as usize).min(self.peer_max_frame);
            let last = n == self.pending.len();
            frame_head(out, n, DATA, if last { END_STREAM } else { 0 }, self.stream);
            out.extend_from_slice(&self.pending[..n]);
            self.pending.advance(n);
            self.send_conn -= n as i64;
            self.send_stream -= n as i64;
            self.end_stream_sent = last;
        }
    }

    /// Feeds received plaintext, in any split. Answers SETTINGS and PING, applies
    /// WINDOW_UPDATE (sending more body), and returns the current stream's response once its
    /// END_STREAM arrives. All of `input` is consumed: with one stream, what follows a response
    /// can only be connection frames; a connection error found there is returned by the next
    /// call (the response is not lost).
    pub(crate) fn received(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Option<H2Response>, H2Error> {
        if let Some(e) = self.dead {
            return Err(e);
        }
        let result = self.process(input, out);
        if let Err(e) = result {
            self.dead = Some(e);
            self.open = false;
        }
        match (self.outcome.take(), result) {
            (Some(Ok(response)), _) => Ok(Some(response)),
            (Some(Err(e)), _) | (None, Err(e)) => Err(e),
            (None, Ok(())) => Ok(None),
        }
    }

    fn process(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), H2Error> {
        while !input.is_empty() {
            match self.rx {
                Rx::Head => {
                    let n = (9 - self.head_len).min(input.len());
                    self.head[self.head_len..self.head_len + n].copy_from_slice(&input[..n]);
                    self.head_len += n;
                    input = &input[n..];
                    if self.head_len == 9 {
                        self.head_len = 0;
                        self.start_frame(out)?;
                    }
                }
                Rx::Frame { ty, flags, stream, len } => {
                    if self.frame.is_empty() && input.len() >= len {
                        let (payload, rest) = input.split_at(len);
                        input = rest;
                        self.rx = Rx::Head;
                        self.frame_done(ty, flags, stream, payload, out)?;
                    } else {
                        if self.frame.is_empty() {
                            self.frame.reserve_exact(len);
                        }
                        let n = (len - self.frame.len()).min(input.len());
                        self.frame.extend_from_slice(&input[..n]);
                        input = &input[n..];
                        if self.frame.len() == len {
                            self.rx = Rx::Head;
                            let payload = std::mem::take(&mut self.frame);
                            let r = self.frame_done(ty, flags, stream, &payload, out);
                            self.frame = payload;
                            self.frame.clear();
                            r?;
                        }
                    }
                }
                Rx::Data {
                    mut left,
                    mut pad,
                    end,
                    current,
                } => {
                    if pad {
                        let pad_len = input[0] as usize;
                        input = &input[1..];
                        left -= 1;
                        pad = false;
                        if pad_len > left {
                            return Err(protocol("DATA padding longer than the frame"));
                        }
                        if current {
                            self.body_len = self.body_len.saturating_sub(pad_len as u64 + 1);
                        }
                    }
                    let n = left.min(input.len());
                    input = &input[n..];
                    left -= n;
                    if left > 0 {
                        self.rx = Rx::Data {
                            left,
                            pad,
                            end,
                            current,
                        };
                    } else {
                        self.rx = Rx::Head;
                        if end && current {
                            self.remote_end(out);
                        }
                    }
                }
                Rx::Skip { left } => {
                    let n = left.min(input.len());
                    input = &input[n..];
                    self.rx = if left == n {
                        Rx::Head
                    } else {
                        Rx::Skip { left: left - n }
                    };
                }
            }
        }
        Ok(())
    }

    /// A frame header is complete: check it and decide how its payload is read.
    fn start_frame(&mut self, out: &mut Vec<u8>) -> Result<(), H2Error> {
        let h = self.head;
        let len = (h[0] as usize) << 16 | (h[1] as usize) << 8 | h[2] as usize;
        let (ty, flags) = (h[3], h[4]);
        let stream = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & LAST_STREAM_ID;
        if len > MAX_FRAME {
            return Err(protocol("frame larger than our SETTINGS_MAX_FRAME_SIZE"));
        }
        if !self.preface {
            if ty != SETTINGS || flags & ACK != 0 {
                return Err(protocol("the server's preface is not a SETTINGS frame"));
            }
            self.preface = true;
        }
        if let Some(c) = self.continuing {
            if ty != CONTINUATION || stream != c.stream {
                return Err(protocol("a header block is interrupted by another frame"));
            }
        }
        match ty {
            DATA => self.start_data(len, flags, stream, out),
            HEADERS | PRIORITY | RST_STREAM | SETTINGS | PING | GOAWAY | WINDOW_UPDATE | CONTINUATION => {
                if len == 0 {
                    self.frame_done(ty, flags, stream, &[], out)
                } else {
                    self.rx = Rx::Frame { ty, flags, stream, len };
                    Ok(())
                }
            }
            PUSH_PROMISE => Err(protocol("PUSH_PROMISE while push is disabled")),
            _ => {
                if len > 0 {
                    self.rx = Rx::Skip { left: len };
                }
                Ok(())
            }
        }
    }

    /// Whether `stream` is one we opened before (and so may still get late frames for).
    fn was_opened(&self, stream: u32) -> bool {
        stream % 2 == 1 && stream < self.next_stream
    }

    fn start_data(&mut self, len: usize, flags: u8, stream: u32, out: &mut Vec<u8>) -> Result<(), H2Error> {
        if stream == 0 {
            return Err(protocol("DATA on stream 0"));
        }
        let pad = flags & PADDED != 0;
        if pad && len == 0 {
            return Err(protocol("padded DATA without its pad length"));
        }
        if len as i64 > self.recv_conn {
            return Err(protocol("DATA beyond the connection window"));
        }
        self.recv_conn -= len as i64;
        let current = self.open && stream == self.stream;
        let end = flags & END_STREAM != 0;
        if current {
            if self.phase != Phase::Body {
                return Err(protocol("DATA before the response headers"));
            }
            if len as i64 > self.recv_stream {
                return Err(protocol("DATA beyond the stream window"));
            }
            self.recv_stream -= len as i64;
            self.body_len += len as u64;
            if !end && self.recv_stream < WINDOW / 2 {
                window_update(out, stream, WINDOW - self.recv_stream);
                self.recv_stream = WINDOW;
            }
        } else if !self.was_opened(stream) {
            return Err(protocol("DATA on a stream never opened"));
        }
        // DATA on a stream we left still counts against the connection window.
        if self.recv_conn < WINDOW / 2 {
            window_update(out, 0, WINDOW - self.recv_conn);
            self.recv_conn = WINDOW;
        }
        if len == 0 {
            if end && current {
                self.remote_end(out);
            }
        } else {
            self.rx = Rx::Data {
                left: len,
                pad,
                end,
                current,
            };
        }
        Ok(())
    }

    /// The server ended the current stream: the response is complete.
    fn remote_end(&mut self, out: &mut Vec<u8>) {
        if !self.end_stream_sent {
            // Answered before the whole body went out (RFC 9113 8.1): stop sending it.
            frame_head(out, 4, RST_STREAM, 0, self.stream);
            out.extend_from_slice(&CANCEL.to_be_bytes());
            self.pending = Bytes::new();
            self.end_stream_sent = true;
        }
        self.open = false;
        self.outcome = Some(Ok(H2Response {
            status: self.status,
            body_len: self.body_len,
        }));
    }

    /// The current stream ends without a response.
    fn stream_failed(&mut self, e: H2Error) {
        self.open = false;
        self.pending = Bytes::new();
        self.end_stream_sent = true;
        self.outcome = Some(Err(e));
    }

    fn frame_done(&mut self, ty: u8, flags: u8, stream: u32, payload: &[u8], out: &mut Vec<u8>) -> Result<(), H2Error> {
        match ty {
            HEADERS => {
                if stream == 0 {
                    return Err(protocol("HEADERS on stream 0"));
                }
                let mut fragment = payload;
                if flags & PADDED != 0 {
                    let (&pad, rest) = fragment
                        .split_first()
                        .ok_or(protocol("padded HEADERS without its pad length"))?;
                    let keep = rest
                        .len()
                        .checked_sub(pad as usize)
                        .ok_or(protocol("HEADERS padding longer than the frame"))?;
                    fragment = &rest[..keep];
                }
                if flags & PRIORITY_FLAG != 0 {
                    fragment = fragment
                        .get(5..)
                        .ok_or(protocol("HEADERS too short for its priority"))?;
                }
                let end_stream = flags & END_STREAM != 0;
                if flags & END_HEADERS != 0 {
                    self.header_block(stream, end_stream, fragment, out)
                } else {
                    self.block.clear();
                    self.block.extend_from_slice(fragment);
                    self.continuing = Some(Continuing { stream, end_stream });
                    Ok(())
                }
            }
            CONTINUATION => {
                let c = self.continuing.ok_or(protocol("CONTINUATION without HEADERS"))?;
                if self.block.len() + payload.len() > MAX_BLOCK {
                    return Err(protocol("response header block too large"));
                }
                self.block.extend_from_slice(payload);
                if flags & END_HEADERS == 0 {
                    return Ok(());
                }
                self.continuing = None;
                let block = std::mem::take(&mut self.block);
                let r = self.header_block(c.stream, c.end_stream, &block, out);
                self.block = block;
                self.block.clear();
                r
            }
            PRIORITY => {
                if stream == 0 {
                    return Err(protocol("PRIORITY on stream 0"));
                }
                Ok(())
            }
            RST_STREAM => {
                if stream == 0 || payload.len() != 4 {
                    return Err(protocol("malformed RST_STREAM"));
                }
                let code = u32_at(payload, 0);
                if self.open && stream == self.stream {
                    self.stream_failed(if code == REFUSED_STREAM {
                        H2Error::Refused
                    } else {
                        H2Error::Reset(code)
                    });
                } else if !self.was_opened(stream) {
                    return Err(protocol("RST_STREAM on a stream never opened"));
                }
                Ok(())
            }
            SETTINGS => self.settings(flags, stream, payload, out),
            PING => {
                if stream != 0 || payload.len() != 8 {
                    return Err(protocol("malformed PING"));
                }
                if flags & ACK == 0 {
                    frame_head(out, 8, PING, ACK, 0);
                    out.extend_from_slice(payload);
                }
                Ok(())
            }
            GOAWAY => {
                if stream != 0 || payload.len() < 8 {
                    return Err(protocol("malformed GOAWAY"));
                }
                let last = u32_at(payload, 0) & LAST_STREAM_ID;
                let code = u32_at(payload, 4);
                self.goaway = true;
                if self.open {
                    if self.stream > last {
                        self.stream_failed(H2Error::Refused);
                    } else if code != NO_ERROR {
                        return Err(H2Error::GoAway(code));
                    }
                    // Else a graceful shutdown: our stream still completes.
                }
                Ok(())
            }
            WINDOW_UPDATE => {
                if payload.len() != 4 {
                    return Err(protocol("malformed WINDOW_UPDATE"));
                }
                let increment = (u32_at(payload, 0) & LAST_STREAM_ID) as i64;
                if stream == 0 {
                    if increment == 0 {
                        return Err(protocol("WINDOW_UPDATE of 0"));
                    }
                    self.send_conn += increment;
                    if self.send_conn > MAX_WINDOW {
                        return Err(protocol("connection window above 2^31-1"));
                    }
                } else if self.open && stream == self.stream {
                    if increment == 0 {
                        return Err(protocol("WINDOW_UPDATE of 0"));
                    }
                    self.send_stream += increment;
                    if self.send_stream > MAX_WINDOW {
                        return Err(protocol("stream window above 2^31-1"));
                    }
                }
                self.flush_body(out);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn settings(&mut self, flags: u8, stream: u32, payload: &[u8], out: &mut Vec<u8>) -> Result<(), H2Error> {
        if stream != 0 {
            return Err(protocol("SETTINGS on a stream"));
        }
        if flags & ACK != 0 {
            return if payload.is_empty() {
                Ok(())
            } else {
                Err(protocol("SETTINGS ACK with a payload"))
            };
        }
        if !payload.len().is_multiple_of(6) {
            return Err(protocol("SETTINGS length not a multiple of 6"));
        }
        for s in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([s[0], s[1]]);
            let value = u32_at(s, 2);
            match id {
                SETTINGS_ENABLE_PUSH if value != 0 => return Err(protocol("a server set ENABLE_PUSH")),
                SETTINGS_MAX_CONCURRENT_STREAMS => self.peer_max_streams = value,
                SETTINGS_INITIAL_WINDOW_SIZE => {
                    let value = value as i64;
                    if value > MAX_WINDOW {
                        return Err(protocol("INITIAL_WINDOW_SIZE above 2^31-1"));
                    }
                    if self.open {
                        self.send_stream += value - self.peer_initial_window;
                        if self.send_stream > MAX_WINDOW {
                            return Err(protocol("stream window above 2^31-1"));
                        }
                    }
                    self.peer_initial_window = value;
                }
                SETTINGS_MAX_FRAME_SIZE => {
                    if !(16_384..=16_777_215).contains(&value) {
                        return Err(protocol("MAX_FRAME_SIZE out of range"));
                    }
                    self.peer_max_frame = value as usize;
                }
                SETTINGS_HEADER_TABLE_SIZE => self.encoder.set_max(value as usize),
                // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
                _ => {}
            }
        }
        frame_head(out, 0, SETTINGS, ACK, 0);
        self.flush_body(out);
        Ok(())
    }

    /// A complete header block on `stream`. It is always decoded, even for a stream we left,
    /// to keep the dynamic table in step with the server's.
    fn header_block(&mut self, stream: u32, end_stream: bool, block: &[u8], out: &mut Vec<u8>) -> Result<(), H2Error> {
        let status = response_status(&mut self.hpack, block)?;
        if !(self.open && stream == self.stream) {
            return if self.was_opened(stream) {
                Ok(())
            } else {
                Err(protocol("HEADERS on a stream never opened"))
            };
        }
        match self.phase {
            Phase::Head => {
                let status = status.ok_or(protocol("response without :status"))?;
                if status < 200 {
                    if status == 101 {
                        return Err(protocol("101 Switching Protocols in HTTP/2"));
                    }
                    if end_stream {
                        return Err(protocol("an informational response ends the stream"));
                    }
                    // 1xx: the final response follows in another HEADERS.
                    return Ok(());
                }
                self.status = status;
                self.phase = Phase::Body;
            }
            Phase::Body => {
                if !end_stream {
                    return Err(protocol("trailers without END_STREAM"));
                }
                if status.is_some() {
                    return Err(protocol(":status in trailers"));
                }
            }
        }
        if end_stream {
            self.remote_end(out);
        }
        Ok(())
    }
}

/// Decodes a response block: its `:status` if any (at most one, before regular fields; no other
/// pseudo-header). Any failure is a connection error: HPACK state is shared by all streams.
fn response_status(hpack: &mut Decoder, block: &[u8]) -> Result<Option<u16>, H2Error> {
    let mut status = None;
    let mut regular = false;
    hpack
        .decode(block, |field| match field.kind {
            Kind::Regular => {
                regular = true;
                Ok(())
            }
            Kind::Status(_) if regular => Err("pseudo-header after a regular field"),
            Kind::Status(s) => match status.replace(s) {
                None => Ok(()),
                Some(_) => Err("more than one :status"),
            },
            Kind::BadStatus => Err(":status is not a 3-digit code"),
            Kind::Pseudo => Err("a request pseudo-header in a response"),
        })
        .map_err(H2Error::Protocol)?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::hpack::tests::huffman_encode;
    use rand::{Rng, SeedableRng};

    type Frame = (u8, u8, u32, Vec<u8>);

    fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame_head(&mut out, payload.len(), ty, flags, stream);
        out.extend_from_slice(payload);
        out
    }

    fn settings(values: &[(u16, u32)]) -> Vec<u8> {
        let mut p = Vec::new();
        for (id, v) in values {
            p.extend_from_slice(&id.to_be_bytes());
            p.extend_from_slice(&v.to_be_bytes());
        }
        frame(SETTINGS, 0, 0, &p)
    }

    /// A response header block: `:status` as a literal (Huffman-coded) unless the static table
    /// has it, then a few regular fields.
    fn status_block(status: &str) -> Vec<u8> {
        let mut b = Vec::new();
        hpack::encode_field(&mut b, ":status", status);
        let v = huffman_encode(b"nginx");
        b.push(0x0f);
        b.push(54 - 15); // server, literal without indexing
        b.push(0x80 | v.len() as u8);
        b.extend_from_slice(&v);
        hpack::encode_field(&mut b, "content-type", "text/plain");
        b
    }

    /// Splits the codec's output into frames (after the client preface, if there).
    fn frames(mut out: &[u8]) -> Vec<Frame> {
        if out.starts_with(PREFACE) {
            out = &out[PREFACE.len()..];
        }
        let mut v = Vec::new();
        while !out.is_empty() {
            let len = (out[0] as usize) << 16 | (out[1] as usize) << 8 | out[2] as usize;
            let stream = u32::from_be_bytes([out[5], out[6], out[7], out[8]]);
            v.push((out[3], out[4], stream, out[9..9 + len].to_vec()));
            out = &out[9 + len..];
        }
        v
    }

    fn get() -> H2Request {
        H2Request::new("GET", "https", "example.com", "/", &[], Bytes::new()).unwrap()
    }

    /// A client past its handshake (server SETTINGS seen), with its output cleared.
    fn connected() -> (H2Client, Vec<u8>) {
        let mut out = Vec::new();
        let mut c = H2Client::new(&mut out);
        assert_eq!(c.received(&settings(&[]), &mut out), Ok(None));
        out.clear();
        (c, out)
    }

    fn respond(
        c: &mut H2Client,
        out: &mut Vec<u8>,
        stream: u32,
        status: &str,
        body: &[u8],
    ) -> Result<Option<H2Response>, H2Error> {
        let mut input = frame(HEADERS, END_HEADERS, stream, &status_block(status));
        input.extend(frame(DATA, END_STREAM, stream, body));
        c.received(&input, out)
    }

    #[test]
    fn preface_settings_and_window() {
        let mut out = Vec::new();
        let c = H2Client::new(&mut out);
        assert!(out.starts_with(PREFACE));
        let f = frames(&out);
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].0, f[0].1, f[0].2), (SETTINGS, 0, 0));
        assert_eq!(f[0].3, [0, 2, 0, 0, 0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff]);
        assert_eq!((f[1].0, f[1].2), (WINDOW_UPDATE, 0));
        assert_eq!(u32_at(&f[1].3, 0) as i64 + DEFAULT_WINDOW, MAX_WINDOW);
        assert!(c.can_send() && !c.in_flight());
    }

    #[test]
    fn get_with_acks_and_many_requests_on_one_connection() {
        let mut out = Vec::new();
        let mut c = H2Client::new(&mut out);
        out.clear();
        c.send(&get(), &mut out).unwrap();
        let f = frames(&out);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].0, f[0].1, f[0].2), (HEADERS, END_HEADERS | END_STREAM, 1));
        assert!(c.in_flight());
        out.clear();
        let mut input = settings(&[
            (SETTINGS_MAX_CONCURRENT_STREAMS, 100),
            (SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20),
        ]);
        input.extend(frame(PING, 0, 0, b"12345678"));
        input.extend(frame(SETTINGS, ACK, 0, &[]));
        input.extend(frame(HEADERS, END_HEADERS, 1, &status_block("200")));
        input.extend(frame(DATA, 0, 1, b"hello "));
        input.extend(frame(DATA, END_STREAM, 1, b"world"));
        let r = c.received(&input, &mut out).unwrap();
        assert_eq!(
            r,
            Some(H2Response {
                status: 200,
                body_len: 11
            })
        );
        assert!(!c.in_flight());
        let f = frames(&out);
        assert_eq!(f[0], (SETTINGS, ACK, 0, vec![]));
        assert_eq!(f[1], (PING, ACK, 0, b"12345678".to_vec()));
        assert_eq!(f.len(), 2, "no WINDOW_UPDATE per response: {f:?}");
        for i in 1..1000u32 {
            out.clear();
            c.send(&get(), &mut out).unwrap();
            assert_eq!(frames(&out)[0].2, 2 * i + 1);
            out.clear();
            let status = ["200", "404", "503"][i as usize % 3];
            let r = respond(&mut c, &mut out, 2 * i + 1, status, b"x").unwrap().unwrap();
            assert_eq!(r.status.to_string(), status);
            assert!(out.is_empty());
        }
    }

    /// A server byte stream exercising padding, priority, CONTINUATION, 1xx, trailers and
    /// connection frames, for the response to stream `stream`.
    fn rich_response(stream: u32) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(frame(PING, 0, 0, b"pingpong"));
        // 103 Early Hints, padded and with priority.
        let mut p = vec![3u8];
        p.extend_from_slice(&[0, 0, 0, 0, 16]);
        p.extend(status_block("103"));
        p.extend_from_slice(&[0, 0, 0]);
        s.extend(frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, stream, &p));
        // Final headers split over HEADERS + 2 CONTINUATION.
        let block = status_block("201");
        s.extend(frame(HEADERS, 0, stream, &block[..2]));
        s.extend(frame(CONTINUATION, 0, stream, &block[2..5]));
        s.extend(frame(CONTINUATION, END_HEADERS, stream, &block[5..]));
        s.extend(frame(0xfa, 0x3, stream, b"unknown frame type")); // ignored
        s.extend(frame(PRIORITY, 0, stream, &[0, 0, 0, 0, 7]));
        let mut d = vec![4u8];
        d.extend_from_slice(b"0123456789");
        d.extend_from_slice(&[0; 4]);
        s.extend(frame(DATA, PADDED, stream, &d));
        s.extend(frame(WINDOW_UPDATE, 0, 0, &100u32.to_be_bytes()));
        s.extend(frame(DATA, 0, stream, &[7; 1000]));
        s.extend(frame(DATA, PADDED, stream, &[0]));
        let mut trailers = Vec::new();
        hpack::encode_field(&mut trailers, "grpc-status", "0");
        s.extend(frame(HEADERS, END_HEADERS | END_STREAM, stream, &trailers));
        s.extend(frame(SETTINGS, ACK, 0, &[]));
        s
    }

    #[test]
    fn random_splits_of_a_rich_stream_give_the_same_response() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9113);
        for _ in 0..300 {
            let (mut c, mut out) = connected();
            for i in 0..3u32 {
                let stream = 2 * i + 1;
                c.send(&get(), &mut out).unwrap();
                out.clear();
                let input = rich_response(stream);
                let mut got = None;
                let mut at = 0;
                while at < input.len() {
                    let n = rng.random_range(1..=input.len() - at).min(rng.random_range(1..40));
                    if let Some(r) = c.received(&input[at..at + n], &mut out).unwrap() {
                        assert!(got.is_none());
                        got = Some(r);
                    }
                    at += n;
                }
                assert_eq!(
                    got,
                    Some(H2Response {
                        status: 201,
                        body_len: 1010
                    })
                );
                assert_eq!(frames(&out), vec![(PING, ACK, 0, b"pingpong".to_vec())]);
                out.clear();
            }
        }
    }

    #[test]
    fn window_updates_unblock_a_large_body() {
        let (mut c, mut out) = connected();
        let body: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let req = H2Request::new(
            "POST",
            "https",
            "example.com",
            "/upload",
            &[],
            Bytes::from(body.clone()),
        )
        .unwrap();
        c.send(&req, &mut out).unwrap();
        let mut sent = Vec::new();
        let mut ended = false;
        let mut take = |out: &mut Vec<u8>, sent: &mut Vec<u8>, max: usize| {
            for (ty, flags, stream, p) in frames(out) {
                if ty == DATA {
                    assert_eq!(stream, 1);
                    assert!(p.len() <= max);
                    assert!(!ended);
                    ended = flags & END_STREAM != 0;
                    sent.extend(p);
                }
            }
            out.clear();
            ended
        };
        assert!(!take(&mut out, &mut sent, MAX_FRAME));
        assert_eq!(sent.len(), DEFAULT_WINDOW as usize);
        // A stream update alone does not help: the connection window is spent too.
        c.received(&frame(WINDOW_UPDATE, 0, 1, &100_000u32.to_be_bytes()), &mut out)
            .unwrap();
        assert!(!take(&mut out, &mut sent, MAX_FRAME));
        assert_eq!(sent.len(), DEFAULT_WINDOW as usize);
        c.received(&frame(WINDOW_UPDATE, 0, 0, &50_000u32.to_be_bytes()), &mut out)
            .unwrap();
        assert!(!take(&mut out, &mut sent, MAX_FRAME));
        assert_eq!(sent.len(), DEFAULT_WINDOW as usize + 50_000);
        // A larger INITIAL_WINDOW_SIZE grows the open stream's window too.
        let mut input = frame(WINDOW_UPDATE, 0, 0, &1_000_000u32.to_be_bytes());
        input.extend(settings(&[
            (SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20),
            (SETTINGS_MAX_FRAME_SIZE, 1 << 20),
        ]));
        c.received(&input, &mut out).unwrap();
        assert!(frames(&out).contains(&(SETTINGS, ACK, 0, vec![])));
        assert!(take(&mut out, &mut sent, 1 << 20));
        assert_eq!(sent, body);
        let r = respond(&mut c, &mut out, 1, "200", b"").unwrap();
        assert_eq!(
            r,
            Some(H2Response {
                status: 200,
                body_len: 0
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn an_early_response_cancels_the_rest_of_the_body() {
        let (mut c, mut out) = connected();
        let req = H2Request::new("PUT", "http", "h", "/", &[], Bytes::from(vec![0; 100_000])).unwrap();
        c.send(&req, &mut out).unwrap();
        out.clear();
        let r = respond(&mut c, &mut out, 1, "413", b"too big").unwrap();
        assert_eq!(
            r,
            Some(H2Response {
                status: 413,
                body_len: 7
            })
        );
        assert_eq!(frames(&out), vec![(RST_STREAM, 0, 1, CANCEL.to_be_bytes().to_vec())]);
        out.clear();
        // Late frames for the stream are ignored; the next stream starts clean.
        c.received(&frame(WINDOW_UPDATE, 0, 1, &1000u32.to_be_bytes()), &mut out)
            .unwrap();
        c.received(&frame(RST_STREAM, 0, 1, &[0, 0, 0, 0]), &mut out).unwrap();
        assert!(out.is_empty());
        c.send(&get(), &mut out).unwrap();
        out.clear();
        assert_eq!(respond(&mut c, &mut out, 3, "200", b"").unwrap().unwrap().status, 200);
    }

    #[test]
    fn large_header_blocks_go_out_in_continuation() {
        let (mut c, mut out) = connected();
        let headers = vec![("X-Big".to_string(), "v".repeat(40_000))];
        let req = H2Request::new("GET", "https", "example.com", "/", &headers, Bytes::new()).unwrap();
        c.send(&req, &mut out).unwrap();
        let f = frames(&out);
        let kinds: Vec<(u8, u8)> = f.iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(
            kinds,
            vec![(HEADERS, END_STREAM), (CONTINUATION, 0), (CONTINUATION, END_HEADERS)]
        );
        let block: Vec<u8> = f.iter().flat_map(|x| x.3.clone()).collect();
        assert_eq!(block, &*req.block);
        let mut names = Vec::new();
        Decoder::new(4096)
            .decode(&block, |field| {
                names.push(field.name);
                Ok(())
            })
            .unwrap();
        assert_eq!(names.len(), 5);
        assert_eq!(
            names[4],
            hpack::Text::Raw {
                bytes: b"x-big",
                huffman: false
            }
        );
    }

    #[test]
    fn requests_drop_connection_headers_and_take_host_as_authority() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let req = H2Request::new(
            "POST",
            "https",
            "example.com:8443",
            "/a?b=c",
            &h(&[
                ("Connection", "keep-alive"),
                ("Keep-Alive", "5"),
                ("Proxy-Connection", "x"),
                ("Transfer-Encoding", "chunked"),
                ("Upgrade", "h2c"),
                ("Content-Length", "99"),
                ("TE", "gzip"),
                ("te", "trailers"),
                ("Host", "virtual.example"),
                ("X-Token", " abc "),
            ]),
            Bytes::from_static(b"{}"),
        )
        .unwrap();
        let mut fields = Vec::new();
        Decoder::new(4096)
            .decode(&req.block, |f| {
                let t = |t: hpack::Text<'_>| match t {
                    hpack::Text::Static(s) => s.to_string(),
                    hpack::Text::Raw { bytes, .. } => String::from_utf8(bytes.to_vec()).unwrap(),
                    hpack::Text::Dynamic(_) => unreachable!(),
                };
                fields.push((t(f.name), t(f.value)));
                Ok(())
            })
            .unwrap();
        assert_eq!(
            fields,
            h(&[
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", "virtual.example"),
                (":path", "/a?b=c"),
                ("te", "trailers"),
                ("x-token", "abc"),
                ("content-length", "2"),
            ])
        );
        assert_eq!(&req.body[..], b"{}");
        for (method, path, headers) in [
            ("G T", "/", h(&[])),
            ("GET", "x", h(&[])),
            ("GET", "/a b", h(&[])),
            ("GET", "/", h(&[("bad name", "v")])),
            ("GET", "/", h(&[(":path", "/x")])),
            ("GET", "/", h(&[("x", "a\r\nb")])),
        ] {
            assert!(
                H2Request::new(method, "https", "h", path, &headers, Bytes::new()).is_err(),
                "{method} {path} {headers:?}"
            );
        }
    }

    #[test]
    fn goaway_refuses_streams_it_did_not_take() {
        // Our stream 3 is above the last stream id 1: refused, retriable elsewhere.
        let (mut c, mut out) = connected();
        c.send(&get(), &mut out).unwrap();
        respond(&mut c, &mut out, 1, "200", b"").unwrap();
        c.send(&get(), &mut out).unwrap();
        let goaway = |last: u32, code: u32| {
            let mut p = last.to_be_bytes().to_vec();
            p.extend_from_slice(&code.to_be_bytes());
            frame(GOAWAY, 0, 0, &p)
        };
        assert_eq!(c.received(&goaway(1, NO_ERROR), &mut out), Err(H2Error::Refused));
        assert!(!c.can_send() && !c.in_flight());
        assert_eq!(c.send(&get(), &mut out), Err(H2Error::Refused));
        // A graceful GOAWAY that took our stream lets it finish.
        let (mut c, mut out) = connected();
        c.send(&get(), &mut out).unwrap();
        assert_eq!(c.received(&goaway(1, NO_ERROR), &mut out), Ok(None));
        assert!(!c.can_send() && c.in_flight());
        assert_eq!(respond(&mut c, &mut out, 1, "200", b"ok").unwrap().unwrap().body_len, 2);
        // An error GOAWAY loses the stream and the connection.
        let (mut c, mut out) = connected();
        c.send(&get(), &mut out).unwrap();
        assert_eq!(c.received(&goaway(1, 2), &mut out), Err(H2Error::GoAway(2)));
        assert_eq!(c.received(&[], &mut out), Err(H2Error::GoAway(2)));
        // With nothing in flight, a GOAWAY only stops new streams.
        let (mut c, mut out) = connected();
        assert_eq!(c.received(&goaway(0, 2), &mut out), Ok(None));
        assert!(!c.can_send());
    }

    #[test]
    fn rst_stream_ends_only_the_stream() {
        let (mut c, mut out) = connected();
        c.send(&get(), &mut out).unwrap();
        let rst = |stream: u32, code: u32| frame(RST_STREAM, 0, stream, &code.to_be_bytes());
        assert_eq!(c.received(&rst(1, REFUSED_STREAM), &mut out), Err(H2Error::Refused));
        assert!(c.can_send() && !c.in_flight());
        c.send(&get(), &mut out).unwrap();
        // Headers arrive, then a reset: the reset wins; the table stays in step.
        let mut input = frame(HEADERS, END_HEADERS, 3, &status_block("200"));
        input.extend(rst(3, 0x2));
        assert_eq!(c.received(&input, &mut out), Err(H2Error::Reset(2)));
        c.send(&get(), &mut out).unwrap();
        assert_eq!(respond(&mut c, &mut out, 5, "200", b"").unwrap().unwrap().status, 200);
    }

    #[test]
    fn the_dynamic_table_follows_the_server_across_responses() {
        let (mut c, mut out) = connected();
        c.send(&get(), &mut out).unwrap();
        // :status 503 and a date, both inserted.
        let mut block = vec![0x48];
        let v = huffman_encode(b"503");
        block.push(0x80 | v.len() as u8);
        block.extend(v);
        block.push(0x61);
        hpack::encode_string(&mut block, b"Thu, 03 Dec 2026 06:00:00 GMT");
        let mut input = frame(HEADERS, END_HEADERS | END_STREAM, 1, &block);
        // After the response: a size update to 0 on the next block drops them.
        c.received(&input, &mut out).unwrap();
        c.send(&get(), &mut out).unwrap();
        input = frame(HEADERS, END_HEADERS | END_STREAM, 3, &[0xbf, 0xbe]);
        assert_eq!(c.received(&input, &mut out).unwrap().unwrap().status, 503);
        c.send(&get(), &mut out).unwrap();
        input = frame(HEADERS, END_HEADERS | END_STREAM, 5, &[0x20, 0xbf]);
        assert!(matches!(c.received(&input, &mut out), Err(H2Error::Protocol(_))));
    }

    #[test]
    fn an_error_after_a_response_is_returned_by_the_next_call() {
        let (mut c, mut out) = connected();
        c.send(&get(), &mut out).unwrap();
        let mut input = frame(HEADERS, END_HEADERS | END_STREAM, 1, &[0x88]);
        input.extend(frame(PING, 0, 0, b"short"));
        assert_eq!(
            c.received(&input, &mut out),
            Ok(Some(H2Response {
                status: 200,
                body_len: 0
            }))
        );
        assert!(!c.can_send());
        assert!(matches!(c.received(&[], &mut out), Err(H2Error::Protocol(_))));
        assert!(matches!(c.send(&get(), &mut out), Err(H2Error::Protocol(_))));
    }

    #[test]
    fn protocol_violations_are_connection_errors() {
        let block = |b: &[u8]| frame(HEADERS, END_HEADERS | END_STREAM, 1, b);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("DATA before HEADERS", frame(DATA, END_STREAM, 1, b"x")),
            ("oversized frame", {
                let mut f = Vec::new();
                frame_head(&mut f, MAX_FRAME + 1, DATA, 0, 1);
                f
            }),
            ("HEADERS on an idle stream", frame(HEADERS, END_HEADERS, 7, &[0x88])),
            ("HEADERS on stream 0", frame(HEADERS, END_HEADERS, 0, &[0x88])),
            ("push", frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2, 0x82])),
            ("no :status", block(&[0x5c, 0x01, b'0'])),
            ("two :status", block(&[0x88, 0x89])),
            ("pseudo after regular", block(&[0x5c, 0x01, b'0', 0x88])),
            ("request pseudo", block(&[0x88, 0x82])),
            ("bad :status", block(&[0x08, 0x02, b'2', b'0'])),
            ("101", block(&[0x08, 0x03, b'1', b'0', b'1'])),
            ("1xx with END_STREAM", block(&[0x08, 0x03, b'1', b'0', b'3'])),
            ("HPACK garbage", block(&[0xff, 0xff])),
            ("interrupted CONTINUATION", {
                let mut f = frame(HEADERS, 0, 1, &[0x88]);
                f.extend(frame(PING, 0, 0, b"12345678"));
                f
            }),
            ("CONTINUATION alone", frame(CONTINUATION, END_HEADERS, 1, &[0x88])),
            ("bad padding", frame(HEADERS, END_HEADERS | PADDED, 1, &[5, 0x88])),
            ("bad DATA padding", {
                let mut f = frame(HEADERS, END_HEADERS, 1, &[0x88]);
                f.extend(frame(DATA, PADDED, 1, &[3, 0, 0]));
                f
            }),
            ("SETTINGS on a stream", frame(SETTINGS, 0, 1, &[])),
            ("SETTINGS length", frame(SETTINGS, 0, 0, &[0, 4, 0])),
            ("SETTINGS ACK payload", frame(SETTINGS, ACK, 0, &[0; 6])),
            ("push enabled", settings(&[(SETTINGS_ENABLE_PUSH, 1)])),
            ("huge window", settings(&[(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 31)])),
            ("tiny frames", settings(&[(SETTINGS_MAX_FRAME_SIZE, 100)])),
            ("PING length", frame(PING, 0, 0, &[0; 4])),
            ("WINDOW_UPDATE 0", frame(WINDOW_UPDATE, 0, 0, &[0; 4])),
            (
                "window overflow",
                frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()),
            ),
            ("RST_STREAM idle", frame(RST_STREAM, 0, 9, &[0; 4])),
            ("GOAWAY short", frame(GOAWAY, 0, 0, &[0; 4])),
        ];
        for (what, input) in cases {
            let (mut c, mut out) = connected();
            c.send(&get(), &mut out).unwrap();
            let r = c.received(&input, &mut out);
            assert!(matches!(r, Err(H2Error::Protocol(_))), "{what}: {r:?}");
            assert!(!c.can_send() && !c.in_flight(), "{what}");
            assert_eq!(c.received(&[], &mut out), r, "{what}: sticky");
        }
        // The server's first frame must be SETTINGS.
        let mut out = Vec::new();
        let mut c = H2Client::new(&mut out);
        assert!(matches!(
            c.received(&frame(PING, 0, 0, &[0; 8]), &mut out),
            Err(H2Error::Protocol(_))
        ));
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        let valid = {
            let mut s = settings(&[(SETTINGS_MAX_FRAME_SIZE, 20_000)]);
            s.extend(rich_response(1));
            s
        };
        for round in 0..5_000 {
            let mut out = Vec::new();
            let mut c = H2Client::new(&mut out);
            c.send(&get(), &mut out).unwrap();
            let mut input = valid.clone();
            match round % 3 {
                0 => input.truncate(rng.random_range(0..input.len())),
                1 => {
                    for _ in 0..rng.random_range(1..8) {
                        let i = rng.random_range(0..input.len());
                        input[i] = rng.random();
                    }
                }
                _ => {
                    let keep = rng.random_range(0..input.len());
                    input.truncate(keep);
                    input.extend((0..rng.random_range(0..200)).map(|_| rng.random::<u8>()));
                }
            }
            let mut at = 0;
            while at < input.len() {
                let n = rng.random_range(1..=input.len() - at);
                if c.received(&input[at..at + n], &mut out).is_err() {
                    break;
                }
                at += n;
            }
            let _ = c.send(&get(), &mut out);
        }
    }
}

/// The codec against a real HTTP/2 server: hyper's, over cleartext TCP with prior knowledge
/// (what the codec sees after TLS is the same byte stream), driven by a blocking socket.
#[cfg(test)]
mod real_peer {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    /// Routes: `/` 200 "hello"; `/missing` 404; `/busy` 503; `/teapot` 418; `/big` 1 MB;
    /// `/bighead` a 40 KB response header (CONTINUATION); POST `/echo` echoes the body.
    async fn handle(req: hyper::Request<hyper::body::Incoming>) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
        let path = req.uri().path().to_string();
        let (status, body, big_header) = match path.as_str() {
            "/" => (200, Bytes::from_static(b"hello"), false),
            "/missing" => (404, Bytes::from_static(b"not here"), false),
            "/busy" => (503, Bytes::from_static(b"busy"), false),
            "/teapot" => (418, Bytes::new(), false),
            "/big" => (200, Bytes::from(vec![b'x'; 1 << 20]), false),
            "/bighead" => (200, Bytes::from_static(b"h"), true),
            "/echo" => (200, req.into_body().collect().await?.to_bytes(), false),
            _ => (400, Bytes::new(), false),
        };
        let mut resp = hyper::Response::new(Full::new(body));
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
        if big_header {
            resp.headers_mut()
                .insert("x-big", http::HeaderValue::from_str(&"y".repeat(40_000)).unwrap());
        }
        Ok(resp)
    }

    /// Starts the server on its own thread; it lives until the test process ends.
    fn server() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (tcp, _) = listener.accept().await.unwrap();
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                            // Small windows, so a 200 KB upload needs the server's WINDOW_UPDATEs.
                            .initial_stream_window_size(65_535)
                            .initial_connection_window_size(65_535)
                            .adaptive_window(false)
                            .max_header_list_size(1 << 20)
                            .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(handle))
                            .await;
                    });
                }
            });
        });
        addr
    }

    struct Conn {
        sock: TcpStream,
        codec: H2Client,
        out: Vec<u8>,
        buf: Vec<u8>,
    }

    impl Conn {
        fn open(addr: SocketAddr) -> Conn {
            let sock = TcpStream::connect(addr).unwrap();
            sock.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let mut out = Vec::new();
            let codec = H2Client::new(&mut out);
            Conn {
                sock,
                codec,
                out,
                buf: vec![0; 8192],
            }
        }

        fn exchange(&mut self, req: &H2Request) -> Result<H2Response, H2Error> {
            self.codec.send(req, &mut self.out)?;
            loop {
                self.sock.write_all(&self.out).unwrap();
                self.out.clear();
                let n = self.sock.read(&mut self.buf).unwrap();
                assert!(n > 0, "server closed the connection");
                let r = self.codec.received(&self.buf[..n], &mut self.out);
                if let Some(resp) = r? {
                    self.sock.write_all(&self.out).unwrap();
                    self.out.clear();
                    return Ok(resp);
                }
            }
        }
    }

    fn request(method: &str, path: &str, body: Vec<u8>) -> H2Request {
        let headers = vec![("User-Agent".to_string(), "h2-codec-test".to_string())];
        H2Request::new(method, "http", "localhost", path, &headers, Bytes::from(body)).unwrap()
    }

    #[test]
    fn statuses_bodies_and_flow_control_against_hyper() {
        let addr = server();
        let mut c = Conn::open(addr);
        let get = request("GET", "/", vec![]);
        // Upload beyond the server's 64 KB windows, download far beyond ours at rest.
        let upload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let post = request("POST", "/echo", upload);
        let cases = [
            (get.clone(), 200, 5),
            (request("GET", "/missing", vec![]), 404, 8),
            (request("GET", "/busy", vec![]), 503, 4),
            (request("GET", "/teapot", vec![]), 418, 0),
            (post.clone(), 200, 200_000),
            (request("GET", "/big", vec![]), 200, 1 << 20),
            (request("GET", "/bighead", vec![]), 200, 1),
        ];
        for (req, status, body_len) in &cases {
            let expected = H2Response {
                status: *status,
                body_len: *body_len,
            };
            assert_eq!(c.exchange(req), Ok(expected));
        }
        // Many requests on the one connection, statuses interleaved (the server's dynamic table
        // is reused across them).
        let routes = [
            (&get, 200, 5),
            (&request("GET", "/busy", vec![]), 503, 4),
            (&post, 200, 200_000),
        ];
        for i in 0..300 {
            let (req, status, len) = routes[i % routes.len()];
            assert_eq!(c.exchange(req), Ok(H2Response { status, body_len: len }), "request {i}");
        }
        assert!(c.codec.can_send());
        // hyper indexes `date` and non-static statuses (503) and refers to them afterwards, so the
        // statuses above came through the dynamic table too.
        assert!(c.codec.hpack.table_size() > 0);
        // The same on a second connection, and the first is still usable.
        let mut c2 = Conn::open(addr);
        assert_eq!(c2.exchange(&get).map(|r| r.status), Ok(200));
        assert_eq!(c.exchange(&get).map(|r| r.status), Ok(200));
    }
}
