//! Size limits on what a scenario may hold, checked before any value reaches a library type.
//!
//! The `http` crate panics when a header map outgrows its capacity (about 24,000 entries), URL and
//! header parsers have their own ceilings, and every value may come back in a diagnostic. So each
//! limit is checked first — at plan time by the resource (naming the attribute) and again by the
//! engine before it builds requests (the `run` command reads JSON that validation never saw). The
//! limits sit far above any real load test and well below where a request line, a header block or
//! a DLT test definition (stored in one DynamoDB item) would break.

/// Requests in one simple scenario.
pub const MAX_REQUESTS: usize = 1_000;
/// Headers on one request.
pub const MAX_HEADERS: usize = 100;
/// Bytes of one header name.
pub const MAX_HEADER_NAME_BYTES: usize = 256;
/// Bytes of one header value (nginx's default header buffer is 8 KiB per line).
pub const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
/// Bytes of one request URL, endpoint or template URL.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// Bytes of one request body (uploads in load tests reach several MiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Entries of `label_gates` or of `status_gates` (one per label at most: as many as requests).
pub const MAX_GATE_ENTRIES: usize = MAX_REQUESTS;

/// The number of entries of `label_gates` or `status_gates` (`what`).
pub fn gate_entries(count: usize, what: &str) -> Result<(), String> {
    at_most(count, MAX_GATE_ENTRIES, what)
}

/// The number of requests of a scenario.
pub fn requests(count: usize) -> Result<(), String> {
    at_most(count, MAX_REQUESTS, "requests")
}

/// The number of headers of one request.
pub fn header_count(count: usize) -> Result<(), String> {
    at_most(count, MAX_HEADERS, "headers")
}

/// One header's name and value.
pub fn header(name: &str, value: &str) -> Result<(), String> {
    if name.len() > MAX_HEADER_NAME_BYTES {
        return Err(format!(
            "a header name is {} bytes long; the limit is {MAX_HEADER_NAME_BYTES} bytes",
            name.len()
        ));
    }
    if value.len() > MAX_HEADER_VALUE_BYTES {
        return Err(format!(
            "the value of a header is {} bytes long; the limit is {MAX_HEADER_VALUE_BYTES} bytes",
            value.len()
        ));
    }
    Ok(())
}

/// A URL's length.
pub fn url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!(
            "the URL is {} bytes long; the limit is {MAX_URL_BYTES} bytes",
            url.len()
        ));
    }
    Ok(())
}

/// A request body's size.
pub fn body(body: &str) -> Result<(), String> {
    if body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body is {} bytes; the limit is {MAX_BODY_BYTES} bytes (16 MiB)",
            body.len()
        ));
    }
    Ok(())
}

fn at_most(count: usize, max: usize, what: &str) -> Result<(), String> {
    if count > max {
        return Err(format!("{count} {what} are set; the limit is {max}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_accept_up_to_the_maximum_and_name_it_beyond() {
        assert!(header_count(MAX_HEADERS).is_ok());
        assert_eq!(
            header_count(24_576).unwrap_err(),
            "24576 headers are set; the limit is 100"
        );
        assert!(requests(MAX_REQUESTS + 1).unwrap_err().contains("limit is 1000"));
        assert!(header(&"n".repeat(257), "v").unwrap_err().contains("256 bytes"));
        assert!(header("n", &"v".repeat(MAX_HEADER_VALUE_BYTES)).is_ok());
        assert!(header("n", &"v".repeat(MAX_HEADER_VALUE_BYTES + 1)).is_err());
        assert!(url(&"u".repeat(MAX_URL_BYTES + 1)).is_err());
        assert!(body(&"b".repeat(MAX_BODY_BYTES + 1)).unwrap_err().contains("16 MiB"));
    }
}
