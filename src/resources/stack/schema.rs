//! The `dlt_stack` schema and its plan-time checks: every problem that can be found offline is
//! reported with the attribute's path. The data source reuses the shared parts.

use crate::aws::cloudformation::{OnFailure, MAX_TEMPLATE_BODY_BYTES};
use crate::dlt::stack_outputs::WellKnown;
use crate::plugin::{timeouts_block, AttrPath, Attribute, Block, Diagnostics, Schema, Value};
use crate::resources::checks;

const CAPABILITIES: [&str; 3] = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"];

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
pub fn computed_stack_attributes() -> Vec<Attribute> {
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

fn is_stack_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.len() <= 128
}

pub fn validate_name(d: &mut Diagnostics, v: &Value) {
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
                    AttrPath::root("parameters").key(k),
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
                    AttrPath::root("tags").key(k),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
