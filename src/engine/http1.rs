//! A minimal HTTP/1.1 client for the hot path: pre-serialized request bytes go out, and
//! [`Reader`], a push parser, reads the response head with httparse and skips the body
//! (Content-Length, chunked or close-delimited) through one reused buffer. No allocation per
//! request. The poll loop (`poll.rs`) feeds it what it read from the socket, or what rustls
//! decrypted.

use std::io;
use std::mem::MaybeUninit;

use httparse::Status;

const INITIAL_BUF: usize = 16 * 1024;
/// Largest response head accepted; beyond it the response is an `io` failure.
const MAX_HEAD: usize = 1024 * 1024;
const MAX_HEADERS: usize = 96;

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

/// A push parser for one response at a time: the driver reads socket bytes into
/// [`Reader::spare`], reports them with [`Reader::filled`] and calls [`Reader::advance`] until it
/// yields the response. Body bytes are discarded as they arrive, so the buffer stays small.
pub(crate) struct Reader {
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    state: State,
    head_only: bool,
    status: u16,
    keep_alive: bool,
    /// Whether any byte of the current response has arrived.
    received: bool,
}

/// Where the parser is within the current response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    UntilClose,
    Done,
}

impl Reader {
    pub(crate) fn new() -> Self {
        Reader {
            buf: vec![0; INITIAL_BUF],
            pos: 0,
            len: 0,
            state: State::Done,
            head_only: false,
            status: 0,
            keep_alive: false,
            received: false,
        }
    }

    /// Starts on the response to the request just sent.
    pub(crate) fn begin(&mut self, head_only: bool) {
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
        }
        self.state = State::Head;
        self.head_only = head_only;
        self.received = self.pos < self.len;
    }

    /// False while the server has sent nothing of the current response: a connection closed
    /// then was dropped by the server before it saw the request.
    pub(crate) fn received_any(&self) -> bool {
        self.received
    }

    /// Body bytes still to arrive when the response is delimited by `Content-Length` and its head
    /// is parsed; `None` while that is unknown (head incomplete, chunked, until close).
    pub(crate) fn body_left(&self) -> Option<u64> {
        match self.state {
            State::Length(n) => Some(n),
            _ => None,
        }
    }

    /// True when no unread byte is buffered (nothing can arrive before the next request).
    #[cfg(test)]
    pub(crate) fn drained(&self) -> bool {
        self.pos == self.len
    }

    /// Free space to read into: compacts, or grows up to [`MAX_HEAD`] when a head or a chunk line
    /// does not fit.
    pub(crate) fn spare(&mut self) -> io::Result<&mut [u8]> {
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
        Ok(&mut self.buf[self.len..])
    }

    /// Records `n` bytes read into [`Reader::spare`]; 0 is the end of the stream, which completes
    /// a close-delimited body and is an error anywhere else.
    pub(crate) fn filled(&mut self, n: usize) -> io::Result<Option<Response>> {
        if n > 0 {
            self.len += n;
            self.received = true;
            return Ok(None);
        }
        if self.state == State::UntilClose {
            self.state = State::Done;
            return Ok(Some(Response {
                status: self.status,
                keep_alive: false,
            }));
        }
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the response ended",
        ))
    }

    /// Parses what is buffered; `Some` once the whole response is in.
    pub(crate) fn advance(&mut self) -> io::Result<Option<Response>> {
        loop {
            let avail = self.len - self.pos;
            match self.state {
                State::Head => {
                    if avail == 0 {
                        return Ok(None);
                    }
                    // Uninitialized header slots: no 3 KiB memset per response.
                    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
                    let mut resp = httparse::Response::new(&mut []);
                    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                        &mut resp,
                        &self.buf[self.pos..self.len],
                        &mut headers,
                    );
                    let n = match parsed {
                        Ok(Status::Complete(n)) => n,
                        Ok(Status::Partial) => return Ok(None),
                        Err(_) => return Err(invalid("malformed HTTP response head")),
                    };
                    let status = resp.code.unwrap_or(0);
                    let framed = framing(&resp, status, self.head_only);
                    self.pos += n;
                    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
                    if (100..200).contains(&status) && status != 101 {
                        continue;
                    }
                    let (keep_alive, framing) = framed?;
                    self.status = status;
                    self.keep_alive = keep_alive;
                    self.state = match framing {
                        Framing::Empty => State::Done,
                        Framing::Length(n) => State::Length(n),
                        Framing::Chunked => State::ChunkSize,
                        Framing::UntilClose => State::UntilClose,
                    };
                    if self.state == State::Done {
                        return Ok(Some(self.response()));
                    }
                }
                State::Length(n) | State::ChunkData(n) => {
                    let take = (avail as u64).min(n);
                    self.pos += take as usize;
                    let left = n - take;
                    let chunked = matches!(self.state, State::ChunkData(_));
                    self.state = match (left, chunked) {
                        (0, false) => return Ok(Some(self.done())),
                        (0, true) => State::ChunkEnd,
                        (_, false) => State::Length(left),
                        (_, true) => State::ChunkData(left),
                    };
                    if left > 0 {
                        return Ok(None);
                    }
                }
                State::ChunkSize => match httparse::parse_chunk_size(&self.buf[self.pos..self.len]) {
                    Ok(Status::Complete((used, size))) => {
                        self.pos += used;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                    }
                    Ok(Status::Partial) => return Ok(None),
                    Err(_) => return Err(invalid("malformed chunk size")),
                },
                State::ChunkEnd => {
                    if avail < 2 {
                        return Ok(None);
                    }
                    if &self.buf[self.pos..self.pos + 2] != b"\r\n" {
                        return Err(invalid("malformed chunked body"));
                    }
                    self.pos += 2;
                    self.state = State::ChunkSize;
                }
                // Trailer lines up to and including the empty line that ends a chunked body.
                State::Trailers => match self.buf[self.pos..self.len].windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        self.pos += 2;
                        return Ok(Some(self.done()));
                    }
                    Some(line) => self.pos += line + 2,
                    None => return Ok(None),
                },
                State::UntilClose => {
                    self.pos = self.len;
                    return Ok(None);
                }
                State::Done => return Ok(Some(self.response())),
            }
        }
    }

    fn done(&mut self) -> Response {
        self.state = State::Done;
        self.response()
    }

    fn response(&self) -> Response {
        Response {
            status: self.status,
            keep_alive: self.keep_alive,
        }
    }
}

/// The peer closed or reset the connection (as opposed to a malformed response).
pub(crate) fn is_closed(e: &io::Error) -> bool {
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
    /// Feeds `response` in 7-byte pieces to exercise partial parsing and returns its first
    /// response, and whether the parser is then positioned at the next one.
    fn roundtrip(response: &'static [u8], head_only: bool) -> (io::Result<Response>, bool) {
        let mut reader = Reader::new();
        reader.begin(head_only);
        let mut rest = response;
        loop {
            match reader.advance() {
                Ok(Some(r)) => return (Ok(r), reader.drained()),
                Ok(None) => {}
                Err(e) => return (Err(e), false),
            }
            let spare = match reader.spare() {
                Ok(spare) => spare,
                Err(e) => return (Err(e), false),
            };
            let n = 7.min(rest.len()).min(spare.len());
            spare[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            // n == 0: the end of the stream, which ends a close-delimited body.
            match reader.filled(n) {
                Ok(Some(r)) => return (Ok(r), reader.drained()),
                Ok(None) => {}
                Err(e) => return (Err(e), false),
            }
        }
    }

    #[test]
    fn content_length_body() {
        let (r, c) = roundtrip(
            b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n01234567890123456789",
            false,
        );
        assert_eq!(
            r.unwrap(),
            Response {
                status: 200,
                keep_alive: true
            }
        );
        assert!(c);
    }

    #[test]
    fn chunked_body_with_trailers() {
        let (r, c) = roundtrip(
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n",
            false,
        )
        ;
        assert_eq!(
            r.unwrap(),
            Response {
                status: 500,
                keep_alive: true
            }
        );
        assert!(c);
    }

    #[test]
    fn interim_and_close() {
        let (r, _) = roundtrip(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
            false,
        );
        assert_eq!(
            r.unwrap(),
            Response {
                status: 404,
                keep_alive: false
            }
        );
    }

    #[test]
    fn head_and_until_close() {
        let (r, _) = roundtrip(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true);
        assert_eq!(
            r.unwrap(),
            Response {
                status: 200,
                keep_alive: true
            }
        );
        let (r, _) = roundtrip(b"HTTP/1.0 200 OK\r\n\r\nsome body until close", false);
        assert_eq!(
            r.unwrap(),
            Response {
                status: 200,
                keep_alive: false
            }
        );
    }

    /// Feeds `input` to a [`Reader`] in `piece`-byte reads, as a poll loop would, and returns
    /// every response it completes (a new request begins after each).
    fn feed(input: &[u8], piece: usize, head_only: bool) -> io::Result<Vec<Response>> {
        let mut reader = Reader::new();
        let mut out = Vec::new();
        let mut rest = input;
        reader.begin(head_only);
        loop {
            while let Some(r) = reader.advance()? {
                out.push(r);
                reader.begin(head_only);
            }
            let spare = reader.spare()?;
            let n = piece.min(rest.len()).min(spare.len());
            spare[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n == 0 && !reader.received_any() {
                // The stream ended between responses.
                return Ok(out);
            }
            if let Some(r) = reader.filled(n)? {
                out.push(r);
            }
            if n == 0 {
                return Ok(out);
            }
        }
    }

    #[test]
    fn reader_handles_bodies_larger_than_its_buffer_and_back_to_back_responses() {
        let big = vec![b'x'; 3 * INITIAL_BUF + 5];
        let mut input = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", big.len()).into_bytes();
        input.extend_from_slice(&big);
        input.extend_from_slice(b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n");
        input.extend_from_slice(format!("{:x}\r\n", big.len()).as_bytes());
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\r\n0\r\n\r\n");
        input.extend_from_slice(b"HTTP/1.0 204 No Content\r\n\r\n");
        for piece in [1, 7, 1000, 64 * 1024] {
            let got = feed(&input, piece, false).unwrap_or_else(|e| panic!("piece {piece}: {e}"));
            let statuses: Vec<(u16, bool)> = got.iter().map(|r| (r.status, r.keep_alive)).collect();
            assert_eq!(statuses, [(200, true), (503, true), (204, false)], "piece {piece}");
        }
        // A body cut short by the end of the stream is an error, never a response.
        assert!(feed(&input[..input.len() / 2], 1000, false).is_err());
    }

    #[test]
    fn truncated_and_garbage_fail() {
        let (r, _) = roundtrip(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false);
        assert!(r.is_err());
        let (r, _) = roundtrip(b"NOT HTTP AT ALL\r\n\r\n", false);
        assert!(r.is_err());
    }
}
