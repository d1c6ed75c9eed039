//! `dictionary`: maps values through a file the user supplies, e.g. real
//! department names to code names.
//!
//! The file is a YAML (or JSON) map of original value to replacement, read
//! once when the plan is built. A value the file does not list gets, by
//! default, one of the file's replacements picked by its keyed hash, so no
//! original ever passes through unmapped.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::transform::error::ValueError;
use crate::transform::key::Key;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::{options, types};

pub const DICTIONARY: Kind = Kind {
    name: "dictionary",
    summary: "maps values through a YAML/JSON file of original: replacement",
    options: &[
        ("path", "the file, relative to the config file's folder (required)"),
        ("missing", "for a value the file lacks: pick (default: one of the file's replacements), null, or error"),
    ],
    accepts: types::is_text,
    build: build_dictionary,
};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DictionaryOptions {
    path: Option<PathBuf>,
    #[serde(default)]
    missing: Missing,
}

/// What happens to a value the file does not list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Missing {
    #[default]
    Pick,
    Null,
    Error,
}

impl<'de> Deserialize<'de> for Missing {
    /// `pick`, `error`, and `null` written bare (YAML's null) or quoted.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("null") => Ok(Missing::Null),
            Some("pick") => Ok(Missing::Pick),
            Some("error") => Ok(Missing::Error),
            Some(other) => Err(serde::de::Error::custom(format!("missing: {other:?} is not pick, null or error"))),
        }
    }
}

struct Dictionary {
    key: Key,
    map: HashMap<Vec<u8>, Vec<u8>>,
    /// The replacements, sorted: what `missing: pick` draws from.
    replacements: Vec<Vec<u8>>,
    missing: Missing,
    longest: usize,
}

fn build_dictionary(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: DictionaryOptions = options::parse(build.options)?;
    let path = build.dir.join(options.path.ok_or("`dictionary` needs the option `path` (a YAML or JSON map file)")?);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read dictionary {}: {e}", path.display()))?;
    let entries: HashMap<String, String> = serde_yaml::from_str(&text)
        .map_err(|e| format!("dictionary {} is not a map of text to text: {e}", path.display()))?;
    if entries.is_empty() {
        return Err(format!("dictionary {} is empty", path.display()));
    }
    let longest = entries.values().map(|v| v.chars().count()).max().unwrap_or(0);
    let mut replacements: Vec<Vec<u8>> = entries.values().map(|v| v.clone().into_bytes()).collect();
    replacements.sort();
    replacements.dedup();
    let map = entries.into_iter().map(|(k, v)| (k.into_bytes(), v.into_bytes())).collect();
    Ok(Box::new(Dictionary { key: build.key.clone(), map, replacements, missing: options.missing, longest }))
}

impl Transformer for Dictionary {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let replacement = match (self.map.get(input), self.missing) {
            (Some(found), _) => found,
            (None, Missing::Pick) => self.key.draw(input).pick(&self.replacements),
            (None, Missing::Null) => return Ok(Field::Null),
            (None, Missing::Error) => {
                return Err(ValueError::new("a value is missing from the dictionary (missing: error)"));
            }
        };
        out.extend_from_slice(replacement);
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees { makes_nulls: self.missing == Missing::Null, ..Guarantees::at_most(self.longest) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::{ColumnType, Type};

    fn build(dir: &std::path::Path, options: &str) -> Result<Box<dyn Transformer>, String> {
        let options: serde_yaml::Value = serde_yaml::from_str(options).unwrap();
        DICTIONARY.build(Some(&options), &ColumnType::of(Type::TEXT), &Keys::from_secret("d"), dir, no_lookup)
    }

    fn apply(t: &dyn Transformer, input: &str) -> Result<Option<String>, ValueError> {
        let mut out = Vec::new();
        Ok(match t.apply(Some(input.as_bytes()), &mut out)? {
            Field::Value => Some(String::from_utf8(out).unwrap()),
            Field::Null => None,
        })
    }

    #[test]
    fn values_map_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("depts.yaml"), "Research: Blue\nSales: Green\n").unwrap();
        let t = build(dir.path(), "path: depts.yaml").unwrap();
        assert_eq!(apply(t.as_ref(), "Sales").unwrap().unwrap(), "Green");
        let picked = apply(t.as_ref(), "Legal").unwrap().unwrap();
        assert!(picked == "Blue" || picked == "Green");
        assert_eq!(t.guarantees().length, crate::transform::spec::Length::AtMost(5));

        let t = build(dir.path(), "{path: depts.yaml, missing: null}").unwrap();
        assert_eq!(apply(t.as_ref(), "Legal").unwrap(), None);
        assert!(t.guarantees().makes_nulls);
        let t = build(dir.path(), "{path: depts.yaml, missing: error}").unwrap();
        let err = apply(t.as_ref(), "Legal").unwrap_err();
        assert!(!err.to_string().contains("Legal"), "the value must not appear in errors");
    }

    #[test]
    fn bad_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(build(dir.path(), "path: nope.yaml").err().unwrap().contains("cannot read dictionary"));
        std::fs::write(dir.path().join("list.yaml"), "- a\n- b\n").unwrap();
        assert!(build(dir.path(), "path: list.yaml").err().unwrap().contains("not a map of text to text"));
        assert!(build(dir.path(), "missing: pick").err().unwrap().contains("needs the option `path`"));
    }
}
