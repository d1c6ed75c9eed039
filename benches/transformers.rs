//! Transformers per second, one by one, and the splice path: rewriting
//! binary COPY tuples of a customers-like table where most fields are
//! copied raw.
//!
//!     cargo bench --bench transformers

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use postgres_types::ToSql;
use replibyte::copy::binary;
use replibyte::transform::key::Keys;
use replibyte::transform::registry;
use replibyte::transform::{ColumnType, Step, TablePlan, Transformer, Type};

/// Distinct inputs cycled through, so no result is cached anywhere.
const INPUTS: usize = 1024;

fn encode<T: ToSql>(value: T, ty: &Type) -> Vec<u8> {
    let mut out = BytesMut::new();
    value.to_sql(ty, &mut out).unwrap();
    out.to_vec()
}

fn address(i: usize) -> serde_json::Value {
    serde_json::json!({
        "street": format!("{} Main Street", i % 250), "city": "Springfield", "zip": format!("{:05}", i * 7),
        "country": "US", "geo": {"lat": 12.5 + i as f64 / 1000.0, "lng": -71.25},
        "delivery_notes": ["leave at door", "ring twice"]
    })
}

/// `(transformer, options, column type, input of row i)`.
type Case = (&'static str, &'static str, Type, fn(usize) -> Vec<u8>);

fn cases() -> Vec<Case> {
    vec![
        ("transient", "", Type::TEXT, |i| format!("value {i}").into_bytes()),
        ("null", "", Type::TEXT, |i| format!("value {i}").into_bytes()),
        ("constant", "value: fixed", Type::TEXT, |i| format!("value {i}").into_bytes()),
        ("random", "", Type::TEXT, |i| format!("Customer number {i}").into_bytes()),
        ("random", "", Type::INT4, |i| encode(i as i32 * 7919, &Type::INT4)),
        ("random-int", "{min: 1, max: 1000}", Type::INT4, |i| encode(i as i32, &Type::INT4)),
        ("random-numeric", "{max: 500, scale: 2}", Type::NUMERIC, |i| encode(i as i64, &Type::INT8)),
        ("random-date", "", Type::DATE, |i| encode(i as i32, &Type::DATE)),
        ("random-timestamp", "", Type::TIMESTAMPTZ, |i| encode(i as i64 * 1_000_000, &Type::INT8)),
        ("first-name", "", Type::TEXT, |i| format!("Alice{i}").into_bytes()),
        ("last-name", "", Type::TEXT, |i| format!("Smith{i}").into_bytes()),
        ("email", "", Type::TEXT, |i| format!("alice.smith.{i}@example.com").into_bytes()),
        ("phone-number", "", Type::TEXT, |i| format!("+33 6 {i:08}").into_bytes()),
        ("credit-card", "", Type::TEXT, |i| format!("4111{i:012}").into_bytes()),
        ("keep-first-char", "", Type::TEXT, |i| format!("Alice{i}").into_bytes()),
        ("redacted", "", Type::TEXT, |i| format!("secret {i}").into_bytes()),
        ("mask", "", Type::TEXT, |i| format!("4111{i:012}").into_bytes()),
        ("hash", "", Type::TEXT, |i| format!("alice.smith.{i}@example.com").into_bytes()),
        ("uuid", "", Type::UUID, |i| encode(uuid::Uuid::from_u128(i as u128), &Type::UUID)),
        ("json", "replace: {street: random, city: first-name}", Type::JSONB, |i| encode(address(i), &Type::JSONB)),
        // The scan alone: a json column whose path is in no document.
        ("json", "replace: {nothere: random}", Type::JSON, |i| generated_address(i)[1..].to_vec()),
    ]
}

fn build(name: &str, options: &str, ty: Type) -> Box<dyn Transformer> {
    let options: Option<serde_yaml::Value> = serde_yaml::from_str(options).ok();
    registry::find(name)
        .unwrap()
        .build(options.as_ref(), &ColumnType::of(ty), &Keys::from_secret("bench"), Path::new("."), registry::lookup)
        .unwrap()
}

fn per_transformer(c: &mut Criterion) {
    let mut group = c.benchmark_group("transformer");
    group.throughput(Throughput::Elements(1));
    for (name, options, ty, input) in cases() {
        let transformer = build(name, options, ty.clone());
        let inputs: Vec<Vec<u8>> = (0..INPUTS).map(input).collect();
        let mut out = Vec::new();
        let mut i = 0;
        group.bench_function(BenchmarkId::new(name, ty.name()), |b| {
            b.iter(|| {
                out.clear();
                i = (i + 1) % INPUTS;
                black_box(transformer.apply(Some(&inputs[i]), &mut out).unwrap());
            })
        });
    }
    group.finish();
}

/// A binary jsonb address as `scripts/bench/generate.sql` writes them and
/// PostgreSQL sends them (the version byte, then the text: keys shortest
/// first, a space after `:` and `,`).
fn generated_address(i: usize) -> Vec<u8> {
    let city = ["Springfield", "Riverside", "Franklin", "Greenville", "Bristol"][i % 5];
    let (geo, zip, street) = ((i % 90, i % 180), i % 99_999, i % 9999);
    let text = format!(
        r#"{{"geo": [{}, {}], "zip": "{zip:05}", "city": "{city}", "street": "{street} Main Street"}}"#,
        geo.0, geo.1
    );
    [&[1u8][..], text.as_bytes()].concat()
}

/// A tuple shaped like the end-to-end benchmark's customers table
/// (`scripts/bench/generate.sql`): id, first and last name, email, phone,
/// birth date, address (jsonb), created_at.
fn customer(i: usize) -> Vec<u8> {
    let fields = [
        encode(i as i32, &Type::INT4),
        format!("Alice{}", i % 300).into_bytes(),
        format!("Smith{}", i % 500).into_bytes(),
        format!("alice.smith.{i}@example.com").into_bytes(),
        format!("+1-555-{:04}", i % 10_000).into_bytes(),
        encode(-5000 + i as i32 % 20_000, &Type::DATE),
        generated_address(i),
        encode(700_000_000_000_000i64 + i as i64, &Type::INT8),
    ];
    let mut out = Vec::new();
    binary::put_field_count(&mut out, fields.len());
    for f in &fields {
        binary::put_field(&mut out, Some(f));
    }
    out
}

fn splice(c: &mut Criterion) {
    let tuples: Vec<Vec<u8>> = (0..INPUTS).map(customer).collect();
    let column = |index, name, options, ty| Step {
        index,
        column: format!("c{index}"),
        transformer_name: "bench",
        transformer: Arc::from(build(name, options, ty)),
    };
    let plans = [
        ("0 columns", vec![]),
        ("1 column (email)", vec![column(3, "email", "", Type::TEXT)]),
        (
            "5 columns (no json)",
            vec![
                column(1, "first-name", "", Type::TEXT),
                column(2, "last-name", "", Type::TEXT),
                column(3, "email", "", Type::TEXT),
                column(4, "phone-number", "", Type::TEXT),
                column(5, "random-date", "", Type::DATE),
            ],
        ),
        (
            // The six columns `scripts/bench.sh` transforms.
            "6 columns",
            vec![
                column(1, "first-name", "", Type::TEXT),
                column(2, "last-name", "", Type::TEXT),
                column(3, "email", "", Type::TEXT),
                column(4, "phone-number", "", Type::TEXT),
                column(5, "random-date", "", Type::DATE),
                column(6, "json", "replace: {street: random, zip: random}", Type::JSONB),
            ],
        ),
    ];
    let mut group = c.benchmark_group("splice");
    group.throughput(Throughput::Elements(1));
    for (label, steps) in plans {
        let plan = TablePlan::new(steps);
        let mut rewriter = plan.rewriter();
        let mut out = Vec::new();
        let mut i = 0;
        group.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) % INPUTS;
                out.clear();
                rewriter.rewrite(&tuples[i], &mut out).unwrap();
                black_box(out.len());
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the machine is shared, and the spread is small.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = per_transformer, splice }
criterion_main!(benches);
