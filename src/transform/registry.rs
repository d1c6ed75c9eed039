//! Every built-in transformer, by the name configs use.
//!
//! A [`Kind`] is what `replibyte transformer list` shows (name, summary,
//! options, accepted types) and how a transformer is built for one column.

use std::path::Path;

use serde_yaml::Value;

use super::key::{Key, Keys};
use super::types::{self, ColumnType, Type};
use super::{
    basic, card, contact, dictionary, hash, json, options, person, pseudonym, random, range, text, Transformer,
};

/// One built-in transformer.
pub struct Kind {
    /// The name written in `transformer:`.
    pub name: &'static str,
    /// One line for `transformer list`.
    pub summary: &'static str,
    /// `(option, what it does and its default)`.
    pub options: &'static [(&'static str, &'static str)],
    /// Whether the transformer can write a column of this (base) type:
    /// checked before any data moves.
    pub accepts: fn(&Type) -> bool,
    /// Builds the transformer for a column it accepts.
    pub build: fn(&Build) -> Result<Box<dyn Transformer>, String>,
}

/// What a transformer is built from.
pub struct Build<'a> {
    pub options: Option<&'a Value>,
    pub column: &'a ColumnType,
    /// The key of this transformer configuration.
    pub key: Key,
    /// The dump's keys, for transformers that build others (`json`).
    pub keys: &'a Keys,
    /// Where relative paths in options are resolved: the config file's
    /// folder.
    pub dir: &'a Path,
}

impl Kind {
    /// Builds this transformer for `column`, keyed by its name and options.
    ///
    /// # Errors
    /// A type the transformer does not accept, or invalid options; the
    /// message says what would be valid.
    pub fn build(
        &self,
        options: Option<&Value>,
        column: &ColumnType,
        keys: &Keys,
        dir: &Path,
    ) -> Result<Box<dyn Transformer>, String> {
        if !(self.accepts)(&column.ty) {
            return Err(format!(
                "transformer `{}` cannot write a column of type {}; it accepts {}",
                self.name,
                column.ty.name(),
                self.accepted_types()
            ));
        }
        let key = keys.derive(&format!("{}\0{}", self.name, options::canonical(options)));
        (self.build)(&Build { options, column, key, keys, dir })
    }

    /// The common column types this transformer accepts, for messages and
    /// `transformer list`.
    pub fn accepted_types(&self) -> String {
        // A type no transformer knows tells those that take anything.
        if (self.accepts)(&Type::INET) {
            return "every type".to_string();
        }
        let listed = types::listed();
        let accepted: Vec<&str> = listed.iter().filter(|t| (self.accepts)(t)).map(Type::name).collect();
        accepted.join(", ")
    }
}

/// Every built-in transformer, in the order `transformer list` shows them.
pub const ALL: &[Kind] = &[
    basic::TRANSIENT,
    basic::NULL,
    basic::CONSTANT,
    random::RANDOM,
    range::RANDOM_INT,
    range::RANDOM_NUMERIC,
    range::RANDOM_DATE,
    range::RANDOM_TIMESTAMP,
    person::FIRST_NAME,
    person::LAST_NAME,
    contact::EMAIL,
    contact::PHONE_NUMBER,
    card::CREDIT_CARD,
    text::KEEP_FIRST_CHAR,
    text::REDACTED,
    text::MASK,
    hash::HASH,
    hash::UUID,
    pseudonym::PSEUDONYM,
    json::JSON,
    dictionary::DICTIONARY,
];

/// The transformer called `name`.
pub fn find(name: &str) -> Option<&'static Kind> {
    ALL.iter().find(|k| k.name == name)
}

/// A one-line hint for an unknown transformer name: the closest known one,
/// or the list.
pub fn suggest(name: &str) -> String {
    match closest(name, ALL.iter().map(|k| k.name)) {
        Some(best) => format!("did you mean `{best}`? (`replibyte transformer list` shows them all)"),
        None => {
            let names: Vec<&str> = ALL.iter().map(|k| k.name).collect();
            format!("known transformers: {}", names.join(", "))
        }
    }
}

/// The name closest to `wanted`, if it is close enough to be a typo of it
/// (at most three edits).
pub(super) fn closest<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names.map(|n| (edit_distance(wanted, n), n)).filter(|(d, _)| *d <= 3).min().map(|(_, n)| n)
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        for kind in ALL {
            assert_eq!(find(kind.name).map(|k| k.name), Some(kind.name));
            assert!(!kind.accepted_types().is_empty(), "{} accepts nothing listed", kind.name);
        }
        let mut names: Vec<&str> = ALL.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        assert!(suggest("frist-name").contains("`first-name`"));
        assert!(suggest("zzzzzzzzzzzz").contains("known transformers: transient"));
    }

    #[test]
    fn a_type_mismatch_says_what_is_accepted() {
        let err = match find("email").unwrap().build(None, &ColumnType::of(Type::INT4), &Keys::random(), Path::new("."))
        {
            Err(e) => e,
            Ok(_) => panic!("email accepted an integer column"),
        };
        assert!(err.contains("cannot write a column of type int4; it accepts text, varchar, bpchar"), "{err}");
    }
}
