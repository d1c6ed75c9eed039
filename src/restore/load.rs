//! Loading a segment: a `COPY … FROM STDIN` of its own, every byte
//! checksummed on the way.

use async_compression::tokio::bufread::ZstdDecoder;
use bytes::BytesMut;
use futures::SinkExt;
use tokio::io::{AsyncReadExt, BufReader};

use super::RestoreError;
use crate::bridge::Bridge;
use crate::catalog::large_objects;
use crate::copy::statement;
use crate::format::{SegmentEntry, TableEntry};
use crate::pg::error_message;
use crate::progress::Progress;
use crate::segment::ChecksumHasher;

/// Bytes handed to PostgreSQL per CopyData message.
const CHUNK_BYTES: usize = 256 * 1024;

/// Loads one segment with its own `COPY … FROM STDIN`.
///
/// # Errors
/// An unreadable or corrupted segment (checksum, row count), or one
/// PostgreSQL refuses; nothing of it is committed then.
pub async fn load_segment(
    client: &tokio_postgres::Client,
    bridge: &dyn Bridge,
    table: &TableEntry,
    segment: &SegmentEntry,
    progress: &Progress,
) -> Result<(), RestoreError> {
    let name = format!("{}.{}", table.schema, table.name);
    let fail = |message: String| RestoreError::Segment { table: name.clone(), key: segment.key.clone(), message };
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    if large_objects::is_large_objects(&table.schema, &table.name) {
        // Chunks of large objects: into a temporary table, then written
        // with lo_put, in one transaction.
        client.batch_execute(large_objects::LOAD_BEFORE).await.map_err(|e| fail(error_message(&e)))?;
        let sql = format!("COPY {} ({}) FROM STDIN (FORMAT binary)", large_objects::LOAD_TARGET, columns.join(", "));
        let loaded = copy_segment(client, bridge, &sql, &name, segment, progress).await;
        let written = match loaded {
            Ok(()) => client.batch_execute(large_objects::LOAD_AFTER).await.map_err(|e| fail(error_message(&e))),
            Err(e) => Err(e),
        };
        if written.is_err() {
            let _ = client.batch_execute("ROLLBACK").await;
        }
        return written;
    }
    let sql = statement::copy_in(&table.schema, &table.name, &columns, table.format);
    copy_segment(client, bridge, &sql, &name, segment, progress).await
}

/// Streams one segment into `sql` (a `COPY … FROM STDIN`), checking its
/// checksum and row count before the COPY ends.
async fn copy_segment(
    client: &tokio_postgres::Client,
    bridge: &dyn Bridge,
    sql: &str,
    name: &str,
    segment: &SegmentEntry,
    progress: &Progress,
) -> Result<(), RestoreError> {
    let fail = |message: String| RestoreError::Segment { table: name.to_string(), key: segment.key.clone(), message };
    let mut task = progress.table(name, segment.raw_bytes);

    let reader = bridge.open(&segment.key).await?;
    let mut decoder = ZstdDecoder::new(BufReader::with_capacity(CHUNK_BYTES, reader));
    let sink = client.copy_in::<_, bytes::Bytes>(sql).await.map_err(|e| fail(error_message(&e)))?;
    futures::pin_mut!(sink);
    let mut hasher = ChecksumHasher::new();
    let mut buffer = BytesMut::with_capacity(CHUNK_BYTES);
    loop {
        buffer.reserve(CHUNK_BYTES);
        let read = decoder
            .read_buf(&mut buffer)
            .await
            .map_err(|e| fail(format!("the segment is corrupted (cannot decompress: {e})")))?;
        if read > 0 && buffer.len() < CHUNK_BYTES {
            continue;
        }
        if !buffer.is_empty() {
            let chunk = buffer.split().freeze();
            hasher.update(&chunk);
            task.add_bytes(chunk.len() as u64);
            sink.send(chunk).await.map_err(|e| fail(error_message(&e)))?;
        }
        if read == 0 {
            break;
        }
    }
    // Checked before the COPY is finished: dropping the sink unfinished
    // aborts it, so not one row of a corrupted segment is committed.
    let checksum = hasher.finish();
    if checksum != segment.checksum {
        return Err(fail(format!(
            "checksum mismatch (manifest {}, data {checksum}): the dump is corrupted",
            segment.checksum
        )));
    }
    let rows = sink.as_mut().finish().await.map_err(|e| fail(error_message(&e)))?;
    if rows != segment.rows {
        return Err(fail(format!("loaded {rows} rows, the manifest says {}", segment.rows)));
    }
    task.finish(rows);
    Ok(())
}
