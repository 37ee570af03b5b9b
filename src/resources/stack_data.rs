//! `data "dlt_stack"`: reads an existing DLT stack (deployed elsewhere) by name, for its outputs
//! and the same well-known attributes as the resource.

use async_trait::async_trait;

use crate::aws::cloudformation;
use crate::plugin::{Attribute, Block, Ctx, DataSource, Diagnostic, Diagnostics, Outcome, Schema, Value};

use super::provider_data::{aws_clients, SharedData};
use super::stack::convert::set_outputs;
use super::stack::discover;
use super::stack::schema::{computed_stack_attributes, validate_name};

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
        let mut d = Diagnostics::new();
        if !config.get("name").as_str().is_some_and(|n| n.starts_with("arn:")) {
            validate_name(&mut d, config.get("name"));
        }
        d
    }

    async fn read(&self, _ctx: &Ctx, config: &Value) -> Outcome {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let name = config.get("name").as_str().unwrap_or_default();
        let desc = match cloudformation::describe_stack(&clients.cloudformation, name).await {
            Ok(Some(d)) if !d.is_deleted() => d,
            Ok(_) => {
                return Outcome::failed(
                    Diagnostic::error(
                        "DLT stack not found",
                        format!("CloudFormation stack {name:?} does not exist."),
                    )
                    .at(crate::plugin::AttrPath::root("name"))
                    .into(),
                )
            }
            Err(e) => return Outcome::failed(Diagnostic::error("Cannot read the DLT stack", e.to_string()).into()),
        };
        let mut s = config.clone();
        s.set("id", Value::string(desc.id.clone()));
        s.set("status", Value::string(desc.status.clone()));
        s.set("parameters", Value::string_map(desc.parameters.clone()));
        s.set("tags", Value::string_map(desc.tags.clone()));
        let overrides = config.get("output_names").to_string_map();
        let mut diags = Diagnostics::new();
        let discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
        set_outputs(&mut s, &desc.outputs, &overrides, &discovered);
        Outcome {
            state: Some(s),
            private: Vec::new(),
            diagnostics: diags,
        }
    }
}
