//! The `dlt` provider: its configuration schema, and the resources it serves with the shared
//! data ([`SharedData`], owned by `resources/`) that configuration fills in.
//!
//! `ConfigureProvider` only records settings; AWS clients are built lazily by the first CRUD
//! call that needs them, so validate, plan and configure never touch the network.

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{AwsClients, AwsSettings};
use crate::plugin::{Ctx, DataSource, Diagnostics, Provider, Resource, Schema, Value};
use crate::resources::provider_config::{self, ProviderConfig};
use crate::resources::provider_data::{ProviderData, SharedData};
use crate::resources::stack::StackResource;
use crate::resources::stack_data::StackDataSource;
use crate::resources::test_run::TestRunResource;

/// Reads the AWS settings from the (wholly known) provider configuration.
pub fn aws_settings(config: &Value) -> AwsSettings {
    ProviderConfig::parse(config).0.aws_settings()
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

#[async_trait]
impl Provider for DltProvider {
    fn type_name(&self) -> &'static str {
        "dlt"
    }

    fn schema(&self) -> Schema {
        provider_config::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        ProviderConfig::parse(config).1
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
