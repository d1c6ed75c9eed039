//! People's names: `first-name` and `last-name`, from the fake crate's
//! locale data.
//!
//! The name is picked by the keyed hash of the input, not by a random
//! generator: the same input always gets the same name under one secret,
//! so a first name found in two tables gets the same fake in both.

use fake::locales::{
    Data, AR_SA, CY_GB, DE_DE, EN, FA_IR, FR_FR, IT_IT, JA_JP, NL_NL, PT_BR, PT_PT, TR_TR, ZH_CN, ZH_TW,
};
use serde::Deserialize;

use crate::transform::error::ValueError;
use crate::transform::key::Key;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::{options, types};

type Names = &'static [&'static str];

/// `(locale option, first names, last names)`.
const LOCALES: &[(&str, Names, Names)] = &[
    ("en", EN::NAME_FIRST_NAME, EN::NAME_LAST_NAME),
    ("fr_fr", FR_FR::NAME_FIRST_NAME, FR_FR::NAME_LAST_NAME),
    ("de_de", DE_DE::NAME_FIRST_NAME, DE_DE::NAME_LAST_NAME),
    ("it_it", IT_IT::NAME_FIRST_NAME, IT_IT::NAME_LAST_NAME),
    ("nl_nl", NL_NL::NAME_FIRST_NAME, NL_NL::NAME_LAST_NAME),
    ("pt_br", PT_BR::NAME_FIRST_NAME, PT_BR::NAME_LAST_NAME),
    ("pt_pt", PT_PT::NAME_FIRST_NAME, PT_PT::NAME_LAST_NAME),
    ("tr_tr", TR_TR::NAME_FIRST_NAME, TR_TR::NAME_LAST_NAME),
    ("cy_gb", CY_GB::NAME_FIRST_NAME, CY_GB::NAME_LAST_NAME),
    ("ar_sa", AR_SA::NAME_FIRST_NAME, AR_SA::NAME_LAST_NAME),
    ("fa_ir", FA_IR::NAME_FIRST_NAME, FA_IR::NAME_LAST_NAME),
    ("ja_jp", JA_JP::NAME_FIRST_NAME, JA_JP::NAME_LAST_NAME),
    ("zh_cn", ZH_CN::NAME_FIRST_NAME, ZH_CN::NAME_LAST_NAME),
    ("zh_tw", ZH_TW::NAME_FIRST_NAME, ZH_TW::NAME_LAST_NAME),
];

const LOCALE_OPTION: (&str, &str) = (
    "locale",
    "en (default), fr_fr, de_de, it_it, nl_nl, pt_br, pt_pt, tr_tr, cy_gb, ar_sa, fa_ir, ja_jp, zh_cn, zh_tw",
);

pub const FIRST_NAME: Kind = Kind {
    name: "first-name",
    summary: "a first name (fake crate data), the same for the same input",
    options: &[LOCALE_OPTION],
    accepts: types::is_text,
    build: |build| Pick::build(build, |(_, first, _)| first),
};

pub const LAST_NAME: Kind = Kind {
    name: "last-name",
    summary: "a last name (fake crate data), the same for the same input",
    options: &[LOCALE_OPTION],
    accepts: types::is_text,
    build: |build| Pick::build(build, |(_, _, last)| last),
};

/// The English first and last names, for transformers that compose them.
pub fn english() -> (Names, Names) {
    (EN::NAME_FIRST_NAME, EN::NAME_LAST_NAME)
}

/// The longest entry of a list, in characters.
pub fn longest(names: Names) -> usize {
    names.iter().map(|n| n.chars().count()).max().unwrap_or(0)
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameOptions {
    locale: Option<String>,
}

/// Picks an entry of a list by the input's keyed hash.
struct Pick {
    key: Key,
    names: Names,
}

impl Pick {
    fn build(build: &Build, list: fn(&(&str, Names, Names)) -> Names) -> Result<Box<dyn Transformer>, String> {
        let options: NameOptions = options::parse(build.options)?;
        let wanted = options.locale.as_deref().unwrap_or("en").to_ascii_lowercase();
        let locale = LOCALES
            .iter()
            .find(|(name, _, _)| *name == wanted)
            .ok_or_else(|| format!("unknown locale {wanted:?}; {}", LOCALE_OPTION.1.replace(" (default)", "")))?;
        Ok(Box::new(Pick { key: build.key.clone(), names: list(locale) }))
    }
}

impl Transformer for Pick {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        out.extend_from_slice(self.key.draw(input).pick(self.names).as_bytes());
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::at_most(longest(self.names))
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

    fn apply(kind: &Kind, options: &str, keys: &Keys, input: &str) -> String {
        let options: Option<serde_yaml::Value> = serde_yaml::from_str(options).ok();
        let t = kind.build(options.as_ref(), &ColumnType::of(Type::VARCHAR), keys, Path::new("."), no_lookup).unwrap();
        let mut out = Vec::new();
        assert_eq!(t.apply(Some(input.as_bytes()), &mut out).unwrap(), Field::Value);
        String::from_sql(&Type::VARCHAR, &out).unwrap()
    }

    #[test]
    fn names_come_from_the_locale_and_are_deterministic() {
        let keys = Keys::from_secret("s");
        let first = apply(&FIRST_NAME, "", &keys, "Alice");
        assert!(EN::NAME_FIRST_NAME.contains(&first.as_str()), "{first}");
        assert_eq!(first, apply(&FIRST_NAME, "", &keys, "Alice"));
        let french = apply(&FIRST_NAME, "locale: fr_fr", &keys, "Alice");
        assert!(FR_FR::NAME_FIRST_NAME.contains(&french.as_str()), "{french}");
        let last = apply(&LAST_NAME, "", &keys, "Smith");
        assert!(EN::NAME_LAST_NAME.contains(&last.as_str()), "{last}");
        let spread: std::collections::HashSet<String> =
            (0..200).map(|i| apply(&FIRST_NAME, "", &keys, &format!("n{i}"))).collect();
        assert!(spread.len() > 150, "only {} distinct names", spread.len());
    }

    #[test]
    fn nulls_stay_null_and_locales_are_checked() {
        let t =
            FIRST_NAME.build(None, &ColumnType::of(Type::TEXT), &Keys::random(), Path::new("."), no_lookup).unwrap();
        assert_eq!(t.apply(None, &mut Vec::new()).unwrap(), Field::Null);
        let bad: serde_yaml::Value = serde_yaml::from_str("locale: xx").unwrap();
        let err = FIRST_NAME.build(Some(&bad), &ColumnType::of(Type::TEXT), &Keys::random(), Path::new("."), no_lookup);
        assert!(err.err().unwrap().contains("unknown locale \"xx\""));
    }
}
