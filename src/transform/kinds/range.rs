//! Uniform values in a configured range: `random-int`, `random-numeric`,
//! `random-date` and `random-timestamp`. A range that the column's type
//! cannot hold is an error before any data moves.

use serde::Deserialize;

use crate::transform::error::ValueError;
use crate::transform::key::Key;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::types::{parse_instant, Instant, Int, Type, DAY_MICROS};
use crate::transform::{numeric, options};

pub const RANDOM_INT: Kind = Kind {
    name: "random-int",
    summary: "a whole number between min and max",
    options: &[
        ("min", "smallest value (default: the type's smallest)"),
        ("max", "largest value (default: the type's largest)"),
    ],
    accepts: |ty| Int::of(ty).is_some() || *ty == Type::NUMERIC,
    build: build_int,
};

pub const RANDOM_NUMERIC: Kind = Kind {
    name: "random-numeric",
    summary: "a decimal number between min and max with a fixed number of decimals",
    options: &[
        ("min", "smallest value (default 0)"),
        ("max", "largest value (default 1000)"),
        ("scale", "decimals (default 2, at most 12)"),
    ],
    accepts: |ty| [Type::NUMERIC, Type::FLOAT4, Type::FLOAT8].contains(ty),
    build: build_numeric,
};

pub const RANDOM_DATE: Kind = Kind {
    name: "random-date",
    summary: "a date between min and max (a timestamp keeps its time of day)",
    options: &[("min", "first date (default 1950-01-01)"), ("max", "last date (default 2005-12-31)")],
    accepts: |ty| Instant::of(ty).is_some(),
    build: build_date,
};

pub const RANDOM_TIMESTAMP: Kind = Kind {
    name: "random-timestamp",
    summary: "an instant between min and max, to the microsecond (UTC)",
    options: &[
        ("min", "first instant, e.g. 2020-01-01 or 2020-01-01T08:00:00Z (default 1970-01-01)"),
        ("max", "last instant (default 2030-12-31 23:59:59)"),
    ],
    accepts: |ty| Instant::of(ty).is_some(),
    build: build_timestamp,
};

/// The window of `random-timestamp`, and of `random` on dates and
/// timestamps.
pub const TIMESTAMP_WINDOW: (&str, &str) = ("1970-01-01", "2030-12-31 23:59:59");

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntOptions {
    min: Option<i64>,
    max: Option<i64>,
}

/// Checks `min <= max`.
fn ordered<T: PartialOrd + std::fmt::Display>(min: T, max: T) -> Result<(), String> {
    if min > max {
        return Err(format!("min {min} is greater than max {max}"));
    }
    Ok(())
}

/// Bits a uniform draw from `span` values carries.
fn span_bits(span: u128) -> u32 {
    span.checked_ilog2().unwrap_or(0)
}

struct RandomInt {
    key: Key,
    /// `None` for a numeric column.
    int: Option<Int>,
    min: i64,
    max: i64,
}

fn build_int(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: IntOptions = options::parse(build.options)?;
    let int = Int::of(&build.column.ty);
    let (lowest, highest) = int.map_or((i64::MIN, i64::MAX), |i| (i.min(), i.max()));
    let min = options.min.unwrap_or(lowest);
    let max = options.max.unwrap_or(highest);
    for (name, value) in [("min", min), ("max", max)] {
        if !(lowest..=highest).contains(&value) {
            return Err(format!(
                "{name} {value} is out of range for {} ({lowest}..={highest})",
                build.column.ty.name()
            ));
        }
    }
    if let Some((precision, scale)) = build.column.numeric {
        let digits = i64::from(precision as i32 - scale).max(0);
        if digits < 19 && [min, max].iter().any(|v| v.unsigned_abs() >= 10u64.pow(digits as u32)) {
            return Err(format!("numeric({precision},{scale}) holds fewer than 10^{digits}; narrow min and max"));
        }
    }
    ordered(min, max)?;
    Ok(Box::new(RandomInt { key: build.key.clone(), int, min, max }))
}

impl Transformer for RandomInt {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let value = self.key.draw(input).between(self.min, self.max);
        match self.int {
            Some(int) => int.encode(value, out),
            None => push_scaled(value.into(), 0, out),
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        let span = (i128::from(self.max) - i128::from(self.min) + 1) as u128;
        Guarantees::non_text().unique(span_bits(span))
    }
}

/// Appends the numeric `value / 10^scale`.
fn push_scaled(value: i128, scale: u16, out: &mut Vec<u8>) {
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    numeric::encode(value < 0, &digits[at..], scale, out);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NumericOptions {
    min: f64,
    max: f64,
    scale: u16,
}

impl Default for NumericOptions {
    fn default() -> Self {
        NumericOptions { min: 0.0, max: 1000.0, scale: 2 }
    }
}

/// The largest scale: keeps `max · 10^scale` exact in an `i64`.
const MAX_SCALE: u16 = 12;

struct RandomNumeric {
    key: Key,
    ty: Type,
    scale: u16,
    /// The range in units of `10^-scale`.
    min: i64,
    max: i64,
}

fn build_numeric(build: &Build) -> Result<Box<dyn Transformer>, String> {
    let options: NumericOptions = options::parse(build.options)?;
    if options.scale > MAX_SCALE {
        return Err(format!("scale {} is out of range 0..={MAX_SCALE}", options.scale));
    }
    ordered(options.min, options.max)?;
    let unit = 10f64.powi(i32::from(options.scale));
    let limit = i64::MAX as f64 / unit / 10.0;
    if options.min.abs() > limit || options.max.abs() > limit || !options.min.is_finite() || !options.max.is_finite() {
        return Err(format!("min and max must lie within ±{limit:e} at scale {}", options.scale));
    }
    if let Some((precision, scale)) = build.column.numeric {
        let bound = 10f64.powi(precision as i32 - scale);
        if options.min.abs() >= bound || options.max.abs() >= bound {
            return Err(format!("numeric({precision},{scale}) holds values below {bound}; narrow min and max"));
        }
    }
    Ok(Box::new(RandomNumeric {
        key: build.key.clone(),
        ty: build.column.ty.clone(),
        scale: options.scale,
        min: (options.min * unit).ceil() as i64,
        max: (options.max * unit).floor() as i64,
    }))
}

impl Transformer for RandomNumeric {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let units = self.key.draw(input).between(self.min, self.max);
        let value = units as f64 / 10f64.powi(i32::from(self.scale));
        if self.ty == Type::FLOAT4 {
            out.extend_from_slice(&(value as f32).to_be_bytes());
        } else if self.ty == Type::FLOAT8 {
            out.extend_from_slice(&value.to_be_bytes());
        } else {
            push_scaled(units.into(), self.scale, out);
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::non_text()
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InstantOptions {
    min: Option<String>,
    max: Option<String>,
}

/// A uniform instant in a window, in a date or timestamp column.
pub struct RandomInstant {
    key: Key,
    instant: Instant,
    min: i64,
    max: i64,
    /// `random-date`: draw whole days, keep the input's time of day.
    days: bool,
}

impl RandomInstant {
    /// A uniform instant between the parsed `min` and `max`.
    ///
    /// # Errors
    /// A bound that is not a date or timestamp, or `min > max`.
    pub fn new(build: &Build, min: &str, max: &str, days: bool) -> Result<RandomInstant, String> {
        let instant = Instant::of(&build.column.ty).expect("accepted types are dates and timestamps");
        let (min, max) = (parse_instant(min)?, parse_instant(max)?);
        ordered(min, max).map_err(|_| "min is later than max".to_string())?;
        let (min, max) = if days { (min.div_euclid(DAY_MICROS), max.div_euclid(DAY_MICROS)) } else { (min, max) };
        Ok(RandomInstant { key: build.key.clone(), instant, min, max, days })
    }
}

fn build_instant(build: &Build, defaults: (&str, &str), days: bool) -> Result<Box<dyn Transformer>, String> {
    let options: InstantOptions = options::parse(build.options)?;
    let min = options.min.as_deref().unwrap_or(defaults.0);
    let max = options.max.as_deref().unwrap_or(defaults.1);
    Ok(Box::new(RandomInstant::new(build, min, max, days)?))
}

fn build_date(build: &Build) -> Result<Box<dyn Transformer>, String> {
    build_instant(build, ("1950-01-01", "2005-12-31"), true)
}

fn build_timestamp(build: &Build) -> Result<Box<dyn Transformer>, String> {
    build_instant(build, TIMESTAMP_WINDOW, false)
}

impl Transformer for RandomInstant {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        let drawn = self.key.draw(input).between(self.min, self.max);
        let micros = if self.days {
            let time_of_day = self.instant.decode(input)?.rem_euclid(DAY_MICROS);
            drawn * DAY_MICROS + time_of_day
        } else {
            drawn
        };
        self.instant.encode(micros, out);
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        Guarantees::non_text()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{NaiveDate, NaiveDateTime, Timelike};
    use postgres_types::{FromSql, ToSql};

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::numeric::tests::to_text;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::ColumnType;

    fn build(kind: &Kind, options: &str, column: ColumnType) -> Result<Box<dyn Transformer>, String> {
        let options: Option<serde_yaml::Value> = serde_yaml::from_str(options).ok();
        kind.build(options.as_ref(), &column, &Keys::from_secret("r"), Path::new("."), no_lookup)
    }

    fn outputs(t: &dyn Transformer, input: &[u8], n: u32) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut salted = input.to_vec();
                salted.extend_from_slice(&i.to_be_bytes());
                let mut out = Vec::new();
                t.apply(Some(&salted), &mut out).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn ints_stay_in_range_and_bad_ranges_are_refused() {
        let t = build(&RANDOM_INT, "{min: -5, max: 5}", ColumnType::of(Type::INT2)).unwrap();
        for out in outputs(t.as_ref(), b"", 500) {
            assert!((-5..=5).contains(&i16::from_sql(&Type::INT2, &out).unwrap()));
        }
        let err = build(&RANDOM_INT, "{max: 40000}", ColumnType::of(Type::INT2)).err().unwrap();
        assert!(err.contains("max 40000 is out of range for int2"), "{err}");
        assert!(build(&RANDOM_INT, "{min: 3, max: 2}", ColumnType::of(Type::INT4)).err().unwrap().contains("greater"));
        let numeric = ColumnType::new(Type::NUMERIC.oid(), "numeric", (4 << 16) + 4);
        assert!(build(&RANDOM_INT, "{min: 0, max: 10000}", numeric.clone()).err().unwrap().contains("numeric(4,0)"));
        let t = build(&RANDOM_INT, "{min: 10, max: 99}", numeric).unwrap();
        for out in outputs(t.as_ref(), b"", 100) {
            assert_eq!(to_text(&out).len(), 2);
        }
        assert_eq!(build(&RANDOM_INT, "", ColumnType::of(Type::INT8)).unwrap().guarantees().unique_bits, 64);
    }

    #[test]
    fn numerics_have_the_scale_and_range() {
        let t = build(&RANDOM_NUMERIC, "{min: -10, max: 10, scale: 3}", ColumnType::of(Type::NUMERIC)).unwrap();
        for out in outputs(t.as_ref(), b"", 300) {
            let text = to_text(&out);
            let value: f64 = text.parse().unwrap();
            assert!((-10.0..=10.0).contains(&value), "{text}");
            assert_eq!(text.split_once('.').unwrap().1.len(), 3, "{text}");
        }
        let t = build(&RANDOM_NUMERIC, "", ColumnType::of(Type::FLOAT8)).unwrap();
        for out in outputs(t.as_ref(), b"", 100) {
            assert!((0.0..=1000.0).contains(&f64::from_sql(&Type::FLOAT8, &out).unwrap()));
        }
        let small = ColumnType::new(Type::NUMERIC.oid(), "numeric", ((5 << 16) | 2) + 4);
        assert!(build(&RANDOM_NUMERIC, "", small).err().unwrap().contains("numeric(5,2)"));
        assert!(build(&RANDOM_NUMERIC, "scale: 20", ColumnType::of(Type::NUMERIC)).is_err());
    }

    #[test]
    fn dates_stay_in_the_window_and_timestamps_keep_their_time_of_day() {
        let t = build(&RANDOM_DATE, "{min: 2000-01-01, max: 2000-12-31}", ColumnType::of(Type::DATE)).unwrap();
        let input = {
            let mut b = bytes::BytesMut::new();
            NaiveDate::from_ymd_opt(1980, 5, 6).unwrap().to_sql(&Type::DATE, &mut b).unwrap();
            b.to_vec()
        };
        let mut out = Vec::new();
        t.apply(Some(&input), &mut out).unwrap();
        let date = NaiveDate::from_sql(&Type::DATE, &out).unwrap();
        assert_eq!(date.format("%Y").to_string(), "2000");

        let t = build(&RANDOM_DATE, "", ColumnType::of(Type::TIMESTAMP)).unwrap();
        let at = NaiveDate::from_ymd_opt(1999, 1, 2).unwrap().and_hms_opt(13, 45, 6).unwrap();
        let mut input = bytes::BytesMut::new();
        at.to_sql(&Type::TIMESTAMP, &mut input).unwrap();
        out.clear();
        t.apply(Some(&input), &mut out).unwrap();
        let got = NaiveDateTime::from_sql(&Type::TIMESTAMP, &out).unwrap();
        assert_eq!((got.hour(), got.minute(), got.second()), (13, 45, 6));
        assert_ne!(got.date(), at.date());

        let t = build(
            &RANDOM_TIMESTAMP,
            "{min: '2024-01-01T00:00:00Z', max: '2024-01-02'}",
            ColumnType::of(Type::TIMESTAMPTZ),
        )
        .unwrap();
        for out in outputs(t.as_ref(), b"", 100) {
            let got = chrono::DateTime::<chrono::Utc>::from_sql(&Type::TIMESTAMPTZ, &out).unwrap();
            assert!(got.format("%F").to_string().starts_with("2024-01-0"), "{got}");
        }
        assert!(build(&RANDOM_TIMESTAMP, "min: soon", ColumnType::of(Type::DATE))
            .err()
            .unwrap()
            .contains("not a date"));
    }
}
