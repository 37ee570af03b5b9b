//! Schemas: what a provider, resource or data source accepts and computes.
//!
//! Besides the protocol's fields, an [`Attribute`] carries the generic planning behaviour that
//! terraform-plugin-framework expresses as plan modifiers and defaults (`requires_replace`,
//! `use_state_for_unknown`, `default`), so `planning.rs` can apply them without resource code.

use super::value::{Type, Value};

/// How nested attributes or blocks repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
    /// Blocks only: like `Single` but never null (absent block = object of nulls).
    Group,
}

/// The value shape of an attribute: a plain cty type or (protocol 6) nested attributes.
#[derive(Debug, Clone)]
pub enum AttrKind {
    Type(Type),
    Nested {
        attributes: Vec<Attribute>,
        nesting: Nesting,
    },
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub kind: AttrKind,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub write_only: bool,
    pub deprecated: bool,
    /// A change to this attribute forces replacement (plan modifier `RequiresReplace`).
    pub requires_replace: bool,
    /// When the planned value would be unknown, keep the prior state's value (`UseStateForUnknown`).
    pub use_state_for_unknown: bool,
    /// Planned when the configuration leaves this optional+computed attribute null.
    pub default: Option<Value>,
}

impl Attribute {
    fn new(name: &str, kind: AttrKind) -> Attribute {
        Attribute {
            name: name.to_string(),
            kind,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
            default: None,
        }
    }
    pub fn typed(name: &str, ty: Type) -> Attribute {
        Attribute::new(name, AttrKind::Type(ty))
    }
    pub fn string(name: &str) -> Attribute {
        Attribute::typed(name, Type::String)
    }
    pub fn number(name: &str) -> Attribute {
        Attribute::typed(name, Type::Number)
    }
    pub fn bool(name: &str) -> Attribute {
        Attribute::typed(name, Type::Bool)
    }
    pub fn string_map(name: &str) -> Attribute {
        Attribute::typed(name, Type::map(Type::String))
    }
    pub fn string_list(name: &str) -> Attribute {
        Attribute::typed(name, Type::list(Type::String))
    }
    pub fn nested(name: &str, nesting: Nesting, attributes: Vec<Attribute>) -> Attribute {
        Attribute::new(name, AttrKind::Nested { attributes, nesting })
    }
    /// `name = { ... }`
    pub fn single(name: &str, attributes: Vec<Attribute>) -> Attribute {
        Attribute::nested(name, Nesting::Single, attributes)
    }
    /// `name = [{ ... }, ...]`
    pub fn list_of(name: &str, attributes: Vec<Attribute>) -> Attribute {
        Attribute::nested(name, Nesting::List, attributes)
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }
    pub fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }
    pub fn requires_replace(mut self) -> Self {
        self.requires_replace = true;
        self
    }
    pub fn use_state_for_unknown(mut self) -> Self {
        self.use_state_for_unknown = true;
        self
    }
    /// Optional + computed with a default planned when the config is null.
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.optional = true;
        self.computed = true;
        self.default = Some(v.into());
        self
    }
    /// Markdown description (shown in docs and `terraform providers schema`).
    pub fn describe(mut self, d: &str) -> Self {
        self.description = d.to_string();
        self
    }

    /// The cty type of this attribute's value.
    pub fn value_type(&self) -> Type {
        match &self.kind {
            AttrKind::Type(t) => t.clone(),
            AttrKind::Nested { attributes, nesting } => {
                let obj = Type::Object(attributes.iter().map(|a| (a.name.clone(), a.value_type())).collect());
                wrap(obj, *nesting)
            }
        }
    }

    /// Nested attributes, when this is a nested attribute.
    pub fn nested_attributes(&self) -> Option<(&[Attribute], Nesting)> {
        match &self.kind {
            AttrKind::Nested { attributes, nesting } => Some((attributes, *nesting)),
            AttrKind::Type(_) => None,
        }
    }
}

fn wrap(obj: Type, nesting: Nesting) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => obj,
        Nesting::List => Type::list(obj),
        Nesting::Set => Type::set(obj),
        Nesting::Map => Type::map(obj),
    }
}

/// A nested block (`timeouts { ... }`).
#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
}

impl NestedBlock {
    pub fn single(type_name: &str, block: Block) -> NestedBlock {
        NestedBlock {
            type_name: type_name.to_string(),
            block,
            nesting: Nesting::Single,
            min_items: 0,
            max_items: 0,
        }
    }
    pub fn value_type(&self) -> Type {
        wrap(self.block.value_type(), self.nesting)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub deprecated: bool,
}

impl Block {
    pub fn new(attributes: Vec<Attribute>) -> Block {
        Block {
            attributes,
            ..Block::default()
        }
    }
    pub fn with_block(mut self, b: NestedBlock) -> Block {
        self.blocks.push(b);
        self
    }
    pub fn describe(mut self, d: &str) -> Block {
        self.description = d.to_string();
        self
    }
    /// The object type of this block's value (attributes and nested blocks).
    pub fn value_type(&self) -> Type {
        Type::Object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.value_type()))
                .chain(self.blocks.iter().map(|b| (b.type_name.clone(), b.value_type())))
                .collect(),
        )
    }
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// A versioned schema: bump `version` when the state shape changes and handle the old shape in
/// `Resource::upgrade_state`.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn new(block: Block) -> Schema {
        Schema { version: 0, block }
    }
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}

/// The conventional `timeouts { create = "..." ... }` block with the given operations.
pub fn timeouts_block(ops: &[&str]) -> NestedBlock {
    NestedBlock::single(
        "timeouts",
        Block::new(
            ops.iter()
                .map(|op| {
                    Attribute::string(op).optional().describe(&format!(
                        "How long `{op}` may take, as a duration string such as `\"30m\"`."
                    ))
                })
                .collect(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_type_includes_nested_attributes_and_blocks() {
        let b = Block::new(vec![
            Attribute::string("name").required(),
            Attribute::single("inner", vec![Attribute::number("n").optional()]).optional(),
            Attribute::list_of("items", vec![Attribute::bool("b").optional()]).optional(),
        ])
        .with_block(timeouts_block(&["create"]));
        let t = b.value_type();
        let expected = Type::object([
            ("name", Type::String),
            ("inner", Type::object([("n", Type::Number)])),
            ("items", Type::list(Type::object([("b", Type::Bool)]))),
            ("timeouts", Type::object([("create", Type::String)])),
        ]);
        assert_eq!(t, expected);
    }
}
