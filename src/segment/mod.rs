//! Segment: cuts a table's rows into self-contained, zstd-compressed COPY
//! files of bounded size, each with its row count and checksum.
//!
//! Pure: rows go in, compressed bytes and finished-segment records come out as
//! [`Event`]s; the caller moves the bytes to the bridge. A segment is a whole
//! COPY file (header, tuples, trailer for binary), so any one of them can be
//! loaded alone with `COPY … FROM STDIN`, in any order, in parallel.

mod checksum;

pub use checksum::{Checksum, ChecksumHasher};

use std::io::Write;

use bytes::Bytes;

use crate::copy::{binary, CopyFormat};

/// Rows are gathered into batches this large before compression: one zstd
/// call per row would cost more than the compression itself on narrow rows.
const BATCH_BYTES: usize = 128 * 1024;

/// Compressed output is handed out in pieces of at least this size.
const OUTPUT_BYTES: usize = 256 * 1024;

/// Settings of the segmenter.
#[derive(Debug, Clone, Copy)]
pub struct SegmentOptions {
    /// A segment is closed once it holds this many uncompressed bytes.
    pub max_raw_bytes: u64,
    /// zstd level (1 fastest … 19 smallest).
    pub zstd_level: i32,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions { max_raw_bytes: 64 * 1024 * 1024, zstd_level: 1 }
    }
}

/// What a finished segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentStats {
    pub rows: u64,
    /// Uncompressed bytes: the COPY file as PostgreSQL will read it.
    pub raw_bytes: u64,
    /// Checksum of the uncompressed bytes.
    pub checksum: Checksum,
}

/// Output of the segmenter, in order.
#[derive(Debug)]
pub enum Event {
    /// The next compressed bytes of the current segment.
    Data(Bytes),
    /// The current segment is complete; the next `Data` starts a new one.
    End(SegmentStats),
}

/// Turns rows into compressed segments.
pub struct Segmenter {
    format: CopyFormat,
    options: SegmentOptions,
    current: Option<Open>,
    events: Vec<Event>,
}

struct Open {
    encoder: zstd::stream::write::Encoder<'static, Vec<u8>>,
    batch: Vec<u8>,
    hasher: ChecksumHasher,
    rows: u64,
    raw_bytes: u64,
}

impl Segmenter {
    pub fn new(format: CopyFormat, options: SegmentOptions) -> Self {
        Segmenter { format, options, current: None, events: Vec::new() }
    }

    /// Adds one row (a binary tuple or a text line, as COPY wrote it).
    ///
    /// # Errors
    /// Only if zstd fails, which means memory could not be allocated.
    pub fn push_row(&mut self, row: &[u8]) -> std::io::Result<()> {
        self.write_row(|batch| {
            batch.extend_from_slice(row);
            Ok(())
        })
    }

    /// Adds the one row that `write` appends to the batch it is given: a
    /// rewritten row goes straight where it is compressed from. `write`
    /// must append nothing when it fails.
    ///
    /// # Errors
    /// The error of `write`, or a failing zstd.
    pub fn write_row<E: From<std::io::Error>>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.current.is_none() {
            self.current = Some(self.open()?);
        }
        let open = self.current.as_mut().expect("opened above");
        let before = open.batch.len();
        write(&mut open.batch)?;
        open.rows += 1;
        open.raw_bytes += (open.batch.len() - before) as u64;
        if open.batch.len() >= BATCH_BYTES {
            open.compress_batch()?;
            self.take_output(OUTPUT_BYTES);
        }
        if open_is_full(self.current.as_ref(), self.options.max_raw_bytes) {
            self.close()?;
        }
        Ok(())
    }

    /// Ends the last segment (if any rows came since the previous one).
    ///
    /// # Errors
    /// Only if zstd fails.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.close()
    }

    /// Takes the events produced so far.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    fn open(&self) -> std::io::Result<Open> {
        let mut encoder =
            zstd::stream::write::Encoder::new(Vec::with_capacity(OUTPUT_BYTES * 2), self.options.zstd_level)?;
        // zstd's own checksum catches corruption while decompressing, before
        // a single row reaches PostgreSQL.
        encoder.include_checksum(true)?;
        let mut open = Open {
            encoder,
            batch: Vec::with_capacity(BATCH_BYTES * 2),
            hasher: ChecksumHasher::new(),
            rows: 0,
            raw_bytes: 0,
        };
        if self.format == CopyFormat::Binary {
            open.batch.extend_from_slice(binary::HEADER);
            open.raw_bytes += binary::HEADER.len() as u64;
        }
        Ok(open)
    }

    fn close(&mut self) -> std::io::Result<()> {
        let Some(mut open) = self.current.take() else {
            return Ok(());
        };
        if self.format == CopyFormat::Binary {
            open.batch.extend_from_slice(binary::TRAILER);
            open.raw_bytes += binary::TRAILER.len() as u64;
        }
        open.compress_batch()?;
        let rest = open.encoder.finish()?;
        if !rest.is_empty() {
            self.events.push(Event::Data(Bytes::from(rest)));
        }
        self.events.push(Event::End(SegmentStats {
            rows: open.rows,
            raw_bytes: open.raw_bytes,
            checksum: open.hasher.finish(),
        }));
        Ok(())
    }

    fn take_output(&mut self, at_least: usize) {
        if let Some(open) = self.current.as_mut() {
            let out = open.encoder.get_mut();
            if out.len() >= at_least {
                let data = std::mem::replace(out, Vec::with_capacity(OUTPUT_BYTES * 2));
                self.events.push(Event::Data(Bytes::from(data)));
            }
        }
    }
}

fn open_is_full(open: Option<&Open>, max_raw_bytes: u64) -> bool {
    open.is_some_and(|o| o.raw_bytes >= max_raw_bytes)
}

impl Open {
    fn compress_batch(&mut self) -> std::io::Result<()> {
        self.hasher.update(&self.batch);
        self.encoder.write_all(&self.batch)?;
        self.batch.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::rows::RowSplitter;

    fn row(n: u32) -> Vec<u8> {
        let mut t = Vec::new();
        binary::put_field_count(&mut t, 2);
        binary::put_field(&mut t, Some(&n.to_be_bytes()));
        binary::put_field(&mut t, Some(format!("row number {n} with some text").as_bytes()));
        t
    }

    /// Segments as (decompressed bytes, stats).
    fn segments(events: Vec<Event>) -> Vec<(Vec<u8>, SegmentStats)> {
        let mut out = Vec::new();
        let mut compressed = Vec::new();
        for event in events {
            match event {
                Event::Data(d) => compressed.extend_from_slice(&d),
                Event::End(stats) => {
                    out.push((zstd::decode_all(&compressed[..]).unwrap(), stats));
                    compressed.clear();
                }
            }
        }
        assert!(compressed.is_empty(), "data after the last segment end");
        out
    }

    #[test]
    fn rows_are_cut_into_self_contained_bounded_segments() {
        let options = SegmentOptions { max_raw_bytes: 10_000, zstd_level: 1 };
        let mut seg = Segmenter::new(CopyFormat::Binary, options);
        let rows: Vec<Vec<u8>> = (0..2000).map(row).collect();
        let mut events = Vec::new();
        for r in &rows {
            seg.push_row(r).unwrap();
            events.extend(seg.drain());
        }
        seg.finish().unwrap();
        events.extend(seg.drain());

        let segs = segments(events);
        assert!(segs.len() > 5, "expected several segments, got {}", segs.len());
        let mut all_rows = Vec::new();
        for (raw, stats) in &segs {
            assert!(stats.raw_bytes <= 10_000 + 100, "segment too large: {}", stats.raw_bytes);
            assert_eq!(stats.raw_bytes, raw.len() as u64);
            assert_eq!(stats.checksum, Checksum::of(raw));
            let mut splitter = RowSplitter::new(CopyFormat::Binary, 2);
            let mut n = 0;
            splitter
                .feed::<binary::FormatError>(raw, |r| {
                    all_rows.push(r.to_vec());
                    n += 1;
                    Ok(())
                })
                .unwrap();
            splitter.finish().unwrap();
            assert_eq!(n, stats.rows);
        }
        assert_eq!(all_rows, rows);
    }

    #[test]
    fn no_rows_make_no_segment() {
        let mut seg = Segmenter::new(CopyFormat::Binary, SegmentOptions::default());
        seg.finish().unwrap();
        assert_eq!(seg.drain().count(), 0);
    }

    #[test]
    fn text_segments_have_no_header() {
        let mut seg = Segmenter::new(CopyFormat::Text, SegmentOptions::default());
        seg.push_row(b"1\tone\n").unwrap();
        seg.finish().unwrap();
        let segs = segments(seg.drain().collect());
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].0, b"1\tone\n");
        assert_eq!(segs[0].1.rows, 1);
    }
}
