//! Types for SQLite's answers: a column declared in the `replibyte` schema
//! keeps its declared type; an expression (`count(*)`, `max(created_at)`)
//! gets the type its values share.

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::types::Value as Sqlite;

/// The PostgreSQL types the control port answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int8,
    Float8,
    Bool,
    Text,
    Timestamptz,
    Bytea,
}

/// A result column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnType,
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Time(DateTime<Utc>),
    Bytes(Vec<u8>),
}

impl ColumnType {
    /// The type of a column declared as `declared` (see `schema::TABLES`).
    pub fn declared(declared: &str) -> Option<Self> {
        match declared.to_ascii_uppercase().as_str() {
            "INT8" => Some(ColumnType::Int8),
            "FLOAT8" => Some(ColumnType::Float8),
            "BOOL" => Some(ColumnType::Bool),
            "TEXT" => Some(ColumnType::Text),
            "TIMESTAMPTZ" => Some(ColumnType::Timestamptz),
            _ => None,
        }
    }

    /// The type the values of an expression share: integers, numbers,
    /// timestamps, bytes, or else text (also when every value is null).
    pub fn inferred<'a>(values: impl Iterator<Item = &'a Sqlite>) -> Self {
        let (mut ints, mut reals, mut times, mut texts, mut blobs) = (0, 0, 0, 0, 0);
        for value in values {
            match value {
                Sqlite::Null => {}
                Sqlite::Integer(_) => ints += 1,
                Sqlite::Real(_) => reals += 1,
                Sqlite::Text(t) if parse_timestamp(t).is_some() => times += 1,
                Sqlite::Text(_) => texts += 1,
                Sqlite::Blob(_) => blobs += 1,
            }
        }
        match (ints, reals, times, texts, blobs) {
            (_, 0, 0, 0, 0) if ints > 0 => ColumnType::Int8,
            (_, _, 0, 0, 0) if reals > 0 => ColumnType::Float8,
            (0, 0, _, 0, 0) if times > 0 => ColumnType::Timestamptz,
            (0, 0, 0, 0, _) if blobs > 0 => ColumnType::Bytea,
            _ => ColumnType::Text,
        }
    }

    /// `value` as this type.
    ///
    /// # Errors
    /// A value that is not of this type (an expression whose values
    /// changed type between the description of a statement and its run).
    pub fn convert(self, value: Sqlite) -> Result<Value, String> {
        let mismatch = |value: &Sqlite| format!("{value:?} is not a value of type {}", self.name());
        Ok(match (self, value) {
            (_, Sqlite::Null) => Value::Null,
            (ColumnType::Text, Sqlite::Text(t)) => Value::Text(t),
            (ColumnType::Text, Sqlite::Integer(i)) => Value::Text(i.to_string()),
            (ColumnType::Text, Sqlite::Real(f)) => Value::Text(f.to_string()),
            (ColumnType::Int8, Sqlite::Integer(i)) => Value::Int(i),
            (ColumnType::Float8, Sqlite::Integer(i)) => Value::Float(i as f64),
            (ColumnType::Float8, Sqlite::Real(f)) => Value::Float(f),
            (ColumnType::Bool, Sqlite::Integer(i)) => Value::Bool(i != 0),
            (ColumnType::Bytea, Sqlite::Blob(b)) => Value::Bytes(b),
            (ColumnType::Timestamptz, Sqlite::Text(t)) => match parse_timestamp(&t) {
                Some(at) => Value::Time(at),
                None => return Err(mismatch(&Sqlite::Text(t))),
            },
            (_, other) => return Err(mismatch(&other)),
        })
    }

    /// The PostgreSQL name.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int8 => "int8",
            ColumnType::Float8 => "float8",
            ColumnType::Bool => "bool",
            ColumnType::Text => "text",
            ColumnType::Timestamptz => "timestamptz",
            ColumnType::Bytea => "bytea",
        }
    }
}

/// A timestamp as the tables hold it (ISO 8601 UTC), or as SQLite's date
/// functions write it (`2026-12-01 08:00:00`, UTC).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok().map(|at| at.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_take_the_type_their_values_share() {
        let infer = |values: &[Sqlite]| ColumnType::inferred(values.iter());
        assert_eq!(infer(&[Sqlite::Integer(3), Sqlite::Null]), ColumnType::Int8);
        assert_eq!(infer(&[Sqlite::Integer(3), Sqlite::Real(0.5)]), ColumnType::Float8);
        let time = Sqlite::Text("2026-12-01T08:00:00.123Z".into());
        assert_eq!(infer(&[time.clone(), Sqlite::Text("2026-12-01 09:00:00".into())]), ColumnType::Timestamptz);
        assert_eq!(infer(&[time, Sqlite::Text("complete".into())]), ColumnType::Text);
        assert_eq!(infer(&[Sqlite::Null]), ColumnType::Text);
        assert_eq!(infer(&[]), ColumnType::Text);
    }

    #[test]
    fn values_convert_to_their_column_type_or_say_why_not() {
        assert_eq!(ColumnType::Bool.convert(Sqlite::Integer(1)), Ok(Value::Bool(true)));
        assert_eq!(ColumnType::Float8.convert(Sqlite::Integer(2)), Ok(Value::Float(2.0)));
        let at = ColumnType::Timestamptz.convert(Sqlite::Text("2026-12-01T08:00:00.5Z".into())).unwrap();
        assert_eq!(at, Value::Time(DateTime::parse_from_rfc3339("2026-12-01T08:00:00.5Z").unwrap().into()));
        assert!(ColumnType::Int8.convert(Sqlite::Text("ten".into())).unwrap_err().contains("int8"));
        assert_eq!(ColumnType::Int8.convert(Sqlite::Null), Ok(Value::Null));
    }
}
