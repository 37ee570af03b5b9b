//! The Registry docs stay in step with the schemas: every attribute of the provider, each
//! resource and the data source (nested ones included) is named in its page.

use std::sync::Arc;

use dlt_provider::plugin::{Attribute, Block, DataSource, Provider, Resource};
use dlt_provider::provider::DltProvider;
use dlt_provider::resources::provider_data::SharedData;
use dlt_provider::resources::{stack::StackResource, stack_data::StackDataSource, test_run::TestRunResource};

fn names(block: &Block, out: &mut Vec<String>) {
    fn attr(a: &Attribute, out: &mut Vec<String>) {
        out.push(a.name.clone());
        if let Some((nested, _)) = a.nested_attributes() {
            nested.iter().for_each(|n| attr(n, out));
        }
    }
    block.attributes.iter().for_each(|a| attr(a, out));
    for b in &block.blocks {
        out.push(b.type_name.clone());
        names(&b.block, out);
    }
}

#[track_caller]
fn assert_documented(page: &str, block: &Block) {
    let text = std::fs::read_to_string(format!("{}/docs/{page}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("docs/{page}: {e}"));
    let mut all = Vec::new();
    names(block, &mut all);
    assert!(all.len() >= 4, "schema of docs/{page} has too few attributes: {all:?}");
    let missing: Vec<&String> = all.iter().filter(|n| !text.contains(&format!("`{n}`"))).collect();
    assert!(missing.is_empty(), "docs/{page} does not document {missing:?}");
}

#[test]
fn every_attribute_is_documented() {
    let data = SharedData::default();
    assert_documented("index.md", &DltProvider::new().schema().block);
    let stack: Arc<dyn Resource> = Arc::new(StackResource::new(data.clone()));
    assert_documented("resources/stack.md", &stack.schema().block);
    let run: Arc<dyn Resource> = Arc::new(TestRunResource::new(data.clone()));
    assert_documented("resources/test_run.md", &run.schema().block);
    let stack_data: Arc<dyn DataSource> = Arc::new(StackDataSource::new(data));
    assert_documented("data-sources/stack.md", &stack_data.schema().block);
}
