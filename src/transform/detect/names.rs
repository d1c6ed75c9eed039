//! The first and last names of the fake crate's locales, as one set: a
//! value made of such words is taken for a person's name.

use std::collections::HashSet;
use std::sync::OnceLock;

use fake::locales::{Data, DE_DE, EN, FR_FR, IT_IT, NL_NL, PT_BR, PT_PT};

/// Whether `word` is a known first or last name (any case).
pub fn is_name(word: &str) -> bool {
    static NAMES: OnceLock<HashSet<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let lists: [&[&str]; 14] = [
            EN::NAME_FIRST_NAME,
            EN::NAME_LAST_NAME,
            FR_FR::NAME_FIRST_NAME,
            FR_FR::NAME_LAST_NAME,
            DE_DE::NAME_FIRST_NAME,
            DE_DE::NAME_LAST_NAME,
            IT_IT::NAME_FIRST_NAME,
            IT_IT::NAME_LAST_NAME,
            NL_NL::NAME_FIRST_NAME,
            NL_NL::NAME_LAST_NAME,
            PT_BR::NAME_FIRST_NAME,
            PT_BR::NAME_LAST_NAME,
            PT_PT::NAME_FIRST_NAME,
            PT_PT::NAME_LAST_NAME,
        ];
        lists.iter().flat_map(|l| l.iter()).map(|n| n.to_lowercase()).collect()
    });
    word.len() >= 2 && names.contains(&word.to_lowercase())
}
