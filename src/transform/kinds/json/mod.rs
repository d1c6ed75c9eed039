//! `json`: edits inside `json` and `jsonb` values at paths: transform the
//! values found there with another transformer, set constants, delete.
//!
//! Paths are keys separated by dots, with `[n]` for an array element and
//! `*` (or `[*]`) for every element or member: `address.street`,
//! `phones[0]`, `contacts[*].email`. A leading `$.` is allowed.
//!
//! A transformer applied at a path sees every scalar there (under an object
//! or array: each scalar inside it) as text, and what it returns replaces
//! it: a number stays a number when the output still reads as one. It is
//! keyed like the same transformer on a column, so a name inside JSON maps
//! to the same fake as in a text column.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

mod stream;

use crate::transform::error::ValueError;
use crate::transform::options;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Length, Transformer};
use crate::transform::types::{ColumnType, Type};

/// The first byte of a binary `jsonb` value: the format version.
pub const JSONB_VERSION: u8 = 1;

pub const JSON: Kind = Kind {
    name: "json",
    summary: "transforms, sets or deletes the values at paths inside json/jsonb",
    options: &[
        ("replace", "path: transformer (a name, or {transformer, options}) applied to the values there"),
        ("set", "path: value written there (any YAML), creating the last key if missing"),
        ("delete", "paths removed"),
    ],
    accepts: |ty| *ty == Type::JSON || *ty == Type::JSONB,
    build: build_json,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonOptions {
    #[serde(default)]
    replace: BTreeMap<String, Nested>,
    #[serde(default)]
    set: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    delete: Vec<String>,
}

/// A transformer named inside `replace`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Nested {
    Name(String),
    Full {
        transformer: String,
        #[serde(default)]
        options: Option<serde_yaml::Value>,
    },
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Any,
}

/// Parses `a.b[0].*`.
fn parse_path(text: &str) -> Result<Vec<Step>, String> {
    let bad = |why: &str| format!("path {text:?}: {why}");
    let body = text.strip_prefix("$.").or_else(|| text.strip_prefix('$')).unwrap_or(text);
    if body.is_empty() {
        return Err(bad("the whole value cannot be edited; use another transformer on the column"));
    }
    let mut steps = Vec::new();
    for part in body.split('.') {
        let (name, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        match name {
            "" if rest.is_empty() => return Err(bad("empty step (two dots, or a dot at an end)")),
            "" => {}
            "*" => steps.push(Step::Any),
            key => steps.push(Step::Key(key.to_string())),
        }
        while !rest.is_empty() {
            let end = rest.find(']').ok_or_else(|| bad("unclosed ["))?;
            let index = &rest[1..end];
            steps.push(if index == "*" {
                Step::Any
            } else {
                Step::Index(index.parse().map_err(|_| bad("[...] holds a number or *"))?)
            });
            rest = &rest[end + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(bad("] must be followed by . or ["));
            }
        }
    }
    Ok(steps)
}

/// Calls `f` on every value `path` reaches in `value`.
fn visit(
    value: &mut Value,
    path: &[Step],
    f: &mut dyn FnMut(&mut Value) -> Result<(), ValueError>,
) -> Result<(), ValueError> {
    let Some((step, rest)) = path.split_first() else { return f(value) };
    match (step, value) {
        (Step::Key(key), Value::Object(map)) => match map.get_mut(key) {
            Some(inner) => visit(inner, rest, f),
            None => Ok(()),
        },
        (Step::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(inner) => visit(inner, rest, f),
            None => Ok(()),
        },
        (Step::Any, Value::Object(map)) => map.values_mut().try_for_each(|inner| visit(inner, rest, f)),
        (Step::Any, Value::Array(items)) => items.iter_mut().try_for_each(|inner| visit(inner, rest, f)),
        _ => Ok(()),
    }
}

/// Calls `f` on the container holding the last step of `path`, with that
/// step.
fn visit_parent(
    value: &mut Value,
    path: &[Step],
    f: &mut dyn FnMut(&mut Value, &Step) -> Result<(), ValueError>,
) -> Result<(), ValueError> {
    let (last, parents) = path.split_last().expect("paths are never empty");
    visit(value, parents, &mut |parent| f(parent, last))
}

struct Json {
    jsonb: bool,
    replace: Vec<(Vec<Step>, Box<dyn Transformer>)>,
    set: Vec<(Vec<Step>, Value)>,
    delete: Vec<Vec<Step>>,
}

fn build_json(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: JsonOptions = options::parse(build.options)?;
    if options.replace.is_empty() && options.set.is_empty() && options.delete.is_empty() {
        return Err("`json` needs at least one of `replace`, `set` or `delete`".to_string());
    }
    let text = ColumnType::of(Type::TEXT);
    let mut replace = Vec::new();
    for (path, nested) in options.replace {
        let (name, nested_options) = match nested {
            Nested::Name(name) => (name, None),
            Nested::Full { transformer, options } => (transformer, options),
        };
        let transformer = (build.lookup)(&name)
            .and_then(|kind| kind.build(nested_options.as_ref(), &text, build.keys, build.dir, build.lookup))
            .map_err(|e| format!("replace {path:?}: {e}"))?;
        replace.push((parse_path(&path)?, transformer));
    }
    let set = options
        .set
        .into_iter()
        .map(|(path, value)| {
            let json = serde_json::to_value(&value).map_err(|e| format!("set {path:?}: not JSON: {e}"))?;
            Ok((parse_path(&path)?, json))
        })
        .collect::<Result<_, String>>()?;
    let delete = options.delete.iter().map(|p| parse_path(p)).collect::<Result<_, _>>()?;
    Ok(Box::new(Json { jsonb: build.column.ty == Type::JSONB, replace, set, delete }))
}

/// `text` as a JSON number, when it reads as one: leading zeros (which
/// `random` can write) are allowed.
fn as_number(text: &str) -> Option<serde_json::Number> {
    text.parse()
        .ok()
        .or_else(|| text.parse::<i64>().ok().map(Into::into))
        .or_else(|| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64))
}

/// Applies `transformer` to every scalar in `value`, as text.
fn replace_scalars(value: &mut Value, transformer: &dyn Transformer) -> Result<(), ValueError> {
    let text = match value {
        Value::Null => return Ok(()),
        Value::Array(items) => return items.iter_mut().try_for_each(|v| replace_scalars(v, transformer)),
        Value::Object(map) => return map.values_mut().try_for_each(|v| replace_scalars(v, transformer)),
        Value::String(s) => std::mem::take(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    };
    let mut out = Vec::new();
    let field = transformer.apply(Some(text.as_bytes()), &mut out)?;
    let new = String::from_utf8(out).map_err(|_| ValueError::new("a transformer inside json wrote invalid UTF-8"))?;
    *value = match (field, &*value) {
        (Field::Null, _) => Value::Null,
        (Field::Value, Value::Number(_)) => match as_number(&new) {
            Some(number) => Value::Number(number),
            None => Value::String(new),
        },
        (Field::Value, _) => Value::String(new),
    };
    Ok(())
}

impl Transformer for Json {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let text = if self.jsonb {
            match input.split_first() {
                Some((&JSONB_VERSION, text)) => text,
                _ => return Err(ValueError::new("jsonb value has an unknown binary format version")),
            }
        } else {
            input
        };
        if self.set.is_empty() && self.delete.is_empty() && self.replace.len() <= stream::MAX_PATHS {
            if self.jsonb {
                out.push(JSONB_VERSION);
            }
            stream::rewrite(text, out, &self.replace)?;
            return Ok(Field::Value);
        }
        let mut value: Value = serde_json::from_slice(text)
            .map_err(|e| ValueError::new(format!("not valid JSON at column {}", e.column())))?;
        for (path, transformer) in &self.replace {
            visit(&mut value, path, &mut |v| replace_scalars(v, transformer.as_ref()))?;
        }
        for (path, new) in &self.set {
            visit_parent(&mut value, path, &mut |parent, step| {
                match (step, parent) {
                    (Step::Key(key), Value::Object(map)) => {
                        map.insert(key.clone(), new.clone());
                    }
                    (Step::Index(i), Value::Array(items)) => {
                        if let Some(slot) = items.get_mut(*i) {
                            *slot = new.clone();
                        }
                    }
                    (Step::Any, Value::Object(map)) => map.values_mut().for_each(|v| *v = new.clone()),
                    (Step::Any, Value::Array(items)) => items.iter_mut().for_each(|v| *v = new.clone()),
                    _ => {}
                }
                Ok(())
            })?;
        }
        for path in &self.delete {
            visit_parent(&mut value, path, &mut |parent, step| {
                match (step, parent) {
                    (Step::Key(key), Value::Object(map)) => {
                        map.shift_remove(key);
                    }
                    (Step::Index(i), Value::Array(items)) if *i < items.len() => {
                        items.remove(*i);
                    }
                    (Step::Any, Value::Object(map)) => map.clear(),
                    (Step::Any, Value::Array(items)) => items.clear(),
                    _ => {}
                }
                Ok(())
            })?;
        }
        if self.jsonb {
            out.push(JSONB_VERSION);
        }
        serde_json::to_writer(&mut *out, &value).map_err(|e| ValueError::new(format!("writing JSON: {e}")))?;
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees { makes_nulls: false, length: Length::Unbounded, unique_bits: 0 }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use bytes::BytesMut;
    use postgres_types::{FromSql, ToSql};
    use serde_json::json;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::kinds::person::{FIRST_NAME, LAST_NAME};
    use crate::transform::kinds::random::RANDOM;
    use crate::transform::kinds::range::RANDOM_DATE;
    use crate::transform::kinds::text::REDACTED;

    /// The transformers these tests nest, by name: the registry's lookup,
    /// which stands above the kinds, cut down to them.
    fn lookup(name: &str) -> Result<&'static Kind, String> {
        const NESTED: &[Kind] = &[RANDOM, RANDOM_DATE, REDACTED, FIRST_NAME, LAST_NAME];
        NESTED.iter().find(|k| k.name == name).ok_or_else(|| format!("unknown transformer `{name}`"))
    }

    fn apply(options: &str, ty: Type, input: Value, keys: &Keys) -> Value {
        let options: serde_yaml::Value = serde_yaml::from_str(options).unwrap();
        let t = JSON.build(Some(&options), &ColumnType::of(ty.clone()), keys, Path::new("."), lookup).unwrap();
        let mut bytes = BytesMut::new();
        input.to_sql(&ty, &mut bytes).unwrap();
        let mut out = Vec::new();
        t.apply(Some(&bytes), &mut out).unwrap();
        Value::from_sql(&ty, &out).unwrap()
    }

    #[test]
    fn the_fast_path_agrees_with_the_tree() {
        let keys = Keys::from_secret("j");
        let doc = json!({"a": "x\"y\\z", "n": [1, 2.5, -3e2], "b": true, "z": null,
                         "deep": {"k": ["é\u{1}", {"k": "v"}]}, "k": "top",
                         "skipped": {"s": "]}\"{[\\", "n": [1, [2, {}]], "e": []}});
        for replace in [
            "{'a': random}",
            "{'n[*]': random}",
            "{b: redacted}",
            "{'deep.*': random}",
            "{'*': redacted}",
            "{'deep.k[1].k': first-name, k: last-name}",
            // Two paths over one scalar: both apply, in order.
            "{deep: random, 'deep.k[1].k': first-name, '*.k': redacted}",
        ] {
            let fast = apply(&format!("{{replace: {replace}}}"), Type::JSONB, doc.clone(), &keys);
            let tree = apply(&format!("{{replace: {replace}, delete: [absent]}}"), Type::JSONB, doc.clone(), &keys);
            assert_eq!(fast, tree, "replace {replace}");
        }
    }

    #[test]
    fn more_paths_than_the_fast_path_follows_still_work() {
        let keys = Keys::from_secret("j");
        let paths: Vec<String> = (0..=stream::MAX_PATHS).map(|i| format!("k{i}: redacted")).collect();
        let options = format!("{{replace: {{{}}}}}", paths.join(", "));
        let out = apply(&options, Type::JSONB, json!({"k3": "x", "k64": 5, "other": "y"}), &keys);
        assert_eq!(out, json!({"k3": "**********", "k64": "**********", "other": "y"}));
    }

    #[test]
    fn the_fast_path_keeps_the_text_of_json_as_written() {
        let keys = Keys::from_secret("j");
        let options: serde_yaml::Value = serde_yaml::from_str("{replace: {b: redacted}}").unwrap();
        let t = JSON.build(Some(&options), &ColumnType::of(Type::JSON), &keys, Path::new("."), lookup).unwrap();
        let mut out = Vec::new();
        t.apply(Some(br#"{ "a" :1,"b": "xy" , "a": 2 }"#), &mut out).unwrap();
        assert_eq!(out, br#"{ "a" :1,"b": "**********" , "a": 2 }"#);
        assert!(t.apply(Some(br#"{"b": "x""#), &mut Vec::new()).is_err());
        // A key written with escapes still matches its path; a container no
        // path enters is copied as it is.
        let mut out = Vec::new();
        t.apply(Some(br#"{"\u0062": "xy", "c": {"b": "q\"}"}}"#), &mut out).unwrap();
        assert_eq!(out, br#"{"\u0062": "**********", "c": {"b": "q\"}"}}"#);
        // Strings longer than the word-at-a-time search, with a quote escaped
        // past it; text between and after replacements kept.
        let long = format!(
            r#"{{"long": "{}\"{}", "b": "{}\"x", "tail" : [ 1 ] , "b":"y"}}  "#,
            "a".repeat(40),
            "b".repeat(50),
            "c".repeat(33)
        );
        let mut out = Vec::new();
        t.apply(Some(long.as_bytes()), &mut out).unwrap();
        let expected = format!(
            r#"{{"long": "{}\"{}", "b": "**********", "tail" : [ 1 ] , "b":"**********"}}  "#,
            "a".repeat(40),
            "b".repeat(50)
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn paths_parse() {
        assert_eq!(parse_path("$.a.b").unwrap(), [Step::Key("a".into()), Step::Key("b".into())]);
        assert_eq!(
            parse_path("a[2][*].c").unwrap(),
            [Step::Key("a".into()), Step::Index(2), Step::Any, Step::Key("c".into())]
        );
        assert_eq!(parse_path("*.x").unwrap(), [Step::Any, Step::Key("x".into())]);
        assert!(parse_path("a..b").unwrap_err().contains("empty step"));
        assert!(parse_path("a[x]").unwrap_err().contains("number or *"));
        assert!(parse_path("$").unwrap_err().contains("whole value"));
    }

    #[test]
    fn jsonb_edits_round_trip_through_postgres_types() {
        let keys = Keys::from_secret("j");
        let address = json!({"street": "1 Main Street", "city": "Paris", "zip": "75001",
                             "geo": {"lat": 48.85, "lng": 2.35}, "delivery_notes": ["ring twice"]});
        let options = "{replace: {street: random, geo: random, 'delivery_notes[*]': redacted}, set: {country: XX}, delete: [zip]}";
        let out = apply(options, Type::JSONB, address.clone(), &keys);
        let street = out["street"].as_str().unwrap();
        assert_eq!(street.len(), "1 Main Street".len());
        assert_ne!(street, "1 Main Street");
        assert_eq!(out["city"], "Paris");
        assert_eq!(out["country"], "XX");
        assert!(out.get("zip").is_none());
        assert!(out["geo"]["lat"].is_number() && out["geo"]["lat"] != json!(48.85), "{out}");
        assert_eq!(out["delivery_notes"], json!(["**********"]));
        assert_eq!(out, apply(options, Type::JSONB, address, &keys), "deterministic");
    }

    #[test]
    fn json_keeps_key_order_and_matches_column_transformers() {
        let keys = Keys::from_secret("j");
        let out = apply("{replace: {name: first-name}}", Type::JSON, json!({"z": 1, "name": "Alice", "a": 2}), &keys);
        let keys_in_order: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys_in_order, ["z", "name", "a"]);
        let column = FIRST_NAME.build(None, &ColumnType::of(Type::TEXT), &keys, Path::new("."), lookup).unwrap();
        let mut fake = Vec::new();
        column.apply(Some(b"Alice"), &mut fake).unwrap();
        assert_eq!(out["name"], String::from_utf8(fake).unwrap());
    }

    #[test]
    fn numbers_stay_numbers() {
        assert_eq!(as_number("07.50"), serde_json::Number::from_f64(7.5));
        assert_eq!(as_number("0042"), Some(42.into()));
        assert_eq!(as_number("-1.25"), serde_json::Number::from_f64(-1.25));
        assert_eq!(as_number("1x"), None);
    }

    #[test]
    fn bad_options_are_refused() {
        let build = |o: &str| {
            let options: serde_yaml::Value = serde_yaml::from_str(o).unwrap();
            JSON.build(Some(&options), &ColumnType::of(Type::JSONB), &Keys::random(), Path::new("."), lookup)
                .err()
                .unwrap()
        };
        assert!(build("{replace: {a: frist-name}}").contains(r#"replace "a": unknown transformer `frist-name`"#));
        assert!(build("{replace: {a: random-date}}").contains("cannot write a column of type text"));
        assert!(build("{}").contains("at least one"));
    }
}
