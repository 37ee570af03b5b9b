//! Plan-time checks shared by the resources: each reads one attribute of a configuration value,
//! skips it when null or unknown (Terraform validates again once it is known), and reports a
//! diagnostic pinned to the attribute's path.

use std::time::Duration;

use crate::aws::error::cut;
use crate::dlt::limits;
use crate::duration::parse_duration;
use crate::plugin::{Diagnostics, Value};

/// A duration string; returns the parsed value when known and valid.
pub fn duration(d: &mut Diagnostics, path: &str, v: &Value) -> Option<Duration> {
    let s = v.as_str()?;
    match parse_duration(s) {
        Ok(dur) => Some(dur),
        Err(e) => {
            d.attr_error(path, "Invalid duration", format!("{path}: {}", cut(&e)));
            None
        }
    }
}

/// A duration that must be strictly positive.
pub fn positive_duration(d: &mut Diagnostics, path: &str, v: &Value) -> Option<Duration> {
    let dur = duration(d, path, v)?;
    if dur.is_zero() {
        d.attr_error(path, "Invalid duration", format!("{path} must be longer than zero."));
        return None;
    }
    Some(dur)
}

/// A whole number within `[min, max]`.
pub fn int_in_range(d: &mut Diagnostics, path: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
    let Value::Number(n) = v else { return None };
    match n.as_i64() {
        Some(i) if i >= min && i <= max => Some(i),
        Some(i) => {
            d.attr_error(
                path,
                "Value out of range",
                format!("{path} must be between {min} and {max}, got {i}."),
            );
            None
        }
        None => {
            d.attr_error(
                path,
                "Invalid number",
                format!("{path} must be a whole number, got {n}."),
            );
            None
        }
    }
}

/// A number within `[min, max]`.
pub fn number_in_range(d: &mut Diagnostics, path: &str, v: &Value, min: f64, max: f64) -> Option<f64> {
    let f = v.as_f64()?;
    if f.is_nan() || f < min || f > max {
        d.attr_error(
            path,
            "Value out of range",
            format!("{path} must be between {min} and {max}, got {f}."),
        );
        return None;
    }
    Some(f)
}

/// One of a fixed set of strings.
pub fn one_of<'a>(d: &mut Diagnostics, path: &str, v: &'a Value, allowed: &[&str]) -> Option<&'a str> {
    let s = v.as_str()?;
    if allowed.contains(&s) {
        Some(s)
    } else {
        let list = allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
        d.attr_error(
            path,
            "Invalid value",
            format!("{path} must be one of {list}, got {}.", shown(s)),
        );
        None
    }
}

/// A non-empty string (after trimming).
pub fn non_empty<'a>(d: &mut Diagnostics, path: &str, v: &'a Value) -> Option<&'a str> {
    let s = v.as_str()?;
    if s.trim().is_empty() {
        d.attr_error(path, "Empty value", format!("{path} must not be empty."));
        return None;
    }
    Some(s)
}

/// An AWS region name (`eu-west-1`): lowercase letters, digits and hyphens.
pub fn aws_region<'a>(d: &mut Diagnostics, path: &str, v: &'a Value) -> Option<&'a str> {
    let s = v.as_str()?;
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        d.attr_error(
            path,
            "Invalid region",
            format!("{path}: {} is not an AWS region name such as \"eu-west-1\".", shown(s)),
        );
        return None;
    }
    Some(s)
}

/// A user's value inside a diagnostic: quoted and cut to `aws::error::MAX_DETAIL` (200) characters, so a
/// 50 MB attribute is not sent back whole.
pub fn shown(s: &str) -> String {
    format!("{:?}", cut(s))
}

/// An AWS service endpoint: an http(s) URL with a host that the SDK's own URI parser accepts too.
/// The `url` crate is lenient (it reads `http:///x` as host `x` and percent-encodes spaces); the
/// SDK is not, and fails only at the first call — after validation said yes.
pub fn endpoint_url<'a>(d: &mut Diagnostics, path: &str, v: &'a Value) -> Option<&'a str> {
    let s = http_url(d, path, v)?;
    let reason = if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace".to_string())
    } else {
        match s.parse::<http::Uri>() {
            Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => None,
            Ok(_) => Some("it has no host".to_string()),
            Err(e) => Some(e.to_string()),
        }
    };
    match reason {
        None => Some(s),
        Some(why) => {
            d.attr_error(
                path,
                "Invalid endpoint URL",
                format!("{path} is not a URL the AWS SDK can use ({why}): {}.", shown(s)),
            );
            None
        }
    }
}

/// A URL that is only scheme, host and port (`endpoints.execute_api`, which keeps the API's own
/// path): a path, query or fragment of its own would be dropped silently, so it is refused.
pub fn origin_only<'a>(d: &mut Diagnostics, path: &str, s: &'a str) -> Option<&'a str> {
    let extra = match url::Url::parse(s) {
        Ok(u) if u.path() != "/" && !u.path().is_empty() => Some("a path"),
        Ok(u) if u.query().is_some() => Some("a query"),
        Ok(u) if u.fragment().is_some() => Some("a fragment"),
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Some("credentials"),
        Ok(_) => None,
        Err(_) => Some("no valid host"),
    };
    match extra {
        None => Some(s),
        Some(what) => {
            d.attr_error(
                path,
                "Invalid endpoint URL",
                format!(
                    "{path} replaces only the scheme, host and port of dlt.api_endpoint (whose path, the stage, is kept), \
                     so it cannot have {what}: {}.",
                    shown(s)
                ),
            );
            None
        }
    }
}

/// An absolute `http://` or `https://` URL with a host.
pub fn http_url<'a>(d: &mut Diagnostics, path: &str, v: &'a Value) -> Option<&'a str> {
    let s = v.as_str()?;
    if let Err(e) = limits::url(s) {
        d.attr_error(path, "URL too long", format!("{path}: {e}."));
        return None;
    }
    match url::Url::parse(s) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some_and(|h| !h.is_empty()) => {
            Some(s)
        }
        Ok(u) => {
            d.attr_error(
                path,
                "Invalid URL",
                format!(
                    "{path} must be an http:// or https:// URL with a host, got scheme {:?}.",
                    u.scheme()
                ),
            );
            None
        }
        Err(e) => {
            d.attr_error(
                path,
                "Invalid URL",
                format!("{path} is not a valid URL ({e}): {}.", shown(s)),
            );
            None
        }
    }
}

/// At most one of the attributes at `paths` (siblings inside `obj`) may be set.
pub fn conflicting(d: &mut Diagnostics, parent: &str, obj: &Value, names: &[&str]) {
    let set: Vec<&str> = names.iter().copied().filter(|n| !obj.get(n).is_null()).collect();
    if set.len() > 1 {
        let path = join(parent, set[1]);
        d.attr_error(
            &path,
            "Conflicting attributes",
            format!(
                "Only one of {} may be set; both {} and {} are.",
                names.join(", "),
                set[0],
                set[1]
            ),
        );
    }
}

/// Joins a parent path and an attribute name.
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_paths() {
        let mut d = Diagnostics::new();
        assert!(duration(&mut d, "load.hold_for", &Value::string("5x")).is_none());
        assert!(int_in_range(&mut d, "load.concurrency", &Value::int(0), 1, 100).is_none());
        assert!(one_of(&mut d, "on_failure", &Value::string("NOPE"), &["ROLLBACK", "DELETE"]).is_none());
        assert!(http_url(&mut d, "scenario.requests[0].url", &Value::string("ftp://x")).is_none());
        let paths: Vec<String> = d
            .iter()
            .map(|x| x.attribute.clone().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "load.hold_for",
                "load.concurrency",
                "on_failure",
                "scenario.requests[0].url"
            ]
        );
    }

    #[test]
    fn endpoints_are_checked_the_way_the_sdk_parses_them() {
        for bad in ["http:///x", "http://127.0.0.1:9/ space", "ftp://x", "localhost:5000"] {
            let mut d = Diagnostics::new();
            assert!(
                endpoint_url(&mut d, "endpoints.sts", &Value::string(bad)).is_none(),
                "{bad}"
            );
            assert_eq!(d.iter().count(), 1, "{bad}");
        }
        let mut d = Diagnostics::new();
        assert_eq!(
            endpoint_url(&mut d, "endpoints.sts", &Value::string("http://127.0.0.1:5000")),
            Some("http://127.0.0.1:5000")
        );
        assert!(d.is_empty());
    }

    #[test]
    fn echoed_values_are_cut() {
        let huge = format!("http://x/{}", " ".repeat(10_000_000));
        let mut d = Diagnostics::new();
        endpoint_url(&mut d, "endpoints.s3", &Value::string(&huge));
        let detail = &d.iter().next().unwrap().detail;
        assert!(detail.len() < 500, "{} bytes", detail.len());
        assert!(detail.contains("10000009 bytes long"), "{detail}");
        let mut d = Diagnostics::new();
        one_of(&mut d, "x", &Value::string("y".repeat(1000)), &["a"]);
        assert!(d.iter().next().unwrap().detail.contains("(1000 characters)"));
    }

    #[test]
    fn skips_unknown_and_null() {
        let mut d = Diagnostics::new();
        duration(&mut d, "x", &Value::Unknown);
        int_in_range(&mut d, "x", &Value::Null, 1, 2);
        http_url(&mut d, "x", &Value::Unknown);
        assert!(d.is_empty());
    }
}
