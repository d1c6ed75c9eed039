//! The binary form of `numeric`, which postgres-types does not cover.
//!
//! A header of four 16-bit words (number of digits, weight, sign, display
//! scale) and then the digits, in base 10000, most significant first: the
//! value is `Σ digit[i] · 10000^(weight − i)`. PostgreSQL's `numeric_recv`
//! accepts digits that are not normalized (leading or trailing zero groups)
//! and normalizes them itself.

use super::error::ValueError;
use super::key::Draw;

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const HEADER: usize = 8;

/// Appends the numeric `±digits / 10^scale`, where `digits` are ASCII
/// decimal digits (no sign, no point), normalized as PostgreSQL sends it.
pub fn encode(negative: bool, digits: &[u8], scale: u16, out: &mut Vec<u8>) {
    let scale = usize::from(scale);
    // Align on base-10000 groups: the decimal point must fall between two
    // groups, so pad the integer part on the left and the fraction on the
    // right to multiples of four (with zeros before the digits when the
    // fraction is longer than the digits).
    let int_len = digits.len().saturating_sub(scale);
    let int_pad = (4 - int_len % 4) % 4;
    let lead = int_pad + scale.saturating_sub(digits.len());
    let padded_len = lead + digits.len() + (4 - scale % 4) % 4;
    let digit_at = |i: usize| match i.checked_sub(lead).and_then(|i| digits.get(i)) {
        Some(d) => u16::from(d - b'0'),
        None => 0,
    };
    let group = |g: usize| (0..4).fold(0u16, |acc, k| acc * 10 + digit_at(g * 4 + k));
    let groups = padded_len / 4;
    // Leading and trailing zero groups are left out, as numeric_send does.
    let first = (0..groups).find(|&g| group(g) != 0);
    let (first, last) = match first {
        Some(first) => (first, (0..groups).rfind(|&g| group(g) != 0).expect("a non-zero group exists")),
        None => (0, 0),
    };
    let count = if group(first) == 0 { 0 } else { last - first + 1 };
    let weight = ((int_pad + int_len) / 4) as i32 - 1 - first as i32;
    let sign = if negative && count > 0 { NEGATIVE } else { POSITIVE };
    out.extend_from_slice(&(count as i16).to_be_bytes());
    out.extend_from_slice(&(if count == 0 { 0 } else { weight as i16 }).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for g in first..first + count {
        out.extend_from_slice(&group(g).to_be_bytes());
    }
}

/// Appends a decimal written as text (`-12.50`, `3`, `.5`).
///
/// # Errors
/// Text that is not a plain decimal number.
pub fn encode_text(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty() || !is_digits(int) || !is_digits(frac) {
        return Err(format!("{text:?} is not a decimal number"));
    }
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let scale = u16::try_from(frac.len()).map_err(|_| format!("{text:?} has too many decimals"))?;
    encode(negative, &digits, scale, out);
    Ok(())
}

/// Appends a random numeric with the shape of `field`: same sign, same
/// number of integer digits, same display scale; NaN and infinities are
/// kept.
///
/// # Errors
/// A malformed field.
pub fn randomize(field: &[u8], draw: &mut Draw, out: &mut Vec<u8>) -> Result<(), ValueError> {
    let bad = || ValueError::new("malformed numeric field");
    let word = |at: usize| field.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(bad);
    let ndigits = usize::from(word(0)?);
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let dscale = i32::from(word(6)?);
    if field.len() != HEADER + 2 * ndigits {
        return Err(bad());
    }
    out.extend_from_slice(&field[..HEADER]);
    if sign != POSITIVE && sign != NEGATIVE {
        return Ok(()); // NaN, ±Infinity: no digits to hide.
    }
    for i in 0..ndigits {
        let group = word(HEADER + 2 * i)?;
        // Decimal places this group holds (4, or fewer in the last group of
        // the fraction): the rest must stay zero to respect the scale.
        let exponent = weight - i as i32;
        let used = if exponent >= 0 { 4 } else { (dscale + 4 * (exponent + 1)).clamp(0, 4) };
        let unit = 10u16.pow((4 - used) as u32);
        let significant = group / unit;
        let new = if i == 0 && significant > 0 {
            // The leading group keeps its number of digits, hence the
            // value's magnitude (and the column's precision holds).
            let low = 10u64.pow(significant.ilog10());
            (low + draw.below(low * 9)) as u16 * unit
        } else {
            draw.below(10u64.pow(used as u32)) as u16 * unit
        };
        out.extend_from_slice(&new.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::transform::key::Keys;

    /// The decimal text of a binary numeric (tests only: replibyte never
    /// needs to print one).
    pub fn to_text(field: &[u8]) -> String {
        let word = |at: usize| u16::from_be_bytes([field[at], field[at + 1]]);
        let (ndigits, weight, sign, dscale) =
            (usize::from(word(0)), word(2) as i16 as i32, word(4), usize::from(word(6)));
        let mut int = String::new();
        let mut frac = String::new();
        for w in (0..=weight.max(0)).rev().map(|e| weight - e) {
            let g = if (0..ndigits as i32).contains(&w) { word(HEADER + 2 * w as usize) } else { 0 };
            int.push_str(&format!("{g:04}"));
        }
        for i in 0..(dscale.div_ceil(4)) {
            let idx = weight + 1 + i as i32;
            let g = if (0..ndigits as i32).contains(&idx) { word(HEADER + 2 * idx as usize) } else { 0 };
            frac.push_str(&format!("{g:04}"));
        }
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let sign = if sign == NEGATIVE { "-" } else { "" };
        if dscale == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{}", &frac[..dscale])
        }
    }

    fn round_trip(text: &str) -> String {
        let mut out = Vec::new();
        encode_text(text, &mut out).unwrap();
        to_text(&out)
    }

    #[test]
    fn decimals_encode_as_postgresql_does() {
        // numeric_send of 1234.5 (scale 1): ndigits 2, weight 0, digits 1234, 5000.
        let mut out = Vec::new();
        encode_text("1234.5", &mut out).unwrap();
        assert_eq!(out, [0, 2, 0, 0, 0, 0, 0, 1, 0x04, 0xd2, 0x13, 0x88]);
        assert_eq!(round_trip("0"), "0");
        assert_eq!(round_trip("-0.00"), "0.00");
        assert_eq!(round_trip("-12.50"), "-12.50");
        assert_eq!(round_trip("123456789.0001"), "123456789.0001");
        assert_eq!(round_trip(".5"), "0.5");
        assert_eq!(round_trip("0.00001"), "0.00001");
        let mut tiny = Vec::new();
        encode(false, b"7", 6, &mut tiny);
        assert_eq!(to_text(&tiny), "0.000007");
        assert!(encode_text("1e5", &mut out).is_err());
        assert!(encode_text("-", &mut out).is_err());
    }

    #[test]
    fn random_numerics_keep_sign_magnitude_and_scale() {
        let key = Keys::from_secret("n").derive("random");
        for text in ["1234.56", "-7.5", "12345678.90", "0.07", "5"] {
            let mut field = Vec::new();
            encode_text(text, &mut field).unwrap();
            for i in 0u8..50 {
                let mut out = Vec::new();
                randomize(&field, &mut key.draw(&[i]), &mut out).unwrap();
                let got = to_text(&out);
                let (a, b) = (text.split_once('.'), got.split_once('.'));
                assert_eq!(a.map(|(i, f)| (i.len(), f.len())), b.map(|(i, f)| (i.len(), f.len())), "{text} -> {got}");
                assert_eq!(text.starts_with('-'), got.starts_with('-'));
            }
        }
    }
}
