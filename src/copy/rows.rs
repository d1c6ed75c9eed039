//! Cuts the byte stream of a `COPY … TO STDOUT` into whole rows.
//!
//! PostgreSQL sends one row per CopyData message today, but the protocol does
//! not promise it (the binary header arrives glued to the first row), so rows
//! are found by parsing, with a carry buffer for a row split across chunks.
//! Rows that arrive whole are handed out in place, without a copy.

use super::binary::{self, FormatError, Next};
use super::CopyFormat;

/// Splits a COPY OUT stream into rows, in either COPY format.
pub struct RowSplitter {
    format: CopyFormat,
    fields: usize,
    header_done: bool,
    trailer_seen: bool,
    carry: Vec<u8>,
}

impl RowSplitter {
    /// A splitter for a stream whose rows have `fields` columns.
    pub fn new(format: CopyFormat, fields: usize) -> Self {
        RowSplitter {
            format,
            fields,
            // Text COPY has no header.
            header_done: format == CopyFormat::Text,
            trailer_seen: false,
            carry: Vec::new(),
        }
    }

    /// Feeds the next chunk of the stream, calling `on_row` with every row it
    /// completes (a binary tuple with its field count, or a text line with its
    /// newline).
    ///
    /// # Errors
    /// A malformed stream, or the first error `on_row` returns.
    pub fn feed<E: From<FormatError>>(
        &mut self,
        chunk: &[u8],
        mut on_row: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.carry.is_empty() {
            let used = self.split(chunk, &mut on_row)?;
            self.carry.extend_from_slice(&chunk[used..]);
            return Ok(());
        }
        // Complete the carried row with as little copying as possible: append
        // the chunk, consume whole rows, keep the rest.
        self.carry.extend_from_slice(chunk);
        let carry = std::mem::take(&mut self.carry);
        let used = self.split(&carry, &mut on_row)?;
        self.carry = carry;
        self.carry.drain(..used);
        Ok(())
    }

    /// Checks that the stream ended on a row boundary (and, in binary, with
    /// its trailer).
    ///
    /// # Errors
    /// A truncated stream.
    pub fn finish(&self) -> Result<(), FormatError> {
        let complete = self.carry.is_empty()
            && match self.format {
                CopyFormat::Binary => self.trailer_seen,
                CopyFormat::Text => true,
            };
        if complete {
            Ok(())
        } else {
            Err(FormatError::Truncated)
        }
    }

    fn split<E: From<FormatError>>(
        &mut self,
        buf: &[u8],
        on_row: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut pos = 0;
        if !self.header_done {
            match binary::header_len(buf)? {
                Some(len) => {
                    pos = len;
                    self.header_done = true;
                }
                None => return Ok(0),
            }
        }
        match self.format {
            CopyFormat::Binary => {
                while pos < buf.len() {
                    if self.trailer_seen {
                        return Err(FormatError::DataAfterTrailer.into());
                    }
                    match binary::tuple_len(&buf[pos..], self.fields)? {
                        Next::Tuple(len) => {
                            on_row(&buf[pos..pos + len])?;
                            pos += len;
                        }
                        Next::Trailer => {
                            self.trailer_seen = true;
                            pos += binary::TRAILER.len();
                        }
                        Next::Incomplete => break,
                    }
                }
            }
            CopyFormat::Text => {
                while let Some(end) = memchr_newline(&buf[pos..]) {
                    on_row(&buf[pos..pos + end + 1])?;
                    pos += end + 1;
                }
            }
        }
        Ok(pos)
    }
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_stream(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
        let mut out = binary::HEADER.to_vec();
        for row in rows {
            binary::put_field_count(&mut out, row.len());
            for v in *row {
                binary::put_field(&mut out, *v);
            }
        }
        out.extend_from_slice(binary::TRAILER);
        out
    }

    fn split_in_chunks(format: CopyFormat, fields: usize, stream: &[u8], size: usize) -> Vec<Vec<u8>> {
        let mut splitter = RowSplitter::new(format, fields);
        let mut rows = Vec::new();
        for chunk in stream.chunks(size) {
            splitter
                .feed::<FormatError>(chunk, |row| {
                    rows.push(row.to_vec());
                    Ok(())
                })
                .unwrap();
        }
        splitter.finish().unwrap();
        rows
    }

    #[test]
    fn binary_rows_are_found_whatever_the_chunking() {
        let stream = binary_stream(&[&[Some(b"a"), None], &[Some(b"bcd"), Some(b"")], &[None, None]]);
        let whole = split_in_chunks(CopyFormat::Binary, 2, &stream, stream.len());
        assert_eq!(whole.len(), 3);
        for size in 1..stream.len() {
            assert_eq!(split_in_chunks(CopyFormat::Binary, 2, &stream, size), whole, "chunk size {size}");
        }
    }

    #[test]
    fn text_rows_end_at_newlines() {
        let stream = b"1\tx\\ny\n2\t\\N\n";
        for size in 1..stream.len() {
            let rows = split_in_chunks(CopyFormat::Text, 2, stream, size);
            assert_eq!(rows, vec![b"1\tx\\ny\n".to_vec(), b"2\t\\N\n".to_vec()]);
        }
    }

    #[test]
    fn a_stream_cut_short_is_an_error() {
        let stream = binary_stream(&[&[Some(b"abc")]]);
        let mut splitter = RowSplitter::new(CopyFormat::Binary, 1);
        splitter.feed::<FormatError>(&stream[..stream.len() - 2], |_| Ok(())).unwrap();
        assert_eq!(splitter.finish(), Err(FormatError::Truncated));
    }
}
