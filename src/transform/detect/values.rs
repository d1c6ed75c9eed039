//! What one value looks like: each recognizer says whether a string is an
//! email address, a phone number, … by its shape and checksums, never by
//! remembering it. A recognizer errs towards "no": a column is flagged on
//! what most of its sampled values are, not on one lookalike.

use std::net::IpAddr;

use super::names;

/// An email address: `local@domain.tld`, no spaces.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else { return false };
    let Some((host, tld)) = domain.rsplit_once('.') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !host.is_empty()
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && !value.chars().any(char::is_whitespace)
        && !domain.contains('@')
        && !host.starts_with('.')
}

/// A phone number: digits with the usual separators (`+`, spaces, dashes,
/// dots, parentheses), 7 to 15 digits, written with at least one of them.
/// Bare digit strings are left to identifiers; dates and IP addresses are
/// not phones.
pub fn is_phone(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit() || b"+ ()-./".contains(&b)) {
        return false;
    }
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let formatted = value.bytes().any(|b| b"+ ()-./".contains(&b));
    let plus = value.starts_with('+') && value[1..].bytes().all(|b| b != b'+');
    (7..=15).contains(&digits) && formatted && (plus || !value.contains('+')) && !is_date(value) && !is_ip(value)
}

/// A US social security number: `AAA-GG-SSSS` with a valid area, group and
/// serial.
pub fn is_ssn(value: &str) -> bool {
    let b = value.trim().as_bytes();
    if b.len() != 11 || b[3] != b'-' || b[6] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..3) && digits(4..6) && digits(7..11)) {
        return false;
    }
    let area = &b[0..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &b[4..6] != b"00" && &b[7..11] != b"0000"
}

/// A payment card number: 13 to 19 digits (spaces or dashes allowed), a
/// known issuer prefix and a valid Luhn check digit.
pub fn is_card(value: &str) -> bool {
    let value = value.trim();
    if !value.bytes().all(|b| b.is_ascii_digit() || b == b' ' || b == b'-') {
        return false;
    }
    let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    (13..=19).contains(&digits.len()) && known_issuer(&digits) && luhn(&digits)
}

fn known_issuer(d: &[u8]) -> bool {
    let prefix = |n: usize| d.iter().take(n).fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    d[0] == 4
        || (51..=55).contains(&prefix(2))
        || (2221..=2720).contains(&prefix(4))
        || matches!(prefix(2), 34 | 37 | 36 | 38 | 65)
        || prefix(4) == 6011
        || (644..=649).contains(&prefix(3))
        || (3528..=3589).contains(&prefix(4))
        || (300..=305).contains(&prefix(3))
}

/// The Luhn check over digits (0-9 each).
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// An IBAN: country letters, check digits and up to 30 letters or digits
/// (spaces allowed), whose mod-97 check is 1.
pub fn is_iban(value: &str) -> bool {
    let compact: Vec<u8> = value.bytes().filter(|b| *b != b' ').map(|b| b.to_ascii_uppercase()).collect();
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    // Move the first four to the end, letters as 10-35, mod 97 digit by digit.
    let mut remainder = 0u32;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        let value = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    remainder == 1
}

/// An IPv4 or IPv6 address (an `inet`'s `/prefix` allowed).
pub fn is_ip(value: &str) -> bool {
    let address = value.trim().split('/').next().unwrap_or_default();
    // Dotted quads only: "1.2" also parses as a number elsewhere.
    (address.contains('.') && address.split('.').count() == 4 || address.contains(':'))
        && address.parse::<IpAddr>().is_ok()
}

/// A person's name: one to four words, each a first or last name the
/// dictionary knows.
pub fn is_person_name(value: &str) -> bool {
    let words: Vec<&str> = value.split_whitespace().collect();
    (1..=4).contains(&words.len())
        && words.iter().all(|w| names::is_name(w.trim_matches(|c: char| c == ',' || c == '.')))
}

/// Street words an address line carries beside its number.
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "ln",
    "drive",
    "dr",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "terrace",
    "square",
    "sq",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
    "rue",
    "strasse",
    "straße",
    "via",
    "calle",
    "avenida",
    "chemin",
    "allee",
    "allée",
];

/// A postal address line: a house number and a street word.
pub fn is_address(value: &str) -> bool {
    let words: Vec<String> = value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.').to_lowercase())
        .collect();
    let number = words.iter().any(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.len() <= 6);
    (2..=16).contains(&words.len()) && number && words.iter().any(|w| STREET_WORDS.contains(&w.as_str()))
}

/// `YYYY-MM-DD` at the start (a date, or a timestamp's text).
pub fn date_of(value: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(value.get(..10)?, "%Y-%m-%d").ok()
}

fn is_date(value: &str) -> bool {
    date_of(value).is_some()
        || chrono::NaiveDate::parse_from_str(value, "%d/%m/%Y").is_ok()
        || chrono::NaiveDate::parse_from_str(value, "%m/%d/%Y").is_ok()
        || chrono::NaiveDate::parse_from_str(value, "%d.%m.%Y").is_ok()
}

/// What kinds of personal data appear inside a longer text (a note, a
/// message): emails, phones, social security and card numbers, IBANs, IP
/// addresses.
pub fn found_in_text(text: &str) -> Vec<super::Category> {
    use super::Category;
    let mut found = Vec::new();
    let mut push = |c: Category| {
        if !found.contains(&c) {
            found.push(c);
        }
    };
    for word in text.split_whitespace() {
        let word =
            word.trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '(' | ')' | '<' | '>' | '"' | '\'' | '!' | '?'));
        let word = word.strip_suffix('.').unwrap_or(word);
        if is_email(word) {
            push(Category::Email);
        } else if is_ssn(word) {
            push(Category::NationalId);
        } else if is_ip(word) {
            push(Category::IpAddress);
        } else if is_iban(word) {
            push(Category::Iban);
        }
    }
    // Numbers that span words: runs of digits and separators.
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_digit() || "+ ()-.".contains(c) {
            run.push(c);
            continue;
        }
        let candidate = run.trim().trim_end_matches('.');
        if candidate.bytes().filter(u8::is_ascii_digit).count() >= 7 {
            if is_card(candidate) {
                push(Category::PaymentCard);
            } else if is_phone(candidate) {
                push(Category::Phone);
            }
        }
        run.clear();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::detect::Category;

    #[test]
    fn shapes_and_checksums() {
        assert!(is_email("ada@example.org") && !is_email("ada@example") && !is_email("a b@example.org"));
        assert!(!is_email("@example.org") && !is_email("x@@example.org"));
        assert!(is_phone("+1-555-0100-234") && is_phone("(555) 010 0234") && is_phone("06.12.34.56.78"));
        assert!(
            !is_phone("5550100234") && !is_phone("2024-05-01") && !is_phone("192.168.10.200") && !is_phone("1.2.3")
        );
        assert!(is_ssn("123-45-6789") && !is_ssn("000-45-6789") && !is_ssn("666-45-6789") && !is_ssn("123-00-6789"));
        assert!(is_card("4111 1111 1111 1111") && is_card("5500-0000-0000-0004") && is_card("378282246310005"));
        assert!(!is_card("4111 1111 1111 1112") && !is_card("1234567812345670"));
        assert!(is_iban("FR76 3000 6000 0112 3456 7890 189") && is_iban("DE89370400440532013000"));
        assert!(!is_iban("DE89370400440532013001") && !is_iban("FR"));
        assert!(is_ip("192.168.1.20") && is_ip("10.0.0.0/8") && is_ip("2001:db8::1") && !is_ip("1.2") && !is_ip("abc"));
        assert!(is_address("12 Main Street") && is_address("221B Baker St., London") && !is_address("Main Street"));
        assert!(is_person_name("Mary Johnson") && is_person_name("james") && !is_person_name("Blue Widget 3000"));
    }

    #[test]
    fn personal_data_inside_text() {
        let note = "Customer called from +33 6 12 34 56 78, wants a refund to jane.doe@example.org.";
        let found = found_in_text(note);
        assert!(found.contains(&Category::Phone) && found.contains(&Category::Email), "{found:?}");
        assert_eq!(found_in_text("Card 4111-1111-1111-1111 declined"), vec![Category::PaymentCard]);
        assert!(found_in_text("Shipped in 3 boxes, order 12 of 2024-05-01.").is_empty());
    }
}
