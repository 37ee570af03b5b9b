//! Turning SDK errors into one-line, human-readable causes built from their parts.
//!
//! `SdkError`'s own `Display` says only "service error", and its `Debug` — and the messages of
//! some errors inside it — hold the whole request: a failed endpoint resolution, for example,
//! prints the unsigned AssumeRole body with the external id. Diagnostics and logs reach CI output,
//! so a cause is built only from parts that cannot carry request data: the AWS error code and
//! message, the HTTP status and request id, or, for failures before a response, a fixed
//! description of the kind and the innermost cause (an I/O or URI error), which is withheld when it
//! looks like a dump. Every part is cut to [`MAX_DETAIL`] characters.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Longest text taken from an error (or echoed from the user's input) into a diagnostic.
pub const MAX_DETAIL: usize = 200;

/// What a diagnostic may say about a failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorParts {
    /// The AWS error code (`ValidationError`, `ParameterNotFound`, ...) for service errors.
    pub code: Option<String>,
    /// The AWS message, or a description of the transport/timeout failure.
    pub message: String,
    /// The HTTP status of the response, when there was one.
    pub status: Option<u16>,
    /// The AWS request id, for support cases.
    pub request_id: Option<String>,
}

impl ErrorParts {
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> ErrorParts
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let meta = e.meta();
                let message = match e.message() {
                    Some(m) if !m.is_empty() => cut(m),
                    // Modeled errors without a message: their Display is the error's name.
                    _ => safe_text(&e.to_string()).unwrap_or_else(|| "the service returned an error".into()),
                };
                ErrorParts {
                    code: e.code().map(cut),
                    message,
                    status: Some(ctx.raw().status().as_u16()),
                    request_id: meta.extra("aws_request_id").map(cut),
                }
            }
            SdkError::ResponseError(ctx) => ErrorParts {
                code: None,
                message: with_cause("the response could not be read", err),
                status: Some(ctx.raw().status().as_u16()),
                request_id: None,
            },
            SdkError::TimeoutError(_) => ErrorParts {
                code: None,
                message: with_cause("the request timed out", err),
                status: None,
                request_id: None,
            },
            SdkError::DispatchFailure(_) => ErrorParts {
                code: None,
                message: with_cause(dispatch_kind(err), err),
                status: None,
                request_id: None,
            },
            SdkError::ConstructionFailure(_) => ErrorParts {
                code: None,
                message: with_cause("the request could not be built", err),
                status: None,
                request_id: None,
            },
            _ => ErrorParts {
                code: None,
                message: with_cause("the call failed", err),
                status: None,
                request_id: None,
            },
        }
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl fmt::Display for ErrorParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        match (self.status, &self.request_id) {
            (Some(s), Some(id)) => write!(f, " (HTTP {s}, request id {id})"),
            (Some(s), None) => write!(f, " (HTTP {s})"),
            (None, Some(id)) => write!(f, " (request id {id})"),
            (None, None) => Ok(()),
        }
    }
}

/// A dispatch failure is either a credentials problem (the SDK nests the credential provider's
/// error, e.g. a failed AssumeRole, inside it) or a connection problem.
fn dispatch_kind<E: StdError + 'static>(err: &SdkError<E, HttpResponse>) -> &'static str {
    let credentials = chain(err).any(|e| {
        e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
    });
    if credentials {
        "could not load AWS credentials (check the profile, the environment and assume_role, including endpoints.sts)"
    } else {
        "could not reach the AWS endpoint"
    }
}

fn chain<'a>(err: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> + 'a {
    std::iter::successors(Some(err), |&e| e.source())
}

/// `what` plus the innermost cause of the chain — the I/O, DNS, TLS or URI error that says why —
/// when its text is safe to show.
fn with_cause<E: StdError + 'static>(what: &str, err: &SdkError<E, HttpResponse>) -> String {
    let root = chain(err).last().map(|e| e.to_string()).unwrap_or_default();
    // The SDK's endpoint error holds the request dump; say what it means instead.
    let bad_endpoint = chain(err).any(|e| e.to_string().contains("endpoint is not a valid URI"));
    let root = if bad_endpoint {
        format!("an endpoint URL is not valid (check endpoints and AWS_ENDPOINT_URL*): {root}")
    } else {
        root
    };
    match safe_text(&root) {
        Some(cause) if cause != what => format!("{what}: {cause}"),
        _ => what.to_string(),
    }
}

/// The text, cut, unless it looks like it holds a request, a response or a body.
fn safe_text(s: &str) -> Option<String> {
    let s = s.trim();
    const DUMP_MARKS: [&str; 8] = [
        "Request {",
        "Response {",
        "SdkBody",
        "headers:",
        "body:",
        "Once(",
        "b\"",
        "Authorization",
    ];
    if s.is_empty() || DUMP_MARKS.iter().any(|m| s.contains(m)) {
        return None;
    }
    Some(cut(s))
}

/// `s` cut to [`MAX_DETAIL`] characters; a cut text says how long the original was.
pub fn cut(s: &str) -> String {
    let total = s.chars().count();
    if total <= MAX_DETAIL {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_DETAIL).collect();
    format!("{head}… ({total} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    #[derive(Debug)]
    struct Modeled(ErrorMetadata);
    impl fmt::Display for Modeled {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("ModeledError")
        }
    }
    impl StdError for Modeled {}
    impl ProvideErrorMetadata for Modeled {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    fn service(meta: ErrorMetadata, status: u16) -> SdkError<Modeled, HttpResponse> {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from("secret body"));
        SdkError::service_error(Modeled(meta), raw)
    }

    #[test]
    fn service_error_gives_code_message_status_and_request_id() {
        let meta = ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id x does not exist")
            .custom("aws_request_id", "req-123")
            .build();
        let p = ErrorParts::from_sdk(&service(meta, 400));
        assert_eq!(
            p.to_string(),
            "ValidationError: Stack with id x does not exist (HTTP 400, request id req-123)"
        );
        assert!(p.code_is("ValidationError"));
    }

    #[test]
    fn service_error_without_message_uses_the_errors_name_and_never_the_body() {
        let p = ErrorParts::from_sdk(&service(ErrorMetadata::builder().build(), 500));
        assert_eq!(p.to_string(), "ModeledError (HTTP 500)");
    }

    #[test]
    fn long_messages_are_cut_with_the_length_named() {
        let meta = ErrorMetadata::builder().code("X").message("m".repeat(5000)).build();
        let p = ErrorParts::from_sdk(&service(meta, 400));
        assert!(p.message.ends_with("… (5000 characters)"), "{}", p.message);
        assert!(p.message.chars().count() < MAX_DETAIL + 30);
    }

    #[derive(Debug)]
    struct Dumping;
    impl fmt::Display for Dumping {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("failed to apply endpoint to request `Request { body: SdkBody { inner: Once(Some(b\"ExternalId=PLANTED\")) } }`")
        }
    }
    impl StdError for Dumping {}

    #[test]
    fn dispatch_failures_keep_the_io_cause_and_drop_dumps() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e: SdkError<Modeled, HttpResponse> = SdkError::dispatch_failure(ConnectorError::io(Box::new(io)));
        let msg = ErrorParts::from_sdk(&e).to_string();
        assert!(msg.starts_with("could not reach the AWS endpoint: "), "{msg}");
        assert!(msg.to_lowercase().contains("refused"), "{msg}");

        let e: SdkError<Modeled, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(Dumping), None));
        let msg = ErrorParts::from_sdk(&e).to_string();
        assert_eq!(msg, "could not reach the AWS endpoint");
    }

    #[test]
    fn cut_keeps_short_text_and_counts_characters_not_bytes() {
        assert_eq!(cut("short"), "short");
        let s = "é".repeat(300);
        assert_eq!(cut(&s), format!("{}… (300 characters)", "é".repeat(MAX_DETAIL)));
    }
}
