//! Turning SDK errors into one-line, human-readable causes.
//!
//! `SdkError`'s own `Display` says only "service error"; users need the AWS error code and message
//! (or the transport failure) to act, so every domain error carries the text built here.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The code and message of an SDK error, or the full cause chain for non-service errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorParts {
    /// The AWS error code (`ValidationError`, `ParameterNotFound`, ...) for service errors.
    pub code: Option<String>,
    /// The AWS message, or a description of the transport/timeout failure.
    pub message: String,
}

impl ErrorParts {
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> ErrorParts
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                ErrorParts {
                    code: e.code().map(str::to_string),
                    message: e
                        .message()
                        .map(str::to_string)
                        .unwrap_or_else(|| DisplayErrorContext(e).to_string()),
                }
            }
            SdkError::TimeoutError(_) => ErrorParts {
                code: None,
                message: format!("request timed out ({})", DisplayErrorContext(err)),
            },
            SdkError::DispatchFailure(_) => ErrorParts {
                code: None,
                message: format!("could not reach the AWS endpoint ({})", DisplayErrorContext(err)),
            },
            _ => ErrorParts {
                code: None,
                message: DisplayErrorContext(err).to_string(),
            },
        }
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

impl std::fmt::Display for ErrorParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
