//! Turns the scenario's requests into what the hot path needs, once per run: pre-serialized
//! HTTP/1.1 request bytes, the HTTP/2 header block for TLS origins, the origin to connect to and
//! the label index.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use url::{Position, Url};

use super::h2::H2Request;

use crate::dlt::limits;
use crate::dlt::scenario::{request_labels, RequestSpec};

const USER_AGENT: &str = concat!("terraform-provider-dlt/", env!("CARGO_PKG_VERSION"));

/// Where connections go: one keep-alive connection per virtual user and origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub tls: bool,
    /// Host to connect to, without IPv6 brackets; also the TLS server name.
    pub host: String,
    pub port: u16,
}

/// One request, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub origin: usize,
    pub label: usize,
    /// The whole HTTP/1.1 request: head and body.
    pub h1: Bytes,
    /// HEAD responses carry no body whatever their headers say.
    pub head_only: bool,
    /// Safe to send again when a reused connection turns out to be closed (RFC 9110 §9.2.2).
    pub idempotent: bool,
    /// The request as an HTTP/2 header block and body, for `https://` origins (HTTP/2 is chosen
    /// by ALPN during the TLS handshake).
    pub h2: Option<H2Request>,
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub requests: Vec<Prepared>,
    pub origins: Vec<Origin>,
    pub labels: Vec<String>,
}

impl Plan {
    pub(crate) fn needs_tls(&self) -> bool {
        self.origins.iter().any(|o| o.tls)
    }

    /// Validates and prepares every request; the error is the index of the first bad one.
    pub(crate) fn build(specs: &[RequestSpec]) -> Result<Plan, (usize, String)> {
        limits::requests(specs.len()).map_err(|e| (0, e))?;
        // The label DLT reports too: `label`, the URL, or "METHOD URL" (`request_labels`).
        let label_names = request_labels(specs);
        let mut plan = Plan {
            requests: Vec::with_capacity(specs.len()),
            origins: Vec::new(),
            labels: Vec::new(),
        };
        for (index, (spec, label)) in specs.iter().zip(label_names).enumerate() {
            let prepared = prepare(spec, label, &mut plan).map_err(|reason| (index, reason))?;
            plan.requests.push(prepared);
        }
        Ok(plan)
    }
}

fn prepare(spec: &RequestSpec, label_name: String, plan: &mut Plan) -> Result<Prepared, String> {
    limits::url(&spec.url)?;
    let url = Url::parse(spec.url.trim()).map_err(|e| format!("invalid URL {:?}: {e}", spec.url))?;
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "unsupported URL scheme {other:?} in {:?}; use http or https",
                spec.url
            ))
        }
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(format!("URL {:?} has no host", spec.url)),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "URL {:?} carries credentials; send an Authorization header instead",
            spec.url
        ));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("URL {:?} has no port", spec.url))?;
    let method_name = spec.method.trim().to_ascii_uppercase();
    let method = http::Method::from_bytes(method_name.as_bytes())
        .map_err(|_| format!("invalid HTTP method {:?}", spec.method))?;

    limits::body(&spec.body)?;
    limits::header_count(spec.headers.len())?;
    for (name, value) in &spec.headers {
        limits::header(name, value)?;
    }
    let mut headers = http::HeaderMap::new();
    for (name, value) in &spec.headers {
        let n = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        let v = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name:?}"))?;
        if n == http::header::TRANSFER_ENCODING || n == http::header::CONTENT_LENGTH {
            // The engine frames the body itself (Content-Length); a user value could only lie.
            continue;
        }
        if n == http::header::CONNECTION || n == http::header::UPGRADE {
            return Err(format!(
                "header {name:?} is managed by the engine (keep-alive connections)"
            ));
        }
        headers.append(n, v);
    }

    let origin = Origin {
        tls,
        host: host.clone(),
        port,
    };
    let origin = match plan.origins.iter().position(|o| *o == origin) {
        Some(i) => i,
        None => {
            plan.origins.push(origin);
            plan.origins.len() - 1
        }
    };
    let label = match plan.labels.iter().position(|l| *l == label_name) {
        Some(i) => i,
        None => {
            plan.labels.push(label_name);
            plan.labels.len() - 1
        }
    };

    let path = &url[Position::BeforePath..Position::AfterQuery];
    let path = if path.is_empty() { "/" } else { path };
    // Host header as the URL spells it (brackets for IPv6, port only when not the default).
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or(&host)),
        None => url.host_str().unwrap_or(&host).to_string(),
    };
    let body = Bytes::from(spec.body.clone().into_bytes());
    let sends_length =
        !body.is_empty() || matches!(method, http::Method::POST | http::Method::PUT | http::Method::PATCH);

    let mut h1 = Vec::with_capacity(64 + path.len() + authority.len() + body.len());
    h1.extend_from_slice(method.as_str().as_bytes());
    h1.push(b' ');
    h1.extend_from_slice(path.as_bytes());
    h1.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(http::header::HOST) {
        h1.extend_from_slice(b"Host: ");
        h1.extend_from_slice(authority.as_bytes());
        h1.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key(http::header::USER_AGENT) {
        h1.extend_from_slice(b"User-Agent: ");
        h1.extend_from_slice(USER_AGENT.as_bytes());
        h1.extend_from_slice(b"\r\n");
    }
    for (name, value) in &headers {
        h1.extend_from_slice(name.as_str().as_bytes());
        h1.extend_from_slice(b": ");
        h1.extend_from_slice(value.as_bytes());
        h1.extend_from_slice(b"\r\n");
    }
    if sends_length {
        h1.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    h1.extend_from_slice(b"\r\n");
    h1.extend_from_slice(&body);

    // HTTP/2 is negotiated by ALPN, so only over TLS. A Host header becomes :authority there.
    let h2 = if tls {
        let mut fields: Vec<(String, String)> = Vec::with_capacity(headers.len() + 1);
        if !headers.contains_key(http::header::USER_AGENT) {
            fields.push(("user-agent".into(), USER_AGENT.into()));
        }
        for (name, value) in &headers {
            let value = value
                .to_str()
                .map_err(|_| format!("invalid value for header {name:?}"))?;
            fields.push((name.as_str().to_string(), value.to_string()));
        }
        Some(H2Request::new(
            method.as_str(),
            "https",
            &authority,
            path,
            &fields,
            body.clone(),
        )?)
    } else {
        None
    };
    Ok(Prepared {
        origin,
        label,
        h1: Bytes::from(h1),
        h2,
        head_only: method == http::Method::HEAD,
        idempotent: method.is_idempotent(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn spec(url: &str, method: &str) -> RequestSpec {
        RequestSpec {
            label: None,
            url: url.into(),
            method: method.into(),
            headers: BTreeMap::new(),
            body: String::new(),
        }
    }

    #[test]
    fn serializes_http1_request() {
        let mut s = spec("http://example.com:8080/a/b?x=1#frag", "post");
        s.headers.insert("X-Test".into(), "yes".into());
        s.body = "{}".into();
        let plan = Plan::build(&[s]).unwrap();
        let text = String::from_utf8(plan.requests[0].h1.to_vec()).unwrap();
        assert!(
            text.starts_with("POST /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"),
            "{text}"
        );
        assert!(text.contains("x-test: yes\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"), "{text}");
        assert_eq!(
            plan.origins,
            vec![Origin {
                tls: false,
                host: "example.com".into(),
                port: 8080
            }]
        );
    }

    #[test]
    fn labels_split_by_method_only_when_needed() {
        let plan = Plan::build(&[
            spec("http://h/a", "GET"),
            spec("http://h/a", "POST"),
            spec("http://h/b", "GET"),
            spec("http://h/b", "get"),
        ])
        .unwrap();
        assert_eq!(plan.labels, vec!["GET http://h/a", "POST http://h/a", "http://h/b"]);
        assert_eq!(plan.requests[3].label, 2);
        assert_eq!(plan.origins.len(), 1);
    }

    #[test]
    fn rejects_bad_requests_with_index() {
        assert_eq!(
            Plan::build(&[spec("http://h/", "GET"), spec("ftp://h/", "GET")])
                .unwrap_err()
                .0,
            1
        );
        assert!(Plan::build(&[spec("not a url", "GET")]).is_err());
        assert!(Plan::build(&[spec("http://h/", "GE T")]).is_err());
        let mut s = spec("http://h/", "GET");
        s.headers.insert("bad name".into(), "v".into());
        let err = Plan::build(&[s]).unwrap_err();
        assert!(err.1.contains("header"), "{err:?}");
        let mut s = spec("http://h/", "GET");
        s.headers.insert("X".into(), "a\nb".into());
        assert!(Plan::build(&[s]).is_err());
    }

    #[test]
    fn ipv6_and_default_ports() {
        let plan = Plan::build(&[spec("https://[::1]/x", "GET")]).unwrap();
        assert_eq!(
            plan.origins[0],
            Origin {
                tls: true,
                host: "::1".into(),
                port: 443
            }
        );
        let text = String::from_utf8(plan.requests[0].h1.to_vec()).unwrap();
        assert!(text.contains("Host: [::1]\r\n"), "{text}");
        assert!(plan.needs_tls());
    }
}
