//! `source.transformers:` — which columns are replaced, and how.
//!
//! Only the shape is read here; whether the tables, columns, transformers
//! and options make sense is checked against the source's catalog by
//! [`crate::transform::Rules`], which names the config line of each problem
//! with [`line_of`].

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// Transformers of the columns of one table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableTransformers {
    /// The table's schema. `database` is the seed's historical name for it.
    #[serde(alias = "database")]
    pub schema: String,
    pub table: String,
    pub columns: Vec<ColumnTransformer>,
}

/// One column's transformer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnTransformer {
    pub name: String,
    /// `transformer_name` is what old replibyte configs say.
    #[serde(alias = "transformer_name")]
    pub transformer: String,
    #[serde(default, alias = "transformer_options")]
    pub options: Option<serde_yaml::Value>,
    /// Also apply this transformer (same options, same key) to every column
    /// that references this one through a foreign key, and to theirs.
    #[serde(default)]
    pub follow_references: bool,
}

/// One step into a YAML document: a map key or a list index.
#[derive(Debug, Clone, Copy)]
pub enum PathStep<'a> {
    Key(&'a str),
    Index(usize),
}

/// The 1-based line where the value at `path` starts in the YAML `text`,
/// e.g. `[Key("source"), Key("transformers"), Index(0), Key("columns"),
/// Index(2), Key("transformer")]`.
///
/// serde_yaml keeps no positions after parsing, but it puts the position of
/// the value being read into every error: so the document is read again,
/// skipping everything but `path`, failing on purpose where it ends. Only
/// run when a problem is reported.
pub fn line_of(text: &str, path: &[PathStep]) -> Option<usize> {
    let error = Probe(path).deserialize(serde_yaml::Deserializer::from_str(text)).err()?;
    error.location().map(|l| l.line())
}

/// Walks to the end of its path and fails there.
struct Probe<'p, 'a>(&'p [PathStep<'a>]);

impl<'de> DeserializeSeed<'de> for Probe<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the value at the probed path")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let Some((PathStep::Key(wanted), rest)) = self.0.split_first() else {
            return Err(de::Error::custom("found"));
        };
        // Read to the end even when the path is not there: serde_yaml
        // reports a map or list left half-read as an error of its own.
        while let Some(key) = map.next_key::<String>()? {
            if key == *wanted {
                map.next_value_seed(Probe(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        let Some((PathStep::Index(wanted), rest)) = self.0.split_first() else {
            return Err(de::Error::custom("found"));
        };
        for index in 0.. {
            let more = if index == *wanted {
                seq.next_element_seed(Probe(rest))?.is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom("found"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom("found"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom("found"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom("found"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom("found"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom("found"))
    }
}

#[cfg(test)]
mod tests {
    use super::PathStep::{Index, Key};
    use super::*;

    const TEXT: &str = "\
source:
  connection_uri: postgres://h/db
  transformers:
    - database: public
      table: customers
      columns:
        - name: email
          transformer: email
        - name: phone
          transformer: phone-number
          options:
            format: '###'
bridge: {type: local}
";

    fn line(path: &[PathStep]) -> Option<usize> {
        line_of(TEXT, path)
    }

    #[test]
    fn lines_of_entries_and_fields_are_found() {
        let column = |i| [Key("source"), Key("transformers"), Index(0), Key("columns"), Index(i)];
        assert_eq!(line(&column(0)), Some(7));
        assert_eq!(line(&column(1)), Some(9));
        let [a, b, c, d, e] = column(1);
        assert_eq!(line(&[a, b, c, d, e, Key("transformer")]), Some(10));
        assert_eq!(line(&[a, b, c, d, e, Key("options")]), Some(12));
        assert_eq!(line(&[Key("source"), Key("transformers"), Index(0), Key("table")]), Some(5));
        assert_eq!(line(&[Key("source"), Key("transformers"), Index(3)]), None);
        assert_eq!(line(&[Key("nowhere")]), None);
    }
}
