//! Transformers that hide part of a text: `keep-first-char`, `redacted`
//! and `mask`. They keep what the user asks to keep, and never a whole
//! value.

use serde::Deserialize;

use crate::transform::error::ValueError;
use crate::transform::options;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::types::{self, Int};

pub const KEEP_FIRST_CHAR: Kind = Kind {
    name: "keep-first-char",
    summary: "keeps only the first character (text) or the first digit (integers)",
    options: &[],
    accepts: |ty| types::is_text(ty) || Int::of(ty).is_some(),
    build: build_keep_first,
};

pub const REDACTED: Kind = Kind {
    name: "redacted",
    summary: "replaces the text with a run of one character",
    options: &[
        ("character", "the character written (default *)"),
        ("width", "how many of them (default 10)"),
        ("keep", "leading characters of the value kept before them (default 0)"),
    ],
    accepts: types::is_text,
    build: build_redacted,
};

pub const MASK: Kind = Kind {
    name: "mask",
    summary: "masks the middle of the text, keeping its length (a value too short is masked whole)",
    options: &[
        ("keep_start", "leading characters kept (default 0)"),
        ("keep_end", "trailing characters kept (default 4)"),
        ("character", "the masking character (default *)"),
    ],
    accepts: types::is_text,
    build: build_mask,
};

fn build_keep_first(build: &Build) -> Result<Box<dyn Transformer>, String> {
    options::none(build.options)?;
    Ok(Box::new(KeepFirst { int: Int::of(&build.column.ty) }))
}

struct KeepFirst {
    int: Option<Int>,
}

impl Transformer for KeepFirst {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        match self.int {
            Some(int) => {
                let mut n = int.decode(input)?;
                while n.unsigned_abs() >= 10 {
                    n /= 10;
                }
                int.encode(n, out);
            }
            None => {
                if let Some(c) = types::text(input)?.chars().next() {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::at_most(1)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RedactedOptions {
    character: char,
    width: usize,
    keep: usize,
}

impl Default for RedactedOptions {
    fn default() -> Self {
        RedactedOptions { character: '*', width: 10, keep: 0 }
    }
}

struct Redacted {
    run: String,
    keep: usize,
}

fn build_redacted(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: RedactedOptions = options::parse(build.options)?;
    if !(1..=1000).contains(&options.width) {
        return Err(format!("width {} is out of range 1..=1000", options.width));
    }
    Ok(Box::new(Redacted { run: options.character.to_string().repeat(options.width), keep: options.keep }))
}

/// The byte length of the first `n` characters of `text`.
fn prefix_len(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(at, _)| at)
}

impl Transformer for Redacted {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        if self.keep > 0 {
            let text = types::text(input)?;
            out.extend_from_slice(&input[..prefix_len(text, self.keep)]);
        }
        out.extend_from_slice(self.run.as_bytes());
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::at_most(self.keep + self.run.chars().count())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MaskOptions {
    keep_start: usize,
    keep_end: usize,
    character: char,
}

impl Default for MaskOptions {
    fn default() -> Self {
        MaskOptions { keep_start: 0, keep_end: 4, character: '*' }
    }
}

struct Mask {
    keep_start: usize,
    keep_end: usize,
    character: char,
}

fn build_mask(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: MaskOptions = options::parse(build.options)?;
    Ok(Box::new(Mask { keep_start: options.keep_start, keep_end: options.keep_end, character: options.character }))
}

impl Transformer for Mask {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let text = types::text(input)?;
        let chars = text.chars().count();
        // A value no longer than what is kept would be kept whole: mask it
        // all instead.
        let (start, end) =
            if chars > self.keep_start + self.keep_end { (self.keep_start, self.keep_end) } else { (0, 0) };
        let head = prefix_len(text, start);
        let tail = prefix_len(text, chars - end);
        out.extend_from_slice(&input[..head]);
        let mut buf = [0u8; 4];
        let mask = self.character.encode_utf8(&mut buf).as_bytes();
        for _ in start..chars - end {
            out.extend_from_slice(mask);
        }
        out.extend_from_slice(&input[tail..]);
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::same_length()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use postgres_types::FromSql;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::{ColumnType, Type};

    fn column(ty: Type) -> ColumnType {
        ColumnType::of(ty)
    }

    fn apply(kind: &Kind, options: &str, ty: Type, input: &[u8]) -> Vec<u8> {
        let options: Option<serde_yaml::Value> = serde_yaml::from_str(options).ok();
        let t = kind.build(options.as_ref(), &column(ty), &Keys::random(), Path::new("."), no_lookup).unwrap();
        let mut out = Vec::new();
        assert_eq!(t.apply(Some(input), &mut out).unwrap(), Field::Value);
        out
    }

    #[test]
    fn keep_first_char_keeps_one_character_or_digit() {
        assert_eq!(apply(&KEEP_FIRST_CHAR, "", Type::TEXT, "Émile".as_bytes()), "É".as_bytes());
        assert_eq!(apply(&KEEP_FIRST_CHAR, "", Type::TEXT, b""), b"");
        let out = apply(&KEEP_FIRST_CHAR, "", Type::INT4, &(-5678i32).to_be_bytes());
        assert_eq!(i32::from_sql(&Type::INT4, &out).unwrap(), -5);
    }

    #[test]
    fn redacted_writes_a_run() {
        assert_eq!(apply(&REDACTED, "", Type::TEXT, b"secret"), b"**********");
        assert_eq!(apply(&REDACTED, "{character: '#', width: 3, keep: 2}", Type::TEXT, "Zoë".as_bytes()), b"Zo###");
        let err = REDACTED.build(
            Some(&serde_yaml::from_str("width: 0").unwrap()),
            &column(Type::TEXT),
            &Keys::random(),
            Path::new("."),
            no_lookup,
        );
        assert!(err.err().unwrap().contains("out of range"));
    }

    #[test]
    fn mask_keeps_the_ends_and_the_length() {
        assert_eq!(apply(&MASK, "", Type::TEXT, b"4111111111111111"), b"************1111");
        assert_eq!(apply(&MASK, "{keep_start: 1, keep_end: 1}", Type::TEXT, "añoé".as_bytes()), "a**é".as_bytes());
        assert_eq!(apply(&MASK, "", Type::TEXT, b"abcd"), b"****", "a short value is masked whole");
    }
}
