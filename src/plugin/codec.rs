//! The cty wire formats: msgpack (what Terraform sends in every `DynamicValue`) and JSON (stored
//! state handed to `UpgradeResourceState`), both decoded and encoded against a [`Type`].
//!
//! The wire is not self-describing (a number may be an int, a float or a decimal string; an
//! object's attributes are only known from the schema), so everything here is type-driven.
//! Input comes from another process: every malformed shape is an `Err` with a message, never a
//! panic.

use std::collections::BTreeMap;
use std::fmt;

use rmpv::Value as Mp;
use serde_json::Value as Json;

use super::diag::AttrPath;
use super::value::{Number, Type, Value};

/// Decoding or encoding failure: what was wrong (the message names the position too) and the
/// attribute path where it happened, as data, for a diagnostic that points there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub message: String,
    /// Empty at the root, and for failures of the whole input (malformed bytes).
    pub path: AttrPath,
}

impl CodecError {
    fn at(path: &Path<'_>, message: String) -> CodecError {
        let mut steps = AttrPath::default();
        path.push_onto(&mut steps);
        CodecError { message, path: steps }
    }
}

impl From<String> for CodecError {
    fn from(message: String) -> CodecError {
        CodecError {
            message,
            path: AttrPath::default(),
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {}

/// The message, as the `String` error this type replaced read (`err.contains(..)`).
impl std::ops::Deref for CodecError {
    type Target = str;
    fn deref(&self) -> &str {
        &self.message
    }
}

impl PartialEq<&str> for CodecError {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

// ---------------------------------------------------------------------------------------------
// msgpack decode

/// Decodes a msgpack `DynamicValue` payload as a value of type `ty`. Empty input is a null.
pub fn decode_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let mut rd = bytes;
    let mp = rmpv::decode::read_value(&mut rd).map_err(|e| CodecError::from(format!("invalid msgpack: {e}")))?;
    if !rd.is_empty() {
        return Err(CodecError::from(format!(
            "invalid msgpack: {} trailing bytes",
            rd.len()
        )));
    }
    from_mp(&mp, ty, &Path::Root)
}

/// The position inside the value, as a chain of nodes on the recursion's stack: descending costs
/// no allocation or formatting, and the path is only rendered (by [`at`]) into an error message.
/// A node borrows from the frame that creates it, so a dynamic value's local inner type can lend
/// attribute names too: the message is an owned `String` before that frame returns.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Index(&'a Path<'a>, usize),
    Attr(&'a Path<'a>, &'a str),
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn push_onto(&self, out: &mut AttrPath) {
        match *self {
            Path::Root => {}
            Path::Index(parent, i) => {
                parent.push_onto(out);
                out.0.push(super::diag::PathStep::Index(i as i64));
            }
            Path::Attr(parent, name) => {
                parent.push_onto(out);
                out.0.push(super::diag::PathStep::Attr(name.to_string()));
            }
            Path::Key(parent, key) => {
                parent.push_onto(out);
                out.0.push(super::diag::PathStep::Key(key.to_string()));
            }
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Path::Root => Ok(()),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Attr(parent, name) => write!(f, "{parent}.{name}"),
            Path::Key(parent, key) => write!(f, "{parent}[{key:?}]"),
        }
    }
}

fn at(path: &Path) -> String {
    match path {
        Path::Root => "at the root".to_string(),
        _ => format!("at {path}"),
    }
}

fn from_mp(mp: &Mp, ty: &Type, path: &Path) -> Result<Value, CodecError> {
    match mp {
        Mp::Nil => return Ok(Value::Null),
        // Any extension is an unknown; type 0 is the plain form, 12 the refined one. Refinements
        // only narrow what the value may become, so dropping them is safe.
        Mp::Ext(_, _) => return Ok(Value::Unknown),
        _ => {}
    }
    let mismatch = |want: &str| CodecError::at(path, format!("expected {want} {}, got {}", at(path), mp_kind(mp)));
    match ty {
        Type::String => match mp {
            Mp::String(s) => s
                .as_str()
                .map(Value::string)
                .ok_or_else(|| CodecError::at(path, format!("string {} is not UTF-8", at(path)))),
            Mp::Binary(b) => String::from_utf8(b.clone())
                .map(Value::String)
                .map_err(|_| CodecError::at(path, format!("string {} is not UTF-8", at(path)))),
            _ => Err(mismatch("a string")),
        },
        Type::Bool => match mp {
            Mp::Boolean(b) => Ok(Value::Bool(*b)),
            _ => Err(mismatch("a bool")),
        },
        Type::Number => match mp {
            Mp::Integer(i) => Ok(Value::Number(match i.as_i64() {
                Some(v) => Number::Int(v),
                None => Number::Big(i.to_string()),
            })),
            Mp::F32(f) => Ok(Value::Number(Number::Float(f64::from(*f)))),
            Mp::F64(f) => Ok(Value::Number(Number::Float(*f))),
            Mp::String(s) => {
                let s = s
                    .as_str()
                    .ok_or_else(|| CodecError::at(path, format!("number {} is not UTF-8", at(path))))?;
                parse_decimal(s)
                    .map(Value::Number)
                    .map_err(|e| CodecError::at(path, format!("{e} {}", at(path))))
            }
            _ => Err(mismatch("a number")),
        },
        Type::List(et) | Type::Set(et) => {
            let Mp::Array(items) = mp else {
                return Err(mismatch("an array"));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(from_mp(item, et, &Path::Index(path, i))?);
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(out)
            } else {
                Value::Set(out)
            })
        }
        Type::Tuple(ets) => {
            let Mp::Array(items) = mp else {
                return Err(mismatch("an array"));
            };
            if items.len() != ets.len() {
                return Err(CodecError::at(
                    path,
                    format!(
                        "expected a tuple of {} elements {}, got {}",
                        ets.len(),
                        at(path),
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, et)) in items.iter().zip(ets).enumerate() {
                out.push(from_mp(item, et, &Path::Index(path, i))?);
            }
            Ok(Value::Tuple(out))
        }
        Type::Map(et) => {
            let Mp::Map(entries) = mp else {
                return Err(mismatch("a map"));
            };
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let key =
                    mp_key(k).ok_or_else(|| CodecError::at(path, format!("map key {} is not a string", at(path))))?;
                let v = from_mp(v, et, &Path::Key(path, key))?;
                out.insert(key.to_string(), v);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let Mp::Map(entries) = mp else {
                return Err(mismatch("an object"));
            };
            let mut out = BTreeMap::new();
            for (k, v) in entries {
                let key = mp_key(k)
                    .ok_or_else(|| CodecError::at(path, format!("attribute name {} is not a string", at(path))))?;
                let Some(at_ty) = attrs.get(key) else {
                    return Err(CodecError::at(
                        path,
                        format!("unsupported attribute {key:?} {}", at(path)),
                    ));
                };
                let v = from_mp(v, at_ty, &Path::Attr(path, key))?;
                out.insert(key.to_string(), v);
            }
            // Terraform always sends every attribute; tolerate omissions as null. Every key was
            // found in `attrs`, so as many keys as attributes means none is missing.
            if out.len() < attrs.len() {
                for name in attrs.keys() {
                    out.entry(name.clone()).or_insert(Value::Null);
                }
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            let Mp::Array(pair) = mp else {
                return Err(mismatch("a [type, value] pair for a dynamic value"));
            };
            let [t, v] = pair.as_slice() else {
                return Err(mismatch("a [type, value] pair for a dynamic value"));
            };
            let tjson = match t {
                Mp::Binary(b) => b.as_slice(),
                Mp::String(s) => s.as_bytes(),
                _ => return Err(mismatch("a JSON type in a dynamic value")),
            };
            let tj: Json = serde_json::from_slice(tjson)
                .map_err(|e| CodecError::at(path, format!("invalid dynamic type {}: {e}", at(path))))?;
            let inner_ty = Type::from_json(&tj)
                .map_err(|e| CodecError::at(path, format!("invalid dynamic type {}: {e}", at(path))))?;
            if inner_ty == Type::Dynamic {
                return Err(CodecError::at(
                    path,
                    format!("dynamic value {} declares the dynamic type", at(path)),
                ));
            }
            let inner = from_mp(v, &inner_ty, path)?;
            Ok(Value::Dynamic(inner_ty, Box::new(inner)))
        }
    }
}

fn mp_key(k: &Mp) -> Option<&str> {
    match k {
        Mp::String(s) => s.as_str(),
        Mp::Binary(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

fn mp_kind(mp: &Mp) -> &'static str {
    match mp {
        Mp::Nil => "nil",
        Mp::Boolean(_) => "a bool",
        Mp::Integer(_) => "an integer",
        Mp::F32(_) | Mp::F64(_) => "a float",
        Mp::String(_) => "a string",
        Mp::Binary(_) => "binary data",
        Mp::Array(_) => "an array",
        Mp::Map(_) => "a map",
        Mp::Ext(_, _) => "an extension",
    }
}

/// Parses cty's decimal-string form of a number, keeping it exact: an `Int` when it fits i64,
/// else a validated `Big`.
pub fn parse_decimal(s: &str) -> Result<Number, CodecError> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Number::Int(i));
    }
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int_part = parts.next().unwrap_or("");
    let frac_part = parts.next().unwrap_or("");
    let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits_ok(e)
    });
    if (int_part.is_empty() && frac_part.is_empty()) || !digits_ok(int_part) || !digits_ok(frac_part) || !exp_ok {
        return Err(CodecError::from(format!("invalid number {s:?}")));
    }
    Ok(Number::Big(t.to_string()))
}

// ---------------------------------------------------------------------------------------------
// msgpack encode

/// Encodes `v` as msgpack against type `ty`. Objects get every attribute of the type (null for
/// any the value lacks); an attribute the type does not have is an error, since Terraform would
/// reject it with a far less helpful message.
pub fn encode_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mut buf = Vec::with_capacity(256);
    to_mp(v, ty, &mut buf, &Path::Root)?;
    Ok(buf)
}

fn werr<E: fmt::Display>(e: E) -> CodecError {
    format!("msgpack write failed: {e}").into()
}

fn len32(n: usize, path: &Path) -> Result<u32, CodecError> {
    u32::try_from(n).map_err(|_| CodecError::at(path, format!("collection too large {}", at(path))))
}

fn to_mp(v: &Value, ty: &Type, buf: &mut Vec<u8>, path: &Path) -> Result<(), CodecError> {
    use rmp::encode as e;
    match v {
        Value::Null => return e::write_nil(buf).map_err(werr),
        Value::Unknown => {
            // fixext1, type 0, payload 0: exactly what cty writes for an unrefined unknown.
            buf.extend_from_slice(&[0xd4, 0x00, 0x00]);
            return Ok(());
        }
        // A dynamic wrapper given for a concrete type: the type decides, unwrap it.
        Value::Dynamic(_, inner) if *ty != Type::Dynamic => return to_mp(inner, ty, buf, path),
        _ => {}
    }
    let mismatch = || {
        CodecError::at(
            path,
            format!("cannot encode {} as {} {}", value_kind(v), ty.to_json(), at(path)),
        )
    };
    match (ty, v) {
        (Type::String, Value::String(s)) => e::write_str(buf, s).map_err(werr),
        (Type::Bool, Value::Bool(b)) => e::write_bool(buf, *b).map_err(werr),
        (Type::Number, Value::Number(n)) => match n {
            Number::Int(i) => e::write_sint(buf, *i).map(|_| ()).map_err(werr),
            Number::Float(f) => e::write_f64(buf, *f).map_err(werr),
            Number::Big(s) => e::write_str(buf, s).map_err(werr),
        },
        // Lists and sets look the same on the wire; accept either Value shape for either type.
        (Type::List(et) | Type::Set(et), Value::List(items) | Value::Set(items)) => {
            e::write_array_len(buf, len32(items.len(), path)?).map_err(werr)?;
            for (i, item) in items.iter().enumerate() {
                to_mp(item, et, buf, &Path::Index(path, i))?;
            }
            Ok(())
        }
        (Type::Tuple(ets), Value::Tuple(items) | Value::List(items)) => {
            if items.len() != ets.len() {
                return Err(CodecError::at(
                    path,
                    format!("tuple {} needs {} elements, has {}", at(path), ets.len(), items.len()),
                ));
            }
            e::write_array_len(buf, len32(items.len(), path)?).map_err(werr)?;
            for (i, (item, et)) in items.iter().zip(ets).enumerate() {
                to_mp(item, et, buf, &Path::Index(path, i))?;
            }
            Ok(())
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => {
            e::write_map_len(buf, len32(m.len(), path)?).map_err(werr)?;
            for (k, item) in m {
                e::write_str(buf, k).map_err(werr)?;
                to_mp(item, et, buf, &Path::Key(path, k))?;
            }
            Ok(())
        }
        (Type::Object(attrs), Value::Object(m) | Value::Map(m)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(CodecError::at(
                    path,
                    format!("attribute {extra:?} {} is not in the schema", at(path)),
                ));
            }
            e::write_map_len(buf, len32(attrs.len(), path)?).map_err(werr)?;
            for (name, aty) in attrs {
                e::write_str(buf, name).map_err(werr)?;
                to_mp(m.get(name).unwrap_or(&Value::Null), aty, buf, &Path::Attr(path, name))?;
            }
            Ok(())
        }
        (Type::Dynamic, _) => {
            let (inner_ty, inner) = match v {
                Value::Dynamic(t, inner) => (t.clone(), inner.as_ref()),
                other => (infer_type(other).ok_or_else(mismatch)?, other),
            };
            e::write_array_len(buf, 2).map_err(werr)?;
            let tjson = serde_json::to_vec(&inner_ty.to_json()).map_err(werr)?;
            e::write_bin(buf, &tjson).map_err(werr)?;
            to_mp(inner, &inner_ty, buf, path)
        }
        _ => Err(mismatch()),
    }
}

/// The concrete type of a known value put into a `dynamic` attribute without a type. Returns
/// `None` where the shape is ambiguous (null, unknown).
pub fn infer_type(v: &Value) -> Option<Type> {
    Some(match v {
        Value::String(_) => Type::String,
        Value::Number(_) => Type::Number,
        Value::Bool(_) => Type::Bool,
        Value::List(items) => Type::list(items.first().and_then(infer_type).unwrap_or(Type::Dynamic)),
        Value::Set(items) => Type::set(items.first().and_then(infer_type).unwrap_or(Type::Dynamic)),
        Value::Map(m) => Type::map(m.values().next().and_then(infer_type).unwrap_or(Type::Dynamic)),
        Value::Object(m) => Type::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), infer_type(v).unwrap_or(Type::Dynamic)))
                .collect(),
        ),
        Value::Tuple(items) => Type::Tuple(items.iter().map(|v| infer_type(v).unwrap_or(Type::Dynamic)).collect()),
        Value::Dynamic(t, _) => t.clone(),
        Value::Null | Value::Unknown => return None,
    })
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a bool",
        Value::List(_) => "a list",
        Value::Set(_) => "a set",
        Value::Map(_) => "a map",
        Value::Object(_) => "an object",
        Value::Tuple(_) => "a tuple",
        Value::Dynamic(_, _) => "a dynamic value",
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Decodes cty's JSON form (stored state). Missing object attributes become null; attributes
/// the type lacks are an error (a state written by an unknown schema must not be guessed at).
pub fn decode_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let j: Json = serde_json::from_slice(bytes).map_err(|e| CodecError::from(format!("invalid JSON: {e}")))?;
    from_json(&j, ty, &Path::Root)
}

/// Decodes an already-parsed JSON value (see [`decode_json`]).
pub fn json_to_value(j: &Json, ty: &Type) -> Result<Value, CodecError> {
    from_json(j, ty, &Path::Root)
}

fn from_json(j: &Json, ty: &Type, path: &Path) -> Result<Value, CodecError> {
    if j.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = |want: &str| CodecError::at(path, format!("expected {want} {}, got {}", at(path), json_kind(j)));
    match ty {
        // cty's JSON decoder converts primitives to string where the type says so.
        Type::String => match j {
            Json::String(s) => Ok(Value::string(s.as_str())),
            Json::Number(n) => Ok(Value::String(n.to_string())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(mismatch("a string")),
        },
        Type::Bool => match j {
            Json::Bool(b) => Ok(Value::Bool(*b)),
            Json::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(mismatch("a bool")),
        },
        Type::Number => match j {
            Json::Number(n) => Ok(Value::Number(if let Some(i) = n.as_i64() {
                Number::Int(i)
            } else if let Some(u) = n.as_u64() {
                Number::Big(u.to_string())
            } else {
                Number::Float(n.as_f64().unwrap_or(f64::NAN))
            })),
            Json::String(s) => parse_decimal(s)
                .map(Value::Number)
                .map_err(|e| CodecError::at(path, format!("{e} {}", at(path)))),
            _ => Err(mismatch("a number")),
        },
        Type::List(et) | Type::Set(et) => {
            let Json::Array(items) = j else {
                return Err(mismatch("an array"));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(from_json(item, et, &Path::Index(path, i))?);
            }
            Ok(if matches!(ty, Type::List(_)) {
                Value::List(out)
            } else {
                Value::Set(out)
            })
        }
        Type::Tuple(ets) => {
            let Json::Array(items) = j else {
                return Err(mismatch("an array"));
            };
            if items.len() != ets.len() {
                return Err(CodecError::at(
                    path,
                    format!(
                        "expected a tuple of {} elements {}, got {}",
                        ets.len(),
                        at(path),
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, et)) in items.iter().zip(ets).enumerate() {
                out.push(from_json(item, et, &Path::Index(path, i))?);
            }
            Ok(Value::Tuple(out))
        }
        Type::Map(et) => {
            let Json::Object(m) = j else {
                return Err(mismatch("an object"));
            };
            let mut out = BTreeMap::new();
            for (k, v) in m {
                out.insert(k.clone(), from_json(v, et, &Path::Key(path, k))?);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let Json::Object(m) = j else {
                return Err(mismatch("an object"));
            };
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let Some(aty) = attrs.get(k) else {
                    return Err(CodecError::at(
                        path,
                        format!("unsupported attribute {k:?} {}", at(path)),
                    ));
                };
                out.insert(k.clone(), from_json(v, aty, &Path::Attr(path, k))?);
            }
            for name in attrs.keys() {
                out.entry(name.clone()).or_insert(Value::Null);
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            let (Some(tj), Some(vj)) = (j.get("type"), j.get("value")) else {
                return Err(mismatch("a {\"type\", \"value\"} object for a dynamic value"));
            };
            let inner_ty = Type::from_json(tj)
                .map_err(|e| CodecError::at(path, format!("invalid dynamic type {}: {e}", at(path))))?;
            if inner_ty == Type::Dynamic {
                return Err(CodecError::at(
                    path,
                    format!("dynamic value {} declares the dynamic type", at(path)),
                ));
            }
            let inner = from_json(vj, &inner_ty, path)?;
            Ok(Value::Dynamic(inner_ty, Box::new(inner)))
        }
    }
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Encodes `v` in cty's JSON form. JSON cannot carry unknowns, so an unknown is an error.
pub fn encode_json(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let j = value_to_json(v, ty)?;
    serde_json::to_vec(&j).map_err(|e| CodecError::from(format!("JSON write failed: {e}")))
}

/// The cty JSON form of `v` as a `serde_json::Value` (for `Resource::upgrade_state` callers).
pub fn value_to_json(v: &Value, ty: &Type) -> Result<Json, CodecError> {
    to_json(v, ty, &Path::Root)
}

fn to_json(v: &Value, ty: &Type, path: &Path) -> Result<Json, CodecError> {
    match v {
        Value::Null => return Ok(Json::Null),
        Value::Unknown => {
            return Err(CodecError::at(
                path,
                format!("unknown value {} cannot be written as JSON", at(path)),
            ))
        }
        Value::Dynamic(_, inner) if *ty != Type::Dynamic => return to_json(inner, ty, path),
        _ => {}
    }
    let mismatch = || {
        CodecError::at(
            path,
            format!("cannot encode {} as {} {}", value_kind(v), ty.to_json(), at(path)),
        )
    };
    match (ty, v) {
        (Type::String, Value::String(s)) => Ok(Json::String(s.clone())),
        (Type::Bool, Value::Bool(b)) => Ok(Json::Bool(*b)),
        (Type::Number, Value::Number(n)) => Ok(match n {
            Number::Int(i) => Json::from(*i),
            Number::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .ok_or_else(mismatch)?,
            // serde_json cannot hold arbitrary precision; cty reads a string as a number too.
            Number::Big(s) => Json::String(s.clone()),
        }),
        (Type::List(et) | Type::Set(et), Value::List(items) | Value::Set(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_json(item, et, &Path::Index(path, i))?);
            }
            Ok(Json::Array(out))
        }
        (Type::Tuple(ets), Value::Tuple(items) | Value::List(items)) => {
            if items.len() != ets.len() {
                return Err(CodecError::at(
                    path,
                    format!("tuple {} needs {} elements, has {}", at(path), ets.len(), items.len()),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, et)) in items.iter().zip(ets).enumerate() {
                out.push(to_json(item, et, &Path::Index(path, i))?);
            }
            Ok(Json::Array(out))
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => {
            let mut out = serde_json::Map::new();
            for (k, item) in m {
                out.insert(k.clone(), to_json(item, et, &Path::Key(path, k))?);
            }
            Ok(Json::Object(out))
        }
        (Type::Object(attrs), Value::Object(m) | Value::Map(m)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(CodecError::at(
                    path,
                    format!("attribute {extra:?} {} is not in the schema", at(path)),
                ));
            }
            let mut out = serde_json::Map::new();
            for (name, aty) in attrs {
                let item = m.get(name).unwrap_or(&Value::Null);
                out.insert(name.clone(), to_json(item, aty, &Path::Attr(path, name))?);
            }
            Ok(Json::Object(out))
        }
        (Type::Dynamic, _) => {
            let (inner_ty, inner) = match v {
                Value::Dynamic(t, inner) => (t.clone(), inner.as_ref()),
                other => (infer_type(other).ok_or_else(mismatch)?, other),
            };
            let value = to_json(inner, &inner_ty, path)?;
            Ok(serde_json::json!({ "value": value, "type": inner_ty.to_json() }))
        }
        _ => Err(mismatch()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_types() -> Type {
        Type::object([
            ("s", Type::String),
            ("n", Type::Number),
            ("b", Type::Bool),
            ("l", Type::list(Type::String)),
            ("st", Type::set(Type::Number)),
            ("m", Type::map(Type::Bool)),
            ("o", Type::object([("x", Type::String), ("y", Type::Number)])),
            ("t", Type::Tuple(vec![Type::String, Type::Number])),
            ("d", Type::Dynamic),
            ("nul", Type::String),
            ("unk", Type::list(Type::String)),
        ])
    }

    fn sample() -> Value {
        Value::object([
            ("s", Value::string("héllo")),
            ("n", Value::int(-42)),
            ("b", Value::Bool(true)),
            ("l", Value::List(vec!["a".into(), Value::Unknown, Value::Null])),
            ("st", Value::Set(vec![Value::float(1.5), Value::int(7)])),
            ("m", Value::Map([("k".to_string(), Value::Bool(false))].into())),
            ("o", Value::object([("x", Value::string("x")), ("y", Value::Null)])),
            ("t", Value::Tuple(vec!["a".into(), Value::int(1)])),
            (
                "d",
                Value::Dynamic(Type::list(Type::String), Box::new(Value::List(vec!["z".into()]))),
            ),
            ("nul", Value::Null),
            ("unk", Value::Unknown),
        ])
    }

    #[test]
    fn msgpack_round_trips_every_type() {
        let ty = all_types();
        let v = sample();
        let bytes = encode_msgpack(&v, &ty).unwrap();
        assert_eq!(decode_msgpack(&bytes, &ty).unwrap(), v);
    }

    #[test]
    fn unknown_is_fixext1_zero() {
        assert_eq!(
            encode_msgpack(&Value::Unknown, &Type::String).unwrap(),
            vec![0xd4, 0, 0]
        );
        assert_eq!(decode_msgpack(&[0xd4, 0, 0], &Type::Number).unwrap(), Value::Unknown);
    }

    #[test]
    fn refined_unknown_decodes_as_unknown() {
        // ext type 12 with payload {1: false} (known not-null), as cty writes refinements.
        let mut payload = Vec::new();
        rmp::encode::write_map_len(&mut payload, 1).unwrap();
        rmp::encode::write_sint(&mut payload, 1).unwrap();
        rmp::encode::write_bool(&mut payload, false).unwrap();
        let mut buf = Vec::new();
        rmp::encode::write_ext_meta(&mut buf, payload.len() as u32, 12).unwrap();
        buf.extend_from_slice(&payload);
        assert_eq!(decode_msgpack(&buf, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn null_and_empty_input() {
        assert_eq!(decode_msgpack(&[], &all_types()).unwrap(), Value::Null);
        assert_eq!(decode_msgpack(&[0xc0], &all_types()).unwrap(), Value::Null);
        assert_eq!(encode_msgpack(&Value::Null, &all_types()).unwrap(), vec![0xc0]);
    }

    #[test]
    fn encoder_emits_every_attribute() {
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        let bytes = encode_msgpack(&Value::object([("a", Value::string("x"))]), &ty).unwrap();
        let mp = rmpv::decode::read_value(&mut bytes.as_slice()).unwrap();
        let Mp::Map(entries) = mp else { panic!("not a map") };
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().any(|(k, v)| k.as_str() == Some("b") && v.is_nil()));
    }

    #[test]
    fn extra_attribute_is_an_error() {
        let ty = Type::object([("a", Type::String)]);
        let err = encode_msgpack(&Value::object([("zz", Value::string("x"))]), &ty).unwrap_err();
        assert!(err.contains("zz"), "{err}");
    }

    #[test]
    fn numbers_in_all_three_forms() {
        // int
        assert_eq!(decode_msgpack(&[0x05], &Type::Number).unwrap(), Value::int(5));
        // u64 beyond i64 keeps exactness as a decimal string
        let mut buf = Vec::new();
        rmp::encode::write_u64(&mut buf, u64::MAX).unwrap();
        let v = decode_msgpack(&buf, &Type::Number).unwrap();
        assert_eq!(v, Value::Number(Number::Big("18446744073709551615".into())));
        // float64
        let mut buf = Vec::new();
        rmp::encode::write_f64(&mut buf, 0.1).unwrap();
        assert_eq!(decode_msgpack(&buf, &Type::Number).unwrap(), Value::float(0.1));
        // decimal string, round trips verbatim
        let big = "123456789012345678901234567890.000000000000000001";
        let mut buf = Vec::new();
        rmp::encode::write_str(&mut buf, big).unwrap();
        let v = decode_msgpack(&buf, &Type::Number).unwrap();
        assert_eq!(v, Value::Number(Number::Big(big.into())));
        assert_eq!(encode_msgpack(&v, &Type::Number).unwrap(), buf);
        // i64 extremes
        for i in [i64::MIN, i64::MAX, 0, -1] {
            let b = encode_msgpack(&Value::int(i), &Type::Number).unwrap();
            assert_eq!(decode_msgpack(&b, &Type::Number).unwrap(), Value::int(i));
        }
        // not a number
        let mut buf = Vec::new();
        rmp::encode::write_str(&mut buf, "12abc").unwrap();
        assert!(decode_msgpack(&buf, &Type::Number).is_err());
        assert!(parse_decimal("1e").is_err());
        assert!(parse_decimal(".").is_err());
        assert!(parse_decimal("-1.5e+10").is_ok());
    }

    #[test]
    fn rejects_malformed_and_truncated_input() {
        let ty = all_types();
        let good = encode_msgpack(&sample(), &ty).unwrap();
        for cut in 1..good.len() {
            assert!(
                decode_msgpack(&good[..cut], &ty).is_err(),
                "truncated at {cut} accepted"
            );
        }
        // huge array length with no data, trailing garbage, invalid UTF-8
        assert!(decode_msgpack(&[0xa2, 0xff, 0xfe], &Type::String).is_err());
        assert!(decode_msgpack(&[0xdd, 0xff, 0xff, 0xff, 0xff], &Type::list(Type::String)).is_err());
        assert!(decode_msgpack(&[0xc0, 0xc0], &ty).is_err());
        // wrong shapes
        assert!(decode_msgpack(&[0x01], &Type::String).is_err());
        assert!(decode_msgpack(&[0x90], &Type::Tuple(vec![Type::String])).is_err());
        assert!(decode_msgpack(&[0x81, 0x01, 0x01], &Type::map(Type::Number)).is_err());
        let mut unknown_attr = Vec::new();
        rmp::encode::write_map_len(&mut unknown_attr, 1).unwrap();
        rmp::encode::write_str(&mut unknown_attr, "nope").unwrap();
        rmp::encode::write_nil(&mut unknown_attr).unwrap();
        assert!(decode_msgpack(&unknown_attr, &ty).is_err());
        // a dynamic pair with a bad type
        let mut dynbad = Vec::new();
        rmp::encode::write_array_len(&mut dynbad, 2).unwrap();
        rmp::encode::write_bin(&mut dynbad, b"\"wat\"").unwrap();
        rmp::encode::write_nil(&mut dynbad).unwrap();
        assert!(decode_msgpack(&dynbad, &Type::Dynamic).is_err());
    }

    #[test]
    fn fuzz_like_random_bytes_never_panic() {
        // A cheap deterministic generator: every outcome must be Ok or Err, never a panic.
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let ty = all_types();
        for _ in 0..5000 {
            let len = (x % 40) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push((x & 0xff) as u8);
            }
            let _ = decode_msgpack(&buf, &ty);
            let _ = decode_msgpack(&buf, &Type::Dynamic);
            let _ = decode_json(&buf, &ty);
        }
    }

    #[test]
    fn missing_attributes_decode_as_null() {
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        let mut buf = Vec::new();
        rmp::encode::write_map_len(&mut buf, 1).unwrap();
        rmp::encode::write_str(&mut buf, "a").unwrap();
        rmp::encode::write_str(&mut buf, "x").unwrap();
        let v = decode_msgpack(&buf, &ty).unwrap();
        assert_eq!(v.entries().unwrap().len(), 2);
        assert!(v.get("b").is_null());
    }

    #[test]
    fn repeated_attribute_does_not_hide_a_missing_one() {
        // Two entries for `a` and none for `b`: as many entries as attributes, one missing.
        let ty = Type::object([("a", Type::String), ("b", Type::Number)]);
        let mut buf = Vec::new();
        rmp::encode::write_map_len(&mut buf, 2).unwrap();
        for v in ["x", "y"] {
            rmp::encode::write_str(&mut buf, "a").unwrap();
            rmp::encode::write_str(&mut buf, v).unwrap();
        }
        let v = decode_msgpack(&buf, &ty).unwrap();
        assert_eq!(v.entries().unwrap().len(), 2);
        assert!(v.get("b").is_null());
        assert_eq!(v.get("a"), &Value::string("y"));
    }

    #[test]
    fn json_round_trip_and_rules() {
        let ty = all_types();
        let mut v = sample();
        // JSON has no unknowns
        assert!(encode_json(&v, &ty).is_err());
        v.set("l", Value::List(vec!["a".into(), Value::Null]));
        v.set("unk", Value::Null);
        let bytes = encode_json(&v, &ty).unwrap();
        assert_eq!(decode_json(&bytes, &ty).unwrap(), v);

        // missing attrs → null; unknown attrs → error
        let ty2 = Type::object([("a", Type::String), ("n", Type::Number)]);
        let v2 = decode_json(br#"{"a":"x"}"#, &ty2).unwrap();
        assert!(v2.get("n").is_null());
        assert!(decode_json(br#"{"a":"x","zz":1}"#, &ty2).is_err());
        // numbers may come as strings
        assert_eq!(decode_json(br#"{"n":"12"}"#, &ty2).unwrap().get("n"), &Value::int(12));
        assert!(decode_json(b"{", &ty2).is_err());
        assert!(decode_json(br#"{"a":[1]}"#, &ty2).is_err());
    }

    #[test]
    fn dynamic_json_form() {
        let v = decode_json(br#"{"type":"string","value":"hi"}"#, &Type::Dynamic).unwrap();
        assert_eq!(v, Value::Dynamic(Type::String, Box::new("hi".into())));
        let out: Json = serde_json::from_slice(&encode_json(&v, &Type::Dynamic).unwrap()).unwrap();
        assert_eq!(out, serde_json::json!({"type": "string", "value": "hi"}));
    }

    #[test]
    fn dynamic_infers_plain_values() {
        let bytes = encode_msgpack(&Value::string("x"), &Type::Dynamic).unwrap();
        let v = decode_msgpack(&bytes, &Type::Dynamic).unwrap();
        assert_eq!(v, Value::Dynamic(Type::String, Box::new("x".into())));
    }

    /// `.a.b[1]["k"]` holds a `leaf`: one step of every kind.
    fn nested(leaf: Type) -> Type {
        Type::object([("a", Type::object([("b", Type::list(Type::map(leaf)))]))])
    }

    fn nested_value(leaf: Value) -> Value {
        let b = Value::List(vec![
            Value::Map(BTreeMap::new()),
            Value::Map([("k".to_string(), leaf)].into()),
        ]);
        Value::object([("a", Value::object([("b", b)]))])
    }

    #[test]
    fn decode_errors_name_the_full_path() {
        let (v, ty) = (nested_value(Value::Bool(true)), nested(Type::Bool));
        let want = r#"expected a number at .a.b[1]["k"], got a bool"#;
        let mp = encode_msgpack(&v, &ty).unwrap();
        assert_eq!(decode_msgpack(&mp, &nested(Type::Number)).unwrap_err(), want);
        let json = encode_json(&v, &ty).unwrap();
        assert_eq!(decode_json(&json, &nested(Type::Number)).unwrap_err(), want);
        assert_eq!(
            decode_msgpack(&[0x01], &Type::String).unwrap_err(),
            "expected a string at the root, got an integer"
        );
    }

    #[test]
    fn decode_errors_carry_the_path_as_data() {
        let (v, ty) = (nested_value(Value::Bool(true)), nested(Type::Bool));
        let want = AttrPath::root("a").attr("b").index(1).key("k");
        let mp = encode_msgpack(&v, &ty).unwrap();
        assert_eq!(decode_msgpack(&mp, &nested(Type::Number)).unwrap_err().path, want);
        let json = encode_json(&v, &ty).unwrap();
        assert_eq!(decode_json(&json, &nested(Type::Number)).unwrap_err().path, want);
        // Malformed input as a whole has no attribute to point at.
        assert!(decode_msgpack(&[0x92, 0x01], &Type::list(Type::Number))
            .unwrap_err()
            .path
            .0
            .is_empty());
    }

    #[test]
    fn encode_errors_name_the_full_path() {
        // The last step is named by a dynamic value's own inner type, not the schema.
        let inner = Value::object([("x", Value::Bool(true))]);
        let leaf = Value::Dynamic(Type::object([("x", Type::String)]), Box::new(inner));
        let (v, ty) = (nested_value(leaf), nested(Type::Dynamic));
        let want = r#"cannot encode a bool as "string" at .a.b[1]["k"].x"#;
        assert_eq!(encode_msgpack(&v, &ty).unwrap_err(), want);
        assert_eq!(encode_json(&v, &ty).unwrap_err(), want);
    }
}
