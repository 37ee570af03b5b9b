//! The `dlt` provider: its configuration schema, and the resources it serves with the shared
//! data ([`SharedData`], owned by `resources/`) that configuration fills in.
//!
//! `ConfigureProvider` only records settings; AWS clients are built lazily by the first CRUD
//! call that needs them, so validate, plan and configure never touch the network.

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{AssumeRole, AwsClients, AwsSettings, Endpoints};
use crate::plugin::{Attribute, Block, Ctx, DataSource, Diagnostics, Provider, Resource, Schema, Value};
use crate::resources::checks;
use crate::resources::provider_data::{ProviderData, SharedData};
use crate::resources::stack::StackResource;
use crate::resources::stack_data::StackDataSource;
use crate::resources::test_run::TestRunResource;

/// The endpoint names accepted in `endpoints`, in schema order.
pub const ENDPOINT_NAMES: [&str; 6] = ["cloudformation", "cognito_idp", "cognito_identity", "ssm", "s3", "sts"];

/// Reads the AWS settings from the (wholly known) provider configuration.
pub fn aws_settings(config: &Value) -> AwsSettings {
    let s = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let ar = config.get("assume_role");
    let ep = config.get("endpoints");
    AwsSettings {
        region: s(config.get("region")),
        profile: s(config.get("profile")),
        assume_role: s(ar.get("role_arn")).map(|role_arn| AssumeRole {
            role_arn,
            session_name: s(ar.get("session_name")),
            external_id: s(ar.get("external_id")),
        }),
        endpoints: Endpoints {
            cloudformation: s(ep.get("cloudformation")),
            cognito_idp: s(ep.get("cognito_idp")),
            cognito_identity: s(ep.get("cognito_identity")),
            ssm: s(ep.get("ssm")),
            s3: s(ep.get("s3")),
            sts: s(ep.get("sts")),
        },
    }
}

#[derive(Default)]
pub struct DltProvider {
    data: SharedData,
}

impl DltProvider {
    pub fn new() -> DltProvider {
        DltProvider::default()
    }
}

fn provider_schema() -> Schema {
    let endpoint = |name: &str| {
        Attribute::string(name).optional().describe(&format!(
            "Custom endpoint URL for the `{name}` service (LocalStack, moto, VPC endpoints)."
        ))
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

#[async_trait]
impl Provider for DltProvider {
    fn type_name(&self) -> &'static str {
        "dlt"
    }

    fn schema(&self) -> Schema {
        provider_schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(region) = config.get("region").as_str() {
            let ok = !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                d.attr_error(
                    "region",
                    "Invalid region",
                    format!(
                        "region {} is not an AWS region name such as \"eu-west-1\".",
                        checks::shown(region)
                    ),
                );
            }
        }
        if let Some(arn) = config.get("assume_role").get("role_arn").as_str() {
            if !arn.starts_with("arn:") || !arn.contains(":role/") {
                d.attr_error(
                    "assume_role.role_arn",
                    "Invalid role ARN",
                    format!(
                        "{} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).",
                        checks::shown(arn)
                    ),
                );
            }
        }
        let endpoints = config.get("endpoints");
        for name in ENDPOINT_NAMES {
            checks::endpoint_url(&mut d, &format!("endpoints.{name}"), endpoints.get(name));
        }
        d
    }

    async fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        // At plan time the configuration may hold unknowns; nothing here needs them yet, and the
        // apply-time process configures again with known values.
        let _ = self.data.set(ProviderData {
            aws: AwsClients::new(aws_settings(config)),
        });
        Diagnostics::new()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(StackResource::new(self.data.clone())),
            Arc::new(TestRunResource::new(self.data.clone())),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(StackDataSource::new(self.data.clone()))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings() {
        let config = Value::object([
            ("region", Value::string("eu-west-1")),
            (
                "assume_role",
                Value::object([("role_arn", Value::string("arn:aws:iam::1:role/x"))]),
            ),
            (
                "endpoints",
                Value::object([("ssm", Value::string("http://localhost:5000"))]),
            ),
        ]);
        let s = aws_settings(&config);
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            s.assume_role.map(|a| a.role_arn).as_deref(),
            Some("arn:aws:iam::1:role/x")
        );
        assert_eq!(s.endpoints.ssm.as_deref(), Some("http://localhost:5000"));
        assert!(s.endpoints.s3.is_none());
    }

    #[test]
    fn validates_offline() {
        let config = Value::object([
            ("region", Value::string("EU West")),
            ("endpoints", Value::object([("s3", Value::string("localhost:5000"))])),
        ]);
        let d = DltProvider::new().validate(&config);
        let paths: Vec<String> = d
            .iter()
            .filter_map(|x| x.attribute.as_ref().map(|p| p.to_string()))
            .collect();
        assert_eq!(paths, ["region", "endpoints.s3"]);
    }
}
