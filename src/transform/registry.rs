//! Every built-in transformer, by the name configs use.
//!
//! A [`Kind`] is what `replibyte transformer list` shows (name, summary,
//! options, accepted types) and how a transformer is built for one column.
//! The registry stands above the kinds: it imports them, they never import
//! it (`json` gets [`lookup`] through its build context).

use super::kinds::{basic, card, contact, dictionary, hash, json, person, pseudonym, random, range, text};
use super::spec::Kind;

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

/// The transformer called `name`.
///
/// # Errors
/// An unknown name, with a hint: the closest known one, or the list.
pub fn lookup(name: &str) -> Result<&'static Kind, String> {
    find(name).ok_or_else(|| format!("unknown transformer `{name}`; {}", suggest(name)))
}

/// A one-line hint for an unknown transformer name: the closest known one,
/// or the list.
fn suggest(name: &str) -> String {
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
    use std::path::Path;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::types::{ColumnType, Type};

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
        let email = find("email").unwrap();
        let err = match email.build(None, &ColumnType::of(Type::INT4), &Keys::random(), Path::new("."), lookup) {
            Err(e) => e,
            Ok(_) => panic!("email accepted an integer column"),
        };
        assert!(err.contains("cannot write a column of type int4; it accepts text, varchar, bpchar"), "{err}");
    }
}
