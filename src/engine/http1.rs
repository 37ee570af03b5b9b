//! A minimal HTTP/1.1 client connection for the hot path: writes pre-serialized request bytes,
//! parses the response head with httparse and skips the body (Content-Length, chunked or
//! close-delimited) through one reused buffer. No allocation per request.

use std::io;
use std::mem::MaybeUninit;

use httparse::Status;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const INITIAL_BUF: usize = 16 * 1024;
/// Largest response head accepted; beyond it the response is an `io` failure.
const MAX_HEAD: usize = 1024 * 1024;
const MAX_HEADERS: usize = 96;

/// A byte stream the client can run on, with a hint for plain TCP.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Called once a response is fully read, when nothing can arrive before the next request.
    /// Plain TCP drops its cached read readiness here, so the next read waits for the poller
    /// instead of first issuing a `read` that is bound to return `EAGAIN` (one syscall saved
    /// per request). Closed states are never cleared by tokio, so a FIN is not missed.
    fn idle(&self) {}
}

impl Transport for TcpStream {
    #[inline]
    fn idle(&self) {
        let _ = self.try_io(tokio::io::Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }
}

impl Transport for tokio_rustls::client::TlsStream<TcpStream> {}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A completed response: what the engine needs to count it and reuse the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    /// False when the server asked to close or the body was close-delimited.
    pub keep_alive: bool,
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// A reused keep-alive connection was closed by the server before a single byte of the
    /// response came back: the server dropped an idle connection, so the request was never
    /// processed and an idempotent one may be sent again on a new connection (RFC 9112 §9.3.1).
    Stale,
    /// Anything else: the request's outcome is unknown, it counts as an `io` failure.
    Io,
}

impl From<io::Error> for SendError {
    fn from(_: io::Error) -> Self {
        SendError::Io
    }
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct H1<S> {
    io: S,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Responses completed on this connection; 0 means fresh, so no failure is "stale".
    completed: u64,
}

impl<S: Transport> H1<S> {
    pub(crate) fn new(io: S) -> Self {
        H1 {
            io,
            buf: vec![0; INITIAL_BUF],
            pos: 0,
            len: 0,
            completed: 0,
        }
    }

    /// Sends one request and reads its whole response.
    pub(crate) async fn send(&mut self, request: &[u8], head_only: bool) -> Result<Response, SendError> {
        if self.pos == self.len {
            // Start from an empty buffer, so `len == 0` below means "no byte of this response".
            self.pos = 0;
            self.len = 0;
        }
        let reused = self.completed > 0 && self.len == 0;
        let head = match self.io.write_all(request).await {
            Ok(()) => self.read_head(head_only).await,
            Err(e) => Err(e),
        };
        let (status, keep_alive, framing) = match head {
            Ok(head) => head,
            // Nothing of a response arrived (the buffer is still empty) and the peer is gone.
            Err(e) if reused && self.len == 0 && is_closed(&e) => return Err(SendError::Stale),
            Err(_) => return Err(SendError::Io),
        };
        let keep_alive = match framing {
            Framing::Empty => keep_alive,
            Framing::Length(n) => {
                self.skip(n).await?;
                keep_alive
            }
            Framing::Chunked => {
                self.skip_chunked().await?;
                keep_alive
            }
            Framing::UntilClose => {
                self.drain_to_eof().await?;
                false
            }
        };
        if keep_alive && self.pos == self.len {
            self.io.idle();
        }
        self.completed += 1;
        Ok(Response { status, keep_alive })
    }

    async fn read_head(&mut self, head_only: bool) -> io::Result<(u16, bool, Framing)> {
        loop {
            if self.pos < self.len {
                // Uninitialized header slots: no 3 KiB memset per response.
                let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
                let mut resp = httparse::Response::new(&mut []);
                let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                    &mut resp,
                    &self.buf[self.pos..self.len],
                    &mut headers,
                );
                match parsed {
                    Ok(Status::Complete(n)) => {
                        let status = resp.code.unwrap_or(0);
                        let parsed = framing(&resp, status, head_only);
                        self.pos += n;
                        // Interim responses (100 Continue, 103 Early Hints) precede the real one.
                        if (100..200).contains(&status) && status != 101 {
                            continue;
                        }
                        let (keep_alive, framing) = parsed?;
                        return Ok((status, keep_alive, framing));
                    }
                    Ok(Status::Partial) => {}
                    Err(_) => return Err(invalid("malformed HTTP response head")),
                }
            }
            self.fill().await?;
        }
    }

    /// Reads more bytes after `len`, compacting or growing the buffer when it is full.
    async fn fill(&mut self) -> io::Result<()> {
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
        } else if self.len == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            } else if self.buf.len() < MAX_HEAD {
                self.buf.resize(self.buf.len() * 2, 0);
            } else {
                return Err(invalid("HTTP response head too large"));
            }
        }
        let n = self.io.read(&mut self.buf[self.len..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response ended",
            ));
        }
        self.len += n;
        Ok(())
    }

    /// Discards `n` body bytes: first from the buffer, then straight from the stream.
    async fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let avail = (self.len - self.pos) as u64;
        let take = avail.min(n);
        self.pos += take as usize;
        n -= take;
        while n > 0 {
            self.pos = 0;
            self.len = 0;
            let got = self.io.read(&mut self.buf).await?;
            if got == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside the response body",
                ));
            }
            if got as u64 > n {
                self.pos = n as usize;
                self.len = got;
                n = 0;
            } else {
                n -= got as u64;
            }
        }
        Ok(())
    }

    async fn skip_chunked(&mut self) -> io::Result<()> {
        loop {
            match httparse::parse_chunk_size(&self.buf[self.pos..self.len]) {
                Ok(Status::Complete((used, 0))) => {
                    self.pos += used;
                    return self.skip_trailers().await;
                }
                Ok(Status::Complete((used, size))) => {
                    self.pos += used;
                    self.skip(size).await?;
                    while self.len - self.pos < 2 {
                        self.fill().await?;
                    }
                    if &self.buf[self.pos..self.pos + 2] != b"\r\n" {
                        return Err(invalid("malformed chunked body"));
                    }
                    self.pos += 2;
                }
                Ok(Status::Partial) => self.fill().await?,
                Err(_) => return Err(invalid("malformed chunk size")),
            }
        }
    }

    /// Skips trailer lines up to and including the empty line that ends a chunked body.
    async fn skip_trailers(&mut self) -> io::Result<()> {
        loop {
            match self.buf[self.pos..self.len].windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.pos += 2;
                    return Ok(());
                }
                Some(line) => self.pos += line + 2,
                None => self.fill().await?,
            }
        }
    }

    async fn drain_to_eof(&mut self) -> io::Result<()> {
        self.pos = 0;
        self.len = 0;
        loop {
            if self.io.read(&mut self.buf).await? == 0 {
                return Ok(());
            }
        }
    }
}

/// The peer closed or reset the connection (as opposed to a malformed response).
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Keep-alive and body framing from the head (RFC 9112 §6.3).
fn framing(resp: &httparse::Response<'_, '_>, status: u16, head_only: bool) -> io::Result<(bool, Framing)> {
    let mut keep_alive = resp.version == Some(1);
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        // Length first: most headers are rejected without a case-insensitive compare.
        let interesting = matches!(h.name.len(), 14 | 17 | 10);
        if !interesting {
            continue;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).map_err(|_| invalid("bad Content-Length"))?;
            let n: u64 = text.trim().parse().map_err(|_| invalid("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting Content-Length headers"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        if n == 0 {
            Framing::Empty
        } else {
            Framing::Length(n)
        }
    } else {
        Framing::UntilClose
    };
    Ok((keep_alive, framing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;

    impl Transport for DuplexStream {}

    /// Feeds `response` in small pieces to exercise partial parsing, then checks the result and
    /// that the connection is positioned at the next response.
    async fn roundtrip(response: &'static [u8], head_only: bool) -> (Result<Response, SendError>, H1<DuplexStream>) {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut conn = H1::new(client);
        let feeder = tokio::spawn(async move {
            let mut req = [0u8; 256];
            let _ = server.read(&mut req).await;
            for piece in response.chunks(7) {
                server.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            // Dropping `server` here ends the stream (EOF) for close-delimited bodies.
        });
        let r = conn.send(b"GET / HTTP/1.1\r\n\r\n", head_only).await;
        feeder.await.unwrap();
        (r, conn)
    }

    #[tokio::test]
    async fn content_length_body() {
        let (r, c) = roundtrip(
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789",
            false,
        )
        .await;
        assert_eq!(
            r.unwrap(),
            Response {
                status: 200,
                keep_alive: true
            }
        );
        assert_eq!(c.pos, c.len);
    }

    #[tokio::test]
    async fn chunked_body_with_trailers() {
        let (r, c) = roundtrip(
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
            false,
        )
        .await;
        assert_eq!(
            r.unwrap(),
            Response {
                status: 500,
                keep_alive: true
            }
        );
        assert_eq!(c.pos, c.len);
    }

    #[tokio::test]
    async fn interim_and_close() {
        let (r, _) = roundtrip(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
            false,
        )
        .await;
        assert_eq!(
            r.unwrap(),
            Response {
                status: 404,
                keep_alive: false
            }
        );
    }

    #[tokio::test]
    async fn head_and_until_close() {
        let (r, _) = roundtrip(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true).await;
        assert_eq!(
            r.unwrap(),
            Response {
                status: 200,
                keep_alive: true
            }
        );
        let (r, _) = roundtrip(b"HTTP/1.0 200 OK\r\n\r\nsome body until close", false).await;
        assert_eq!(
            r.unwrap(),
            Response {
                status: 200,
                keep_alive: false
            }
        );
    }

    #[tokio::test]
    async fn only_a_reused_connection_closed_before_any_byte_is_stale() {
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let mut conn = H1::new(client);
        let peer = tokio::spawn(async move {
            let mut req = [0u8; 256];
            let _ = server.read(&mut req).await;
            server
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            let _ = server.read(&mut req).await;
            // Closes without answering the second request.
        });
        assert!(conn.send(b"GET / HTTP/1.1\r\n\r\n", false).await.is_ok());
        let second = conn.send(b"GET / HTTP/1.1\r\n\r\n", false).await;
        peer.await.unwrap();
        assert!(matches!(second, Err(SendError::Stale)), "{second:?}");

        // A fresh connection that closes is a plain failure: nothing shows the server was idle.
        let (client, server) = tokio::io::duplex(64 * 1024);
        drop(server);
        let mut conn = H1::new(client);
        let r = conn.send(b"GET / HTTP/1.1\r\n\r\n", false).await;
        assert!(matches!(r, Err(SendError::Io)), "{r:?}");
    }

    #[tokio::test]
    async fn truncated_and_garbage_fail() {
        let (r, _) = roundtrip(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false).await;
        assert!(r.is_err());
        let (r, _) = roundtrip(b"NOT HTTP AT ALL\r\n\r\n", false).await;
        assert!(r.is_err());
    }
}
