//! `data "dlt_stack"`: reads an existing DLT stack (deployed elsewhere) by name, for its outputs
//! and the same well-known attributes as the resource.

use async_trait::async_trait;

use crate::aws::cloudformation;
use crate::plugin::{AttrPath, Attribute, Block, Ctx, DataSource, Diagnostic, Diagnostics, Outcome, Schema, Value};

use super::provider_data::{aws_clients, SharedData};
use super::stack::config::StackDataConfig;
use super::stack::schema::computed_stack_attributes;
use super::stack::{discover, state};

pub struct StackDataSource {
    data: SharedData,
}

impl StackDataSource {
    pub fn new(data: SharedData) -> StackDataSource {
        StackDataSource { data }
    }
}

pub fn schema() -> Schema {
    let resource = super::stack::schema::schema();
    let output_names = resource.block.attribute("output_names").cloned();
    let mut attrs = vec![
        Attribute::string("name")
            .required()
            .describe("Name (or ARN) of the CloudFormation stack to read."),
        Attribute::string("id").computed().describe("The stack ARN."),
        Attribute::string_map("parameters")
            .computed()
            .describe("The stack's parameter values."),
        Attribute::string_map("tags").computed().describe("The stack's tags."),
    ];
    attrs.extend(output_names);
    attrs.extend(computed_stack_attributes());
    Schema::new(Block::new(attrs).describe("Reads an existing Distributed Load Testing on AWS stack."))
}

#[async_trait]
impl DataSource for StackDataSource {
    fn type_name(&self) -> &'static str {
        "dlt_stack"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        StackDataConfig::parse(config).1
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> Outcome {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let (args, d) = StackDataConfig::parse(config);
        if d.has_errors() {
            return Outcome::failed(d);
        }
        let name = args.name.known().map(String::as_str).unwrap_or_default();
        let desc = match cloudformation::describe_stack(&clients.cloudformation, name).await {
            Ok(Some(d)) if !d.is_deleted() => d,
            Ok(_) => {
                return Outcome::failed(
                    Diagnostic::error(
                        "DLT stack not found",
                        format!("CloudFormation stack {name:?} does not exist."),
                    )
                    .at(AttrPath::root("name"))
                    .into(),
                )
            }
            Err(e) => return Outcome::failed(Diagnostic::error("Cannot read the DLT stack", e.to_string()).into()),
        };
        let overrides = args.output_names.known().cloned().unwrap_or_default();
        let mut diags = Diagnostics::new();
        let discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
        Outcome {
            state: Some(state::data_source_state(config, &desc, &overrides, &discovered)),
            private: Vec::new(),
            diagnostics: diags,
        }
    }
}
