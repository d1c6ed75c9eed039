//! The column types transformers read and write, and the binary forms they
//! decode and encode (the `typsend`/`typreceive` formats of PostgreSQL).
//!
//! Only what transformers need: text-like values are their UTF-8 bytes
//! (the session's client_encoding is UTF8), integers and floats are
//! big-endian, `date` is days and `timestamp[tz]` microseconds since
//! 2000-01-01, `uuid` is 16 bytes, `jsonb` is a version byte (1) before the
//! JSON text. `numeric` has its own module ([`super::numeric`]).

use chrono::{NaiveDate, NaiveDateTime};
pub use postgres_types::Type;

use super::error::ValueError;

/// What a transformer is told about the column it writes: its base type
/// (a domain's underlying type) and the limits the type modifier sets.
#[derive(Debug, Clone)]
pub struct ColumnType {
    pub ty: Type,
    /// `n` of `character varying(n)` / `character(n)`.
    pub max_chars: Option<usize>,
    /// `(precision, scale)` of `numeric(p, s)`.
    pub numeric: Option<(u32, i32)>,
}

impl ColumnType {
    /// A column of type `oid` (a built-in type, or `name` for any other)
    /// with type modifier `typmod` (`-1` for none).
    pub fn new(oid: u32, name: &str, typmod: i32) -> ColumnType {
        let ty = Type::from_oid(oid)
            .unwrap_or_else(|| Type::new(name.to_string(), oid, postgres_types::Kind::Simple, String::new()));
        // Both modifiers carry a 4-byte header (VARHDRSZ), as PostgreSQL
        // stores them.
        let max_chars = ([Type::VARCHAR, Type::BPCHAR].contains(&ty) && typmod >= 4).then(|| (typmod - 4) as usize);
        let numeric = (ty == Type::NUMERIC && typmod >= 4).then(|| {
            let packed = typmod - 4;
            // The scale is an 11-bit signed field (negative scales exist
            // since PostgreSQL 15).
            (((packed >> 16) & 0xffff) as u32, ((packed & 0x7ff) ^ 1024) - 1024)
        });
        ColumnType { ty, max_chars, numeric }
    }

    /// A column of a type without modifier.
    pub fn of(ty: Type) -> ColumnType {
        ColumnType { ty, max_chars: None, numeric: None }
    }
}

/// Types whose binary form is their text in UTF-8.
pub fn is_text(ty: &Type) -> bool {
    [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty)
}

/// The column types `transformer list` shows each transformer's
/// [`accepts`](super::spec::Kind::accepts) against.
pub fn listed() -> [Type; 17] {
    [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::NUMERIC,
        Type::BOOL,
        Type::DATE,
        Type::TIMESTAMP,
        Type::TIMESTAMPTZ,
        Type::UUID,
        Type::JSON,
        Type::JSONB,
        Type::BYTEA,
    ]
}

/// A text field as `&str`.
///
/// # Errors
/// When the bytes are not UTF-8 (never for a value PostgreSQL sent).
pub fn text(field: &[u8]) -> Result<&str, ValueError> {
    std::str::from_utf8(field).map_err(|_| ValueError::new("text value is not valid UTF-8"))
}

/// A two-, four- or eight-byte integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int {
    I2,
    I4,
    I8,
}

impl Int {
    pub fn of(ty: &Type) -> Option<Int> {
        match ty {
            t if *t == Type::INT2 => Some(Int::I2),
            t if *t == Type::INT4 => Some(Int::I4),
            t if *t == Type::INT8 => Some(Int::I8),
            _ => None,
        }
    }

    pub fn min(self) -> i64 {
        match self {
            Int::I2 => i16::MIN.into(),
            Int::I4 => i32::MIN.into(),
            Int::I8 => i64::MIN,
        }
    }

    pub fn max(self) -> i64 {
        match self {
            Int::I2 => i16::MAX.into(),
            Int::I4 => i32::MAX.into(),
            Int::I8 => i64::MAX,
        }
    }

    /// Bits of the type: how much a uniformly drawn value can carry.
    pub fn bits(self) -> u32 {
        match self {
            Int::I2 => 16,
            Int::I4 => 32,
            Int::I8 => 64,
        }
    }

    /// Decodes a field of this type.
    ///
    /// # Errors
    /// A field of the wrong size.
    pub fn decode(self, field: &[u8]) -> Result<i64, ValueError> {
        let bad = || ValueError::new("integer field has the wrong size");
        Ok(match self {
            Int::I2 => i16::from_be_bytes(field.try_into().map_err(|_| bad())?).into(),
            Int::I4 => i32::from_be_bytes(field.try_into().map_err(|_| bad())?).into(),
            Int::I8 => i64::from_be_bytes(field.try_into().map_err(|_| bad())?),
        })
    }

    /// Appends `value`, which must be within [`Int::min`]..=[`Int::max`].
    pub fn encode(self, value: i64, out: &mut Vec<u8>) {
        match self {
            Int::I2 => out.extend_from_slice(&(value as i16).to_be_bytes()),
            Int::I4 => out.extend_from_slice(&(value as i32).to_be_bytes()),
            Int::I8 => out.extend_from_slice(&value.to_be_bytes()),
        }
    }
}

/// Microseconds in a day.
pub const DAY_MICROS: i64 = 86_400_000_000;

/// PostgreSQL's epoch for dates and timestamps.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date").and_hms_opt(0, 0, 0).expect("valid time")
}

/// Days since 2000-01-01: the binary form of `date`.
pub fn date_days(date: NaiveDate) -> i32 {
    (date - epoch().date()).num_days() as i32
}

/// Microseconds since 2000-01-01 00:00 (UTC for `timestamptz`): the binary
/// form of `timestamp` and `timestamptz`.
pub fn timestamp_micros(at: NaiveDateTime) -> i64 {
    (at - epoch()).num_microseconds().unwrap_or(if at > epoch() { i64::MAX } else { i64::MIN })
}

/// A date or timestamp type, as an instant counted from PostgreSQL's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instant {
    Date,
    Timestamp,
}

impl Instant {
    /// `date`, `timestamp` or `timestamptz` (both timestamps share one binary
    /// form: microseconds, UTC for `timestamptz`).
    pub fn of(ty: &Type) -> Option<Instant> {
        match ty {
            t if *t == Type::DATE => Some(Instant::Date),
            t if *t == Type::TIMESTAMP || *t == Type::TIMESTAMPTZ => Some(Instant::Timestamp),
            _ => None,
        }
    }

    /// Decodes a field as microseconds since the epoch (a date at midnight).
    ///
    /// # Errors
    /// A field of the wrong size.
    pub fn decode(self, field: &[u8]) -> Result<i64, ValueError> {
        let bad = || ValueError::new("date or timestamp field has the wrong size");
        Ok(match self {
            // Saturating: ±infinity dates are i32::MAX / i32::MIN days.
            Instant::Date => {
                i64::from(i32::from_be_bytes(field.try_into().map_err(|_| bad())?)).saturating_mul(DAY_MICROS)
            }
            Instant::Timestamp => i64::from_be_bytes(field.try_into().map_err(|_| bad())?),
        })
    }

    /// Appends the instant `micros` (a date keeps its day).
    pub fn encode(self, micros: i64, out: &mut Vec<u8>) {
        match self {
            Instant::Date => out.extend_from_slice(&(micros.div_euclid(DAY_MICROS) as i32).to_be_bytes()),
            Instant::Timestamp => out.extend_from_slice(&micros.to_be_bytes()),
        }
    }
}

/// Parses a date (`2024-05-01`) or timestamp (`2024-05-01 12:30:00`,
/// `2024-05-01T12:30:00Z`, with an offset) option as microseconds since the
/// epoch, UTC.
///
/// # Errors
/// Anything else, with the accepted forms.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(i64::from(date_days(date)) * DAY_MICROS);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(timestamp_micros(at.naive_utc()));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(timestamp_micros(at));
        }
    }
    Err(format!("{text:?} is not a date (2024-05-01) or timestamp (2024-05-01 12:30:00, 2024-05-01T12:30:00Z)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_types::{FromSql, ToSql};

    fn to_sql<T: ToSql>(value: T, ty: &Type) -> Vec<u8> {
        let mut out = bytes::BytesMut::new();
        value.to_sql(ty, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn integers_round_trip_through_postgres_types() {
        let mut out = Vec::new();
        Int::I2.encode(-12, &mut out);
        assert_eq!(i16::from_sql(&Type::INT2, &out).unwrap(), -12);
        assert_eq!(Int::I4.decode(&to_sql(123_456i32, &Type::INT4)).unwrap(), 123_456);
        assert_eq!(Int::I8.decode(&to_sql(i64::MIN, &Type::INT8)).unwrap(), i64::MIN);
        assert!(Int::I4.decode(b"abc").is_err());
    }

    #[test]
    fn dates_and_timestamps_round_trip_through_postgres_types() {
        let date = NaiveDate::from_ymd_opt(1987, 6, 5).unwrap();
        let micros = Instant::Date.decode(&to_sql(date, &Type::DATE)).unwrap();
        let mut out = Vec::new();
        Instant::Date.encode(micros + 3_600_000_000, &mut out);
        assert_eq!(NaiveDate::from_sql(&Type::DATE, &out).unwrap(), date);

        let at = date.and_hms_micro_opt(13, 14, 15, 16).unwrap();
        let micros = Instant::Timestamp.decode(&to_sql(at, &Type::TIMESTAMP)).unwrap();
        assert_eq!(micros, timestamp_micros(at));
        out.clear();
        Instant::Timestamp.encode(micros, &mut out);
        assert_eq!(NaiveDateTime::from_sql(&Type::TIMESTAMP, &out).unwrap(), at);
    }

    #[test]
    fn instants_parse_in_the_documented_forms() {
        let day = parse_instant("2000-01-02").unwrap();
        assert_eq!(day, DAY_MICROS);
        assert_eq!(parse_instant("2000-01-02 00:00:01").unwrap(), DAY_MICROS + 1_000_000);
        assert_eq!(parse_instant("2000-01-02T01:00:00+01:00").unwrap(), DAY_MICROS);
        assert!(parse_instant("yesterday").unwrap_err().contains("not a date"));
    }

    #[test]
    fn type_modifiers_give_limits() {
        let varchar = ColumnType::new(Type::VARCHAR.oid(), "character varying", 24);
        assert_eq!(varchar.max_chars, Some(20));
        let numeric = ColumnType::new(Type::NUMERIC.oid(), "numeric", ((10 << 16) | 2) + 4);
        assert_eq!(numeric.numeric, Some((10, 2)));
        let negative = ColumnType::new(Type::NUMERIC.oid(), "numeric", ((5 << 16) | (0x7ff & -2i32)) + 4);
        assert_eq!(negative.numeric, Some((5, -2)));
        let custom = ColumnType::new(99_999, "public.mood", -1);
        assert_eq!(custom.ty.oid(), 99_999);
        assert_eq!(custom.max_chars, None);
    }
}
