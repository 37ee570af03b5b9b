//! The `dlt_test_run` configuration model: one read of the Terraform value into typed structs,
//! with every problem that can be found offline reported at its attribute's path.
//!
//! `ValidateResourceConfig` is this parse with unknowns tolerated (an unknown attribute is
//! checked once Terraform knows it); apply runs the same parse on the planned value and turns it
//! into the domain's [`TestSpec`]; the `run` command reads its JSON through it too, so the
//! defaults of the schema (`scenario.type`, `method`, `task_count`, ...) hold there as well.
//! The attribute names are spelled here and in `schema.rs` only; a unit test holds the two in
//! step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aws::cognito_auth::AuthFlow;
use crate::dlt::gates::{Gates, LabelGate, Limit, StatusGate, StatusSelector, Unit, GATES, STATUS_LIMITS};
use crate::dlt::limits;
use crate::dlt::report;
use crate::dlt::scenario::{request_labels, Load, RequestSpec, Scenario, ScriptType, TestSpec, WarmUp};
use crate::engine::{check_ca_bundle, TlsOptions};
use crate::plugin::{Diagnostics, Value};
use crate::resources::checks;
use crate::resources::model::{Attr, Field, Obj, Parse};

use super::local;

/// `dlt_test_run`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct TestRunConfig {
    pub name: Attr<String>,
    pub description: Attr<String>,
    pub dlt: Attr<DltConfig>,
    pub scenario: ScenarioConfig,
    pub load: LoadConfig,
    pub gates: Gates,
    /// `label_gates`, each with its limits (unknown entries are left out until known).
    pub label_gates: Vec<LabelGate>,
    pub status_gates: Vec<StatusGate>,
    pub warm_up: Attr<WarmUp>,
    pub fail_on_gate: Attr<bool>,
    pub triggers: Attr<BTreeMap<String, String>>,
    /// Report paths, by [`report::FORMATS`] key.
    pub report: Vec<(&'static str, Attr<String>)>,
    pub timeouts: Timeouts,
}

/// The `dlt` block: where and how to reach DLT.
#[derive(Debug, Clone, Default)]
pub struct DltConfig {
    pub api_endpoint: Attr<String>,
    pub region: Attr<String>,
    pub scenarios_bucket: Attr<String>,
    pub console_url: Attr<String>,
    pub cognito: Attr<CognitoConfig>,
}

/// `dlt.cognito`: log in like the DLT console.
#[derive(Debug, Clone, Default)]
pub struct CognitoConfig {
    pub user_pool_id: Attr<String>,
    pub client_id: Attr<String>,
    pub identity_pool_id: Attr<String>,
    pub username: Attr<String>,
    pub password_ssm_parameter: Attr<String>,
    pub auth_flow: Attr<AuthFlow>,
}

/// What a scenario is: HTTP requests, or a script of one of DLT's script types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioKind {
    Simple,
    Script(ScriptType),
}

#[derive(Debug, Clone, Default)]
pub struct ScenarioConfig {
    /// `type`; null reads as `simple`.
    pub kind: Attr<ScenarioKind>,
    pub requests: Attr<Vec<RequestConfig>>,
    pub script: Attr<String>,
    /// Local engine: a PEM file of extra trusted CAs.
    pub ca_bundle: Attr<String>,
    /// Local engine: accept any server certificate (null reads as false).
    pub insecure_skip_verify: Attr<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct RequestConfig {
    pub url: Attr<String>,
    pub label: Attr<String>,
    pub method: Attr<String>,
    pub headers: Attr<BTreeMap<String, String>>,
    pub body: Attr<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LoadConfig {
    pub concurrency: Attr<u32>,
    pub task_count: Attr<u32>,
    pub regions: Attr<Vec<String>>,
    pub ramp_up: Attr<Duration>,
    pub hold_for: Attr<Duration>,
    pub request_timeout: Attr<Duration>,
    /// Local engine's open model: requests per second.
    pub arrival_rate: Attr<f64>,
    /// The open model's rate at the start of `ramp_up` (null reads as 0).
    pub start_rate: Attr<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Timeouts {
    pub create: Attr<Duration>,
    pub delete: Attr<Duration>,
}

/// Methods DLT's simple test type accepts.
const DLT_METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Highest `load.arrival_rate` / `start_rate`, requests per second: far above what one machine
/// sends, low enough that the schedule's arithmetic stays exact to the nanosecond.
pub const MAX_ARRIVAL_RATE: f64 = 10_000_000.0;

/// Default per-request timeout of the local engine.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl TestRunConfig {
    /// Reads a (possibly partly unknown) configuration, plan or state.
    pub fn parse(v: &Value) -> (TestRunConfig, Diagnostics) {
        Parse::run(v, TestRunConfig::read)
    }

    /// `parse`, for the drift test: also what was read and not.
    pub(crate) fn read(cx: &mut Parse, v: &Value) -> TestRunConfig {
        let mut o = Obj::root(v);
        let name = {
            let f = o.field("name");
            f.read(|v| checks::non_empty(&mut cx.diags, &f.path.to_string(), v).map(str::to_string))
        };
        let description = o.field("description").string();
        let dlt_field = o.field("dlt");
        let on_dlt = !dlt_field.value.is_null();
        let dlt = match dlt_field.read(|_| Some(())) {
            Attr::Known(()) => Attr::Known(DltConfig::read(cx, &dlt_field)),
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        };
        let scenario = ScenarioConfig::read(cx, &o.field("scenario"), on_dlt);
        let load = LoadConfig::read(cx, &o.field("load"), on_dlt);
        let gates = read_gates(cx, &o.field("gates"));
        let labels = match scenario.kind {
            Attr::Known(ScenarioKind::Simple) => scenario
                .requests
                .known()
                .and_then(|r| r.iter().map(RequestConfig::spec).collect::<Option<Vec<_>>>())
                .map(|r| request_labels(&r)),
            _ => None,
        };
        let label_gates = read_label_gates(cx, &o.field("label_gates"), labels.as_deref());
        let status_gates = read_status_gates(cx, &o.field("status_gates"));
        let warm_up = read_warm_up(cx, &o.field("warm_up"), &load);
        let fail_on_gate = o.field("fail_on_gate").bool();
        let triggers = o.field("triggers").string_map();
        let mut report_obj = o.field("report").object();
        let report = report::FORMATS
            .iter()
            .map(|f| {
                let field = report_obj.field(f.key);
                let path = field.path.to_string();
                (
                    f.key,
                    field.read(|v| checks::non_empty(&mut cx.diags, &path, v).map(str::to_string)),
                )
            })
            .collect();
        report_obj.finish(cx);
        let timeouts = Timeouts::read(cx, &o.field("timeouts"));
        // The computed attributes are the state model's (`state.rs`).
        o.finish(cx);
        TestRunConfig {
            name,
            description,
            dlt,
            scenario,
            load,
            gates,
            label_gates,
            status_gates,
            warm_up,
            fail_on_gate,
            triggers,
            report,
            timeouts,
        }
    }

    /// Whether the run goes to DLT (a `dlt` block, known or not yet known).
    pub fn on_dlt(&self) -> bool {
        !self.dlt.is_null()
    }

    /// The requests as the engine takes them, when they are all known.
    pub fn requests(&self) -> Option<Vec<RequestSpec>> {
        self.scenario
            .requests
            .known()?
            .iter()
            .map(RequestConfig::spec)
            .collect()
    }

    /// `fail_on_gate`, default true.
    pub fn fail_on_gate(&self) -> bool {
        self.fail_on_gate.or(true).unwrap_or(true)
    }

    /// The domain test definition of a wholly known, valid configuration; the diagnostics say
    /// what is missing otherwise.
    pub fn spec(&self) -> Result<TestSpec, Diagnostics> {
        let mut d = Diagnostics::new();
        let mut need = |what: &str| d.error("Value not known", format!("{what} must be known when the test runs."));
        let scenario = match self.scenario.kind.or(ScenarioKind::Simple) {
            Some(ScenarioKind::Script(kind)) => match self.scenario.script.known() {
                Some(s) => Some(Scenario::from_script(kind, s.into())),
                None => {
                    need("scenario.script");
                    None
                }
            },
            Some(ScenarioKind::Simple) => match self.requests() {
                Some(requests) => Some(Scenario::Simple { requests }),
                None => {
                    need("scenario.requests");
                    None
                }
            },
            None => {
                need("scenario.type");
                None
            }
        };
        let load = self.load.spec();
        if load.is_none() {
            need("load");
        }
        let name = self.name.known().cloned();
        if name.is_none() {
            need("name");
        }
        match (name, scenario, load) {
            (Some(name), Some(scenario), Some(load)) if !d.has_errors() => Ok(TestSpec {
                name,
                description: self.description.known().cloned().unwrap_or_default(),
                scenario,
                load,
                gates: self.gates.clone(),
                label_gates: self.label_gates.clone(),
                status_gates: self.status_gates.clone(),
                warm_up: self.warm_up.known().copied(),
            }),
            _ => Err(d),
        }
    }
}

impl DltConfig {
    fn read(cx: &mut Parse, field: &Field<'_>) -> DltConfig {
        let mut o = field.object();
        let url = |cx: &mut Parse, f: Field<'_>| {
            f.read(|v| checks::http_url(&mut cx.diags, &f.path.to_string(), v).map(str::to_string))
        };
        let api_endpoint = url(cx, o.field("api_endpoint"));
        let region = o.field("region").string();
        let scenarios_bucket = o.field("scenarios_bucket").string();
        let console_url = url(cx, o.field("console_url"));
        let cognito_field = o.field("cognito");
        let cognito = match cognito_field.read(|_| Some(())) {
            Attr::Known(()) => Attr::Known(CognitoConfig::read(cx, &cognito_field)),
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        };
        o.finish(cx);
        DltConfig {
            api_endpoint,
            region,
            scenarios_bucket,
            console_url,
            cognito,
        }
    }
}

impl CognitoConfig {
    fn read(cx: &mut Parse, field: &Field<'_>) -> CognitoConfig {
        let mut o = field.object();
        let auth_flow = {
            let f = o.field("auth_flow");
            f.read(|v| {
                checks::one_of(
                    &mut cx.diags,
                    &f.path.to_string(),
                    v,
                    &["USER_PASSWORD_AUTH", "USER_SRP_AUTH"],
                )
                .and_then(|s| s.parse().ok())
            })
        };
        let mut s = |name: &'static str| {
            let f = o.field(name);
            f.read(|v| checks::non_empty(&mut cx.diags, &f.path.to_string(), v).map(str::to_string))
        };
        let config = CognitoConfig {
            user_pool_id: s("user_pool_id"),
            client_id: s("client_id"),
            identity_pool_id: s("identity_pool_id"),
            username: s("username"),
            password_ssm_parameter: s("password_ssm_parameter"),
            auth_flow,
        };
        o.finish(cx);
        config
    }
}

impl ScenarioConfig {
    fn read(cx: &mut Parse, field: &Field<'_>, on_dlt: bool) -> ScenarioConfig {
        let d = &mut cx.diags;
        let mut o = field.object();
        let type_field = o.field("type");
        let kind = match type_field.value {
            Value::Null => Attr::Known(ScenarioKind::Simple),
            v => type_field.read(|_| {
                checks::one_of(
                    d,
                    &type_field.path.to_string(),
                    v,
                    &["simple", "jmeter", "k6", "locust"],
                )
                .map(|t| ScriptType::parse(t).map_or(ScenarioKind::Simple, ScenarioKind::Script))
            }),
        };
        let requests_field = o.field("requests");
        let script_field = o.field("script");
        let requests = requests_field.value;
        match kind {
            Attr::Known(ScenarioKind::Simple) => {
                if requests.is_null() || (!requests.is_unknown() && requests.elements().is_empty()) {
                    d.attr_error(
                        &requests_field.path,
                        "Missing requests",
                        "A simple scenario needs at least one request in scenario.requests.",
                    );
                }
                if !script_field.value.is_null() {
                    d.attr_error(
                        &script_field.path,
                        "Unexpected script",
                        "scenario.script is only used with type = \"jmeter\", \"k6\" or \"locust\".",
                    );
                }
            }
            Attr::Known(ScenarioKind::Script(kind)) => {
                let t = kind.name();
                if !on_dlt {
                    d.attr_error(
                        &type_field.path,
                        "Script tests need DLT",
                        format!(
                            "type = \"{t}\" runs only on Distributed Load Testing on AWS{}: add a dlt block, or use type = \"simple\" on the local engine.",
                            if kind.needs_v4() { " v4" } else { "" }
                        ),
                    );
                }
                match script_field.value {
                    Value::Null => d.attr_error(
                        &script_field.path,
                        "Missing script",
                        format!(
                            "A {t} scenario needs scenario.script ({}).",
                            kind.extensions()
                                .iter()
                                .map(|e| format!(".{e}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                    Value::String(s) => {
                        if let Err(e) = kind.check_extension(s) {
                            d.attr_error(&script_field.path, "Invalid script", format!("scenario.script: {e}."));
                        } else if !std::path::Path::new(s).is_file() {
                            d.attr_error(
                                &script_field.path,
                                "Script not found",
                                format!(
                                    "scenario.script {s:?} is not a readable file (relative paths start from the \
                                     directory Terraform runs in; path.module helps in modules)."
                                ),
                            );
                        }
                    }
                    _ => {}
                }
                if !requests.is_null() && !requests.elements().is_empty() {
                    d.attr_error(
                        &requests_field.path,
                        "Unexpected requests",
                        "scenario.requests is only used with type = \"simple\".",
                    );
                }
            }
            _ => {}
        }
        if let Err(e) = limits::requests(requests.elements().len()) {
            d.attr_error(
                &requests_field.path,
                "Too many requests",
                format!("scenario.requests: {e}."),
            );
        }
        let requests = requests_field
            .elements()
            .map(|list| list.iter().map(|r| RequestConfig::read(cx, r, on_dlt)).collect());
        let script = script_field.string();
        let (ca_bundle, insecure_skip_verify) = read_tls(cx, &mut o, on_dlt);
        o.finish(cx);
        ScenarioConfig {
            kind,
            requests,
            script,
            ca_bundle,
            insecure_skip_verify,
        }
    }

    /// How the local engine authenticates HTTPS targets.
    pub fn tls(&self) -> TlsOptions {
        TlsOptions {
            ca_bundle: self.ca_bundle.known().map(PathBuf::from),
            insecure_skip_verify: self.insecure_skip_verify.known() == Some(&true),
        }
    }
}

/// `scenario.ca_bundle` and `scenario.insecure_skip_verify`: local engine only (DLT's Taurus runs
/// in Fargate, out of reach of both); the bundle must hold a certificate at plan time.
fn read_tls(cx: &mut Parse, o: &mut Obj<'_>, on_dlt: bool) -> (Attr<String>, Attr<bool>) {
    let d = &mut cx.diags;
    let ca_field = o.field("ca_bundle");
    let skip_field = o.field("insecure_skip_verify");
    let skip = skip_field.bool();
    if on_dlt {
        let not_here = "applies to the local engine only: DLT runs its load from Fargate tasks, whose trust store the \
                        provider does not control. Remove it, or remove the dlt block to run locally.";
        if !ca_field.value.is_null() {
            d.attr_error(
                &ca_field.path,
                "Not used on DLT",
                format!("scenario.ca_bundle {not_here}"),
            );
        }
        if skip.known() == Some(&true) {
            d.attr_error(
                &skip_field.path,
                "Not used on DLT",
                format!("scenario.insecure_skip_verify {not_here}"),
            );
        }
    }
    let ca_bundle = ca_field.read(|v| {
        let path = checks::non_empty(d, &ca_field.path.to_string(), v)?;
        if !on_dlt {
            if let Err(e) = check_ca_bundle(Path::new(path)) {
                d.attr_error(
                    &ca_field.path,
                    "Invalid CA bundle",
                    format!(
                        "{e}. It must be a readable PEM file of CA certificates (relative paths start from the \
                         directory Terraform runs in)."
                    ),
                );
            }
        }
        Some(path.to_string())
    });
    (ca_bundle, skip)
}

impl RequestConfig {
    fn read(cx: &mut Parse, field: &Field<'_>, on_dlt: bool) -> RequestConfig {
        let d = &mut cx.diags;
        let mut o = field.object();
        let p = field.path.to_string();
        let url_field = o.field("url");
        let url = url_field.read(|v| checks::http_url(d, &url_field.path.to_string(), v).map(str::to_string));
        let label = {
            let f = o.field("label");
            f.read(|v| checks::non_empty(d, &f.path.to_string(), v).map(str::to_string))
        };
        let body_field = o.field("body");
        if let Some(Err(e)) = body_field.value.as_str().map(limits::body) {
            d.attr_error(&body_field.path, "Body too large", format!("{p}.body: {e}."));
        }
        let headers_field = o.field("headers");
        let over = headers_field.value.entries().and_then(|h| {
            limits::header_count(h.len()).err().or_else(|| {
                h.iter()
                    .find_map(|(k, v)| limits::header(k, v.as_str().unwrap_or_default()).err())
            })
        });
        let headers_within_limits = over.is_none();
        if let Some(e) = over {
            d.attr_error(
                &headers_field.path,
                "Header limit exceeded",
                format!("{p}.headers: {e}."),
            );
        }
        let method_field = o.field("method");
        if let Some(m) = method_field.value.as_str() {
            let ok = !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic());
            if !ok {
                d.attr_error(
                    &method_field.path,
                    "Invalid method",
                    format!("{m:?} is not an HTTP method such as \"GET\"."),
                );
            } else if on_dlt && !DLT_METHODS.contains(&m) {
                d.attr_error(
                    &method_field.path,
                    "Invalid method",
                    format!("DLT accepts GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS, got {m:?}."),
                );
            }
        }
        // Over the limits, the per-name checks would repeat the problem thousands of times.
        if let Some(h) = headers_field.value.entries().filter(|_| headers_within_limits) {
            for name in h.keys() {
                let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
                if !ok {
                    d.attr_error(
                        &headers_field.path,
                        "Invalid header name",
                        format!("{name:?} is not a valid header name."),
                    );
                }
            }
        }
        let config = RequestConfig {
            url,
            label,
            method: method_field.string(),
            headers: headers_field.string_map(),
            body: body_field.string(),
        };
        o.finish(cx);
        config
    }

    /// The request as the engine takes it; `None` while anything in it is unknown.
    fn spec(&self) -> Option<RequestSpec> {
        Some(RequestSpec {
            label: match &self.label {
                Attr::Known(l) => Some(l.clone()),
                Attr::Null => None,
                Attr::Unknown => return None,
            },
            url: self.url.known()?.clone(),
            method: self.method.or("GET".to_string())?.to_uppercase(),
            headers: self.headers.or(BTreeMap::new())?,
            body: self.body.or(String::new())?,
        })
    }
}

impl LoadConfig {
    fn read(cx: &mut Parse, field: &Field<'_>, on_dlt: bool) -> LoadConfig {
        let d = &mut cx.diags;
        let mut o = field.object();
        let int = |d: &mut Diagnostics, f: Field<'_>, max: i64| {
            f.read(|v| checks::int_in_range(d, &f.path.to_string(), v, 1, max).map(|n| n as u32))
        };
        let concurrency = int(d, o.field("concurrency"), 100_000);
        let task_count = int(d, o.field("task_count"), 10_000);
        let ramp_up = {
            let f = o.field("ramp_up");
            f.read(|v| checks::duration(d, &f.path.to_string(), v))
        };
        let mut positive = |name: &'static str| {
            let f = o.field(name);
            f.read(|v| checks::positive_duration(d, &f.path.to_string(), v))
        };
        let hold_for = positive("hold_for");
        let request_timeout = positive("request_timeout");
        let regions_field = o.field("regions");
        for f in regions_field.elements().known().into_iter().flatten() {
            checks::aws_region(d, &f.path.to_string(), f.value);
        }
        let (arrival_rate, start_rate) = read_open_model(d, &mut o, on_dlt, &ramp_up);
        let config = LoadConfig {
            concurrency,
            task_count,
            regions: regions_field.string_list(),
            ramp_up,
            hold_for,
            request_timeout,
            arrival_rate,
            start_rate,
        };
        o.finish(cx);
        config
    }

    /// The load shape, when known: `task_count` defaults to 1 and `ramp_up` to zero.
    fn spec(&self) -> Option<Load> {
        Some(Load {
            concurrency: *self.concurrency.known()?,
            task_count: self.task_count.or(1)?,
            regions: self.regions.or(Vec::new())?,
            ramp_up: self.ramp_up.or(Duration::ZERO)?,
            hold_for: *self.hold_for.known()?,
            arrival_rate: self.arrival_rate.as_ref().map(|r| Some(*r)).or(None)?,
            start_rate: self.start_rate.as_ref().map(|r| Some(*r)).or(None)?,
        })
    }

    /// Whether the run is the open model (`arrival_rate` set, known or not yet).
    pub fn open_model(&self) -> bool {
        !self.arrival_rate.is_null()
    }

    /// The local engine's per-request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
            .or(DEFAULT_REQUEST_TIMEOUT)
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT)
    }
}

/// `load.arrival_rate` and `load.start_rate`: the local engine's open model. Rates in requests
/// per second, `arrival_rate` above 0 and `start_rate` 0 or more (above `arrival_rate` it ramps
/// down); `start_rate` needs `arrival_rate` and a ramp-up. On DLT, which has the closed model
/// only, either is an error.
fn read_open_model(
    d: &mut Diagnostics,
    o: &mut Obj<'_>,
    on_dlt: bool,
    ramp_up: &Attr<Duration>,
) -> (Attr<f64>, Attr<f64>) {
    let rate_field = o.field("arrival_rate");
    let start_field = o.field("start_rate");
    let rate = |d: &mut Diagnostics, f: &Field<'_>, above_zero: bool| {
        let path = f.path.to_string();
        f.read(|v| {
            let n = v.as_f64()?;
            let ok = n.is_finite() && n <= MAX_ARRIVAL_RATE && if above_zero { n > 0.0 } else { n >= 0.0 };
            if !ok {
                d.attr_error(
                    &f.path,
                    "Invalid rate",
                    format!(
                        "{path} must be a number of requests per second {} and at most {MAX_ARRIVAL_RATE}, got {n}.",
                        if above_zero { "above 0" } else { "of 0 or more" }
                    ),
                );
                return None;
            }
            Some(n)
        })
    };
    let arrival_rate = rate(d, &rate_field, true);
    let start_rate = rate(d, &start_field, false);
    if on_dlt {
        for f in [&rate_field, &start_field].into_iter().filter(|f| !f.value.is_null()) {
            d.attr_error(
                &f.path,
                "Open model not on DLT",
                format!(
                    "{}: DLT runs the closed model only: concurrency users per task, each sending its next request \
                     when the last one is answered. Remove arrival_rate and start_rate, or remove the dlt block to \
                     run the open model on the local engine.",
                    f.path
                ),
            );
        }
    } else if !start_field.value.is_null() {
        if rate_field.value.is_null() {
            d.attr_error(
                &start_field.path,
                "start_rate without arrival_rate",
                "load.start_rate is the open model's rate at the start of ramp_up; it needs load.arrival_rate.",
            );
        } else if ramp_up.or(Duration::ZERO) == Some(Duration::ZERO) {
            d.attr_error(
                &start_field.path,
                "start_rate without ramp_up",
                "load.start_rate is where the rate starts ramping to arrival_rate over load.ramp_up, which is 0: \
                 set ramp_up, or remove start_rate.",
            );
        }
    }
    (arrival_rate, start_rate)
}

impl Timeouts {
    fn read(cx: &mut Parse, field: &Field<'_>) -> Timeouts {
        let mut o = field.object();
        let mut positive = |cx: &mut Parse, name: &'static str| {
            let f = o.field(name);
            f.read(|v| checks::positive_duration(&mut cx.diags, &f.path.to_string(), v))
        };
        let t = Timeouts {
            create: positive(cx, "create"),
            delete: positive(cx, "delete"),
        };
        o.finish(cx);
        t
    }
}

/// `gates`: one limit per attribute set, each checked in its gate's unit; null and unknown
/// attributes are left out (Terraform validates again once they are known).
fn read_gates(cx: &mut Parse, field: &Field<'_>) -> Gates {
    let mut o = field.object();
    let out = read_gate_limits(cx, &mut o);
    o.finish(cx);
    out
}

/// The columns of [`GATES`] of one object (`gates`, or a `label_gates` entry).
fn read_gate_limits(cx: &mut Parse, o: &mut Obj<'_>) -> Gates {
    let mut out = Gates::default();
    for g in &GATES {
        if let Attr::Known(limit) = read_limit(&mut cx.diags, &o.field(g.name), g.unit) {
            // The limit was read in the gate's own unit, so it fits.
            let _ = out.set(g.name, limit);
        }
    }
    out
}

/// A limit in `unit`, checked against the unit's bounds.
fn read_limit(d: &mut Diagnostics, f: &Field<'_>, unit: Unit) -> Attr<Limit> {
    let path = f.path.to_string();
    let (min, max) = unit.bounds();
    f.read(|v| match unit {
        Unit::Duration => checks::duration(d, &path, v).map(Limit::Duration),
        Unit::Count => checks::int_in_range(d, &path, v, min as i64, max as i64).map(|n| Limit::Count(n as u64)),
        Unit::Percent | Unit::Rate => checks::number_in_range(d, &path, v, min, max).map(Limit::Number),
    })
}

/// A string attribute read by `parse`; its error is reported at the attribute as `summary`.
fn read_parsed<T>(d: &mut Diagnostics, f: &Field<'_>, summary: &str, parse: fn(&str) -> Result<T, String>) -> Attr<T> {
    let path = f.path.to_string();
    f.read(|v| {
        parse(v.as_str()?)
            .map_err(|e| d.attr_error(&f.path, summary, format!("{path}: {e}.")))
            .ok()
    })
}

/// The entries of a gate list, none when there are more than [`limits::MAX_GATE_ENTRIES`].
fn gate_entries<'v>(cx: &mut Parse, field: &Field<'v>, what: &str) -> Vec<Field<'v>> {
    let entries = field.elements().known().cloned().unwrap_or_default();
    match limits::gate_entries(entries.len(), what) {
        Ok(()) => entries,
        Err(e) => {
            cx.diags
                .attr_error(&field.path, "Too many gates", format!("{what}: {e}."));
            Vec::new()
        }
    }
}

/// Whether an object sets none of `names` (unknown counts as set: it may be, once known).
fn none_set(obj: &Value, names: impl IntoIterator<Item = &'static str>) -> bool {
    names.into_iter().all(|n| obj.get(n).is_null())
}

/// `label_gates`: a label and the gates' columns each. A label the scenario's requests do not
/// name (`labels`, when they are known: simple scenarios) is a plan-time error; script
/// scenarios name their own samplers, so their labels are judged at apply ("label not measured").
fn read_label_gates(cx: &mut Parse, field: &Field<'_>, labels: Option<&[String]>) -> Vec<LabelGate> {
    let mut out = Vec::new();
    for entry in gate_entries(cx, field, "label_gates") {
        let mut o = entry.object();
        let label_field = o.field("label");
        let path = label_field.path.to_string();
        let label = label_field.read(|v| checks::non_empty(&mut cx.diags, &path, v).map(str::to_string));
        if let (Attr::Known(l), Some(known)) = (&label, labels) {
            if !known.contains(l) {
                cx.diags.attr_error(
                    &label_field.path,
                    "Unknown label",
                    format!(
                        "{path} = {l:?} is not a label of the scenario's requests, so the gate could never be judged. \
                         Labels: {}. A request's label is its `label`, else its URL (\"METHOD URL\" when one URL \
                         is sent with several methods).",
                        known.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        let gates = read_gate_limits(cx, &mut o);
        if none_set(entry.value, GATES.iter().map(|g| g.name)) {
            cx.diags.attr_error(
                &entry.path,
                "Label gate without a limit",
                format!(
                    "{} sets no limit; set one of {}.",
                    entry.path,
                    GATES.iter().map(|g| g.name).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        o.finish(cx);
        if let Attr::Known(label) = label {
            out.push(LabelGate { label, gates });
        }
    }
    out
}

/// `status_gates`: a status (class, code or transport failure) and its limits each.
fn read_status_gates(cx: &mut Parse, field: &Field<'_>) -> Vec<StatusGate> {
    let mut out = Vec::new();
    for entry in gate_entries(cx, field, "status_gates") {
        let mut o = entry.object();
        let status = read_parsed(
            &mut cx.diags,
            &o.field("status"),
            "Invalid status",
            StatusSelector::parse,
        );
        let [max_percent, max_count] =
            STATUS_LIMITS.map(|(name, unit, _)| read_limit(&mut cx.diags, &o.field(name), unit));
        if none_set(entry.value, STATUS_LIMITS.iter().map(|l| l.0)) {
            cx.diags.attr_error(
                &entry.path,
                "Status gate without a limit",
                format!("{} sets no limit; set max_percent or max_count.", entry.path),
            );
        }
        o.finish(cx);
        if let Attr::Known(status) = status {
            out.push(StatusGate {
                status,
                max_percent: match max_percent {
                    Attr::Known(Limit::Number(n)) => Some(n),
                    _ => None,
                },
                max_count: match max_count {
                    Attr::Known(Limit::Count(n)) => Some(n),
                    _ => None,
                },
            });
        }
    }
    out
}

/// `warm_up`: `"ramp_up"` or a duration, shorter than the whole run.
fn read_warm_up(cx: &mut Parse, field: &Field<'_>, load: &LoadConfig) -> Attr<WarmUp> {
    let warm_up = read_parsed(&mut cx.diags, field, "Invalid warm_up", WarmUp::parse);
    if let (Attr::Known(w), Some(ramp_up), Some(hold_for)) = (
        &warm_up,
        load.ramp_up.or(Duration::ZERO),
        load.hold_for.known().copied(),
    ) {
        let length = match *w {
            WarmUp::RampUp => ramp_up,
            WarmUp::For(d) => d,
        };
        if length >= ramp_up + hold_for {
            cx.diags.attr_error(
                &field.path,
                "Warm-up covers the whole run",
                format!(
                    "warm_up ({}) is not shorter than ramp_up + hold_for ({}): nothing would be measured.",
                    crate::duration::format_duration(length),
                    crate::duration::format_duration(ramp_up + hold_for)
                ),
            );
        }
    }
    warm_up
}

/// The plan-time checks: the parse, then the local engine's own request check once the requests
/// are known and nothing else is wrong.
pub fn validate(v: &Value) -> (TestRunConfig, Diagnostics) {
    let (config, mut d) = TestRunConfig::parse(v);
    if !config.on_dlt() && !d.has_errors() {
        if let Some(requests) = config.requests() {
            local::check_requests(&mut d, &requests);
        }
    }
    (config, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::model::every_attribute_set;
    use crate::resources::test_run::{schema, state};

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.attribute.as_ref().map(|p| p.to_string()))
            .collect()
    }

    /// A configuration as Terraform sends it: every attribute of the schema present, null unless
    /// set here.
    fn config(set: &[(&str, Value)]) -> Value {
        let mut v = every_attribute_set(&schema::schema().block);
        null_all(&mut v);
        for (k, x) in set {
            v.set(k, x.clone());
        }
        v
    }

    fn null_all(v: &mut Value) {
        if let Value::Object(m) = v {
            m.values_mut().for_each(|x| *x = Value::Null);
        }
    }

    fn simple(url: &str) -> Value {
        Value::object([
            ("type", Value::Null),
            ("script", Value::Null),
            (
                "requests",
                Value::List(vec![Value::object([
                    ("url", Value::string(url)),
                    ("method", Value::Null),
                    ("headers", Value::Null),
                    ("body", Value::Null),
                ])]),
            ),
        ])
    }

    fn load(concurrency: Value, hold_for: Value) -> Value {
        Value::object([
            ("concurrency", concurrency),
            ("task_count", Value::Null),
            ("regions", Value::Null),
            ("ramp_up", Value::Null),
            ("hold_for", hold_for),
            ("request_timeout", Value::Null),
            ("arrival_rate", Value::Null),
            ("start_rate", Value::Null),
        ])
    }

    #[test]
    fn the_model_reads_every_schema_attribute_and_no_other() {
        let mut cx = Parse::new();
        TestRunConfig::read(&mut cx, &every_attribute_set(&schema::schema().block));
        let mut unread = cx.unread.clone();
        unread.sort();
        let mut computed = state::computed();
        computed.sort();
        assert_eq!(
            unread, computed,
            "schema attributes the configuration model does not read"
        );
        assert!(
            cx.strays.is_empty(),
            "names the model reads that the schema lacks: {:?}",
            cx.strays
        );
    }

    #[test]
    fn a_minimal_configuration_takes_the_schema_defaults() {
        let v = config(&[
            ("name", Value::string("smoke")),
            ("scenario", simple("http://127.0.0.1:9/health")),
            ("load", load(Value::int(3), Value::string("2s"))),
        ]);
        let (c, d) = validate(&v);
        assert!(d.is_empty(), "{d}");
        assert!(!c.on_dlt());
        assert!(c.fail_on_gate());
        assert_eq!(c.load.request_timeout(), DEFAULT_REQUEST_TIMEOUT);
        let spec = c.spec().unwrap();
        assert_eq!(spec.name, "smoke");
        assert_eq!(spec.load.concurrency, 3);
        assert_eq!(spec.load.task_count, 1);
        assert_eq!(spec.load.ramp_up, Duration::ZERO);
        assert_eq!(spec.load.hold_for, Duration::from_secs(2));
        let Scenario::Simple { requests } = &spec.scenario else {
            panic!("{spec:?}")
        };
        assert_eq!(requests[0].method, "GET");
        assert!(spec.gates.is_empty());
    }

    #[test]
    fn every_argument_is_read_into_its_field() {
        let mut v = config(&[
            ("name", Value::string("checkout")),
            ("description", Value::string("PR gate")),
            ("fail_on_gate", Value::Bool(false)),
            ("triggers", Value::string_map([("release", "42")])),
        ]);
        v.set(
            "dlt",
            Value::object([
                (
                    "api_endpoint",
                    Value::string("https://x.execute-api.eu-west-1.amazonaws.com/prod/"),
                ),
                ("region", Value::string("eu-west-1")),
                ("scenarios_bucket", Value::string("bucket")),
                ("console_url", Value::string("https://d1.cloudfront.net")),
                (
                    "cognito",
                    Value::object([
                        ("user_pool_id", Value::string("eu-west-1_a")),
                        ("client_id", Value::string("c")),
                        ("identity_pool_id", Value::string("eu-west-1:i")),
                        ("username", Value::string("admin")),
                        ("password_ssm_parameter", Value::string("/p")),
                        ("auth_flow", Value::string("USER_SRP_AUTH")),
                    ]),
                ),
            ]),
        );
        let mut scenario = simple("https://app.example.com/cart");
        scenario.set(
            "requests",
            Value::List(vec![Value::object([
                ("url", Value::string("https://app.example.com/cart")),
                ("method", Value::string("POST")),
                ("headers", Value::string_map([("X-A", "1")])),
                ("body", Value::string("{}")),
            ])]),
        );
        v.set("scenario", scenario);
        v.set(
            "load",
            Value::object([
                ("concurrency", Value::int(5)),
                ("task_count", Value::int(2)),
                ("regions", Value::List(vec![Value::string("eu-west-1")])),
                ("ramp_up", Value::string("10s")),
                ("hold_for", Value::string("1m")),
                ("request_timeout", Value::string("5s")),
            ]),
        );
        v.set(
            "gates",
            Value::object([
                ("max_p95", Value::string("800ms")),
                ("min_success_rate", Value::int(99)),
            ]),
        );
        v.set("report", Value::object([("junit_path", Value::string("r.xml"))]));
        v.set(
            "timeouts",
            Value::object([("create", Value::string("20m")), ("delete", Value::string("2m"))]),
        );
        let (c, d) = validate(&v);
        assert!(d.is_empty(), "{d}");
        let dlt = c.dlt.known().unwrap();
        assert_eq!(dlt.region.known().map(String::as_str), Some("eu-west-1"));
        assert_eq!(dlt.scenarios_bucket.known().map(String::as_str), Some("bucket"));
        let cognito = dlt.cognito.known().unwrap();
        assert_eq!(cognito.auth_flow, Attr::Known(AuthFlow::UserSrp));
        assert_eq!(cognito.username.known().map(String::as_str), Some("admin"));
        assert!(!c.fail_on_gate());
        assert_eq!(c.triggers.known().map(|t| t["release"].clone()).as_deref(), Some("42"));
        assert_eq!(c.timeouts.create, Attr::Known(Duration::from_secs(1200)));
        assert_eq!(c.timeouts.delete, Attr::Known(Duration::from_secs(120)));
        assert_eq!(c.load.request_timeout(), Duration::from_secs(5));
        assert_eq!(c.report[0], ("junit_path", Attr::Known("r.xml".to_string())));
        let spec = c.spec().unwrap();
        assert_eq!(spec.description, "PR gate");
        assert_eq!(spec.load.task_count, 2);
        assert_eq!(spec.load.regions, ["eu-west-1"]);
        assert_eq!(spec.load.ramp_up, Duration::from_secs(10));
        let Scenario::Simple { requests } = &spec.scenario else {
            panic!("{spec:?}")
        };
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].headers["X-A"], "1");
        assert_eq!(requests[0].body, "{}");
        assert_eq!(
            spec.gates.get("max_p95"),
            Some(Limit::Duration(Duration::from_millis(800)))
        );
    }

    #[test]
    fn unknowns_wait_without_a_diagnostic() {
        let mut scenario = simple("http://127.0.0.1:9/");
        scenario.set("requests", Value::Unknown);
        let v = config(&[
            ("name", Value::Unknown),
            ("scenario", scenario),
            ("load", load(Value::Unknown, Value::Unknown)),
            ("gates", Value::object([("max_p95", Value::Unknown)])),
            ("dlt", Value::Unknown),
        ]);
        let (c, d) = validate(&v);
        assert!(d.is_empty(), "{d}");
        assert!(c.name.is_unknown() && c.dlt.is_unknown() && c.on_dlt());
        assert!(c.scenario.requests.is_unknown() && c.load.concurrency.is_unknown());
        assert!(c.gates.is_empty());
        let e = c.spec().unwrap_err().to_string();
        assert!(e.contains("scenario.requests must be known"), "{e}");
    }

    #[test]
    fn bad_values_are_each_reported_at_their_path() {
        let mut scenario = simple("ftp://x");
        scenario.set("type", Value::string("soap"));
        let v = config(&[
            ("name", Value::string(" ")),
            ("scenario", scenario),
            ("load", load(Value::int(0), Value::string("5 parsecs"))),
            ("gates", Value::object([("max_p95", Value::string("fast"))])),
            ("report", Value::object([("json_path", Value::string(""))])),
            ("timeouts", Value::object([("create", Value::string("0s"))])),
        ]);
        let (c, d) = validate(&v);
        assert_eq!(
            paths(&d),
            [
                "name",
                "scenario.type",
                "scenario.requests[0].url",
                "load.concurrency",
                "load.hold_for",
                "gates.max_p95",
                "report.json_path",
                "timeouts.create",
            ]
        );
        assert!(c.name.is_null() && c.load.concurrency.is_null());
        assert!(c.spec().is_err());
    }

    fn two_requests() -> Value {
        let req = |url: &str, label: Value| {
            Value::object([
                ("url", Value::string(url)),
                ("label", label),
                ("method", Value::Null),
                ("headers", Value::Null),
                ("body", Value::Null),
            ])
        };
        Value::object([
            ("type", Value::Null),
            ("script", Value::Null),
            (
                "requests",
                Value::List(vec![
                    req("http://127.0.0.1:9/", Value::Null),
                    req("http://127.0.0.1:9/cart", Value::string("checkout")),
                ]),
            ),
        ])
    }

    fn label_gate(label: &str, set: &[(&str, Value)]) -> Value {
        let mut g: Vec<(&str, Value)> = vec![("label", Value::string(label))];
        g.extend(GATES.iter().map(|d| (d.name, Value::Null)));
        let mut v = Value::object(g);
        for (k, x) in set {
            v.set(k, x.clone());
        }
        v
    }

    fn status_gate(status: &str, percent: Value, count: Value) -> Value {
        Value::object([
            ("status", Value::string(status)),
            ("max_percent", percent),
            ("max_count", count),
        ])
    }

    #[test]
    fn label_gates_name_the_scenarios_labels() {
        let v = config(&[
            ("name", Value::string("t")),
            ("scenario", two_requests()),
            ("load", load(Value::int(1), Value::string("2s"))),
            (
                "label_gates",
                Value::List(vec![
                    label_gate("checkout", &[("max_p95", Value::string("800ms"))]),
                    label_gate("http://127.0.0.1:9/", &[("max_failures", Value::int(0))]),
                    label_gate("http://127.0.0.1:9/cart", &[("max_p95", Value::string("1s"))]),
                    label_gate("checkout", &[]),
                    label_gate("checkout", &[("max_p95", Value::string("soon"))]),
                ]),
            ),
        ]);
        let (c, d) = validate(&v);
        assert_eq!(
            paths(&d),
            ["label_gates[2].label", "label_gates[3]", "label_gates[4].max_p95"],
            "{d}"
        );
        let unknown = d.iter().find(|x| x.summary == "Unknown label").unwrap();
        assert!(
            unknown
                .detail
                .contains("Labels: \"http://127.0.0.1:9/\", \"checkout\"."),
            "{}",
            unknown.detail
        );
        assert_eq!(c.label_gates.len(), 5);
        assert_eq!(
            c.label_gates[0].gates.get("max_p95"),
            Some(Limit::Duration(Duration::from_millis(800)))
        );
        let mut ok = v.clone();
        ok.set("label_gates", Value::Null);
        let Scenario::Simple { requests } = validate(&ok).0.spec().unwrap().scenario else {
            panic!("not simple")
        };
        assert_eq!(requests[1].label.as_deref(), Some("checkout"));
        assert_eq!(requests[0].label, None);
    }

    #[test]
    fn status_gates_and_warm_up_are_checked_at_plan() {
        let v = config(&[
            ("name", Value::string("t")),
            ("scenario", simple("http://127.0.0.1:9/")),
            ("load", load(Value::int(1), Value::string("2s"))),
            (
                "status_gates",
                Value::List(vec![
                    status_gate("5xx", Value::int(1), Value::Null),
                    status_gate("timeout", Value::Null, Value::int(0)),
                    status_gate("2xx", Value::int(1), Value::Null),
                    status_gate("404", Value::Null, Value::Null),
                    status_gate("429", Value::int(120), Value::float(0.5)),
                ]),
            ),
            ("warm_up", Value::string("2s")),
        ]);
        let (c, d) = validate(&v);
        assert_eq!(
            paths(&d),
            [
                "status_gates[2].status",
                "status_gates[3]",
                "status_gates[4].max_percent",
                "status_gates[4].max_count",
                "warm_up"
            ],
            "{d}"
        );
        assert!(d.iter().any(|x| x.detail.contains("min_success_rate")), "{d}");
        assert!(d.iter().any(|x| x.detail.contains("nothing would be measured")), "{d}");
        assert_eq!(c.status_gates.len(), 4);
        assert_eq!(c.status_gates[0].max_percent, Some(1.0));
        assert_eq!(c.status_gates[1].max_count, Some(0));

        let mut v = config(&[
            ("name", Value::string("t")),
            ("scenario", simple("http://127.0.0.1:9/")),
            ("load", load(Value::int(1), Value::string("2s"))),
            ("warm_up", Value::string("ramp_up")),
        ]);
        let (c, d) = validate(&v);
        assert!(d.is_empty(), "{d}");
        assert_eq!(c.spec().unwrap().warm_up, Some(WarmUp::RampUp));
        v.set("warm_up", Value::string("first minute"));
        let (_, d) = validate(&v);
        assert_eq!(paths(&d), ["warm_up"]);
        assert!(d.iter().any(|x| x.detail.contains("\"ramp_up\"")), "{d}");
        v.set("warm_up", Value::string("500ms"));
        let spec = validate(&v).0.spec().unwrap();
        assert_eq!(spec.warm_up(), Duration::from_millis(500));
    }

    #[test]
    fn gate_lists_are_bounded() {
        let many = Value::List(
            (0..=limits::MAX_GATE_ENTRIES)
                .map(|_| status_gate("5xx", Value::int(1), Value::Null))
                .collect(),
        );
        let v = config(&[
            ("name", Value::string("t")),
            ("scenario", simple("http://127.0.0.1:9/")),
            ("load", load(Value::int(1), Value::string("2s"))),
            ("status_gates", many),
        ]);
        let (c, d) = validate(&v);
        assert_eq!(paths(&d), ["status_gates"], "{d}");
        assert!(c.status_gates.is_empty());
    }

    #[test]
    fn ca_bundle_and_skip_verify_are_local_only_and_the_bundle_is_checked() {
        let with = |ca: Value, skip: Value, dlt: Value| {
            let mut scenario = simple("https://127.0.0.1:9/");
            scenario.set("ca_bundle", ca);
            scenario.set("insecure_skip_verify", skip);
            let v = config(&[
                ("name", Value::string("t")),
                ("scenario", scenario),
                ("load", load(Value::int(1), Value::string("1s"))),
                ("dlt", dlt),
            ]);
            validate(&v)
        };
        let dlt = Value::object([(
            "api_endpoint",
            Value::string("https://x.execute-api.eu-west-1.amazonaws.com/prod/"),
        )]);
        let (_, d) = with(Value::string("ca.pem"), Value::Bool(true), dlt.clone());
        assert_eq!(
            paths(&d),
            ["scenario.ca_bundle", "scenario.insecure_skip_verify"],
            "{d}"
        );
        assert!(d.to_string().contains("applies to the local engine only"), "{d}");
        let (_, d) = with(Value::Null, Value::Bool(false), dlt);
        assert!(d.is_empty(), "{d}");
        // Locally: a missing bundle is refused at its path; skip-verify is read.
        let (_, d) = with(Value::string("/nonexistent/ca.pem"), Value::Null, Value::Null);
        assert_eq!(paths(&d), ["scenario.ca_bundle"], "{d}");
        let (c, d) = with(Value::Null, Value::Bool(true), Value::Null);
        assert!(d.is_empty(), "{d}");
        assert_eq!(
            c.scenario.tls(),
            TlsOptions {
                ca_bundle: None,
                insecure_skip_verify: true
            }
        );
    }

    #[test]
    fn the_open_model_is_read_checked_and_local_only() {
        let with = |set: &[(&str, Value)], dlt: Value| {
            let mut l = load(Value::int(4), Value::string("2s"));
            for (k, x) in set {
                l.set(k, x.clone());
            }
            validate(&config(&[
                ("name", Value::string("t")),
                ("scenario", simple("http://127.0.0.1:9/")),
                ("load", l),
                ("dlt", dlt),
            ]))
        };
        let (c, d) = with(&[("arrival_rate", Value::float(250.5))], Value::Null);
        assert!(d.is_empty(), "{d}");
        let spec = c.spec().unwrap();
        assert_eq!((spec.load.arrival_rate, spec.load.start_rate), (Some(250.5), None));
        let (c, d) = with(
            &[
                ("arrival_rate", Value::int(100)),
                ("start_rate", Value::int(500)),
                ("ramp_up", Value::string("10s")),
            ],
            Value::Null,
        );
        assert!(d.is_empty(), "a ramp down is fine: {d}");
        assert_eq!(c.spec().unwrap().load.start_rate, Some(500.0));
        // The closed model: neither set.
        let (c, _) = with(&[], Value::Null);
        assert_eq!(c.spec().unwrap().load.arrival_rate, None);
        assert!(!c.load.open_model());
        // Unknown until apply: no diagnostic yet, and still the open model.
        let (c, d) = with(&[("arrival_rate", Value::Unknown)], Value::Null);
        assert!(d.is_empty() && c.load.open_model(), "{d}");

        for (set, path, says) in [
            (vec![("arrival_rate", Value::int(0))], "load.arrival_rate", "above 0"),
            (
                vec![("arrival_rate", Value::float(-2.5))],
                "load.arrival_rate",
                "above 0",
            ),
            (
                vec![("arrival_rate", Value::float(1e12))],
                "load.arrival_rate",
                "at most 10000000",
            ),
            (
                vec![
                    ("arrival_rate", Value::int(5)),
                    ("start_rate", Value::int(-1)),
                    ("ramp_up", Value::string("1s")),
                ],
                "load.start_rate",
                "0 or more",
            ),
            (
                vec![("start_rate", Value::int(5)), ("ramp_up", Value::string("1s"))],
                "load.start_rate",
                "needs load.arrival_rate",
            ),
            (
                vec![("arrival_rate", Value::int(5)), ("start_rate", Value::int(1))],
                "load.start_rate",
                "set ramp_up",
            ),
        ] {
            let (c, d) = with(&set, Value::Null);
            assert_eq!(paths(&d), [path], "{set:?}: {d}");
            assert!(d.to_string().contains(says), "{set:?}: {d}");
            assert!(c.spec().is_ok() || d.has_errors());
        }

        // On DLT both are refused, each at its own path.
        let dlt = Value::object([(
            "api_endpoint",
            Value::string("https://x.execute-api.eu-west-1.amazonaws.com/prod/"),
        )]);
        let (_, d) = with(
            &[
                ("arrival_rate", Value::int(50)),
                ("start_rate", Value::int(5)),
                ("ramp_up", Value::string("5s")),
            ],
            dlt.clone(),
        );
        assert_eq!(paths(&d), ["load.arrival_rate", "load.start_rate"], "{d}");
        assert!(d.to_string().contains("DLT runs the closed model only"), "{d}");
        let (_, d) = with(&[("arrival_rate", Value::Unknown)], dlt);
        assert_eq!(paths(&d), ["load.arrival_rate"], "{d}");

        // HTTPS targets run the open model too.
        let mut l = load(Value::int(4), Value::string("2s"));
        l.set("arrival_rate", Value::int(10));
        let (c, d) = validate(&config(&[
            ("name", Value::string("t")),
            ("scenario", simple("https://127.0.0.1:9/")),
            ("load", l),
        ]));
        assert!(d.is_empty() && c.load.open_model(), "{d}");
    }

    #[test]
    fn script_scenarios_need_dlt_and_a_script() {
        let scenario = Value::object([
            ("type", Value::string("jmeter")),
            ("script", Value::Null),
            ("requests", Value::Null),
        ]);
        let v = config(&[
            ("name", Value::string("jm")),
            ("scenario", scenario),
            ("load", load(Value::int(1), Value::string("1s"))),
        ]);
        let (c, d) = validate(&v);
        assert_eq!(paths(&d), ["scenario.type", "scenario.script"]);
        assert_eq!(c.scenario.kind, Attr::Known(ScenarioKind::Script(ScriptType::Jmeter)));
    }
}
