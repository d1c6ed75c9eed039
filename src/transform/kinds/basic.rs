//! Transformers that do not look at the value: `transient` (keep it),
//! `null` and `constant`.

use serde::Deserialize;
use serde_yaml::Value;

use crate::transform::error::ValueError;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Length, Transformer};
use crate::transform::types::{self, parse_instant, Instant, Int, Type};
use crate::transform::{numeric, options};

pub const TRANSIENT: Kind = Kind {
    name: "transient",
    summary: "keeps the value as it is (documents that a column was looked at)",
    options: &[],
    accepts: |_| true,
    build: |_| Ok(Box::new(Transient)),
};

pub const NULL: Kind = Kind {
    name: "null",
    summary: "replaces every value with NULL",
    options: &[],
    accepts: |_| true,
    build: |_| Ok(Box::new(Null)),
};

pub const CONSTANT: Kind = Kind {
    name: "constant",
    summary: "replaces every value (NULL included) with one value",
    options: &[(
        "value",
        "the value, written as YAML (a string, number, boolean, date, or any YAML for json); null for NULL (required)",
    )],
    accepts: |ty| Constant::encode(&Value::Null, ty).is_ok(),
    build: build_constant,
};

struct Transient;

impl Transformer for Transient {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        match input {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(Field::Value)
            }
            None => Ok(Field::Null),
        }
    }

    fn guarantees(&self) -> Guarantees {
        // The input itself: unique where it was.
        Guarantees::same_length().unique(u32::MAX)
    }
}

struct Null;

impl Transformer for Null {
    fn apply(&self, _: Option<&[u8]>, _: &mut Vec<u8>) -> Result<Field, ValueError> {
        Ok(Field::Null)
    }

    fn guarantees(&self) -> Guarantees {
        // NULLs never collide in a unique index.
        Guarantees { makes_nulls: true, length: Length::AtMost(0), unique_bits: u32::MAX }
    }
}

/// A value encoded once, when the plan is built.
struct Constant {
    value: Option<Vec<u8>>,
    chars: usize,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantOptions {
    /// `None` when absent; `Some(Value::Null)` for `value: null`.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn build_constant(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: ConstantOptions = options::parse(build.options)?;
    let value = options.value.ok_or("`constant` needs the option `value` (use `null` for NULL)")?;
    let encoded = Constant::encode(&value, &build.column.ty)?;
    let chars = match &value {
        Value::String(s) => s.chars().count(),
        other => scalar_text(other).map_or(0, |s| s.chars().count()),
    };
    Ok(Box::new(Constant { value: encoded, chars }))
}

/// A YAML scalar written as text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Constant {
    /// The binary form of `value` in a column of type `ty`; `None` for NULL.
    ///
    /// # Errors
    /// A type `constant` cannot write, or a value that is not one of it.
    fn encode(value: &Value, ty: &Type) -> Result<Option<Vec<u8>>, String> {
        let mut out = Vec::new();
        if *ty == Type::JSON || *ty == Type::JSONB {
            if value.is_null() {
                return Ok(None);
            }
            if *ty == Type::JSONB {
                out.push(super::json::JSONB_VERSION);
            }
            serde_json::to_writer(&mut out, value).map_err(|e| format!("the value is not valid JSON: {e}"))?;
            return Ok(Some(out));
        }
        let supported = types::is_text(ty)
            || Int::of(ty).is_some()
            || Instant::of(ty).is_some()
            || [Type::FLOAT4, Type::FLOAT8, Type::NUMERIC, Type::BOOL, Type::UUID, Type::BYTEA].contains(ty);
        if !supported {
            return Err(format!("`constant` cannot write a column of type {}", ty.name()));
        }
        if value.is_null() {
            return Ok(None);
        }
        let text = scalar_text(value).ok_or("the value must be a string, a number or a boolean")?;
        let invalid = |what: &str| format!("{text:?} is not {what}");
        if types::is_text(ty) || *ty == Type::BYTEA {
            out.extend_from_slice(text.as_bytes());
        } else if let Some(int) = Int::of(ty) {
            let n: i64 = text.parse().map_err(|_| invalid("an integer"))?;
            if !(int.min()..=int.max()).contains(&n) {
                return Err(format!("{n} is out of range for {}", ty.name()));
            }
            int.encode(n, &mut out);
        } else if let Some(instant) = Instant::of(ty) {
            instant.encode(parse_instant(&text)?, &mut out);
        } else if *ty == Type::FLOAT4 {
            out.extend_from_slice(&text.parse::<f32>().map_err(|_| invalid("a number"))?.to_be_bytes());
        } else if *ty == Type::FLOAT8 {
            out.extend_from_slice(&text.parse::<f64>().map_err(|_| invalid("a number"))?.to_be_bytes());
        } else if *ty == Type::NUMERIC {
            numeric::encode_text(&text, &mut out)?;
        } else if *ty == Type::BOOL {
            let b: bool = text.parse().map_err(|_| invalid("true or false"))?;
            out.push(u8::from(b));
        } else {
            let id = uuid::Uuid::parse_str(&text).map_err(|_| invalid("a UUID"))?;
            out.extend_from_slice(id.as_bytes());
        }
        Ok(Some(out))
    }
}

impl Transformer for Constant {
    fn apply(&self, _: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        match &self.value {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(Field::Value)
            }
            None => Ok(Field::Null),
        }
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees { makes_nulls: self.value.is_none(), ..Guarantees::at_most(self.chars) }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use postgres_types::FromSql;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::ColumnType;

    fn constant(value: &str, ty: Type) -> Result<Option<Vec<u8>>, String> {
        let options: Value = serde_yaml::from_str(&format!("value: {value}")).unwrap();
        let t = CONSTANT.build(Some(&options), &ColumnType::of(ty), &Keys::random(), Path::new("."), no_lookup)?;
        let mut out = Vec::new();
        Ok(match t.apply(Some(b"original"), &mut out).unwrap() {
            Field::Value => Some(out),
            Field::Null => None,
        })
    }

    #[test]
    fn constants_round_trip_through_postgres_types() {
        let v = constant("hello", Type::TEXT).unwrap().unwrap();
        assert_eq!(<&str>::from_sql(&Type::TEXT, &v).unwrap(), "hello");
        let v = constant("-42", Type::INT2).unwrap().unwrap();
        assert_eq!(i16::from_sql(&Type::INT2, &v).unwrap(), -42);
        let v = constant("2.5", Type::FLOAT8).unwrap().unwrap();
        assert_eq!(f64::from_sql(&Type::FLOAT8, &v).unwrap(), 2.5);
        let v = constant("true", Type::BOOL).unwrap().unwrap();
        assert!(bool::from_sql(&Type::BOOL, &v).unwrap());
        let v = constant("2020-02-29", Type::DATE).unwrap().unwrap();
        assert_eq!(chrono::NaiveDate::from_sql(&Type::DATE, &v).unwrap().to_string(), "2020-02-29");
        let v = constant("{a: [1, x]}", Type::JSONB).unwrap().unwrap();
        let json = serde_json::Value::from_sql(&Type::JSONB, &v).unwrap();
        assert_eq!(json, serde_json::json!({"a": [1, "x"]}));
        let v = constant("00000000-0000-0000-0000-000000000001", Type::UUID).unwrap().unwrap();
        assert_eq!(uuid::Uuid::from_sql(&Type::UUID, &v).unwrap().as_u128(), 1);
        assert_eq!(constant("null", Type::INT4).unwrap(), None);
    }

    #[test]
    fn bad_constants_are_refused_with_the_reason() {
        assert!(constant("70000", Type::INT2).unwrap_err().contains("out of range for int2"));
        assert!(constant("abc", Type::INT4).unwrap_err().contains("is not an integer"));
        let empty = CONSTANT.build(None, &ColumnType::of(Type::TEXT), &Keys::random(), Path::new("."), no_lookup);
        assert!(empty.err().unwrap().contains("needs the option `value`"));
        assert!(!(CONSTANT.accepts)(&Type::INET));
    }

    #[test]
    fn null_and_transient_do_what_they_say() {
        let mut out = Vec::new();
        assert_eq!(Null.apply(Some(b"x"), &mut out).unwrap(), Field::Null);
        assert_eq!(Transient.apply(Some(b"x"), &mut out).unwrap(), Field::Value);
        assert_eq!(out, b"x");
        assert_eq!(Transient.apply(None, &mut out).unwrap(), Field::Null);
    }
}
