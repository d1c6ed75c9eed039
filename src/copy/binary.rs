//! The PostgreSQL binary COPY file format, without any I/O.
//!
//! A binary COPY stream is a header (signature, flags, extension area), then
//! tuples (an `i16` field count, then per field an `i32` length, `-1` for NULL,
//! and that many bytes), then a trailer (an `i16` of `-1`). See
//! <https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4>.
//!
//! Replibyte never needs to understand a field to move it: finding where a
//! tuple ends only means reading lengths, which is what [`tuple_len`] does.

use thiserror::Error;

/// The 11-byte signature every binary COPY stream starts with.
pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The header replibyte writes: signature, flags 0 (no OIDs), no extension.
pub const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The trailer: a field count of -1.
pub const TRAILER: &[u8; 2] = b"\xff\xff";

/// A binary COPY stream that does not follow the format.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("binary COPY stream does not start with the PGCOPY signature")]
    BadSignature,
    #[error("binary COPY stream has flags {0:#x}; only 0 (no OIDs) is supported")]
    UnsupportedFlags(u32),
    #[error("binary COPY tuple has {0} fields; expected {1}")]
    FieldCount(i16, usize),
    #[error("binary COPY field has negative length {0}")]
    BadFieldLength(i32),
    #[error("COPY stream ended in the middle of a row or without its trailer")]
    Truncated,
    #[error("binary COPY stream has data after its trailer")]
    DataAfterTrailer,
}

/// Length of the header at the start of `buf`, or `None` when `buf` does not
/// hold all of it yet.
///
/// # Errors
/// When the signature or flags are not what PostgreSQL writes.
pub fn header_len(buf: &[u8]) -> Result<Option<usize>, FormatError> {
    if buf.len() < SIGNATURE.len() {
        return if SIGNATURE.starts_with(buf) { Ok(None) } else { Err(FormatError::BadSignature) };
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err(FormatError::BadSignature);
    }
    if buf.len() < 19 {
        return Ok(None);
    }
    let flags = u32::from_be_bytes(buf[11..15].try_into().expect("4 bytes"));
    // Bit 16 is "OIDs included"; bits 0-15 are reserved for critical flags.
    if flags & 0x0001_ffff != 0 {
        return Err(FormatError::UnsupportedFlags(flags));
    }
    let extension = u32::from_be_bytes(buf[15..19].try_into().expect("4 bytes")) as usize;
    let len = 19 + extension;
    Ok((buf.len() >= len).then_some(len))
}

/// What starts at the beginning of a buffer positioned on a tuple boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A complete tuple of this many bytes.
    Tuple(usize),
    /// The trailer (two bytes).
    Trailer,
    /// Not enough bytes yet to tell.
    Incomplete,
}

/// Finds the extent of the tuple at the start of `buf` by walking its field
/// lengths. `fields` is the number of fields every tuple must have.
///
/// # Errors
/// When the field count or a field length is impossible.
#[inline]
pub fn tuple_len(buf: &[u8], fields: usize) -> Result<Next, FormatError> {
    if buf.len() < 2 {
        return Ok(Next::Incomplete);
    }
    let count = i16::from_be_bytes([buf[0], buf[1]]);
    if count == -1 {
        return Ok(Next::Trailer);
    }
    if count < 0 || count as usize != fields {
        return Err(FormatError::FieldCount(count, fields));
    }
    let mut pos = 2;
    for _ in 0..fields {
        let Some(len_bytes) = buf.get(pos..pos + 4) else {
            return Ok(Next::Incomplete);
        };
        let len = i32::from_be_bytes(len_bytes.try_into().expect("4 bytes"));
        pos += 4;
        if len >= 0 {
            pos += len as usize;
        } else if len != -1 {
            return Err(FormatError::BadFieldLength(len));
        }
    }
    Ok(if buf.len() >= pos { Next::Tuple(pos) } else { Next::Incomplete })
}

/// Iterates over the fields of one complete tuple: `None` for NULL.
///
/// # Panics
/// When `tuple` is not a complete tuple, as checked by [`tuple_len`].
pub fn fields(tuple: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let count = i16::from_be_bytes([tuple[0], tuple[1]]).max(0) as usize;
    let mut pos = 2;
    (0..count).map(move |_| {
        let len = i32::from_be_bytes(tuple[pos..pos + 4].try_into().expect("4 bytes"));
        pos += 4;
        if len < 0 {
            None
        } else {
            let field = &tuple[pos..pos + len as usize];
            pos += len as usize;
            Some(field)
        }
    })
}

/// Appends a tuple's field count to `out`.
pub fn put_field_count(out: &mut Vec<u8>, count: usize) {
    out.extend_from_slice(&(count as i16).to_be_bytes());
}

/// Appends one field (`None` for NULL) to `out`.
pub fn put_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(bytes) => {
            out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = Vec::new();
        put_field_count(&mut out, values.len());
        for v in values {
            put_field(&mut out, *v);
        }
        out
    }

    #[test]
    fn header_is_recognised_only_when_complete() {
        assert_eq!(header_len(&HEADER[..5]), Ok(None));
        assert_eq!(header_len(HEADER), Ok(Some(19)));
        assert_eq!(header_len(b"COPY"), Err(FormatError::BadSignature));
        let mut with_oids = HEADER.to_vec();
        with_oids[12] = 1; // bit 16: OIDs included
        assert_eq!(header_len(&with_oids), Err(FormatError::UnsupportedFlags(0x10000)));
    }

    #[test]
    fn tuples_round_trip_through_fields() {
        let t = tuple(&[Some(b"abc"), None, Some(b"")]);
        assert_eq!(tuple_len(&t, 3), Ok(Next::Tuple(t.len())));
        let got: Vec<_> = fields(&t).collect();
        assert_eq!(got, vec![Some(&b"abc"[..]), None, Some(&b""[..])]);
    }

    #[test]
    fn partial_tuples_are_incomplete_at_every_cut() {
        let t = tuple(&[Some(b"hello"), None, Some(b"world!")]);
        for cut in 0..t.len() {
            assert_eq!(tuple_len(&t[..cut], 3), Ok(Next::Incomplete), "cut at {cut}");
        }
    }

    #[test]
    fn trailer_and_bad_counts_are_told_apart() {
        assert_eq!(tuple_len(TRAILER, 3), Ok(Next::Trailer));
        let t = tuple(&[Some(b"x")]);
        assert_eq!(tuple_len(&t, 2), Err(FormatError::FieldCount(1, 2)));
        let mut bad = Vec::new();
        put_field_count(&mut bad, 1);
        bad.extend_from_slice(&(-7i32).to_be_bytes());
        assert_eq!(tuple_len(&bad, 1), Err(FormatError::BadFieldLength(-7)));
    }

    #[test]
    fn zero_column_tuples_are_two_bytes() {
        let t = tuple(&[]);
        assert_eq!(tuple_len(&t, 0), Ok(Next::Tuple(2)));
    }
}
