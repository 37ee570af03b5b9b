//! The wire: conversions between the tfplugin6 messages and the runtime's own types (schemas,
//! values, diagnostics), so the service in `server.rs` only maps calls onto the traits.

use super::codec::{self, CodecError};
use super::diag::{
    bounded, AttrPath, Diagnostic, Diagnostics, PathStep, Severity, MAX_DETAIL_CHARS, MAX_SUMMARY_CHARS,
};
use super::proto::tfplugin6 as pb;
use super::schema::{AttrKind, Attribute, Block, NestedBlock, Nesting, Schema};
use super::value::{Type, Value};

/// Responses that carry diagnostics, so a panic can be reported in any of them.
pub trait WithDiagnostics: Default {
    fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic>;
}

macro_rules! with_diagnostics {
    ($($t:ty),* $(,)?) => {$(
        impl WithDiagnostics for $t {
            fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic> {
                &mut self.diagnostics
            }
        }
    )*};
}

with_diagnostics!(
    pb::get_metadata::Response,
    pb::get_provider_schema::Response,
    pb::get_resource_identity_schemas::Response,
    pb::get_functions::Response,
    pb::validate_provider_config::Response,
    pb::validate_resource_config::Response,
    pb::validate_data_resource_config::Response,
    pb::upgrade_resource_state::Response,
    pb::upgrade_resource_identity::Response,
    pb::configure_provider::Response,
    pb::read_resource::Response,
    pb::plan_resource_change::Response,
    pb::apply_resource_change::Response,
    pb::import_resource_state::Response,
    pb::move_resource_state::Response,
    pb::read_data_source::Response,
);

pub fn path_to_proto(path: &AttrPath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: path
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

pub fn diagnostics_to_proto(diags: &Diagnostics) -> Vec<pb::Diagnostic> {
    diags
        .iter()
        .map(|d| pb::Diagnostic {
            severity: match d.severity {
                Severity::Error => pb::diagnostic::Severity::Error as i32,
                Severity::Warning => pb::diagnostic::Severity::Warning as i32,
            },
            summary: bounded(&d.summary, MAX_SUMMARY_CHARS).into_owned(),
            detail: bounded(&d.detail, MAX_DETAIL_CHARS).into_owned(),
            attribute: d.attribute.as_ref().filter(|p| !p.0.is_empty()).map(path_to_proto),
        })
        .collect()
}

fn type_bytes(t: &Type) -> Vec<u8> {
    t.to_json().to_string().into_bytes()
}

fn attribute_to_proto(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.kind {
        AttrKind::Type(t) => (type_bytes(t), None),
        AttrKind::Nested { attributes, nesting } => {
            use pb::schema::object::NestingMode as M;
            let nesting = match nesting {
                Nesting::Single | Nesting::Group => M::Single,
                Nesting::List => M::List,
                Nesting::Set => M::Set,
                Nesting::Map => M::Map,
            };
            let obj = pb::schema::Object {
                attributes: attributes.iter().map(attribute_to_proto).collect(),
                nesting: nesting as i32,
                ..Default::default()
            };
            (Vec::new(), Some(obj))
        }
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: a.deprecated,
        write_only: a.write_only,
    }
}

fn nested_block_to_proto(b: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    let nesting = match b.nesting {
        Nesting::Single => M::Single,
        Nesting::Group => M::Group,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    };
    pb::schema::NestedBlock {
        type_name: b.type_name.clone(),
        block: Some(block_to_proto(&b.block)),
        nesting: nesting as i32,
        min_items: b.min_items,
        max_items: b.max_items,
    }
}

fn block_to_proto(b: &Block) -> pb::schema::Block {
    pb::schema::Block {
        version: 0,
        attributes: b.attributes.iter().map(attribute_to_proto).collect(),
        block_types: b.blocks.iter().map(nested_block_to_proto).collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
    }
}

/// A [`Schema`] in protocol form.
pub fn schema_to_proto(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_proto(&s.block)),
    }
}

/// Decodes a `DynamicValue` (msgpack, or JSON when only that is set) against `ty`.
pub fn decode(dv: Option<&pb::DynamicValue>, ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    let res = match dv {
        None => Ok(Value::Null),
        Some(d) if d.msgpack.is_empty() && !d.json.is_empty() => codec::decode_json(&d.json, ty),
        Some(d) => codec::decode_msgpack(&d.msgpack, ty),
    };
    res.map_err(|e| {
        at_path(
            Diagnostic::error(
                "Invalid value from Terraform",
                format!("The provider could not decode the {what}: {e}"),
            ),
            &e.path,
        )
        .into()
    })
}

pub fn encode(v: &Value, ty: &Type, what: &str) -> Result<pb::DynamicValue, Diagnostics> {
    codec::encode_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| {
            Diagnostic::error(
                "Provider bug: value does not match the schema",
                format!("The provider could not encode the {what}: {e}. This is a bug in the provider."),
            )
            .into()
        })
}

pub fn null_value() -> pb::DynamicValue {
    pb::DynamicValue {
        msgpack: vec![0xc0],
        json: Vec::new(),
    }
}

/// A stored state that does not decode, pointing at the attribute where it went wrong.
pub fn state_error(e: &CodecError) -> Diagnostics {
    at_path(
        Diagnostic::error(
            "Invalid stored state",
            format!("The provider could not read the stored state: {e}"),
        ),
        &e.path,
    )
    .into()
}

/// `d` pointing at `path`, unless that is the root.
fn at_path(d: Diagnostic, path: &AttrPath) -> Diagnostic {
    if path.0.is_empty() {
        d
    } else {
        d.at(path.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_does_not_decode_is_a_diagnostic_at_its_attribute() {
        let ty = Type::object([("load", Type::object([("concurrency", Type::Number)]))]);
        let bad = codec::encode_msgpack(
            &Value::object([("load", Value::object([("concurrency", Value::string("x"))]))]),
            &Type::object([("load", Type::object([("concurrency", Type::String)]))]),
        )
        .unwrap();
        let dv = pb::DynamicValue {
            msgpack: bad,
            json: Vec::new(),
        };
        let d = decode(Some(&dv), &ty, "configuration").unwrap_err();
        let diag = d.iter().next().unwrap();
        assert_eq!(diag.attribute, Some(AttrPath::root("load").attr("concurrency")));
        assert!(diag.detail.contains("could not decode the configuration"), "{d}");
        let proto = diagnostics_to_proto(&d);
        assert_eq!(proto[0].attribute.as_ref().map(|p| p.steps.len()), Some(2));
    }
}
