//! Diagnostics with attribute paths: how every user-facing problem reaches Terraform.

use std::fmt;

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(i64),
}

/// A path into a configuration value, e.g. `load.concurrency` or `scenario.requests[0].url`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root(name: &str) -> AttrPath {
        AttrPath(vec![PathStep::Attr(name.to_string())])
    }
    /// Parses `a.b[0].c["k"]`-style dotted paths, for convenience in resource code. Map keys
    /// that are user input belong in [`AttrPath::key`] instead: a key may hold `.`, `[` or `]`.
    pub fn parse(s: &str) -> AttrPath {
        let mut steps = Vec::new();
        for part in s.split('.') {
            let (name, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !name.is_empty() {
                steps.push(PathStep::Attr(name.to_string()));
            }
            // Only `[...]` steps; text after a `]` that opens no new step ends the part (a key
            // holding `]` or `.` cannot be told apart here; byte slicing stays on `[`'s boundary).
            while let (true, Some(end)) = (rest.starts_with('['), rest.find(']')) {
                let inner = &rest[1..end];
                if let Ok(i) = inner.parse::<i64>() {
                    steps.push(PathStep::Index(i));
                } else {
                    steps.push(PathStep::Key(inner.trim_matches('"').to_string()));
                }
                rest = &rest[end + 1..];
            }
        }
        AttrPath(steps)
    }
    pub fn attr(mut self, name: &str) -> AttrPath {
        self.0.push(PathStep::Attr(name.to_string()));
        self
    }
    pub fn index(mut self, i: usize) -> AttrPath {
        self.0.push(PathStep::Index(i as i64));
        self
    }
    pub fn key(mut self, k: &str) -> AttrPath {
        self.0.push(PathStep::Key(k.to_string()));
        self
    }
}

impl From<&str> for AttrPath {
    fn from(s: &str) -> AttrPath {
        AttrPath::parse(s)
    }
}

impl From<&AttrPath> for AttrPath {
    fn from(p: &AttrPath) -> AttrPath {
        p.clone()
    }
}

impl From<&String> for AttrPath {
    fn from(s: &String) -> AttrPath {
        AttrPath::parse(s)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub attribute: Option<AttrPath>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
        }
    }
    pub fn at(mut self, path: AttrPath) -> Diagnostic {
        self.attribute = Some(path);
        self
    }
}

/// Longest summary and detail sent to Terraform. Checks cut the values they echo far shorter;
/// this is the last guard, so that no input (a 50 MB attribute, a huge upstream error body) comes
/// back whole inside a diagnostic. A gate table with every label fits well under the detail limit.
pub const MAX_SUMMARY_CHARS: usize = 1_000;
pub const MAX_DETAIL_CHARS: usize = 60_000;

/// `s` cut to `max` characters (on a character boundary), saying how long the original was.
pub fn bounded(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(s),
        Some((end, _)) => {
            let total = s.chars().count();
            std::borrow::Cow::Owned(format!("{}… (cut; {total} characters in all)", &s[..end]))
        }
    }
}

/// An ordered collection of diagnostics; errors and warnings mixed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Diagnostic::error(summary, detail));
    }
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Diagnostic::warning(summary, detail));
    }
    /// An error pointing at the attribute at `path` (an [`AttrPath`], or its dotted form, see
    /// [`AttrPath::parse`]).
    pub fn attr_error(&mut self, path: impl Into<AttrPath>, summary: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Diagnostic::error(summary, detail).at(path.into()));
    }
    pub fn attr_warning(&mut self, path: impl Into<AttrPath>, summary: impl Into<String>, detail: impl Into<String>) {
        self.0.push(Diagnostic::warning(summary, detail).at(path.into()));
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            let sev = if d.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            match &d.attribute {
                Some(p) => writeln!(f, "{sev}: {} ({p}): {}", d.summary, d.detail)?,
                None => writeln!(f, "{sev}: {}: {}", d.summary, d.detail)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_on_char_boundaries_and_names_the_length() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("ééé", 2), "éé… (cut; 3 characters in all)");
    }

    #[test]
    fn parses_paths() {
        let p = AttrPath::parse("scenario.requests[0].headers[\"x\"]");
        assert_eq!(
            p.0,
            vec![
                PathStep::Attr("scenario".into()),
                PathStep::Attr("requests".into()),
                PathStep::Index(0),
                PathStep::Attr("headers".into()),
                PathStep::Key("x".into()),
            ]
        );
        assert_eq!(p.to_string(), "scenario.requests[0].headers[\"x\"]");
    }

    #[test]
    fn odd_keys_never_panic() {
        // A map key with `]` then a multi-byte character (found by the fuzz properties).
        for path in ["headers[\"a]\u{10424c}\u{feff}/\"]", "a[]é]", "x[\"é\"]]ü[1]", "[", "]"] {
            let _ = AttrPath::parse(path).to_string();
        }
        let p = AttrPath::parse("headers[\"a]\u{10424c}\"]");
        assert_eq!(p.0[0], PathStep::Attr("headers".into()));
    }

    #[test]
    fn keys_as_steps_keep_any_text() {
        let p = AttrPath::root("parameters").key("]\u{a1}.x");
        assert_eq!(p.0[1], PathStep::Key("]\u{a1}.x".into()));
    }
}
