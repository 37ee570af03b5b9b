//! The `dlt_stack` configuration model (and the data source's): one read of the arguments into
//! typed fields, with every problem that can be found offline reported at its attribute's path.
//! Validate is this read with unknowns tolerated; create and update run the same read on the
//! planned value and build the CloudFormation input from it. The attribute names are spelled
//! here, in `state.rs` (the computed ones) and in `schema.rs` only; unit tests hold them in step.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::cloudformation::{OnFailure, StackInput, TemplateSource, MARKER_TAG, MAX_TEMPLATE_BODY_BYTES};
use crate::plugin::{AttrPath, Diagnostics, Value};
use crate::resources::checks;
use crate::resources::model::{Attr, Field, Obj, Parse};

/// Default for each of `timeouts.create/update/delete`: a DLT stack takes 10-20 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

const CAPABILITIES: [&str; 3] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"];

/// `dlt_stack`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct StackConfig {
    pub name: Attr<String>,
    pub template_url: Attr<String>,
    pub template_body: Attr<String>,
    pub parameters: Attr<BTreeMap<String, String>>,
    pub capabilities: Attr<Vec<String>>,
    pub on_failure: Attr<OnFailure>,
    pub tags: Attr<BTreeMap<String, String>>,
    pub iam_role_arn: Attr<String>,
    pub notification_arns: Attr<Vec<String>>,
    pub admin_password: Attr<AdminPasswordConfig>,
    pub output_names: Attr<BTreeMap<String, String>>,
    pub timeouts: Timeouts,
}

/// `admin_password`: where the password is and whose it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminPasswordConfig {
    pub ssm_parameter: Attr<String>,
    pub username: Attr<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Timeouts {
    pub create: Attr<Duration>,
    pub update: Attr<Duration>,
    pub delete: Attr<Duration>,
}

/// The stack operation a timeout is for.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Create,
    Update,
    Delete,
}

impl StackConfig {
    pub fn parse(v: &Value) -> (StackConfig, Diagnostics) {
        Parse::run(v, StackConfig::read)
    }

    /// The read, for `parse` and for states (whose diagnostics nobody sees).
    pub(crate) fn read(cx: &mut Parse, v: &Value) -> StackConfig {
        let mut o = Obj::root(v);
        let name = {
            let f = o.field("name");
            f.read(|v| name_of(&mut cx.diags, &f, v))
        };
        let (template_url, template_body) = read_template(cx, o.field("template_url"), o.field("template_body"));
        let parameters_field = o.field("parameters");
        let parameters = parameters_field.read(|v| {
            for k in v.entries()?.keys() {
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
                    cx.diags.attr_error(
                        parameters_field.path.clone().key(k),
                        "Invalid parameter name",
                        format!(
                            "parameters: {} is not a CloudFormation parameter name (letters and digits only).",
                            checks::shown(k)
                        ),
                    );
                }
            }
            Some(())
        });
        let parameters = parameters.and(parameters_field.string_map());
        let capabilities_field = o.field("capabilities");
        for f in capabilities_field.elements().known().into_iter().flatten() {
            if let Some(c) = f.value.as_str() {
                if !CAPABILITIES.contains(&c) {
                    cx.diags.attr_error(
                        &f.path,
                        "Invalid capability",
                        format!(
                            "capabilities: {} is not one of {}.",
                            checks::shown(c),
                            CAPABILITIES.join(", ")
                        ),
                    );
                }
            }
        }
        let on_failure = {
            let f = o.field("on_failure");
            f.read(|v| {
                let s = v.as_str()?;
                let parsed = OnFailure::parse(s);
                if parsed.is_none() {
                    cx.diags.attr_error(
                        &f.path,
                        "Invalid on_failure",
                        format!(
                            "on_failure must be one of {}, got {}.",
                            OnFailure::NAMES.join(", "),
                            checks::shown(s)
                        ),
                    );
                }
                parsed
            })
        };
        let tags_field = o.field("tags");
        if let Some(m) = tags_field.value.entries() {
            if m.len() > 49 {
                cx.diags.attr_error(
                    &tags_field.path,
                    "Too many tags",
                    format!(
                        "tags: CloudFormation allows 50 tags and the provider sets one ({MARKER_TAG}), so at most 49, \
                         got {}.",
                        m.len()
                    ),
                );
            }
            for k in m.keys() {
                if k == MARKER_TAG {
                    cx.diags.attr_error(
                        tags_field.path.clone().key(k),
                        "Reserved tag key",
                        format!("tags: {MARKER_TAG} is set by the provider (it marks the stacks it creates)."),
                    );
                } else if k.is_empty() || k.len() > 128 || k.starts_with("aws:") {
                    cx.diags.attr_error(
                        tags_field.path.clone().key(k),
                        "Invalid tag key",
                        format!(
                            "tags: {} must be 1-128 characters and must not start with \"aws:\".",
                            checks::shown(k)
                        ),
                    );
                }
            }
        }
        let iam_role_arn = {
            let f = o.field("iam_role_arn");
            f.read(|v| arn(&mut cx.diags, &f.path, v))
        };
        let notification_field = o.field("notification_arns");
        for f in notification_field.elements().known().into_iter().flatten() {
            arn(&mut cx.diags, &f.path, f.value);
        }
        let ap_field = o.field("admin_password");
        let admin_password = match ap_field.read(|_| Some(())) {
            Attr::Known(()) => Attr::Known(AdminPasswordConfig::read(cx, &ap_field, parameters_field.value)),
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        };
        let names_field = o.field("output_names");
        let mut names = names_field.object();
        for w in crate::dlt::stack_outputs::WellKnown::ALL {
            let f = names.field(w.attribute());
            if f.value.as_str().is_some_and(str::is_empty) {
                cx.diags.attr_error(
                    &f.path,
                    "Empty output name",
                    format!("{} must name a stack output.", f.path),
                );
            }
        }
        names.finish(cx);
        let config = StackConfig {
            name,
            template_url,
            template_body,
            parameters,
            capabilities: capabilities_field.string_list(),
            on_failure,
            tags: tags_field.string_map(),
            iam_role_arn,
            notification_arns: notification_field.string_list(),
            admin_password,
            output_names: names_field.string_map(),
            timeouts: Timeouts::read(cx, &o.field("timeouts")),
        };
        // The computed attributes are the state model's (`state.rs`).
        o.finish(cx);
        config
    }

    /// The template as the arguments give it.
    pub fn template(&self) -> Option<TemplateSource> {
        match (&self.template_url, &self.template_body) {
            (Attr::Known(u), _) => Some(TemplateSource::Url(u.clone())),
            (_, Attr::Known(b)) => Some(TemplateSource::Body(b.clone())),
            _ => None,
        }
    }

    /// The CloudFormation input of a create or update.
    pub fn input(&self, template: Option<TemplateSource>) -> StackInput {
        StackInput {
            name: self.name.known().cloned().unwrap_or_default(),
            template,
            parameters: self.parameters.known().cloned().unwrap_or_default(),
            capabilities: self.capabilities.known().cloned().unwrap_or_default(),
            tags: self.tags.known().cloned().unwrap_or_default(),
            role_arn: self.iam_role_arn.known().filter(|s| !s.is_empty()).cloned(),
            notification_arns: self.notification_arns.known().cloned().unwrap_or_default(),
            on_failure: self.on_failure.known().copied().unwrap_or_default(),
            marker: None,
        }
    }

    /// `output_names`, as overrides of the built-in output names.
    pub fn overrides(&self) -> BTreeMap<String, String> {
        self.output_names.known().cloned().unwrap_or_default()
    }

    /// The SSM parameter of the admin password, when set.
    pub fn password_parameter(&self) -> Option<&str> {
        self.admin_password.known()?.ssm_parameter.known().map(String::as_str)
    }

    /// The username the password is set for: explicit, else the `AdminName` parameter.
    pub fn admin_username(&self) -> Option<String> {
        let explicit = self.admin_password.known().and_then(|ap| ap.username.known().cloned());
        explicit.or_else(|| self.parameters.known().and_then(|p| p.get("AdminName").cloned()))
    }

    pub fn timeout(&self, op: Op) -> Duration {
        let t = match op {
            Op::Create => &self.timeouts.create,
            Op::Update => &self.timeouts.update,
            Op::Delete => &self.timeouts.delete,
        };
        t.known().copied().unwrap_or(DEFAULT_TIMEOUT)
    }
}

fn read_template<'v>(cx: &mut Parse, url: Field<'v>, body: Field<'v>) -> (Attr<String>, Attr<String>) {
    let d = &mut cx.diags;
    match (url.value, body.value) {
        (u, b) if u.is_unknown() || b.is_unknown() => {}
        (Value::Null, Value::Null) => d.attr_error(
            &url.path,
            "Missing template",
            "Exactly one of template_url or template_body must be set; the DLT template needs template_url.",
        ),
        (u, b) if !u.is_null() && !b.is_null() => d.attr_error(
            &body.path,
            "Conflicting template arguments",
            "template_body conflicts with template_url: set exactly one of them.",
        ),
        _ => {}
    }
    let template_url = url.read(|v| {
        let u = v.as_str()?;
        match url::Url::parse(u) {
            Ok(p) if p.scheme() == "https" || p.scheme() == "http" => Some(u.to_string()),
            _ => {
                d.attr_error(
                    &url.path,
                    "Invalid template URL",
                    format!(
                        "template_url {} must be an http(s) URL of an S3 object.",
                        checks::shown(u)
                    ),
                );
                None
            }
        }
    });
    let template_body = body.read(|v| {
        let b = v.as_str()?;
        if b.trim().is_empty() {
            d.attr_error(&body.path, "Empty template", "template_body must not be empty.");
            None
        } else if b.len() > MAX_TEMPLATE_BODY_BYTES {
            d.attr_error(
                &body.path,
                "Template too large",
                format!(
                    "template_body is {} bytes, more than CloudFormation's {MAX_TEMPLATE_BODY_BYTES}-byte limit; \
                     upload the template to S3 and use template_url instead.",
                    b.len()
                ),
            );
            None
        } else {
            Some(b.to_string())
        }
    });
    (template_url, template_body)
}

impl AdminPasswordConfig {
    fn read(cx: &mut Parse, field: &Field<'_>, parameters: &Value) -> AdminPasswordConfig {
        let d = &mut cx.diags;
        let mut o = field.object();
        let param = o.field("ssm_parameter");
        let ssm_parameter = param.read(|v| {
            let p = v.as_str()?;
            let ok = !p.is_empty()
                && (p.starts_with("arn:")
                    || p.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c)) && p.len() <= 2048);
            if !ok {
                d.attr_error(
                    &param.path,
                    "Invalid SSM parameter name",
                    format!(
                        "admin_password.ssm_parameter {} is not an SSM parameter name (letters, digits, _ . - /) or \
                         ARN.",
                        checks::shown(p)
                    ),
                );
                return None;
            }
            Some(p.to_string())
        });
        let user = o.field("username");
        if user.value.is_null() && !parameters.is_unknown() && parameters.get("AdminName").is_null() {
            d.attr_error(
                &user.path,
                "Missing admin username",
                "admin_password.username is not set and parameters has no AdminName to default to; set one of them.",
            );
        }
        let username = user.read(|v| {
            let s = v.as_str()?;
            if s.is_empty() {
                d.attr_error(
                    &user.path,
                    "Empty username",
                    "admin_password.username must not be empty.",
                );
                return None;
            }
            Some(s.to_string())
        });
        o.finish(cx);
        AdminPasswordConfig {
            ssm_parameter,
            username,
        }
    }
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
            update: positive(cx, "update"),
            delete: positive(cx, "delete"),
        };
        o.finish(cx);
        t
    }
}

fn is_stack_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.len() <= 128
}

/// A CloudFormation stack name.
fn name_of(d: &mut Diagnostics, f: &Field<'_>, v: &Value) -> Option<String> {
    let name = v.as_str()?;
    if !is_stack_name(name) {
        d.attr_error(
            &f.path,
            "Invalid stack name",
            format!(
                "name {} is not a valid CloudFormation stack name: it must start with a letter, contain only \
                 letters, digits and hyphens, and be at most 128 characters.",
                checks::shown(name)
            ),
        );
        return None;
    }
    Some(name.to_string())
}

fn arn(d: &mut Diagnostics, path: &AttrPath, v: &Value) -> Option<String> {
    let s = v.as_str()?;
    if !s.starts_with("arn:") || s.split(':').count() < 6 {
        d.attr_error(
            path,
            "Invalid ARN",
            format!(
                "{path}: {} is not an ARN (arn:<partition>:<service>:...).",
                checks::shown(s)
            ),
        );
        return None;
    }
    Some(s.to_string())
}

/// The plan-time checks of `dlt_stack`.
pub fn validate(config: &Value) -> Diagnostics {
    StackConfig::parse(config).1
}

/// `data "dlt_stack"`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct StackDataConfig {
    /// A stack name or ARN.
    pub name: Attr<String>,
    pub output_names: Attr<BTreeMap<String, String>>,
}

impl StackDataConfig {
    pub fn parse(v: &Value) -> (StackDataConfig, Diagnostics) {
        Parse::run(v, StackDataConfig::read)
    }

    pub(crate) fn read(cx: &mut Parse, v: &Value) -> StackDataConfig {
        let mut o = Obj::root(v);
        let name = {
            let f = o.field("name");
            f.read(|v| match v.as_str() {
                Some(arn) if arn.starts_with("arn:") => Some(arn.to_string()),
                _ => name_of(&mut cx.diags, &f, v),
            })
        };
        let output_names = o.field("output_names").string_map();
        o.finish(cx);
        StackDataConfig { name, output_names }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::plugin::Block;
    use crate::resources::model::every_attribute_set;
    use crate::resources::stack::{schema, state::StackState};

    /// The attributes of `block` that only the provider sets.
    fn computed_only(block: &Block) -> Vec<String> {
        let mut v: Vec<String> = block
            .attributes
            .iter()
            .filter(|a| a.computed && !a.optional && !a.required)
            .map(|a| a.name.clone())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_models_read_every_schema_attribute_and_no_other() {
        let block = schema::schema().block;
        let mut cx = Parse::new();
        StackState::read_with(&mut cx, &every_attribute_set(&block));
        cx.unread.sort();
        assert_eq!(
            cx.unread,
            computed_only(&block),
            "arguments the configuration model does not read"
        );
        assert!(
            cx.strays.is_empty(),
            "names the models read that the schema lacks: {:?}",
            cx.strays
        );

        let block = crate::resources::stack_data::schema().block;
        let mut cx = Parse::new();
        StackDataConfig::read(&mut cx, &every_attribute_set(&block));
        cx.unread.sort();
        assert_eq!(
            cx.unread,
            computed_only(&block),
            "data source arguments the model does not read"
        );
        assert!(cx.strays.is_empty(), "{:?}", cx.strays);
    }

    #[test]
    fn every_argument_is_read_into_its_field() {
        let mut v = base();
        v.set("capabilities", Value::Set(vec![Value::string("CAPABILITY_IAM")]));
        v.set("tags", Value::string_map([("team", "perf")]));
        v.set("iam_role_arn", Value::string("arn:aws:iam::1:role/cfn"));
        v.set(
            "notification_arns",
            Value::Set(vec![Value::string("arn:aws:sns:eu-west-1:1:t")]),
        );
        v.set("on_failure", Value::string("DELETE"));
        v.set("output_names", Value::object([("api_endpoint", Value::string("Api"))]));
        v.set("timeouts", Value::object([("update", Value::string("90m"))]));
        let (c, d) = StackConfig::parse(&v);
        assert!(d.is_empty(), "{d}");
        let input = c.input(c.template());
        assert_eq!(input.name, "DLT-test");
        assert_eq!(
            input.template,
            Some(TemplateSource::Url("https://b.s3.amazonaws.com/dlt.yml".into()))
        );
        assert_eq!(input.parameters["AdminName"], "dltadmin");
        assert_eq!(input.capabilities, ["CAPABILITY_IAM"]);
        assert_eq!(input.tags["team"], "perf");
        assert_eq!(input.role_arn.as_deref(), Some("arn:aws:iam::1:role/cfn"));
        assert_eq!(input.notification_arns.len(), 1);
        assert_eq!(input.on_failure, OnFailure::Delete);
        assert_eq!(c.overrides()["api_endpoint"], "Api");
        assert_eq!(c.password_parameter(), Some("/cognito/password"));
        assert_eq!(c.admin_username().as_deref(), Some("dltadmin"));
        assert_eq!(c.timeout(Op::Update), Duration::from_secs(90 * 60));
        assert_eq!(c.timeout(Op::Create), DEFAULT_TIMEOUT);
    }

    #[test]
    fn unknowns_wait_without_a_diagnostic() {
        let mut v = base();
        for k in ["name", "parameters", "tags", "admin_password", "output_names"] {
            v.set(k, Value::Unknown);
        }
        let (c, d) = StackConfig::parse(&v);
        assert!(d.is_empty(), "{d}");
        assert!(c.name.is_unknown() && c.parameters.is_unknown() && c.admin_password.is_unknown());
        assert_eq!(c.admin_username(), None);
    }

    #[test]
    fn the_data_source_takes_a_name_or_an_arn() {
        let arn = Value::object([("name", Value::string("arn:aws:cloudformation:eu-west-1:1:stack/x/y"))]);
        assert!(StackDataConfig::parse(&arn).1.is_empty());
        let (c, d) = StackDataConfig::parse(&Value::object([("name", Value::string("1bad"))]));
        assert_eq!(
            d.iter()
                .filter_map(|x| x.attribute.as_ref())
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
            ["name"]
        );
        assert!(c.name.is_null());
    }

    pub fn base() -> Value {
        Value::object([
            ("name", Value::string("DLT-test")),
            ("template_url", Value::string("https://b.s3.amazonaws.com/dlt.yml")),
            ("parameters", Value::string_map([("AdminName", "dltadmin")])),
            ("on_failure", Value::string("ROLLBACK")),
            (
                "admin_password",
                Value::object([
                    ("ssm_parameter", Value::string("/cognito/password")),
                    ("username", Value::Null),
                ]),
            ),
        ])
    }

    fn errors_at(d: &Diagnostics) -> Vec<String> {
        d.iter()
            .filter_map(|x| x.attribute.as_ref().map(|p| p.to_string()))
            .collect()
    }

    #[test]
    fn valid_config_passes() {
        assert!(validate(&base()).is_empty(), "{}", validate(&base()));
    }

    #[test]
    fn template_conflict_and_absence_name_the_attribute() {
        let mut c = base();
        c.set("template_body", Value::string("{}"));
        assert_eq!(errors_at(&validate(&c)), vec!["template_body"]);
        let mut c = base();
        c.set("template_url", Value::Null);
        assert_eq!(errors_at(&validate(&c)), vec!["template_url"]);
        let mut c = base();
        c.set("template_url", Value::Unknown);
        assert!(validate(&c).is_empty());
    }

    #[test]
    fn bad_values_are_reported_per_attribute() {
        let mut c = base();
        c.set("name", Value::string("1bad_name"));
        c.set("on_failure", Value::string("KEEP"));
        c.set("capabilities", Value::Set(vec![Value::string("CAPABILITY_ALL")]));
        c.set("iam_role_arn", Value::string("role"));
        c.set("timeouts", Value::object([("create", Value::string("10"))]));
        c.set("parameters", Value::string_map([("Admin-Name", "x")]));
        let d = validate(&c);
        let at = errors_at(&d);
        for p in [
            "name",
            "on_failure",
            "capabilities[0]",
            "iam_role_arn",
            "timeouts.create",
            "parameters[\"Admin-Name\"]",
            "admin_password.username",
        ] {
            assert!(at.contains(&p.to_string()), "{p} missing in {at:?}");
        }
    }

    #[test]
    fn oversized_body_suggests_template_url() {
        let mut c = base();
        c.set("template_url", Value::Null);
        c.set("template_body", Value::string("x".repeat(MAX_TEMPLATE_BODY_BYTES + 1)));
        let d = validate(&c);
        assert_eq!(errors_at(&d), vec!["template_body"]);
        assert!(d.to_string().contains("template_url"));
    }
}
