//! A bounded fuzz run over what Terraform core sends the provider: the cty wire codec (msgpack
//! and JSON) and every schema's configuration validation. Values are generated from each
//! resource's, data source's and the provider's own schema type, with nulls and unknowns in every
//! position and hostile leaves (empty, huge, control characters, malformed URLs and durations,
//! extreme numbers); byte inputs are random or valid encodings truncated and corrupted. The
//! properties: nothing panics, and a value that encodes decodes back to itself.
//!
//! `PROPTEST_CASES` sets the number of cases per property (CI uses the default below); a failing
//! case is shrunk and printed, so it can be added to the unit tests as a regression.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use dlt_provider::plugin::codec::{decode_json, decode_msgpack, encode_json, encode_msgpack};
use dlt_provider::plugin::{Provider, Type, Value};
use dlt_provider::provider::DltProvider;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Every configuration type the provider validates, with a name for failure messages.
fn schema_types() -> Vec<(String, Type)> {
    let p = DltProvider::new();
    let mut out = vec![("provider".to_string(), p.schema().block.value_type())];
    for r in p.resources() {
        out.push((r.type_name().to_string(), r.schema().block.value_type()));
    }
    for d in p.data_sources() {
        out.push((format!("data.{}", d.type_name()), d.schema().block.value_type()));
    }
    out
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("http:///x".to_string()),
        Just("http://127.0.0.1:9/ space".to_string()),
        Just("https://h/\u{0}".to_string()),
        Just("-1s".to_string()),
        Just("1e400ms".to_string()),
        Just("99999999999999999999h".to_string()),
        Just("arn:".to_string()),
        Just("../../etc/passwd".to_string()),
        Just("x.jmx".to_string()),
        Just("\u{202e}\u{feff}é".to_string()),
        "[a-z0-9_.:/-]{0,24}",
        ".{0,64}",
        (1usize..200_000).prop_map(|n| "a".repeat(n)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::int),
        Just(Value::int(0)),
        Just(Value::int(-1)),
        Just(Value::int(i64::MAX)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::float),
        Just(Value::float(0.5)),
        Just(Value::float(1e300)),
    ]
}

/// Values of type `ty`, nulls and unknowns anywhere.
fn value_of(ty: &Type, depth: u32) -> BoxedStrategy<Value> {
    let known: BoxedStrategy<Value> = match ty {
        Type::String => hostile_string().prop_map(Value::String).boxed(),
        Type::Number => number().boxed(),
        Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Type::Dynamic => prop_oneof![hostile_string().prop_map(Value::String), number()].boxed(),
        _ if depth > 6 => Just(Value::Null).boxed(),
        Type::List(t) => prop::collection::vec(value_of(t, depth + 1), 0..4)
            .prop_map(Value::List)
            .boxed(),
        Type::Set(t) => prop::collection::vec(value_of(t, depth + 1), 0..4)
            .prop_map(Value::Set)
            .boxed(),
        Type::Map(t) => prop::collection::btree_map(hostile_string(), value_of(t, depth + 1), 0..4)
            .prop_map(Value::Map)
            .boxed(),
        Type::Object(fields) => {
            let parts: Vec<BoxedStrategy<(String, Value)>> = fields
                .iter()
                .map(|(k, t)| {
                    let k = k.clone();
                    value_of(t, depth + 1).prop_map(move |v| (k.clone(), v)).boxed()
                })
                .collect();
            parts.prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed()
        }
        Type::Tuple(ts) => {
            let parts: Vec<BoxedStrategy<Value>> = ts.iter().map(|t| value_of(t, depth + 1)).collect();
            parts.prop_map(Value::Tuple).boxed()
        }
    };
    prop_oneof![1 => Just(Value::Null), 1 => Just(Value::Unknown), 6 => known].boxed()
}

fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        TestCaseError::fail(format!("{what} panicked: {msg}"))
    })
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// Generated configurations: validation never panics (the protocol guard would turn a panic into
/// "Provider bug"), and the msgpack and JSON codecs round-trip them.
#[test]
fn validation_and_codec_hold_for_generated_configurations() {
    let provider = Arc::new(DltProvider::new());
    for (name, ty) in schema_types() {
        let resources = provider.resources();
        let data = provider.data_sources();
        runner()
            .run(&value_of(&ty, 0), |v| {
                no_panic(&format!("validate {name}"), || {
                    if name == "provider" {
                        provider.validate(&v);
                    } else if let Some(d) = name.strip_prefix("data.") {
                        if let Some(ds) = data.iter().find(|x| x.type_name() == d) {
                            ds.validate(&v);
                        }
                    } else if let Some(r) = resources.iter().find(|x| x.type_name() == name) {
                        r.validate(&v);
                    }
                })?;
                let mp = no_panic("encode_msgpack", || encode_msgpack(&v, &ty))?;
                if let Ok(bytes) = mp {
                    let back = no_panic("decode_msgpack", || decode_msgpack(&bytes, &ty))?;
                    prop_assert_eq!(back.as_ref().ok(), Some(&v), "{} msgpack round trip", name);
                }
                if v.is_wholly_known() {
                    if let Ok(bytes) = no_panic("encode_json", || encode_json(&v, &ty))? {
                        no_panic("decode_json", || decode_json(&bytes, &ty))?
                            .map_err(|e| TestCaseError::fail(format!("{name}: json does not decode back: {e}")))?;
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Bytes Terraform never sends: random, and valid encodings truncated at every kind of offset or
/// with a byte changed. Decoding fails cleanly or yields a value; it never panics.
#[test]
fn decoding_hostile_bytes_never_panics() {
    for (name, ty) in schema_types() {
        let strategy = (
            value_of(&ty, 0),
            any::<prop::sample::Index>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..256),
        );
        runner()
            .run(&strategy, |(v, at, byte, random)| {
                let _ = no_panic("decode_msgpack(random)", || decode_msgpack(&random, &ty))?;
                let _ = no_panic("decode_json(random)", || decode_json(&random, &ty))?;
                if let Ok(bytes) = encode_msgpack(&v, &ty) {
                    if !bytes.is_empty() {
                        let cut = at.index(bytes.len());
                        let _ = no_panic("decode_msgpack(truncated)", || decode_msgpack(&bytes[..cut], &ty))?;
                        let mut flipped = bytes.clone();
                        flipped[cut] ^= byte | 1;
                        let _ = no_panic("decode_msgpack(corrupted)", || decode_msgpack(&flipped, &ty))?;
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
