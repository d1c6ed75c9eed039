//! The records of a delta: one change each, in commit order, stored as the
//! tuples of a binary COPY stream so that they travel through the same
//! segments (bounded, zstd, checksummed) as table rows.
//!
//! A record has four fields: the operation (`I`, `U`, `D`, `T`), the table
//! (an index into the delta's table list; -1 for a truncation), the old
//! row (its key, or all of it under replica identity full) and the new
//! row, both in pgoutput's row form after transformation. A truncation
//! carries, in place of the new row, its options and the tables it empties.

use thiserror::Error;

use crate::copy::binary;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed change record: {0}")]
pub struct RecordError(pub &'static str);

/// One change, borrowing its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<'a> {
    Insert {
        table: u32,
        new: &'a [u8],
    },
    /// `old` is the row's old key when it changed (or the whole old row).
    Update {
        table: u32,
        old: Option<&'a [u8]>,
        new: &'a [u8],
    },
    Delete {
        table: u32,
        old: &'a [u8],
    },
    Truncate {
        tables: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
}

/// Number of fields of a record tuple.
pub const FIELDS: usize = 4;

impl Change<'_> {
    /// Appends the record as one binary COPY tuple.
    pub fn encode(&self, out: &mut Vec<u8>) {
        binary::put_field_count(out, FIELDS);
        let table = |t: &u32| (*t as i32).to_be_bytes();
        match self {
            Change::Insert { table: t, new } => {
                binary::put_field(out, Some(b"I"));
                binary::put_field(out, Some(&table(t)));
                binary::put_field(out, None);
                binary::put_field(out, Some(new));
            }
            Change::Update { table: t, old, new } => {
                binary::put_field(out, Some(b"U"));
                binary::put_field(out, Some(&table(t)));
                binary::put_field(out, *old);
                binary::put_field(out, Some(new));
            }
            Change::Delete { table: t, old } => {
                binary::put_field(out, Some(b"D"));
                binary::put_field(out, Some(&table(t)));
                binary::put_field(out, Some(old));
                binary::put_field(out, None);
            }
            Change::Truncate { tables, cascade, restart_identity } => {
                let mut list = vec![u8::from(*cascade) | (u8::from(*restart_identity) << 1)];
                for t in tables {
                    list.extend_from_slice(&t.to_be_bytes());
                }
                binary::put_field(out, Some(b"T"));
                binary::put_field(out, Some(&(-1i32).to_be_bytes()));
                binary::put_field(out, None);
                binary::put_field(out, Some(&list));
            }
        }
    }
}

/// Reads a record from one complete tuple.
///
/// # Errors
/// A tuple that is not a record.
pub fn decode(tuple: &[u8]) -> Result<Change<'_>, RecordError> {
    let mut fields = binary::fields(tuple);
    let mut next = || fields.next().ok_or(RecordError("too few fields"));
    let op = next()?.ok_or(RecordError("no operation"))?;
    let table = next()?.ok_or(RecordError("no table"))?;
    let table = i32::from_be_bytes(table.try_into().map_err(|_| RecordError("table is not 4 bytes"))?);
    let old = next()?;
    let new = next()?;
    let table = || u32::try_from(table).map_err(|_| RecordError("no table for a row change"));
    Ok(match (op, old, new) {
        (b"I", None, Some(new)) => Change::Insert { table: table()?, new },
        (b"U", old, Some(new)) => Change::Update { table: table()?, old, new },
        (b"D", Some(old), None) => Change::Delete { table: table()?, old },
        (b"T", None, Some(list)) if !list.is_empty() && (list.len() - 1) % 4 == 0 => Change::Truncate {
            tables: list[1..].chunks(4).map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes"))).collect(),
            cascade: list[0] & 1 != 0,
            restart_identity: list[0] & 2 != 0,
        },
        _ => return Err(RecordError("unknown operation or missing row")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_record_round_trips() {
        let changes = [
            Change::Insert { table: 3, new: b"new" },
            Change::Update { table: 0, old: None, new: b"n" },
            Change::Update { table: 1, old: Some(b"key"), new: b"n" },
            Change::Delete { table: 2, old: b"key" },
            Change::Truncate { tables: vec![1, 2], cascade: false, restart_identity: true },
        ];
        for change in changes {
            let mut tuple = Vec::new();
            change.encode(&mut tuple);
            assert_eq!(decode(&tuple).unwrap(), change);
        }
        let mut bad = Vec::new();
        Change::Insert { table: 0, new: b"x" }.encode(&mut bad);
        bad[6] = b'X';
        assert!(decode(&bad).is_err());
    }
}
