//! Loading segments: each one a `COPY … FROM STDIN` of its own, several at
//! once over separate connections, every byte checksummed on the way.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_compression::tokio::bufread::ZstdDecoder;
use bytes::BytesMut;
use futures::SinkExt;
use tokio::io::{AsyncReadExt, BufReader};
use tokio::task::JoinSet;

use super::RestoreError;
use crate::bridge::Bridge;
use crate::config::ConnectionUri;
use crate::copy::statement;
use crate::format::{DatabaseEntry, SegmentEntry, TableEntry};
use crate::pg::{self, error_message};
use crate::progress::Progress;
use crate::segment::ChecksumHasher;

/// Bytes handed to PostgreSQL per CopyData message.
const CHUNK_BYTES: usize = 256 * 1024;

/// Loads every segment of `database` into the database `uri` names.
///
/// # Errors
/// The first segment that fails: unreadable, corrupted (checksum or row
/// count), or refused by PostgreSQL.
pub async fn load_tables(
    uri: &ConnectionUri,
    bridge: Arc<dyn Bridge>,
    database: &DatabaseEntry,
    jobs: usize,
    progress: &Progress,
) -> Result<(), RestoreError> {
    // Largest tables first, so the longest loads start early.
    let mut tables: Vec<Arc<TableEntry>> = database.tables.iter().cloned().map(Arc::new).collect();
    tables.sort_by_key(|t| std::cmp::Reverse(t.segments.iter().map(|s| s.raw_bytes).sum::<u64>()));
    let work: VecDeque<(Arc<TableEntry>, SegmentEntry)> =
        tables.iter().flat_map(|t| t.segments.iter().map(move |s| (t.clone(), s.clone()))).collect();
    if work.is_empty() {
        return Ok(());
    }
    let jobs = jobs.clamp(1, work.len());
    let queue = Arc::new(Mutex::new(work));
    let mut workers = JoinSet::new();
    for _ in 0..jobs {
        let client = pg::connect(uri, "replibyte restore worker").await?;
        // Safe: nothing is visible until the swap, and a crash before it
        // discards this database anyway.
        client
            .batch_execute("SET synchronous_commit = off")
            .await
            .map_err(|e| RestoreError::query("configuring a load session", &e))?;
        let queue = queue.clone();
        let bridge = bridge.clone();
        let progress = progress.clone();
        workers.spawn(async move {
            loop {
                let next = queue.lock().expect("not poisoned").pop_front();
                let Some((table, segment)) = next else { break };
                load_segment(&client, bridge.as_ref(), &table, &segment, &progress).await?;
            }
            Ok::<_, RestoreError>(())
        });
    }
    while let Some(result) = workers.join_next().await {
        let failure = match result {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(join) => RestoreError::Worker(join.to_string()),
        };
        workers.abort_all();
        return Err(failure);
    }
    Ok(())
}

async fn load_segment(
    client: &tokio_postgres::Client,
    bridge: &dyn Bridge,
    table: &TableEntry,
    segment: &SegmentEntry,
    progress: &Progress,
) -> Result<(), RestoreError> {
    let name = format!("{}.{}", table.schema, table.name);
    let fail = |message: String| RestoreError::Segment { table: name.clone(), key: segment.key.clone(), message };
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let sql = statement::copy_in(&table.schema, &table.name, &columns, table.format);
    let mut task = progress.table(&name, segment.raw_bytes);

    let reader = bridge.open(&segment.key).await?;
    let mut decoder = ZstdDecoder::new(BufReader::with_capacity(CHUNK_BYTES, reader));
    let sink = client.copy_in::<_, bytes::Bytes>(&sql).await.map_err(|e| fail(error_message(&e)))?;
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
