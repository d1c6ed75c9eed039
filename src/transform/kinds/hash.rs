//! Pseudonyms: `hash` (the keyed hash itself, in the column's type) and
//! `uuid` (a version-4 UUID made of it). Both keep unique columns unique.

use serde::Deserialize;

use crate::transform::error::ValueError;
use crate::transform::key::Key;
use crate::transform::options;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::types::{self, Int, Type};

pub const HASH: Kind = Kind {
    name: "hash",
    summary: "the keyed hash of the value: hex for text, bytes for bytea, a number for integers",
    options: &[(
        "length",
        "hex characters for text (default 32, 16-64), bytes for bytea (default 16, 8-32); integers use their width",
    )],
    accepts: |ty| types::is_text(ty) || Int::of(ty).is_some() || *ty == Type::BYTEA,
    build: build_hash,
};

pub const UUID: Kind = Kind {
    name: "uuid",
    summary: "a version-4 UUID made of the keyed hash (122 bits)",
    options: &[],
    accepts: |ty| types::is_text(ty) || *ty == Type::UUID,
    build: build_uuid,
};

const HEX: &[u8; 16] = b"0123456789abcdef";

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashOptions {
    length: Option<usize>,
}

/// How the hash is written in the column's type.
#[derive(Clone, Copy)]
enum Form {
    Hex(usize),
    Bytes(usize),
    Int(Int),
}

struct Hash {
    key: Key,
    form: Form,
}

fn build_hash(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: HashOptions = options::parse(build.options)?;
    let ty = &build.column.ty;
    let (form, range) = if let Some(int) = Int::of(ty) {
        if options.length.is_some() {
            return Err(format!("`length` does not apply to {}: the hash fills the integer", ty.name()));
        }
        (Form::Int(int), 0..=0)
    } else if *ty == Type::BYTEA {
        (Form::Bytes(options.length.unwrap_or(16)), 8..=32)
    } else {
        (Form::Hex(options.length.unwrap_or(32)), 16..=64)
    };
    if let Form::Hex(n) | Form::Bytes(n) = form {
        if !range.contains(&n) {
            return Err(format!("length {n} is out of range {}..={}", range.start(), range.end()));
        }
    }
    Ok(Box::new(Hash { key: build.key.clone(), form }))
}

impl Transformer for Hash {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let mut draw = self.key.draw(input);
        match self.form {
            Form::Hex(chars) => {
                let mut bytes = [0u8; 32];
                draw.fill(&mut bytes[..chars.div_ceil(2)]);
                for i in 0..chars {
                    let nibble = if i % 2 == 0 { bytes[i / 2] >> 4 } else { bytes[i / 2] & 15 };
                    out.push(HEX[usize::from(nibble)]);
                }
            }
            Form::Bytes(n) => {
                let start = out.len();
                out.resize(start + n, 0);
                draw.fill(&mut out[start..]);
            }
            Form::Int(int) => int.encode(draw.between(int.min(), int.max()), out),
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        match self.form {
            Form::Hex(chars) => Guarantees::at_most(chars).unique(4 * chars as u32),
            Form::Bytes(n) => Guarantees::at_most(n).unique(8 * n as u32),
            Form::Int(int) => Guarantees::non_text().unique(int.bits()),
        }
    }
}

struct Uuid {
    key: Key,
    text: bool,
}

fn build_uuid(build: &Build) -> Result<Box<dyn Transformer>, String> {
    options::none(build.options)?;
    Ok(Box::new(Uuid { key: build.key.clone(), text: types::is_text(&build.column.ty) }))
}

impl Transformer for Uuid {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let mut bytes = [0u8; 16];
        self.key.draw(input).fill(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        if self.text {
            let mut buf = uuid::Uuid::encode_buffer();
            out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
        } else {
            out.extend_from_slice(id.as_bytes());
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::at_most(36).unique(122)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use postgres_types::FromSql;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::ColumnType;

    fn apply(kind: &Kind, options: &str, ty: Type, input: &[u8]) -> Vec<u8> {
        let options: Option<serde_yaml::Value> = serde_yaml::from_str(options).ok();
        let t = kind
            .build(options.as_ref(), &ColumnType::of(ty), &Keys::from_secret("k"), Path::new("."), no_lookup)
            .unwrap();
        let mut out = Vec::new();
        t.apply(Some(input), &mut out).unwrap();
        out
    }

    #[test]
    fn hashes_take_the_column_type() {
        let hex = String::from_utf8(apply(&HASH, "", Type::TEXT, b"x")).unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| HEX.contains(&b)));
        assert_eq!(apply(&HASH, "length: 17", Type::VARCHAR, b"x").len(), 17);
        assert_eq!(apply(&HASH, "", Type::BYTEA, b"x").len(), 16);
        let n = i64::from_sql(&Type::INT8, &apply(&HASH, "", Type::INT8, b"x")).unwrap();
        assert_ne!(n, 0);
        assert_eq!(apply(&HASH, "", Type::INT2, b"x").len(), 2);
        let err = HASH.build(
            Some(&serde_yaml::from_str("length: 8").unwrap()),
            &ColumnType::of(Type::TEXT),
            &Keys::random(),
            Path::new("."),
            no_lookup,
        );
        assert!(err.err().unwrap().contains("out of range 16..=64"));
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let mut seen = HashSet::new();
        for i in 0u32..1000 {
            let id = uuid::Uuid::from_sql(&Type::UUID, &apply(&UUID, "", Type::UUID, &i.to_be_bytes())).unwrap();
            assert_eq!(id.get_version_num(), 4);
            assert!(seen.insert(id));
        }
        let text = String::from_utf8(apply(&UUID, "", Type::TEXT, b"a")).unwrap();
        assert!(uuid::Uuid::parse_str(&text).is_ok(), "{text}");
    }
}
