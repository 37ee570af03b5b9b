//! Typed configuration models: how a resource reads a Terraform value once, by attribute name
//! in one place, into structs whose fields say whether each attribute is known, not yet known,
//! or not set ([`Attr`]).
//!
//! A model module reads an object through an [`Obj`], which hands out each attribute as a
//! [`Field`] (its value and its path) and remembers what was read. The [`Parse`] that a whole
//! read shares collects every problem as a diagnostic with the attribute's path, and, for the
//! test that keeps schema and model in step, the attributes the value has that the model never
//! read and the names the model asked for that the value does not have.

use std::collections::BTreeMap;

use crate::plugin::{AttrPath, Diagnostics, Value};

/// One attribute as a configuration, plan or state holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Attr<T> {
    Known(T),
    /// Not known until apply (it depends on another resource).
    Unknown,
    /// Not set, or set to a value that was refused (the refusal is a diagnostic of the parse).
    #[default]
    Null,
}

impl<T> Attr<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn into_known(self) -> Option<T> {
        match self {
            Attr::Known(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Unknown)
    }

    pub fn as_ref(&self) -> Attr<&T> {
        match self {
            Attr::Known(v) => Attr::Known(v),
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        }
    }

    /// `other` when this is known (a value checked by one read and taken by another).
    pub fn and<U>(self, other: Attr<U>) -> Attr<U> {
        match self {
            Attr::Known(_) => other,
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Attr<U> {
        match self {
            Attr::Known(v) => Attr::Known(f(v)),
            Attr::Unknown => Attr::Unknown,
            Attr::Null => Attr::Null,
        }
    }
}

impl<T: Clone> Attr<T> {
    /// The known value, or `default` when not set (schema defaults the model applies itself, so
    /// JSON input outside Terraform gets them too).
    pub fn or(&self, default: T) -> Option<T> {
        match self {
            Attr::Known(v) => Some(v.clone()),
            Attr::Null => Some(default),
            Attr::Unknown => None,
        }
    }
}

/// The state of one read of a value: its diagnostics, and what schema/model drift it showed.
#[derive(Debug, Default)]
pub struct Parse {
    pub diags: Diagnostics,
    /// Attributes the value holds that the model did not read.
    pub unread: Vec<String>,
    /// Names the model read that the (schema-shaped) value does not hold.
    pub strays: Vec<String>,
}

impl Parse {
    pub fn new() -> Parse {
        Parse::default()
    }

    /// One read of `v` by a model's `read`, with its diagnostics.
    pub fn run<T>(v: &Value, read: impl FnOnce(&mut Parse, &Value) -> T) -> (T, Diagnostics) {
        let mut cx = Parse::new();
        let model = read(&mut cx, v);
        (model, cx.diags)
    }
}

/// One attribute's value and path.
#[derive(Debug, Clone)]
pub struct Field<'v> {
    pub value: &'v Value,
    pub path: AttrPath,
}

impl<'v> Field<'v> {
    pub fn root(value: &'v Value) -> Field<'v> {
        Field {
            value,
            path: AttrPath::default(),
        }
    }

    /// Known, unknown or null; a known value is handed to `read`, whose `None` (a refused value,
    /// reported by `read` itself) reads as null.
    pub fn read<T>(&self, read: impl FnOnce(&'v Value) -> Option<T>) -> Attr<T> {
        match self.value {
            Value::Null => Attr::Null,
            Value::Unknown => Attr::Unknown,
            v => read(v).map_or(Attr::Null, Attr::Known),
        }
    }

    pub fn string(&self) -> Attr<String> {
        self.read(|v| v.as_str().map(str::to_string))
    }

    pub fn bool(&self) -> Attr<bool> {
        self.read(Value::as_bool)
    }

    /// A `map(string)`; unknown while any entry is.
    pub fn string_map(&self) -> Attr<BTreeMap<String, String>> {
        match self.value.is_wholly_known() {
            true => self.read(|v| Some(v.to_string_map())),
            false => Attr::Unknown,
        }
    }

    /// A list or set of strings; unknown while any element is.
    pub fn string_list(&self) -> Attr<Vec<String>> {
        match self.value.is_wholly_known() {
            true => self.read(|v| Some(v.to_string_list())),
            false => Attr::Unknown,
        }
    }

    /// The elements of a list or set, each with its index in the path.
    pub fn elements(&self) -> Attr<Vec<Field<'v>>> {
        self.read(|v| {
            Some(
                v.elements()
                    .iter()
                    .enumerate()
                    .map(|(i, value)| Field {
                        value,
                        path: self.path.clone().index(i),
                    })
                    .collect(),
            )
        })
    }

    /// This attribute as a nested object.
    pub fn object(&self) -> Obj<'v> {
        Obj::new(self.clone())
    }
}

/// An object value, read attribute by attribute.
#[derive(Debug)]
pub struct Obj<'v> {
    field: Field<'v>,
    read: Vec<&'static str>,
}

impl<'v> Obj<'v> {
    pub fn new(field: Field<'v>) -> Obj<'v> {
        Obj {
            field,
            read: Vec::new(),
        }
    }

    pub fn root(value: &'v Value) -> Obj<'v> {
        Obj::new(Field::root(value))
    }

    pub fn path(&self) -> &AttrPath {
        &self.field.path
    }

    /// Whether the object itself is null, unknown, or there.
    pub fn presence(&self) -> Attr<()> {
        self.field.read(|_| Some(()))
    }

    /// Attribute `name`: the one place a model spells it. Null when the object is null or unknown
    /// (then every attribute is).
    pub fn field(&mut self, name: &'static str) -> Field<'v> {
        self.read.push(name);
        let value = match self.field.value {
            Value::Unknown => {
                static UNKNOWN: Value = Value::Unknown;
                &UNKNOWN
            }
            v => v.get(name),
        };
        Field {
            value,
            path: self.field.path.clone().attr(name),
        }
    }

    /// Records in `cx` the names read that the object does not hold (for a second read of an
    /// object whose other attributes another model reads).
    pub fn finish_strays(self, cx: &mut Parse) {
        let Some(entries) = self.field.value.entries() else {
            return;
        };
        for name in &self.read {
            if !entries.contains_key(*name) {
                cx.strays.push(self.field.path.clone().attr(name).to_string());
            }
        }
    }

    /// Records in `cx` what this object holds that was not read, and what was read that it does
    /// not hold.
    pub fn finish(self, cx: &mut Parse) {
        let Some(entries) = self.field.value.entries() else {
            return;
        };
        let at = |name: &str| self.field.path.clone().attr(name).to_string();
        for name in entries.keys() {
            if !self.read.contains(&name.as_str()) {
                cx.unread.push(at(name));
            }
        }
        for name in &self.read {
            if !entries.contains_key(*name) {
                cx.strays.push(at(name));
            }
        }
    }
}

/// For tests that keep a schema and its model in step: an object of the schema's shape with
/// every attribute set (strings `"1"`, numbers 1, bools true, one element per list and map, and
/// every nested attribute set the same way), computed attributes null as Terraform sends them.
#[cfg(test)]
pub fn every_attribute_set(block: &crate::plugin::Block) -> Value {
    use crate::plugin::{Attribute, Nesting, Type};
    fn of_type(t: &Type) -> Value {
        match t {
            Type::String => Value::string("1"),
            Type::Number => Value::int(1),
            Type::Bool => Value::Bool(true),
            Type::List(e) => Value::List(vec![of_type(e)]),
            Type::Set(e) => Value::Set(vec![of_type(e)]),
            Type::Map(e) => Value::Map([("k".to_string(), of_type(e))].into()),
            Type::Object(attrs) => Value::Object(attrs.iter().map(|(k, t)| (k.clone(), of_type(t))).collect()),
            Type::Tuple(ts) => Value::Tuple(ts.iter().map(of_type).collect()),
            Type::Dynamic => Value::string("1"),
        }
    }
    fn attr(a: &Attribute) -> Value {
        if a.computed && !a.optional && !a.required {
            return Value::Null;
        }
        match a.nested_attributes() {
            Some((nested, nesting)) => {
                let obj = Value::Object(nested.iter().map(|n| (n.name.clone(), attr(n))).collect());
                match nesting {
                    Nesting::Single | Nesting::Group => obj,
                    Nesting::List => Value::List(vec![obj]),
                    Nesting::Set => Value::Set(vec![obj]),
                    Nesting::Map => Value::Map([("k".to_string(), obj)].into()),
                }
            }
            None => of_type(&a.value_type()),
        }
    }
    let mut out: BTreeMap<String, Value> = block.attributes.iter().map(|a| (a.name.clone(), attr(a))).collect();
    for b in &block.blocks {
        out.insert(b.type_name.clone(), every_attribute_set(&b.block));
    }
    Value::Object(out)
}
