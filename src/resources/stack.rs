//! `dlt_stack`: deploys the DLT CloudFormation stack and sets its Cognito admin password from SSM.
//!
//! State never holds the password, only the SSM parameter *version* last applied
//! (`admin_password_version`). Read records the live version in private state; `modify_plan`
//! turns a newer one into an in-place update of that single attribute, so a rotation plans as
//! "admin_password_version: 3 -> 4" and apply re-sets the password without touching the stack.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::aws::cloudformation::{
    self, OnFailure, StackDescription, StackError, StackInput, TemplateSource, WaitOptions, MAX_TEMPLATE_BODY_BYTES,
};
use crate::aws::cognito::{self, AdminPasswordError, CognitoError};
use crate::aws::ssm::{self, SecureParameter, SsmError};
use crate::aws::Clients;
use crate::dlt::stack_outputs::{self, Discovered, WellKnown};
use crate::plugin::{
    timeouts_block, Attribute, Block, Ctx, Diagnostic, Diagnostics, Outcome, Plan, Resource, Schema, Value,
};

use super::checks;
use super::provider_data::{aws_clients, SharedData};

/// Default for each of `timeouts.create/update/delete`: a DLT stack takes 10-20 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Arguments that, when changed, require an `UpdateStack` call.
const STACK_INPUTS: [&str; 7] = [
    "template_url",
    "template_body",
    "parameters",
    "capabilities",
    "tags",
    "iam_role_arn",
    "notification_arns",
];

const CAPABILITIES: [&str; 3] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"];

pub struct StackResource {
    data: SharedData,
}

impl StackResource {
    pub fn new(data: SharedData) -> StackResource {
        StackResource { data }
    }
}

// ------------------------------------------------------------------------------------------
// Schema

fn output_names_attribute() -> Attribute {
    let attrs = WellKnown::ALL
        .iter()
        .map(|w| {
            Attribute::string(w.attribute()).optional().describe(&format!(
                "Stack output to read `{}` from, instead of the built-in names ({}).",
                w.attribute(),
                w.output_names()
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
        .collect();
    Attribute::single("output_names", attrs).optional().describe(
        "Maps well-known attributes to output names of templates that name their outputs differently. An entry \
         replaces the built-in names and the discovery from stack resources for that attribute.",
    )
}

/// The computed attributes shared with the data source.
pub(crate) fn computed_stack_attributes() -> Vec<Attribute> {
    vec![
        Attribute::string("status")
            .computed()
            .describe("Stack status, such as `CREATE_COMPLETE`."),
        Attribute::string_map("outputs")
            .computed()
            .describe("All stack outputs, by output name."),
        Attribute::string("api_endpoint").computed().describe(
            "DLT REST API base URL (output `DLTApiEndpointD98B09AC`, or `output_names.api_endpoint`; without the \
             output, built from the stack's `AWS::ApiGateway::RestApi` and `AWS::ApiGateway::Stage`); null when none \
             is found.",
        ),
        Attribute::string("console_url").computed().describe(
            "DLT web console URL (output `Console`, with `https://` added to the bare CloudFront domain, or v4's \
             `ConsoleURL`).",
        ),
        Attribute::string("user_pool_id").computed().describe(
            "Cognito user pool id (output `UserPoolId` or `CognitoUserPoolID`, else the stack's \
             `AWS::Cognito::UserPool`).",
        ),
        Attribute::string("user_pool_client_id").computed().describe(
            "Cognito user pool app client id (output `ClientId` or `CognitoAppClientID`, else the stack's DLT \
             `AWS::Cognito::UserPoolClient`).",
        ),
        Attribute::string("identity_pool_id").computed().describe(
            "Cognito identity pool id (output `IdentityPoolId` or `CognitoIdentityPoolID`, else the stack's \
             `AWS::Cognito::IdentityPool`).",
        ),
        Attribute::string("scenarios_bucket").computed().describe(
            "S3 bucket DLT reads test scenarios from (output `Bucket3` or `ScenariosBucket`, else the stack's \
             `AWS::S3::Bucket` whose logical id contains `ScenariosBucket`).",
        ),
    ]
}

pub fn schema() -> Schema {
    let mut attrs =
        vec![
        Attribute::string("id").computed().use_state_for_unknown().describe("The stack ARN."),
        Attribute::string("name")
            .required()
            .requires_replace()
            .describe("Stack name. Changing it creates a new stack (and deletes the old one)."),
        Attribute::string("template_url").optional().describe(
            "URL of the template in S3 (up to 460,800 bytes). Exactly one of `template_url` and `template_body` is \
             required; the DLT template (~117 KB) needs `template_url`.",
        ),
        Attribute::string("template_body").optional().describe(
            "Template text (JSON or YAML), at most 51,200 bytes. Exactly one of `template_url` and `template_body` \
             is required.",
        ),
        Attribute::string_map("parameters").optional().describe(
            "Template parameters. Only the keys set here are compared with the live stack on refresh; keys left out \
             take the template default on update.",
        ),
        Attribute::typed("capabilities", crate::plugin::Type::set(crate::plugin::Type::String))
            .optional()
            .describe(
                "Capabilities to acknowledge: `CAPABILITY_IAM`, `CAPABILITY_NAMED_IAM`, `CAPABILITY_AUTO_EXPAND`. \
                 The DLT template needs `CAPABILITY_IAM`.",
            ),
        Attribute::string("on_failure").default("ROLLBACK").describe(
            "What CloudFormation does when the create fails: `ROLLBACK` (default), `DELETE` or `DO_NOTHING`. Used \
             only on create; a failed create leaves the resource tainted (or, with `DELETE`, not in state).",
        ),
        Attribute::string_map("tags").optional().describe("Stack tags, propagated by CloudFormation to resources."),
        Attribute::string("iam_role_arn")
            .optional()
            .describe("IAM role CloudFormation assumes for stack operations (its service role)."),
        Attribute::typed("notification_arns", crate::plugin::Type::set(crate::plugin::Type::String))
            .optional()
            .describe("SNS topic ARNs that receive stack events."),
        Attribute::single(
            "admin_password",
            vec![
                Attribute::string("ssm_parameter").required().describe(
                    "Name or ARN of the SSM parameter (normally a SecureString) holding the password. Read with \
                     decryption at apply time; its value never enters state, plan or logs.",
                ),
                Attribute::string("username").optional().describe(
                    "Cognito username to set the password for. Defaults to `parameters[\"AdminName\"]`. Use the \
                     username, not the email alias.",
                ),
            ],
        )
        .optional()
        .describe(
            "Sets a permanent password for the stack's Cognito admin user (which DLT creates in \
             `FORCE_CHANGE_PASSWORD`), so headless logins work. A new version of the parameter plans an in-place \
             update that only re-sets the password.",
        ),
        output_names_attribute(),
    ];
    attrs.extend(computed_stack_attributes());
    attrs.push(
        Attribute::number("admin_password_version")
            .computed()
            .describe("Version of the SSM parameter whose value was last set as the admin password."),
    );
    let mut timeouts = timeouts_block(&["create", "update", "delete"]);
    for a in &mut timeouts.block.attributes {
        a.description = format!(
            "How long `{}` may wait for the stack, such as `\"90m\"`. Default `60m`.",
            a.name
        );
    }
    Schema::new(
        Block::new(attrs)
            .with_block(timeouts)
            .describe("Deploys the Distributed Load Testing on AWS CloudFormation stack and sets its admin password."),
    )
}

// ------------------------------------------------------------------------------------------
// Validation

fn is_stack_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.len() <= 128
}

pub(crate) fn validate_name(d: &mut Diagnostics, v: &Value) {
    if let Some(name) = v.as_str() {
        if !is_stack_name(name) {
            d.attr_error(
                "name",
                "Invalid stack name",
                format!(
                    "name {} is not a valid CloudFormation stack name: it must start with a letter, contain only \
                     letters, digits and hyphens, and be at most 128 characters.",
                    checks::shown(name)
                ),
            );
        }
    }
}

fn validate_arn(d: &mut Diagnostics, path: &str, s: &str) {
    if !s.starts_with("arn:") || s.split(':').count() < 6 {
        d.attr_error(
            path,
            "Invalid ARN",
            format!(
                "{path}: {} is not an ARN (arn:<partition>:<service>:...).",
                checks::shown(s)
            ),
        );
    }
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    validate_name(&mut d, config.get("name"));

    let url = config.get("template_url");
    let body = config.get("template_body");
    match (url, body) {
        (u, b) if u.is_unknown() || b.is_unknown() => {}
        (Value::Null, Value::Null) => d.attr_error(
            "template_url",
            "Missing template",
            "Exactly one of template_url or template_body must be set; the DLT template needs template_url.",
        ),
        (u, b) if !u.is_null() && !b.is_null() => d.attr_error(
            "template_body",
            "Conflicting template arguments",
            "template_body conflicts with template_url: set exactly one of them.",
        ),
        _ => {}
    }
    if let Some(u) = url.as_str() {
        match url::Url::parse(u) {
            Ok(p) if p.scheme() == "https" || p.scheme() == "http" => {}
            _ => d.attr_error(
                "template_url",
                "Invalid template URL",
                format!(
                    "template_url {} must be an http(s) URL of an S3 object.",
                    checks::shown(u)
                ),
            ),
        }
    }
    if let Some(b) = body.as_str() {
        if b.trim().is_empty() {
            d.attr_error("template_body", "Empty template", "template_body must not be empty.");
        } else if b.len() > MAX_TEMPLATE_BODY_BYTES {
            d.attr_error(
                "template_body",
                "Template too large",
                format!(
                    "template_body is {} bytes, more than CloudFormation's {MAX_TEMPLATE_BODY_BYTES}-byte limit; \
                     upload the template to S3 and use template_url instead.",
                    b.len()
                ),
            );
        }
    }

    if let Some(m) = config.get("parameters").entries() {
        for k in m.keys() {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
                d.attr_error(
                    &format!("parameters[\"{k}\"]"),
                    "Invalid parameter name",
                    format!(
                        "parameters: {} is not a CloudFormation parameter name (letters and digits only).",
                        checks::shown(k)
                    ),
                );
            }
        }
    }
    for (i, c) in config.get("capabilities").elements().iter().enumerate() {
        if let Some(c) = c.as_str() {
            if !CAPABILITIES.contains(&c) {
                d.attr_error(
                    &format!("capabilities[{i}]"),
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
    if let Some(f) = config.get("on_failure").as_str() {
        if OnFailure::parse(f).is_none() {
            d.attr_error(
                "on_failure",
                "Invalid on_failure",
                format!(
                    "on_failure must be one of {}, got {}.",
                    OnFailure::NAMES.join(", "),
                    checks::shown(f)
                ),
            );
        }
    }
    if let Some(m) = config.get("tags").entries() {
        if m.len() > 50 {
            d.attr_error(
                "tags",
                "Too many tags",
                format!("tags: CloudFormation allows 50 tags, got {}.", m.len()),
            );
        }
        for k in m.keys() {
            if k.is_empty() || k.len() > 128 || k.starts_with("aws:") {
                d.attr_error(
                    &format!("tags[\"{k}\"]"),
                    "Invalid tag key",
                    format!(
                        "tags: {} must be 1-128 characters and must not start with \"aws:\".",
                        checks::shown(k)
                    ),
                );
            }
        }
    }
    if let Some(a) = config.get("iam_role_arn").as_str() {
        validate_arn(&mut d, "iam_role_arn", a);
    }
    for (i, a) in config.get("notification_arns").elements().iter().enumerate() {
        if let Some(a) = a.as_str() {
            validate_arn(&mut d, &format!("notification_arns[{i}]"), a);
        }
    }

    let ap = config.get("admin_password");
    if let Some(p) = ap.get("ssm_parameter").as_str() {
        let ok = !p.is_empty()
            && (p.starts_with("arn:")
                || p.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c)) && p.len() <= 2048);
        if !ok {
            d.attr_error(
                "admin_password.ssm_parameter",
                "Invalid SSM parameter name",
                format!(
                    "admin_password.ssm_parameter {} is not an SSM parameter name (letters, digits, _ . - /) or \
                     ARN.",
                    checks::shown(p)
                ),
            );
        }
    }
    if !ap.is_null() && !ap.is_unknown() {
        let user = ap.get("username");
        let params = config.get("parameters");
        if user.is_null() && !params.is_unknown() && params.get("AdminName").is_null() {
            d.attr_error(
                "admin_password.username",
                "Missing admin username",
                "admin_password.username is not set and parameters has no AdminName to default to; set one of them.",
            );
        }
        if user.as_str().is_some_and(str::is_empty) {
            d.attr_error(
                "admin_password.username",
                "Empty username",
                "admin_password.username must not be empty.",
            );
        }
    }
    if let Some(m) = config.get("output_names").entries() {
        for (k, v) in m {
            if v.as_str().is_some_and(str::is_empty) {
                d.attr_error(
                    &format!("output_names.{k}"),
                    "Empty output name",
                    format!("output_names.{k} must name a stack output."),
                );
            }
        }
    }
    for op in ["create", "update", "delete"] {
        let path = format!("timeouts.{op}");
        checks::positive_duration(&mut d, &path, config.get("timeouts").get(op));
    }
    d
}

// ------------------------------------------------------------------------------------------
// Value <-> domain

fn timeout(v: &Value, op: &str) -> Duration {
    v.get("timeouts")
        .get(op)
        .as_str()
        .and_then(|s| crate::duration::parse_duration(s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn stack_input(v: &Value, template: Option<TemplateSource>) -> StackInput {
    let opt = |name: &str| v.get(name).as_str().filter(|s| !s.is_empty()).map(str::to_string);
    StackInput {
        name: v.get("name").as_str().unwrap_or_default().to_string(),
        template,
        parameters: v.get("parameters").to_string_map(),
        capabilities: v.get("capabilities").to_string_list(),
        tags: v.get("tags").to_string_map(),
        role_arn: opt("iam_role_arn"),
        notification_arns: v.get("notification_arns").to_string_list(),
        on_failure: v
            .get("on_failure")
            .as_str()
            .and_then(OnFailure::parse)
            .unwrap_or_default(),
    }
}

fn template_of(v: &Value) -> Option<TemplateSource> {
    if let Some(u) = v.get("template_url").as_str() {
        Some(TemplateSource::Url(u.to_string()))
    } else {
        v.get("template_body")
            .as_str()
            .map(|b| TemplateSource::Body(b.to_string()))
    }
}

fn output_overrides(v: &Value) -> BTreeMap<String, String> {
    v.get("output_names").to_string_map()
}

/// Sets `outputs` and the well-known attributes on `state` from stack outputs and the values
/// discovered among the stack's resources.
pub(crate) fn set_outputs(
    state: &mut Value,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    discovered: &Discovered,
) {
    state.set("outputs", Value::string_map(outputs.clone()));
    set_well_known(state, outputs, overrides, discovered);
}

fn set_well_known(
    state: &mut Value,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    discovered: &Discovered,
) {
    for (w, (val, _)) in stack_outputs::resolve_all(outputs, overrides, discovered) {
        state.set(w.attribute(), Value::opt_string(val));
    }
}

/// What the outputs leave missing, found among the stack's resources, with a warning for what
/// is still missing (or for resources that could not be listed).
pub(crate) async fn discover(
    clients: &Clients,
    stack_id: &str,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Discovered {
    let (found, listed) =
        match stack_outputs::discover_missing(&clients.cloudformation, stack_id, outputs, overrides).await {
            Ok(found) => (found, true),
            Err(e) => {
                diags.push(Diagnostic::warning(
                    "Cannot list the DLT stack's resources",
                    format!("{e}. Values the stack outputs do not give stay null."),
                ));
                (Discovered::new(), false)
            }
        };
    let resolved = stack_outputs::resolve_all(outputs, overrides, &found);
    if let Some(w) = stack_outputs::missing_warning(&resolved, listed) {
        diags.push(Diagnostic::warning("DLT stack values not found", w));
    }
    found
}

fn outputs_of(v: &Value) -> BTreeMap<String, String> {
    v.get("outputs").to_string_map()
}

/// The username the password is set for: explicit, else the `AdminName` parameter.
fn admin_username(v: &Value) -> Option<String> {
    let ap = v.get("admin_password");
    ap.get("username")
        .as_str()
        .or_else(|| v.get("parameters").get("AdminName").as_str())
        .map(str::to_string)
}

/// Refreshes a map attribute from live values. Only keys already present are kept for
/// `parameters` (users configure a subset; the rest are template defaults). A `****` value is a
/// NoEcho parameter: CloudFormation never returns it, so the configured value stands.
fn refresh_parameters(current: &Value, live: &BTreeMap<String, String>) -> Value {
    let Some(m) = current.entries() else {
        return current.clone();
    };
    Value::Map(
        m.iter()
            .filter_map(|(k, old)| match live.get(k) {
                Some(v) if v == "****" => Some((k.clone(), old.clone())),
                Some(v) => Some((k.clone(), Value::string(v.clone()))),
                None => None,
            })
            .collect(),
    )
}

fn refresh_tags(current: &Value, live: &BTreeMap<String, String>) -> Value {
    if current.is_null() && live.is_empty() {
        Value::Null
    } else {
        Value::string_map(live.clone())
    }
}

/// Private state: what read learnt that plan needs (the live SSM version, and the values found
/// among the stack's resources, so a plan can recompute the well-known attributes offline).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Private {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    live_admin_password_version: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    discovered: Discovered,
}

impl Private {
    fn decode(b: &[u8]) -> Private {
        serde_json::from_slice(b).unwrap_or_default()
    }
    fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}

fn stack_diag(summary: &str, e: &StackError) -> Diagnostic {
    let d = Diagnostic::error(summary, e.to_string());
    match e {
        StackError::TemplateBodyTooLarge { .. } => d.at(crate::plugin::AttrPath::root("template_body")),
        _ => d,
    }
}

fn password_diag(e: &AdminPasswordError) -> Diagnostic {
    let path = match e {
        AdminPasswordError::Parameter(_) => "admin_password.ssm_parameter",
        AdminPasswordError::Cognito {
            source: CognitoError::UserNotFound { .. },
            ..
        } => "admin_password.username",
        AdminPasswordError::Cognito { .. } => "admin_password",
    };
    Diagnostic::error("Cannot set the DLT admin password", e.to_string()).at(crate::plugin::AttrPath::parse(path))
}

fn ssm_diag(e: &SsmError) -> Diagnostic {
    Diagnostic::error("Cannot read the DLT admin password", e.to_string())
        .at(crate::plugin::AttrPath::parse("admin_password.ssm_parameter"))
}

/// Reads the password parameter, at `version` when one was planned (so apply sets exactly the
/// version the plan showed, even if the parameter rotated again in between).
async fn fetch_password(clients: &Clients, parameter: &str, version: Option<i64>) -> Result<SecureParameter, SsmError> {
    let latest = ssm::get_secure_parameter(&clients.ssm, parameter).await?;
    match version {
        Some(v) if v != latest.version && !parameter.starts_with("arn:") => {
            let mut p = ssm::get_secure_parameter(&clients.ssm, &format!("{parameter}:{v}")).await?;
            p.name = parameter.to_string();
            Ok(p)
        }
        _ => Ok(latest),
    }
}

/// Sets the admin password on the stack described by `state`; returns the version applied.
async fn apply_password(clients: &Clients, state: &Value, secret: &SecureParameter) -> Result<i64, Diagnostic> {
    let Some(pool) = state.get("user_pool_id").as_str().map(str::to_string) else {
        return Err(Diagnostic::error(
            "Cannot set the DLT admin password",
            format!(
                "the stack has no Cognito user pool output (looked for {}); set output_names.user_pool_id to the \
                 output that holds the user pool id.",
                WellKnown::UserPoolId.output_names().join(", ")
            ),
        )
        .at(crate::plugin::AttrPath::root("admin_password")));
    };
    let Some(user) = admin_username(state) else {
        return Err(Diagnostic::error(
            "Cannot set the DLT admin password",
            "admin_password.username is not set and parameters has no AdminName.",
        )
        .at(crate::plugin::AttrPath::parse("admin_password.username")));
    };
    cognito::set_admin_password(&clients.cognito_idp, secret, &pool, &user)
        .await
        .map_err(|e| password_diag(&e))
}

fn inputs_changed(a: &Value, b: &Value) -> bool {
    STACK_INPUTS
        .iter()
        .any(|k| !b.get(k).is_wholly_known() || a.get(k) != b.get(k))
}

/// The state after a create/update: the planned arguments plus what the stack reports.
fn state_from(planned: &Value, desc: &StackDescription, discovered: &Discovered) -> Value {
    let mut s = planned.clone();
    s.set("id", Value::string(desc.id.clone()));
    s.set("status", Value::string(desc.status.clone()));
    set_outputs(&mut s, &desc.outputs, &output_overrides(planned), discovered);
    s
}

#[async_trait]
impl Resource for StackResource {
    fn type_name(&self) -> &'static str {
        "dlt_stack"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate(config)
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan) -> Diagnostics {
        let planned = &mut plan.planned;
        let ap = planned.get("admin_password").clone();
        if plan.prior.is_null() {
            if ap.is_null() {
                planned.set("admin_password_version", Value::Null);
            }
            return Diagnostics::new();
        }
        let prior = &plan.prior;
        if !inputs_changed(prior, planned) {
            // The stack is not touched: what it reports stays as it is.
            for k in ["id", "status", "outputs"] {
                planned.set(k, prior.get(k).clone());
            }
            let names = planned.get("output_names").clone();
            if names.is_wholly_known() {
                let outputs = outputs_of(prior);
                let discovered = Private::decode(&plan.private).discovered;
                set_well_known(planned, &outputs, &names.to_string_map(), &discovered);
            } else {
                for w in WellKnown::ALL {
                    planned.set(w.attribute(), Value::Unknown);
                }
            }
        }
        let prior_version = prior.get("admin_password_version").as_i64();
        let version = if ap.is_null() {
            Value::Null
        } else if !ap.is_wholly_known() || ap != *prior.get("admin_password") || prior_version.is_none() {
            Value::Unknown
        } else {
            match Private::decode(&plan.private).live_admin_password_version {
                Some(live) if Some(live) != prior_version => {
                    log::info!(
                        "SSM parameter {:?} is at version {live}, the admin password was set from version {}: planning \
                         an update",
                        ap.get("ssm_parameter").as_str().unwrap_or_default(),
                        prior_version.unwrap_or_default()
                    );
                    Value::int(live)
                }
                _ => prior.get("admin_password_version").clone(),
            }
        };
        planned.set("admin_password_version", version);
        // A changed username (or AdminName parameter) re-sets the password for the new user.
        if !ap.is_null() && admin_username(planned) != admin_username(prior) {
            planned.set("admin_password_version", Value::Unknown);
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: &Value, _config: &Value) -> Outcome {
        let mut diags = validate(planned);
        if diags.has_errors() {
            return Outcome::failed(diags);
        }
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        // Read the password before creating anything, so a wrong parameter fails fast and cheap.
        let ap = planned.get("admin_password");
        let secret = match ap.get("ssm_parameter").as_str() {
            Some(p) => match fetch_password(clients, p, None).await {
                Ok(s) => Some(s),
                Err(e) => return Outcome::failed(ssm_diag(&e).into()),
            },
            None => None,
        };
        let input = stack_input(planned, template_of(planned));
        let wait = WaitOptions::new(timeout(planned, "create"), ctx.stop.clone());
        let desc = match cloudformation::create_stack(&clients.cloudformation, &input, &wait).await {
            Ok(d) => d,
            Err(e) => {
                diags.push(stack_diag("Cannot create the DLT stack", &e));
                let Some(id) = e.stack_id() else {
                    return Outcome::failed(diags);
                };
                if e.final_status() == Some("DELETE_COMPLETE") {
                    // on_failure = DELETE removed it: nothing exists to track.
                    return Outcome::failed(diags);
                }
                // The stack exists in a failed or unfinished state: record it so Terraform taints it.
                let mut state = planned.clone();
                state.set("id", Value::string(id));
                state.set("status", Value::string(e.final_status().unwrap_or("UNKNOWN")));
                set_outputs(
                    &mut state,
                    &BTreeMap::new(),
                    &output_overrides(planned),
                    &Discovered::new(),
                );
                state.set("admin_password_version", Value::Null);
                return Outcome {
                    state: Some(state),
                    private: Private::default().encode(),
                    diagnostics: diags,
                };
            }
        };
        let overrides = output_overrides(planned);
        let discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
        let mut state = state_from(planned, &desc, &discovered);
        state.set("admin_password_version", Value::Null);
        let mut private = Private {
            discovered,
            ..Private::default()
        };
        if let Some(secret) = secret {
            match apply_password(clients, &state, &secret).await {
                Ok(v) => {
                    state.set("admin_password_version", Value::int(v));
                    private.live_admin_password_version = Some(v);
                }
                Err(d) => diags.push(d),
            }
        }
        Outcome {
            state: Some(state),
            private: private.encode(),
            diagnostics: diags,
        }
    }

    async fn read(&self, _ctx: &Ctx, state: &Value, private: &[u8]) -> Outcome {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => {
                return Outcome {
                    state: Some(state.clone()),
                    private: private.to_vec(),
                    diagnostics: d,
                }
            }
        };
        let key = state
            .get("id")
            .as_str()
            .or(state.get("name").as_str())
            .unwrap_or_default()
            .to_string();
        let desc = match cloudformation::describe_stack(&clients.cloudformation, &key).await {
            Ok(Some(d)) if !d.is_deleted() => d,
            Ok(_) => {
                log::warn!("CloudFormation stack {key} no longer exists; removing it from state");
                return Outcome::gone();
            }
            Err(e) => {
                return Outcome {
                    state: Some(state.clone()),
                    private: private.to_vec(),
                    diagnostics: stack_diag("Cannot read the DLT stack", &e).into(),
                }
            }
        };
        let mut s = state.clone();
        s.set("id", Value::string(desc.id.clone()));
        s.set("name", Value::string(desc.name.clone()));
        s.set("status", Value::string(desc.status.clone()));
        let mut p = Private::decode(private);
        let mut diags = Diagnostics::new();
        let overrides = output_overrides(state);
        p.discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
        set_outputs(&mut s, &desc.outputs, &overrides, &p.discovered);
        s.set(
            "parameters",
            refresh_parameters(state.get("parameters"), &desc.parameters),
        );
        s.set("tags", refresh_tags(state.get("tags"), &desc.tags));

        if let Some(param) = state.get("admin_password").get("ssm_parameter").as_str() {
            match ssm::get_parameter_version(&clients.ssm, param).await {
                Ok(v) => {
                    if Some(v) != state.get("admin_password_version").as_i64() {
                        log::info!("SSM parameter {param:?} has version {v}; the admin password will be re-set");
                    }
                    p.live_admin_password_version = Some(v);
                }
                Err(e) => {
                    p.live_admin_password_version = None;
                    diags.push(
                        Diagnostic::warning("Cannot check the admin password parameter", e.to_string())
                            .at(crate::plugin::AttrPath::parse("admin_password.ssm_parameter")),
                    );
                }
            }
        }
        Outcome {
            state: Some(s),
            private: p.encode(),
            diagnostics: diags,
        }
    }

    async fn update(&self, ctx: &Ctx, prior: &Value, planned: &Value, _config: &Value, private: &[u8]) -> Outcome {
        let mut diags = validate(planned);
        if diags.has_errors() {
            return Outcome::failed(diags);
        }
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => {
                return Outcome {
                    state: Some(prior.clone()),
                    private: private.to_vec(),
                    diagnostics: d,
                }
            }
        };
        let mut p = Private::decode(private);
        let ap = planned.get("admin_password");
        let password_wanted =
            !ap.is_null() && planned.get("admin_password_version") != prior.get("admin_password_version");
        // As on create, read the password first: a wrong parameter should not leave a half-done update.
        let secret = match (password_wanted, ap.get("ssm_parameter").as_str()) {
            (true, Some(param)) => {
                match fetch_password(clients, param, planned.get("admin_password_version").as_i64()).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        return Outcome {
                            state: Some(prior.clone()),
                            private: private.to_vec(),
                            diagnostics: ssm_diag(&e).into(),
                        }
                    }
                }
            }
            _ => None,
        };

        let mut state = planned.clone();
        if inputs_changed(prior, planned) {
            let template = if template_of(prior) == template_of(planned) {
                Some(TemplateSource::UsePrevious)
            } else {
                template_of(planned)
            };
            let mut input = stack_input(planned, template);
            input.name = prior.get("id").as_str().unwrap_or_default().to_string();
            let wait = WaitOptions::new(timeout(planned, "update"), ctx.stop.clone());
            match cloudformation::update_stack(&clients.cloudformation, &input, &wait).await {
                Ok(desc) => {
                    let overrides = output_overrides(planned);
                    p.discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
                    state = state_from(planned, &desc, &p.discovered);
                }
                Err(e) => {
                    diags.push(stack_diag("Cannot update the DLT stack", &e));
                    // Keep the prior arguments so the next plan proposes the update again.
                    let mut s = prior.clone();
                    if let Some(st) = e.final_status() {
                        s.set("status", Value::string(st));
                    }
                    return Outcome {
                        state: Some(s),
                        private: private.to_vec(),
                        diagnostics: diags,
                    };
                }
            }
        } else {
            for k in ["id", "status", "outputs"] {
                state.set(k, prior.get(k).clone());
            }
            set_well_known(
                &mut state,
                &outputs_of(prior),
                &output_overrides(planned),
                &p.discovered,
            );
        }

        if ap.is_null() {
            state.set("admin_password_version", Value::Null);
        } else if let Some(secret) = secret {
            match apply_password(clients, &state, &secret).await {
                Ok(v) => {
                    state.set("admin_password_version", Value::int(v));
                    p.live_admin_password_version = Some(v);
                }
                Err(d) => {
                    diags.push(d);
                    state.set("admin_password_version", prior.get("admin_password_version").clone());
                }
            }
        } else {
            state.set("admin_password_version", prior.get("admin_password_version").clone());
        }
        Outcome {
            state: Some(state),
            private: p.encode(),
            diagnostics: diags,
        }
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return d,
        };
        let key = prior
            .get("id")
            .as_str()
            .or(prior.get("name").as_str())
            .unwrap_or_default()
            .to_string();
        let wait = WaitOptions::new(timeout(prior, "delete"), ctx.stop.clone());
        match cloudformation::delete_stack(&clients.cloudformation, &key, &wait).await {
            Ok(()) => Diagnostics::new(),
            Err(e) => stack_diag("Cannot delete the DLT stack", &e).into(),
        }
    }

    async fn import(&self, _ctx: &Ctx, id: &str) -> Outcome {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let desc = match cloudformation::describe_stack(&clients.cloudformation, id).await {
            Ok(Some(d)) if !d.is_deleted() => d,
            Ok(_) => {
                return Outcome::failed(
                    Diagnostic::error(
                        "Cannot import the DLT stack",
                        format!("CloudFormation stack {id:?} does not exist; import takes the stack name or ARN."),
                    )
                    .into(),
                )
            }
            Err(e) => return Outcome::failed(stack_diag("Cannot import the DLT stack", &e).into()),
        };
        let set_or_null = |v: &[String]| {
            if v.is_empty() {
                Value::Null
            } else {
                Value::Set(v.iter().map(|s| Value::string(s.clone())).collect())
            }
        };
        let map_or_null = |m: &BTreeMap<String, String>| {
            if m.is_empty() {
                Value::Null
            } else {
                Value::string_map(m.clone())
            }
        };
        let mut s = Value::object([
            ("name", Value::string(desc.name.clone())),
            ("on_failure", Value::string("ROLLBACK")),
            ("parameters", map_or_null(&desc.parameters)),
            ("tags", map_or_null(&desc.tags)),
            ("capabilities", set_or_null(&desc.capabilities)),
            ("notification_arns", set_or_null(&desc.notification_arns)),
            ("iam_role_arn", Value::opt_string(desc.role_arn.clone())),
            ("admin_password_version", Value::Null),
        ]);
        let mut diags = Diagnostics::new();
        let discovered = discover(clients, &desc.id, &desc.outputs, &BTreeMap::new(), &mut diags).await;
        s = state_from(&s, &desc, &discovered);
        Outcome {
            state: Some(s),
            private: Private {
                discovered,
                ..Private::default()
            }
            .encode(),
            diagnostics: diags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
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

    fn prior_state() -> Value {
        let mut s = base();
        s.set(
            "id",
            Value::string("arn:aws:cloudformation:us-east-1:123456789012:stack/DLT-test/x"),
        );
        s.set("status", Value::string("CREATE_COMPLETE"));
        set_outputs(
            &mut s,
            &[("UserPoolId".to_string(), "pool".to_string())].into(),
            &BTreeMap::new(),
            &Discovered::new(),
        );
        s.set("admin_password_version", Value::int(1));
        s
    }

    fn plan_with(planned: Value, private: Private) -> Plan {
        Plan {
            prior: prior_state(),
            config: planned.clone(),
            planned,
            requires_replace: Vec::new(),
            private: private.encode(),
        }
    }

    fn resource() -> StackResource {
        StackResource::new(SharedData::default())
    }

    #[tokio::test]
    async fn rotation_plans_only_the_version() {
        let mut plan = plan_with(
            prior_state(),
            Private {
                live_admin_password_version: Some(2),
                ..Private::default()
            },
        );
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        let mut expected = prior_state();
        expected.set("admin_password_version", Value::int(2));
        assert_eq!(plan.planned, expected);
    }

    #[tokio::test]
    async fn unchanged_version_plans_no_change() {
        let mut plan = plan_with(
            prior_state(),
            Private {
                live_admin_password_version: Some(1),
                ..Private::default()
            },
        );
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        assert_eq!(plan.planned, prior_state());
    }

    #[tokio::test]
    async fn output_names_change_keeps_outputs_known() {
        let mut planned = prior_state();
        // As the generic planner leaves it: computed attributes unknown after a config change.
        for k in [
            "status",
            "outputs",
            "user_pool_id",
            "api_endpoint",
            "admin_password_version",
        ] {
            planned.set(k, Value::Unknown);
        }
        planned.set(
            "output_names",
            Value::object([("api_endpoint", Value::string("UserPoolId"))]),
        );
        let mut plan = plan_with(planned, Private::default());
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        assert_eq!(plan.planned.get("api_endpoint"), &Value::string("pool"));
        assert_eq!(plan.planned.get("status"), &Value::string("CREATE_COMPLETE"));
        assert_eq!(plan.planned.get("admin_password_version"), &Value::int(1));
    }

    #[tokio::test]
    async fn parameter_change_leaves_outputs_unknown() {
        let mut planned = prior_state();
        planned.set(
            "parameters",
            Value::string_map([("AdminName", "dltadmin"), ("AdminEmail", "a@b.c")]),
        );
        for k in ["status", "outputs", "user_pool_id"] {
            planned.set(k, Value::Unknown);
        }
        let mut plan = plan_with(planned, Private::default());
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        assert!(plan.planned.get("outputs").is_unknown());
        assert_eq!(plan.planned.get("admin_password_version"), &Value::int(1));
    }

    #[test]
    fn refresh_keeps_only_configured_parameters_and_noecho_values() {
        let current = Value::string_map([("AdminName", "a"), ("Secret", "s")]);
        let live: BTreeMap<String, String> = [("AdminName", "b"), ("Secret", "****"), ("Other", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            refresh_parameters(&current, &live),
            Value::string_map([("AdminName", "b"), ("Secret", "s")])
        );
        assert_eq!(refresh_parameters(&Value::Null, &live), Value::Null);
    }
}
