//! The messages of PostgreSQL's `pgoutput` logical decoding plugin
//! (protocol version 1), as `pg_logical_slot_peek_binary_changes` returns
//! them, one message per row.
//!
//! Only what a delta needs is decoded: transaction boundaries, relations
//! and their columns, row changes and truncations. Origin, type and
//! generic messages are skipped.

use thiserror::Error;

/// A message that does not decode.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed pgoutput message: {0}")]
pub struct DecodeError(pub &'static str);

/// One column value of a changed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    /// A TOASTed value the change did not touch: not sent.
    Unchanged,
    /// The value in its type's text form (a type without binary output).
    Text(&'a [u8]),
    /// The value in its type's binary form (as binary COPY has it).
    Binary(&'a [u8]),
}

/// A column of a relation message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (the key a change is applied by).
    pub key: bool,
    pub name: String,
    pub type_oid: u32,
}

/// What a row change says about the row before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldRow {
    /// Nothing: the key did not change (updates only).
    None,
    /// The old key's columns (the others are null).
    Key,
    /// The whole old row (replica identity full).
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Begin {
        xid: u32,
    },
    Commit,
    Relation {
        id: u32,
        schema: String,
        name: String,
        full_identity: bool,
        columns: Vec<RelationColumn>,
    },
    Insert {
        relation: u32,
        new: Vec<Value<'a>>,
    },
    Update {
        relation: u32,
        old_kind: OldRow,
        old: Vec<Value<'a>>,
        new: Vec<Value<'a>>,
    },
    Delete {
        relation: u32,
        old_kind: OldRow,
        old: Vec<Value<'a>>,
    },
    Truncate {
        relations: Vec<u32>,
        cascade: bool,
        restart_identity: bool,
    },
    /// Origin, type and generic messages.
    Other,
}

/// A cursor over one message.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let end = self.buf.iter().position(|&b| b == 0).ok_or(DecodeError("unterminated string"))?;
        let text = String::from_utf8(self.take(end)?.to_vec()).map_err(|_| DecodeError("string is not UTF-8"))?;
        self.take(1)?;
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Vec<Value<'a>>, DecodeError> {
        let count = self.u16()? as usize;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            values.push(match self.u8()? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                kind @ (b't' | b'b') => {
                    let len = self.u32()? as usize;
                    let bytes = self.take(len)?;
                    if kind == b't' {
                        Value::Text(bytes)
                    } else {
                        Value::Binary(bytes)
                    }
                }
                _ => return Err(DecodeError("unknown column value kind")),
            });
        }
        Ok(values)
    }

    /// An optional old row (`K` or `O` and a tuple), then what follows.
    fn old_row(&mut self) -> Result<(OldRow, Vec<Value<'a>>), DecodeError> {
        match self.buf.first() {
            Some(b'K') => {
                self.u8()?;
                Ok((OldRow::Key, self.tuple()?))
            }
            Some(b'O') => {
                self.u8()?;
                Ok((OldRow::Full, self.tuple()?))
            }
            _ => Ok((OldRow::None, Vec::new())),
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), DecodeError> {
        if self.u8()? == byte {
            Ok(())
        } else {
            Err(DecodeError(what))
        }
    }
}

/// Decodes a row's values in pgoutput's form (a count, then a kind and
/// maybe a length and bytes per column), as deltas store them.
///
/// # Errors
/// Bytes of another shape.
pub fn decode_tuple(buf: &[u8]) -> Result<Vec<Value<'_>>, DecodeError> {
    let mut r = Reader { buf };
    let values = r.tuple()?;
    if !r.buf.is_empty() {
        return Err(DecodeError("bytes after the row"));
    }
    Ok(values)
}

/// Appends `values` in pgoutput's row form.
pub fn encode_tuple(values: &[Value<'_>], out: &mut Vec<u8>) {
    out.extend_from_slice(&(values.len() as u16).to_be_bytes());
    for value in values {
        match value {
            Value::Null => out.push(b'n'),
            Value::Unchanged => out.push(b'u'),
            Value::Text(bytes) | Value::Binary(bytes) => {
                out.push(if matches!(value, Value::Text(_)) { b't' } else { b'b' });
                out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
        }
    }
}

/// Decodes one message.
///
/// # Errors
/// A message that is truncated or of an unknown shape.
pub fn decode(buf: &[u8]) -> Result<Message<'_>, DecodeError> {
    let mut r = Reader { buf };
    Ok(match r.u8()? {
        b'B' => {
            r.take(16)?; // final LSN, commit time
            Message::Begin { xid: r.u32()? }
        }
        b'C' => Message::Commit,
        b'R' => {
            let id = r.u32()?;
            let schema = r.string()?;
            let name = r.string()?;
            let full_identity = r.u8()? == b'f';
            let count = r.u16()? as usize;
            let mut columns = Vec::with_capacity(count);
            for _ in 0..count {
                let key = r.u8()? & 1 == 1;
                let name = r.string()?;
                let type_oid = r.u32()?;
                r.take(4)?; // type modifier
                columns.push(RelationColumn { key, name, type_oid });
            }
            Message::Relation { id, schema, name, full_identity, columns }
        }
        b'I' => {
            let relation = r.u32()?;
            r.expect(b'N', "insert without a new row")?;
            Message::Insert { relation, new: r.tuple()? }
        }
        b'U' => {
            let relation = r.u32()?;
            let (old_kind, old) = r.old_row()?;
            r.expect(b'N', "update without a new row")?;
            Message::Update { relation, old_kind, old, new: r.tuple()? }
        }
        b'D' => {
            let relation = r.u32()?;
            let (old_kind, old) = r.old_row()?;
            if old_kind == OldRow::None {
                return Err(DecodeError("delete without an old row"));
            }
            Message::Delete { relation, old_kind, old }
        }
        b'T' => {
            let count = r.u32()? as usize;
            let options = r.u8()?;
            let relations = (0..count).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Message::Truncate { relations, cascade: options & 1 != 0, restart_identity: options & 2 != 0 }
        }
        b'O' | b'Y' | b'M' => Message::Other,
        _ => return Err(DecodeError("unknown message type")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = (values.len() as u16).to_be_bytes().to_vec();
        for value in values {
            match value {
                None => out.push(b'n'),
                Some(bytes) => {
                    out.push(b'b');
                    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    #[test]
    fn relations_and_row_changes_decode() {
        let mut relation = b"R".to_vec();
        relation.extend_from_slice(&16_385u32.to_be_bytes());
        relation.extend_from_slice(b"public\0users\0d");
        relation.extend_from_slice(&2u16.to_be_bytes());
        relation.extend_from_slice(b"\x01id\0");
        relation.extend_from_slice(&[0, 0, 0, 23, 0xff, 0xff, 0xff, 0xff]);
        relation.extend_from_slice(b"\x00email\0");
        relation.extend_from_slice(&[0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff]);
        let Message::Relation { id, schema, name, full_identity, columns } = decode(&relation).unwrap() else {
            panic!("a relation")
        };
        assert_eq!((id, schema.as_str(), name.as_str(), full_identity), (16_385, "public", "users", false));
        assert_eq!(columns[0], RelationColumn { key: true, name: "id".into(), type_oid: 23 });
        assert!(!columns[1].key);

        let mut update = b"U".to_vec();
        update.extend_from_slice(&16_385u32.to_be_bytes());
        update.push(b'K');
        update.extend(tuple(&[Some(&[0, 0, 0, 1]), None]));
        update.push(b'N');
        let mut new = tuple(&[Some(&[0, 0, 0, 2])]);
        new[1] = 2; // two columns: the second unchanged TOAST
        new.push(b'u');
        update.extend(new);
        let Message::Update { relation, old_kind, old, new } = decode(&update).unwrap() else { panic!("an update") };
        assert_eq!((relation, old_kind), (16_385, OldRow::Key));
        assert_eq!(old, vec![Value::Binary(&[0, 0, 0, 1]), Value::Null]);
        assert_eq!(new, vec![Value::Binary(&[0, 0, 0, 2]), Value::Unchanged]);

        let mut truncate = b"T".to_vec();
        truncate.extend_from_slice(&1u32.to_be_bytes());
        truncate.push(2);
        truncate.extend_from_slice(&16_385u32.to_be_bytes());
        assert_eq!(
            decode(&truncate).unwrap(),
            Message::Truncate { relations: vec![16_385], cascade: false, restart_identity: true }
        );
    }

    #[test]
    fn rows_round_trip() {
        let values = vec![Value::Binary(b"ab"), Value::Null, Value::Unchanged, Value::Text(b"x")];
        let mut bytes = Vec::new();
        encode_tuple(&values, &mut bytes);
        assert_eq!(decode_tuple(&bytes).unwrap(), values);
        bytes.push(0);
        assert!(decode_tuple(&bytes).is_err());
    }

    #[test]
    fn truncated_messages_are_errors() {
        assert_eq!(decode(b"I\0\0"), Err(DecodeError("truncated")));
        assert!(decode(b"Z").is_err());
        assert!(decode(b"").is_err());
    }
}
