//! Contact details: `email` and `phone-number`.

use fake::locales::{Data, EN};
use serde::Deserialize;

use super::person::english;
use crate::transform::error::ValueError;
use crate::transform::key::{Draw, Key};
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::{options, types};

pub const EMAIL: Kind = Kind {
    name: "email",
    summary: "first.last.tag@example.org: valid, lower case, unique (64-bit keyed tag)",
    options: &[(
        "domain",
        "the domain after @ (default: example.com, example.net or example.org, reserved by RFC 2606)",
    )],
    accepts: types::is_text,
    build: build_email,
};

pub const PHONE_NUMBER: Kind = Kind {
    name: "phone-number",
    summary: "a phone number in a format of the fake crate's (or yours)",
    options: &[(
        "format",
        "a pattern where # is a digit and ^ a digit 1-9, e.g. +33 6 ## ## ## ## (default: US formats)",
    )],
    accepts: types::is_text,
    build: build_phone,
};

/// Domains that can never receive mail (RFC 2606): a staging database that
/// sends email reaches nobody.
const SAFE_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

/// Characters of the tag: lower-case base32, so the address stays valid
/// and case-insensitive comparisons (`lower(email)` indexes) keep it unique.
const TAG_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// 13 base32 characters carry the 64 bits of the tag.
const TAG_CHARS: usize = 13;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailOptions {
    domain: Option<String>,
}

struct Email {
    key: Key,
    /// The English first and last names as they appear in a local part,
    /// prepared once (see [`local_part`]).
    first: Vec<String>,
    last: Vec<String>,
    domains: Vec<String>,
}

fn build_email(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: EmailOptions = options::parse(build.options)?;
    let domains = match options.domain {
        Some(domain) => {
            let valid = !domain.is_empty()
                && domain
                    .split('.')
                    .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            if !valid {
                return Err(format!("{domain:?} is not a domain name (e.g. staging.example.com)"));
            }
            vec![domain.to_ascii_lowercase()]
        }
        None => SAFE_DOMAINS.iter().map(|d| d.to_string()).collect(),
    };
    let (first, last) = english();
    let local_parts = |names: &[&str]| names.iter().map(|name| local_part(name)).collect();
    Ok(Box::new(Email { key: build.key.clone(), first: local_parts(first), last: local_parts(last), domains }))
}

/// A name as it goes into the local part of an address: its ASCII letters
/// and digits, in lower case.
fn local_part(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The longest of `parts`, in bytes (they are ASCII).
fn longest_part(parts: &[String]) -> usize {
    parts.iter().map(String::len).max().unwrap_or(0)
}

/// The next 64 bits of the draw as [`TAG_CHARS`] base32 characters.
fn tag(draw: &mut Draw) -> [u8; TAG_CHARS] {
    let mut bits = draw.u64();
    let mut out = [0u8; TAG_CHARS];
    for c in &mut out {
        *c = TAG_ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    out
}

impl Transformer for Email {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let mut draw = self.key.draw(input);
        // The tag comes first from the stream, so its 64 bits are the same
        // whatever the names and domains.
        let tag = tag(&mut draw);
        // Names and domain carry no uniqueness (the tag does): small
        // choices, cut from one 64-bit draw.
        out.extend_from_slice(draw.pick_small(&self.first).as_bytes());
        out.push(b'.');
        out.extend_from_slice(draw.pick_small(&self.last).as_bytes());
        out.push(b'.');
        out.extend_from_slice(&tag);
        out.push(b'@');
        out.extend_from_slice(draw.pick_small(&self.domains).as_bytes());
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        let domain = self.domains.iter().map(String::len).max().unwrap_or(0);
        let max = longest_part(&self.first) + 1 + longest_part(&self.last) + 1 + TAG_CHARS + 1 + domain;
        Guarantees::at_most(max).unique(64)
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneOptions {
    format: Option<String>,
}

struct Phone {
    key: Key,
    formats: Vec<String>,
}

fn build_phone(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: PhoneOptions = options::parse(build.options)?;
    let formats = match options.format {
        Some(format) if format.contains(['#', '^']) => vec![format],
        Some(format) => return Err(format!("format {format:?} has no # or ^ to fill with digits")),
        None => EN::PHONE_NUMBER_FORMATS.iter().map(|f| f.to_string()).collect(),
    };
    Ok(Box::new(Phone { key: build.key.clone(), formats }))
}

/// Bits a filled format carries: log2(10) per `#`, log2(9) per `^`.
fn format_bits(format: &str) -> u32 {
    let bits: f64 = format
        .chars()
        .map(|c| match c {
            '#' => 10f64.log2(),
            '^' => 9f64.log2(),
            _ => 0.0,
        })
        .sum();
    bits.floor() as u32
}

impl Transformer for Phone {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let mut draw = self.key.draw(input);
        let format = draw.pick_small(&self.formats);
        for c in format.bytes() {
            match c {
                b'#' => out.push(b'0' + draw.small(10) as u8),
                b'^' => out.push(b'1' + draw.small(9) as u8),
                other => out.push(other),
            }
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        let max = self.formats.iter().map(|f| f.chars().count()).max().unwrap_or(0);
        let bits = self.formats.iter().map(|f| format_bits(f)).min().unwrap_or(0);
        Guarantees::at_most(max).unique(bits)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::{ColumnType, Type};

    fn transformer(kind: &Kind, options: &str, keys: &Keys) -> Box<dyn Transformer> {
        let options: Option<serde_yaml::Value> = serde_yaml::from_str(options).ok();
        kind.build(options.as_ref(), &ColumnType::of(Type::TEXT), keys, Path::new("."), no_lookup).unwrap()
    }

    fn apply(t: &dyn Transformer, input: &str) -> String {
        let mut out = Vec::new();
        t.apply(Some(input.as_bytes()), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn emails_are_valid_unique_and_deterministic() {
        let keys = Keys::from_secret("s");
        let email = transformer(&EMAIL, "", &keys);
        let mut seen = HashSet::new();
        for i in 0..5000 {
            let out = apply(email.as_ref(), &format!("user{i}@corp.test"));
            let (local, domain) = out.split_once('@').unwrap();
            assert!(SAFE_DOMAINS.contains(&domain), "{out}");
            assert!(local.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'), "{out}");
            assert!(
                out.chars().count()
                    <= match email.guarantees().length {
                        crate::transform::spec::Length::AtMost(n) => n,
                        _ => unreachable!(),
                    }
            );
            assert!(seen.insert(out));
        }
        assert_eq!(apply(email.as_ref(), "a@b.c"), apply(transformer(&EMAIL, "", &keys).as_ref(), "a@b.c"));
        let other = transformer(&EMAIL, "", &Keys::from_secret("t"));
        assert_ne!(apply(email.as_ref(), "a@b.c"), apply(other.as_ref(), "a@b.c"));
        assert_eq!(email.guarantees().unique_bits, 64);
    }

    #[test]
    fn email_domains_can_be_chosen_and_are_checked() {
        let email = transformer(&EMAIL, "domain: Staging.Example.com", &Keys::random());
        assert!(apply(email.as_ref(), "x").ends_with("@staging.example.com"));
        let bad: serde_yaml::Value = serde_yaml::from_str("domain: 'a..b'").unwrap();
        let err = EMAIL.build(Some(&bad), &ColumnType::of(Type::TEXT), &Keys::random(), Path::new("."), no_lookup);
        assert!(err.err().unwrap().contains("is not a domain name"));
    }

    #[test]
    fn phone_numbers_follow_their_format() {
        let phone = transformer(&PHONE_NUMBER, "format: '+33 6 ## ## ## ##'", &Keys::random());
        let out = apply(phone.as_ref(), "+33 6 12 34 56 78");
        assert_eq!(out.len(), 17);
        assert!(out.starts_with("+33 6 ") && out[6..].bytes().all(|b| b.is_ascii_digit() || b == b' '), "{out}");
        let default = transformer(&PHONE_NUMBER, "", &Keys::random());
        let out = apply(default.as_ref(), "555-1234");
        assert!(out.bytes().filter(u8::is_ascii_digit).count() >= 10, "{out}");
        assert!(default.guarantees().unique_bits < crate::transform::spec::UNIQUE_BITS);
        assert_eq!(format_bits("####################"), 66);
    }
}
