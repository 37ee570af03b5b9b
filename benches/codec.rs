//! Codec throughput: msgpack decode/encode of a resource-sized object (the work done for every
//! value of every RPC) and JSON decode (state upgrade). Run with `cargo bench --bench codec`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dlt_provider::plugin::codec::{decode_json, decode_msgpack, encode_json, encode_msgpack};
use dlt_provider::plugin::{Type, Value};

fn sample() -> (Type, Value) {
    let request = Type::object([
        ("url", Type::String),
        ("method", Type::String),
        ("headers", Type::map(Type::String)),
        ("body", Type::String),
    ]);
    let ty = Type::object([
        ("id", Type::String),
        ("name", Type::String),
        ("count", Type::Number),
        ("ratio", Type::Number),
        ("enabled", Type::Bool),
        ("tags", Type::map(Type::String)),
        ("requests", Type::list(request)),
        ("pending", Type::String),
    ]);
    let requests = (0..100)
        .map(|i| {
            Value::object([
                ("url", Value::string(format!("https://app.example.com/api/items/{i}"))),
                ("method", Value::string("GET")),
                (
                    "headers",
                    Value::string_map([("accept", "application/json"), ("x-run", "bench")]),
                ),
                ("body", Value::string("")),
            ])
        })
        .collect();
    let v = Value::object([
        ("id", Value::string("local-0123456789")),
        ("name", Value::string("checkout-smoke")),
        ("count", Value::int(42)),
        ("ratio", Value::float(0.95)),
        ("enabled", Value::Bool(true)),
        ("tags", Value::string_map([("team", "qa"), ("env", "ci")])),
        ("requests", Value::List(requests)),
        ("pending", Value::Unknown),
    ]);
    (ty, v)
}

fn bench(c: &mut Criterion) {
    let (ty, v) = sample();
    let mp = encode_msgpack(&v, &ty).expect("encode");
    let mut known = v.clone();
    known.set("pending", Value::Null);
    let json = encode_json(&known, &ty).expect("json");

    c.bench_function("msgpack_encode_100_requests", |b| {
        b.iter(|| encode_msgpack(black_box(&v), &ty))
    });
    c.bench_function("msgpack_decode_100_requests", |b| {
        b.iter(|| decode_msgpack(black_box(&mp), &ty))
    });
    c.bench_function("json_decode_100_requests", |b| {
        b.iter(|| decode_json(black_box(&json), &ty))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
