//! A string that must never be printed: the Cognito admin password read from SSM.
//!
//! Terraform copies provider stderr into `TF_LOG` output and diagnostics into the terminal and CI
//! logs, so the only way to keep the password out of them is to make every accidental `{:?}` or
//! `{}` harmless. The value is reachable only through [`Secret::expose`].

use std::fmt;

/// A secret value whose `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The plain value, for the one call that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of the secret replaced by `***`; a last line of defence for
    /// messages that come back from AWS and end up in diagnostics.
    pub fn redact_from(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("Sup3r$ecret!pw");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "Sup3r$ecret!pw");
        assert_eq!(s.redact_from("bad Sup3r$ecret!pw here"), "bad *** here");
    }
}
