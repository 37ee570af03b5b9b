//! A loopback HTTP proxy between the provider and moto that rewrites scripted CloudFormation
//! responses.
//!
//! moto never produces failed stacks, resource failure events, throttling or `DELETE_FAILED`, and
//! the provider runs as Terraform's child process where no in-process mock can reach it. Placing
//! this proxy at the provider's `endpoints.cloudformation` lets end-to-end tests script those
//! responses by awsQuery `Action`, while everything else passes through to moto.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What to do with a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and body without forwarding. `{{NOW}}` in the body becomes the
    /// current time (ISO 8601), so synthetic events look like they belong to the operation.
    Respond { status: u16, body: String },
    /// Forward to moto, then replace every `<StackStatus>` in the response with this status.
    StackStatus(String),
    /// Forward to moto, then make the `Credentials.Expiration` of a JSON answer (Cognito
    /// `GetCredentialsForIdentity`) this many seconds from now: short-lived credentials.
    ExpireIn(u64),
    /// Forward to moto, then add these `(logical id, physical id, type)` summaries to a
    /// `ListStackResources` answer: resources moto's CloudFormation does not create (CloudFront,
    /// Cognito) listed beside the ones it did.
    AddResources(Vec<(String, String, String)>),
    /// Wait this long, then forward: a slow call (a create to kill Terraform in).
    Delay(std::time::Duration),
}

#[derive(Debug)]
struct Rule {
    action: String,
    /// Only requests whose body contains this (a `NextToken=…`, a stack name).
    body_contains: Option<String>,
    fault: Fault,
    /// `None`: forever.
    remaining: Option<usize>,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<String>,
}

pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts the proxy in front of moto on `upstream_port`.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(serve(st, upstream_port, rx, addr_tx));
        });
        let addr = addr_rx.recv().expect("proxy address");
        FaultProxy {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The URL to put in the provider's `endpoints.cloudformation`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Adds a rule for `action` (e.g. `DescribeStacks`), used `times` times (`None`: forever).
    /// Rules are tried in the order added.
    pub fn add(&self, action: &str, fault: Fault, times: Option<usize>) {
        self.add_when(action, None, fault, times);
    }

    /// [`FaultProxy::add`] for requests whose (form-encoded) body contains `body_contains`.
    pub fn add_when(&self, action: &str, body_contains: Option<&str>, fault: Fault, times: Option<usize>) {
        self.state.lock().expect("proxy state").rules.push(Rule {
            action: action.to_string(),
            body_contains: body_contains.map(str::to_string),
            fault,
            remaining: times,
        });
    }

    /// Removes every rule: pure pass-through again.
    pub fn clear(&self) {
        self.state.lock().expect("proxy state").rules.clear();
    }

    /// The actions seen so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.state.lock().expect("proxy state").seen.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An awsQuery error body, e.g. `("Throttling", "Rate exceeded")`.
pub fn query_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    )
}

/// A successful, empty `DeleteStack` response (the stack is left alone in moto).
pub fn delete_stack_ok() -> String {
    "<DeleteStackResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><ResponseMetadata>\
     <RequestId>fault-proxy</RequestId></ResponseMetadata></DeleteStackResponse>"
        .to_string()
}

/// A `DescribeStackEvents` page with one event per `(logical id, type, status, reason)`.
pub fn events_body(stack_name: &str, events: &[(&str, &str, &str, &str)]) -> String {
    let mut members = String::new();
    for (i, (logical, ty, status, reason)) in events.iter().enumerate() {
        members.push_str(&format!(
            "<member><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/{stack_name}/fault</StackId>\
             <EventId>fault-{i}</EventId><StackName>{stack_name}</StackName>\
             <LogicalResourceId>{logical}</LogicalResourceId><PhysicalResourceId>phys-{i}</PhysicalResourceId>\
             <ResourceType>{ty}</ResourceType><Timestamp>{{{{NOW}}}}</Timestamp>\
             <ResourceStatus>{status}</ResourceStatus><ResourceStatusReason>{reason}</ResourceStatusReason></member>"
        ));
    }
    format!(
        "<DescribeStackEventsResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <DescribeStackEventsResult><StackEvents>{members}</StackEvents></DescribeStackEventsResult>\
         <ResponseMetadata><RequestId>fault-proxy</RequestId></ResponseMetadata></DescribeStackEventsResponse>"
    )
}

/// A `ListStackResources` page with one summary per `(logical id, physical id, type)`, and
/// `next_token` when more pages follow.
pub fn stack_resources_body(resources: &[(&str, &str, &str)], next_token: Option<&str>) -> String {
    let mut members = String::new();
    for (logical, physical, ty) in resources {
        members.push_str(&format!(
            "<member><LogicalResourceId>{logical}</LogicalResourceId><PhysicalResourceId>{physical}</PhysicalResourceId>\
             <ResourceType>{ty}</ResourceType><ResourceStatus>CREATE_COMPLETE</ResourceStatus>\
             <LastUpdatedTimestamp>{{{{NOW}}}}</LastUpdatedTimestamp></member>"
        ));
    }
    let next = next_token
        .map(|t| format!("<NextToken>{t}</NextToken>"))
        .unwrap_or_default();
    format!(
        "<ListStackResourcesResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
         <ListStackResourcesResult><StackResourceSummaries>{members}</StackResourceSummaries>{next}\
         </ListStackResourcesResult><ResponseMetadata><RequestId>fault-proxy</RequestId></ResponseMetadata>\
         </ListStackResourcesResponse>"
    )
}

/// `xml` (a `ListStackResources` answer) with `extra` summaries appended to its list.
fn add_resources(xml: &str, extra: &[(String, String, String)]) -> String {
    let refs: Vec<(&str, &str, &str)> = extra
        .iter()
        .map(|(l, p, t)| (l.as_str(), p.as_str(), t.as_str()))
        .collect();
    let page = stack_resources_body(&refs, None);
    let (Some(start), Some(end)) = (page.find("<member>"), page.rfind("</member>")) else {
        return xml.to_string();
    };
    let members = page[start..end + "</member>".len()].replace("{{NOW}}", &now_iso());
    match xml.find("</StackResourceSummaries>") {
        Some(at) => format!("{}{members}{}", &xml[..at], &xml[at..]),
        None => xml.replace(
            "<StackResourceSummaries/>",
            &format!("<StackResourceSummaries>{members}</StackResourceSummaries>"),
        ),
    }
}

fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn expire_in(body: &[u8], secs: u64) -> String {
    let mut json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if let Some(creds) = json.get_mut("Credentials").and_then(|c| c.as_object_mut()) {
        creds.insert("Expiration".into(), serde_json::json!(now + secs));
    }
    json.to_string()
}

pub fn form_action(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
        .unwrap_or_default()
}

pub fn replace_status(xml: &str, status: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<StackStatus>") {
        let after = &rest[start + "<StackStatus>".len()..];
        let Some(end) = after.find("</StackStatus>") else { break };
        out.push_str(&rest[..start]);
        out.push_str(&format!("<StackStatus>{status}</StackStatus>"));
        rest = &after[end + "</StackStatus>".len()..];
    }
    out.push_str(rest);
    out
}

fn respond(status: u16, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert("content-type", hyper::header::HeaderValue::from_static("text/xml"));
    r
}

type Upstream = Client<HttpConnector, Full<Bytes>>;

async fn handle(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    upstream: Upstream,
    port: u16,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    // awsQuery services name the action in the form body; JSON services in `X-Amz-Target`;
    // REST services (CloudFront) are named by method and path, e.g.
    // `GET /2020-05-31/distribution/E123`.
    let action = match parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(target) => target.rsplit('.').next().unwrap_or_default().to_string(),
        None => match form_action(&body) {
            a if a.is_empty() => format!("{} {}", parts.method, parts.uri.path()),
            a => a,
        },
    };
    let fault = {
        let mut st = state.lock().expect("proxy state");
        st.seen.push(action.clone());
        let text = String::from_utf8_lossy(&body);
        let rule = st.rules.iter_mut().find(|r| {
            r.action == action
                && r.remaining != Some(0)
                && r.body_contains.as_ref().is_none_or(|c| text.contains(c.as_str()))
        });
        rule.map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault.clone()
        })
    };
    if let Some(Fault::Respond { status, body }) = &fault {
        return Ok(respond(*status, body.replace("{{NOW}}", &now_iso())));
    }
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let uri = format!(
        "http://127.0.0.1:{port}{}",
        parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut fwd = Request::builder().method(parts.method.clone()).uri(uri);
    for (k, v) in parts.headers.iter() {
        if k != hyper::header::HOST {
            fwd = fwd.header(k, v);
        }
    }
    let fwd = fwd.header(hyper::header::HOST, format!("localhost:{port}"));
    let Ok(fwd) = fwd.body(Full::new(body)) else {
        return Ok(respond(500, "proxy: bad request".into()));
    };
    let resp = match upstream.request(fwd).await {
        Ok(r) => r,
        Err(e) => return Ok(respond(502, format!("proxy: upstream failed: {e}"))),
    };
    let (rparts, rbody) = resp.into_parts();
    let rbody = rbody.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let rbody = match &fault {
        Some(Fault::StackStatus(s)) => Bytes::from(replace_status(&String::from_utf8_lossy(&rbody), s)),
        Some(Fault::ExpireIn(secs)) => Bytes::from(expire_in(&rbody, *secs)),
        Some(Fault::AddResources(extra)) => Bytes::from(add_resources(&String::from_utf8_lossy(&rbody), extra)),
        _ => rbody,
    };
    let mut out = Response::new(Full::new(rbody));
    *out.status_mut() = rparts.status;
    for (k, v) in rparts.headers.iter() {
        if k != hyper::header::CONTENT_LENGTH && k != hyper::header::TRANSFER_ENCODING {
            out.headers_mut().insert(k, v.clone());
        }
    }
    Ok(out)
}

async fn serve(
    state: Arc<Mutex<State>>,
    upstream_port: u16,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let _ = addr_tx.send(listener.local_addr().expect("proxy addr"));
    let upstream: Upstream = Client::builder(TokioExecutor::new()).build_http();
    let mut conns: VecDeque<tokio::task::JoinHandle<()>> = VecDeque::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (st, up) = (state.clone(), upstream.clone());
                conns.push_back(tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(req, st.clone(), up.clone(), upstream_port));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                }));
                conns.retain(|c| !c.is_finished());
            }
        }
    }
    for c in conns {
        c.abort();
    }
}
