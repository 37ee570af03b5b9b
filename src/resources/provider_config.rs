//! The provider configuration model: one read of the `provider "dlt"` block into typed settings,
//! with the offline checks at their attribute paths. Validate reads it tolerating unknowns;
//! `ConfigureProvider` reads it again and turns it into the AWS settings. The attribute names
//! are spelled here and in the provider's schema only; a unit test holds the two in step.

use crate::aws::{AssumeRole, AwsSettings, Endpoints};
use crate::plugin::{Attribute, Block, Diagnostics, Schema, Value};
use crate::resources::checks;
use crate::resources::model::{Attr, Field, Obj, Parse};

/// The endpoint names accepted in `endpoints`, in schema order.
pub const ENDPOINT_NAMES: [&str; 8] = [
    "cloudformation",
    "cognito_idp",
    "cognito_identity",
    "ssm",
    "s3",
    "sts",
    "cloudfront",
    "execute_api",
];

/// The provider block's schema.
pub fn schema() -> Schema {
    let endpoint = |name: &str| match name {
        "execute_api" => Attribute::string(name).optional().describe(
            "Where DLT API calls go instead of the `dlt.api_endpoint` host: replaces its scheme, host and port and \
             keeps its path (`/prod/`), for a private API reached through an `execute-api` VPC endpoint or a proxy. \
             Calls are still signed for `execute-api` in the API's region.",
        ),
        _ => Attribute::string(name).optional().describe(&format!(
            "Custom endpoint URL for the `{name}` service (LocalStack, moto, VPC endpoints)."
        )),
    };
    Schema::new(
        Block::new(vec![
            Attribute::string("region")
                .optional()
                .describe("AWS region. Defaults to `AWS_REGION`/`AWS_DEFAULT_REGION` or the profile's region."),
            Attribute::string("profile").optional().describe("Named profile from the shared AWS config files."),
            Attribute::single(
                "assume_role",
                vec![
                    Attribute::string("role_arn").required().describe("ARN of the IAM role to assume."),
                    Attribute::string("session_name")
                        .optional()
                        .describe("Session name for the assumed role. Default `terraform-provider-dlt`."),
                    Attribute::string("external_id").optional().sensitive().describe("External ID required by the role's trust policy."),
                ],
            )
            .optional()
            .describe("Assume this IAM role (via STS) for every AWS call."),
            Attribute::single("endpoints", ENDPOINT_NAMES.iter().map(|n| endpoint(n)).collect())
                .optional()
                .describe("Per-service endpoint overrides. These win over `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`."),
        ])
        .describe(
            "Deploys Distributed Load Testing on AWS and runs gated load tests during `terraform apply`. \
             The standard AWS environment (credentials, profiles, web identity, `AWS_ENDPOINT_URL*`) applies.",
        ),
    )
}

#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    pub region: Attr<String>,
    pub profile: Attr<String>,
    pub assume_role: Attr<AssumeRoleConfig>,
    /// By [`ENDPOINT_NAMES`].
    pub endpoints: Vec<(&'static str, Attr<String>)>,
}

#[derive(Debug, Clone, Default)]
pub struct AssumeRoleConfig {
    pub role_arn: Attr<String>,
    pub session_name: Attr<String>,
    pub external_id: Attr<String>,
}

impl ProviderConfig {
    pub fn parse(v: &Value) -> (ProviderConfig, Diagnostics) {
        Parse::run(v, ProviderConfig::read)
    }

    pub(crate) fn read(cx: &mut Parse, v: &Value) -> ProviderConfig {
        let mut o = Obj::root(v);
        let region = {
            let f = o.field("region");
            f.read(|v| checks::aws_region(&mut cx.diags, &f.path.to_string(), v).map(str::to_string))
        };
        let profile = o.field("profile").string();
        let role = o.field("assume_role");
        let assume_role = match role.read(|_| Some(())) {
            Attr::Known(()) => Attr::Known(AssumeRoleConfig::read(cx, &role)),
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        };
        let mut ep = o.field("endpoints").object();
        let endpoints = ENDPOINT_NAMES
            .iter()
            .map(|name| {
                let f = ep.field(name);
                let path = f.path.to_string();
                (
                    *name,
                    f.read(|v| {
                        let url = checks::endpoint_url(&mut cx.diags, &path, v)?;
                        if *name == "execute_api" {
                            checks::origin_only(&mut cx.diags, &path, url)?;
                        }
                        Some(url.to_string())
                    }),
                )
            })
            .collect();
        ep.finish(cx);
        o.finish(cx);
        ProviderConfig {
            region,
            profile,
            assume_role,
            endpoints,
        }
    }

    /// The AWS settings; unknown and empty values read as not set.
    pub fn aws_settings(&self) -> AwsSettings {
        let endpoint = |name: &str| {
            self.endpoints
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| set(v))
        };
        AwsSettings {
            region: set(&self.region),
            profile: set(&self.profile),
            assume_role: self.assume_role.known().and_then(|ar| {
                set(&ar.role_arn).map(|role_arn| AssumeRole {
                    role_arn,
                    session_name: set(&ar.session_name),
                    external_id: set(&ar.external_id),
                })
            }),
            endpoints: Endpoints {
                cloudformation: endpoint("cloudformation"),
                cognito_idp: endpoint("cognito_idp"),
                cognito_identity: endpoint("cognito_identity"),
                ssm: endpoint("ssm"),
                s3: endpoint("s3"),
                sts: endpoint("sts"),
                cloudfront: endpoint("cloudfront"),
                execute_api: endpoint("execute_api"),
            },
        }
    }
}

/// A known, non-empty string.
fn set(a: &Attr<String>) -> Option<String> {
    a.known().filter(|s| !s.is_empty()).cloned()
}

impl AssumeRoleConfig {
    fn read(cx: &mut Parse, field: &Field<'_>) -> AssumeRoleConfig {
        let mut o = field.object();
        let arn = o.field("role_arn");
        let role_arn = arn.read(|v| {
            let s = v.as_str()?;
            if !s.starts_with("arn:") || !s.contains(":role/") {
                cx.diags.attr_error(
                    &arn.path,
                    "Invalid role ARN",
                    format!(
                        "{} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).",
                        checks::shown(s)
                    ),
                );
                return None;
            }
            Some(s.to_string())
        });
        let config = AssumeRoleConfig {
            role_arn,
            session_name: o.field("session_name").string(),
            external_id: o.field("external_id").string(),
        };
        o.finish(cx);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::model::every_attribute_set;

    #[test]
    fn the_model_reads_every_schema_attribute_and_no_other() {
        let mut cx = Parse::new();
        ProviderConfig::read(&mut cx, &every_attribute_set(&schema().block));
        assert!(
            cx.unread.is_empty(),
            "schema attributes the model does not read: {:?}",
            cx.unread
        );
        assert!(
            cx.strays.is_empty(),
            "names the model reads that the schema lacks: {:?}",
            cx.strays
        );
    }

    #[test]
    fn unknowns_wait_and_bad_values_name_their_paths() {
        let (c, d) = ProviderConfig::parse(&Value::object([
            ("region", Value::Unknown),
            ("assume_role", Value::object([("role_arn", Value::string("role"))])),
            ("endpoints", Value::object([("sts", Value::string("http:///x"))])),
        ]));
        let paths: Vec<String> = d
            .iter()
            .filter_map(|x| x.attribute.as_ref().map(|p| p.to_string()))
            .collect();
        assert_eq!(paths, ["assume_role.role_arn", "endpoints.sts"]);
        assert!(c.region.is_unknown());
        assert!(c.aws_settings().assume_role.is_none() && c.aws_settings().region.is_none());
    }

    #[test]
    fn execute_api_takes_an_origin_only() {
        let parse = |url: &str| {
            ProviderConfig::parse(&Value::object([(
                "endpoints",
                Value::object([("execute_api", Value::string(url))]),
            )]))
        };
        let (c, d) = parse("https://vpce-0abc.execute-api.eu-west-1.vpce.amazonaws.com");
        assert!(!d.has_errors(), "{d:?}");
        assert_eq!(
            c.aws_settings().endpoints.execute_api.as_deref(),
            Some("https://vpce-0abc.execute-api.eu-west-1.vpce.amazonaws.com")
        );
        for (bad, why) in [
            ("http://127.0.0.1:9/prod/", "cannot have a path"),
            ("http://127.0.0.1:9/?a=b", "cannot have a query"),
            ("http://127.0.0.1:9/ x", "whitespace"),
            ("ftp://proxy", "http:// or https://"),
        ] {
            let (_, d) = parse(bad);
            let text: Vec<String> = d.iter().map(|x| format!("{} {}", x.summary, x.detail)).collect();
            assert!(text.iter().any(|t| t.contains(why)), "{bad}: {text:?}");
            assert_eq!(
                d.iter()
                    .find_map(|x| x.attribute.as_ref().map(|p| p.to_string()))
                    .as_deref(),
                Some("endpoints.execute_api"),
                "{bad}"
            );
        }
    }
}
