//! `random`: a random value of the column's type, shaped like the input.
//!
//! Text keeps its length and the class of each character (lower case,
//! upper case, digit; punctuation and spaces stay), numbers keep their sign
//! and number of digits, numerics their scale; dates and timestamps are
//! drawn in [`TIMESTAMP_WINDOW`]. "Random" means drawn from the
//! keyed hash of the input, like every transformer: deterministic under a
//! secret.

use super::range::{RandomInstant, TIMESTAMP_WINDOW};
use crate::transform::error::ValueError;
use crate::transform::key::{Draw, Key};
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::types::{self, Instant, Int, Type};
use crate::transform::{numeric, options};

pub const RANDOM: Kind = Kind {
    name: "random",
    summary: "a random value of the column's type: text keeps its length, numbers their digits",
    options: &[],
    accepts: |ty| {
        types::is_text(ty)
            || Int::of(ty).is_some()
            || Instant::of(ty).is_some()
            || [Type::FLOAT4, Type::FLOAT8, Type::NUMERIC, Type::BOOL, Type::UUID, Type::BYTEA].contains(ty)
    },
    build: build_random,
};

/// What the input looks like, hence how the output is drawn.
enum Shape {
    Text,
    Int(Int),
    Float4,
    Float8,
    Numeric,
    Bool,
    Uuid,
    Bytes,
    Instant(RandomInstant),
}

struct Random {
    key: Key,
    shape: Shape,
}

fn build_random(build: &Build) -> Result<Box<dyn Transformer>, String> {
    options::none(build.options)?;
    let ty = &build.column.ty;
    let shape = if types::is_text(ty) {
        Shape::Text
    } else if let Some(int) = Int::of(ty) {
        Shape::Int(int)
    } else if Instant::of(ty).is_some() {
        Shape::Instant(RandomInstant::new(build, TIMESTAMP_WINDOW.0, TIMESTAMP_WINDOW.1, false)?)
    } else if *ty == Type::FLOAT4 {
        Shape::Float4
    } else if *ty == Type::FLOAT8 {
        Shape::Float8
    } else if *ty == Type::NUMERIC {
        Shape::Numeric
    } else if *ty == Type::BOOL {
        Shape::Bool
    } else if *ty == Type::UUID {
        Shape::Uuid
    } else {
        Shape::Bytes
    };
    Ok(Box::new(Random { key: build.key.clone(), shape }))
}

/// Appends a text as long as `text`, each ASCII letter or digit replaced by
/// one of its class, other letters by lower-case ASCII letters, the rest
/// (spaces, punctuation) kept.
fn push_text(text: &str, draw: &mut Draw, out: &mut Vec<u8>) {
    const LOWER: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";
    const UPPER: &[u8; 26] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &[u8; 10] = b"0123456789";
    for c in text.chars() {
        let class: &[u8] = match c {
            'a'..='z' => LOWER,
            'A'..='Z' => UPPER,
            '0'..='9' => DIGITS,
            c if c.is_alphanumeric() => LOWER,
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
        };
        out.push(class[draw.small(class.len() as u32) as usize]);
    }
}

/// A number with as many decimal digits as `n` and its sign.
fn same_digits(n: i64, draw: &mut Draw, int: Int) -> i64 {
    let digits = n.unsigned_abs().checked_ilog10().unwrap_or(0);
    let low = if digits == 0 { 0 } else { 10i64.pow(digits) };
    let high = 10i64.checked_pow(digits + 1).map_or(i64::MAX, |h| h - 1);
    let value = draw.between(low, high);
    // Keep within the type: the top decade of a type is partly outside it.
    if n < 0 {
        (-value).max(int.min())
    } else {
        value.min(int.max())
    }
}

/// A float with the sign and decimal order of magnitude of `x`.
fn same_magnitude(x: f64, draw: &mut Draw) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let scale = 10f64.powf(x.abs().log10().floor());
    let unit = (draw.u64() >> 11) as f64 / (1u64 << 53) as f64;
    (1.0 + 9.0 * unit) * scale * x.signum()
}

impl Transformer for Random {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        if let Shape::Instant(instant) = &self.shape {
            return instant.apply(Some(input), out);
        }
        let mut draw = self.key.draw(input);
        match &self.shape {
            Shape::Text => push_text(types::text(input)?, &mut draw, out),
            Shape::Int(int) => int.encode(same_digits(int.decode(input)?, &mut draw, *int), out),
            Shape::Float4 => {
                let x = f32::from_be_bytes(input.try_into().map_err(|_| ValueError::new("malformed float4"))?);
                out.extend_from_slice(&(same_magnitude(x.into(), &mut draw) as f32).to_be_bytes());
            }
            Shape::Float8 => {
                let x = f64::from_be_bytes(input.try_into().map_err(|_| ValueError::new("malformed float8"))?);
                out.extend_from_slice(&same_magnitude(x, &mut draw).to_be_bytes());
            }
            Shape::Numeric => numeric::randomize(input, &mut draw, out)?,
            Shape::Bool => out.push((draw.u64() & 1) as u8),
            Shape::Uuid => {
                let mut bytes = [0u8; 16];
                draw.fill(&mut bytes);
                out.extend_from_slice(uuid::Builder::from_random_bytes(bytes).as_uuid().as_bytes());
            }
            Shape::Bytes => {
                let start = out.len();
                out.resize(start + input.len(), 0);
                draw.fill(&mut out[start..]);
            }
            Shape::Instant(_) => unreachable!("handled above"),
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        match self.shape {
            Shape::Uuid => Guarantees::same_length().unique(122),
            // Text, numbers and bytes are as unique as their length allows,
            // which only the data knows: no promise.
            _ => Guarantees::same_length(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::BytesMut;
    use postgres_types::{FromSql, ToSql};

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::numeric::tests::to_text;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::ColumnType;

    fn apply<T: ToSql + Sync>(ty: Type, value: T) -> Vec<u8> {
        let mut input = BytesMut::new();
        value.to_sql(&ty, &mut input).unwrap();
        let t = RANDOM.build(None, &ColumnType::of(ty), &Keys::from_secret("x"), Path::new("."), no_lookup).unwrap();
        let mut out = Vec::new();
        assert_eq!(t.apply(Some(&input), &mut out).unwrap(), Field::Value);
        out
    }

    #[test]
    fn text_keeps_length_and_character_classes() {
        let out = String::from_sql(&Type::TEXT, &apply(Type::TEXT, "Zoë O'Brien 42 €")).unwrap();
        assert_eq!(out.chars().count(), 16);
        assert!(!out.contains("Zoë") && !out.contains("Brien"), "{out}");
        let shape: String = out
            .chars()
            .map(|c| match c {
                'a'..='z' => 'a',
                'A'..='Z' => 'A',
                '0'..='9' => '0',
                c => c,
            })
            .collect();
        // ë is a letter (it becomes an ASCII one), € is kept.
        assert_eq!(shape, "Aaa A'Aaaaa 00 €");
    }

    #[test]
    fn numbers_keep_sign_and_digits() {
        for n in [0i32, 7, -7, 12345, -2147483648, 2147483647] {
            let out = i32::from_sql(&Type::INT4, &apply(Type::INT4, n)).unwrap();
            assert_eq!(out.unsigned_abs().to_string().len(), n.unsigned_abs().to_string().len(), "{n} -> {out}");
            assert_eq!(out < 0, n < 0, "{n} -> {out}");
        }
        let x = f64::from_sql(&Type::FLOAT8, &apply(Type::FLOAT8, -1234.5f64)).unwrap();
        assert!((-9999.9..=-1000.0).contains(&x), "{x}");
        let mut numeric = Vec::new();
        numeric::encode_text("123.45", &mut numeric).unwrap();
        let t = RANDOM.build(None, &ColumnType::of(Type::NUMERIC), &Keys::random(), Path::new("."), no_lookup).unwrap();
        let mut out = Vec::new();
        t.apply(Some(&numeric), &mut out).unwrap();
        assert_eq!(to_text(&out).len(), 6);
    }

    #[test]
    fn other_types_round_trip_through_postgres_types() {
        bool::from_sql(&Type::BOOL, &apply(Type::BOOL, true)).unwrap();
        let id = uuid::Uuid::from_sql(&Type::UUID, &apply(Type::UUID, uuid::Uuid::nil())).unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(apply(Type::BYTEA, &b"12345"[..]).len(), 5);
        let date = chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        let out = chrono::NaiveDate::from_sql(&Type::DATE, &apply(Type::DATE, date)).unwrap();
        assert!(out.format("%Y").to_string().as_str() >= "1970", "{out}");
        let f = f32::from_sql(&Type::FLOAT4, &apply(Type::FLOAT4, 0.5f32)).unwrap();
        assert!((0.1..1.0).contains(&f), "{f}");
    }
}
