//! The COPY reader (`RowSplitter` over `binary::header_len`, `tuple_len`
//! and `fields`) on arbitrary streams. It must never panic, must find the
//! same rows and the same error however the stream is cut into chunks, and
//! every binary row it hands out must be one `fields` walks exactly.
//!
//! Input: one byte for the field count (bit 7: text format instead of
//! binary), one for the chunk size, then the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replibyte::copy::binary::{self, FormatError, Next};
use replibyte::copy::rows::RowSplitter;
use replibyte::copy::CopyFormat;

/// The rows found, and how the stream ended.
fn split(format: CopyFormat, fields: usize, stream: &[u8], chunk: usize) -> (Vec<Vec<u8>>, Result<(), FormatError>) {
    let mut splitter = RowSplitter::new(format, fields);
    let mut rows = Vec::new();
    for piece in stream.chunks(chunk) {
        let fed = splitter.feed::<FormatError>(piece, |row| {
            rows.push(row.to_vec());
            Ok(())
        });
        if let Err(e) = fed {
            return (rows, Err(e));
        }
    }
    let end = splitter.finish();
    (rows, end)
}

fuzz_target!(|input: &[u8]| {
    let Some((&[shape, chunk], stream)) = input.split_first_chunk::<2>() else {
        return;
    };
    let format = if shape & 0x80 == 0 { CopyFormat::Binary } else { CopyFormat::Text };
    let fields = usize::from(shape & 0x0f);
    let whole = split(format, fields, stream, stream.len().max(1));
    let pieces = split(format, fields, stream, usize::from(chunk).max(1));
    assert_eq!(whole, pieces, "chunking changed the result");
    if format == CopyFormat::Binary {
        for row in &whole.0 {
            assert_eq!(binary::tuple_len(row, fields), Ok(Next::Tuple(row.len())));
            let walked: usize = binary::fields(row).map(|f| 4 + f.map_or(0, <[u8]>::len)).sum();
            assert_eq!(2 + walked, row.len(), "fields() disagrees with tuple_len()");
            assert_eq!(binary::fields(row).count(), fields);
        }
    }
});
