//! Moves a segmenter's events into bridge objects, one per segment.

use super::DumpError;
use crate::bridge::{Bridge, ObjectWriter};
use crate::format::SegmentEntry;
use crate::segment::{Event, Segmenter};

/// The segments of one stream (a table part, a delta's changes), stored
/// under the keys `key` gives segment numbers.
pub struct Upload<'a, K: Fn(usize) -> String> {
    bridge: &'a dyn Bridge,
    key: K,
    writer: Option<(String, Box<dyn ObjectWriter>)>,
    segments: Vec<SegmentEntry>,
}

impl<'a, K: Fn(usize) -> String> Upload<'a, K> {
    pub fn new(bridge: &'a dyn Bridge, key: K) -> Self {
        Upload { bridge, key, writer: None, segments: Vec::new() }
    }

    /// Writes what the segmenter produced; records each finished segment.
    pub async fn handle(&mut self, segmenter: &mut Segmenter) -> Result<(), DumpError> {
        for event in segmenter.drain() {
            match event {
                Event::Data(bytes) => {
                    if self.writer.is_none() {
                        let key = (self.key)(self.segments.len());
                        let writer = self.bridge.create(&key).await?;
                        self.writer = Some((key, writer));
                    }
                    let (_, writer) = self.writer.as_mut().expect("opened above");
                    writer.write(bytes).await?;
                }
                Event::End(stats) => {
                    let (key, writer) = self.writer.take().expect("a segment ends after its data");
                    let stored_bytes = writer.finish().await?;
                    self.segments.push(SegmentEntry {
                        key,
                        rows: stats.rows,
                        raw_bytes: stats.raw_bytes,
                        stored_bytes,
                        checksum: stats.checksum,
                    });
                }
            }
        }
        Ok(())
    }

    /// Aborts the segment being written.
    pub async fn abort(&mut self) {
        if let Some((_, writer)) = self.writer.take() {
            writer.abort().await;
        }
    }

    pub fn into_segments(self) -> Vec<SegmentEntry> {
        self.segments
    }
}
