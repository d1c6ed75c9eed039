//! `credit-card`: card numbers that pass the Luhn check, so applications
//! that validate them keep working, with issuer prefixes that no real card
//! is guaranteed to have.

use serde::Deserialize;

use crate::transform::error::ValueError;
use crate::transform::key::Key;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::{options, types};

pub const CREDIT_CARD: Kind = Kind {
    name: "credit-card",
    summary: "a Luhn-valid card number (digits only)",
    options: &[("issuer", "visa (default, 16 digits), mastercard (16) or amex (15)")],
    accepts: types::is_text,
    build: build_card,
};

/// An issuer's number layout: the prefixes it starts with and its length.
struct Issuer {
    name: &'static str,
    prefixes: &'static [&'static str],
    length: usize,
}

const ISSUERS: &[Issuer] = &[
    Issuer { name: "visa", prefixes: &["4"], length: 16 },
    Issuer { name: "mastercard", prefixes: &["51", "52", "53", "54", "55"], length: 16 },
    Issuer { name: "amex", prefixes: &["34", "37"], length: 15 },
];

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardOptions {
    issuer: Option<String>,
}

struct CreditCard {
    key: Key,
    issuer: &'static Issuer,
}

fn build_card(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: CardOptions = options::parse(build.options)?;
    let wanted = options.issuer.as_deref().unwrap_or("visa").to_ascii_lowercase();
    let issuer = ISSUERS
        .iter()
        .find(|i| i.name == wanted)
        .ok_or_else(|| format!("unknown issuer {wanted:?}; use visa, mastercard or amex"))?;
    Ok(Box::new(CreditCard { key: build.key.clone(), issuer }))
}

/// The Luhn check digit of `payload` (ASCII digits): the digit that makes
/// `payload` followed by it pass the check.
fn luhn_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            // Counting from the check digit (position 0), every second
            // digit is doubled: here, the even positions of the payload.
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

impl Transformer for CreditCard {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let mut draw = self.key.draw(input);
        let start = out.len();
        out.extend_from_slice(draw.pick(self.issuer.prefixes).as_bytes());
        while out.len() - start < self.issuer.length - 1 {
            out.push(b'0' + draw.small(10) as u8);
        }
        let check = luhn_digit(&out[start..]);
        out.push(check);
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        // 14 free digits at most: about 46 bits, too few to promise
        // uniqueness over millions of rows.
        Guarantees::at_most(self.issuer.length)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::{ColumnType, Type};

    fn luhn_valid(number: &str) -> bool {
        let (payload, check) = number.as_bytes().split_at(number.len() - 1);
        luhn_digit(payload) == check[0]
    }

    #[test]
    fn known_numbers_pass_the_check() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5555555555554444"));
        assert!(luhn_valid("378282246310005"));
        assert!(!luhn_valid("4111111111111112"));
    }

    #[test]
    fn generated_numbers_are_luhn_valid_with_the_issuer_layout() {
        for (issuer, length, first) in [("visa", 16, '4'), ("mastercard", 16, '5'), ("amex", 15, '3')] {
            let options: serde_yaml::Value = serde_yaml::from_str(&format!("issuer: {issuer}")).unwrap();
            let t = CREDIT_CARD
                .build(Some(&options), &ColumnType::of(Type::TEXT), &Keys::random(), Path::new("."), no_lookup)
                .unwrap();
            for i in 0u32..300 {
                let mut out = Vec::new();
                t.apply(Some(&i.to_be_bytes()), &mut out).unwrap();
                let number = String::from_utf8(out).unwrap();
                assert_eq!(number.len(), length, "{number}");
                assert!(number.starts_with(first) && luhn_valid(&number), "{number}");
            }
        }
    }
}
