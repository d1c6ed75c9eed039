//! Applying an incremental dump's changes to a database that holds its
//! parent: in one transaction, in commit order, by key.
//!
//! The changes are read segment by segment and gathered into runs
//! ([`runs`]), each applied in a few statements ([`statements`]). Gathering
//! and applying overlap: the next run is gathered while one is applied. As
//! a run's apply starts, its keys go to the [`ReadAhead`], if any, which
//! reads the rows it changes on a second connection: an update run ahead
//! of the apply, a delete run from the other end.
//! Triggers and foreign keys are not fired while
//! applying (`session_replication_role = replica`, as PostgreSQL's own
//! subscribers do): the source already ran them, and their effects are
//! among the changes.

mod read_ahead;
mod runs;
mod statements;

use async_compression::tokio::bufread::ZstdDecoder;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_postgres::Client;
use tracing::{info, warn};

use self::read_ahead::Keys;
pub use self::read_ahead::ReadAhead;
use self::runs::{Gatherer, Kind, Run, Step};
use super::{RestoreError, DUMP_ID_SETTING};
use crate::bridge::Bridge;
use crate::catalog::DdlObject;
use crate::changes::record;
use crate::copy::rows::RowSplitter;
use crate::copy::CopyFormat;
use crate::format::{ChangeSet, ChangeTable, Manifest, SegmentEntry};
use crate::pg::error_message;
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};
use crate::segment::ChecksumHasher;

/// Bytes read from a segment at a time.
const CHUNK_BYTES: usize = 256 * 1024;

/// Complete steps waiting to be applied while the next is gathered: memory
/// holds at most this many runs besides the one being applied and the one
/// being gathered.
const WAITING_STEPS: usize = 1;

/// Applies the changes of `manifest` to the database `client` is connected
/// to (named `database`), sets the sequences, refreshes the materialized
/// views (`refresh`) and records the dump, all in one transaction: the
/// database ends up holding `manifest`'s dump, or stays as it was.
/// `read_ahead`, if any, is given the keys of each run before it is applied.
///
/// # Errors
/// A corrupted segment, or a change the database refuses (a row a user
/// added meanwhile with the same key, …).
pub async fn apply(
    client: &Client,
    database: &str,
    bridge: &dyn Bridge,
    manifest: &Manifest,
    refresh: &[&DdlObject],
    read_ahead: Option<&ReadAhead>,
) -> Result<u64, RestoreError> {
    let Some(changes) = manifest.databases.first().and_then(|d| d.changes.as_ref()) else {
        return Err(RestoreError::Query {
            what: format!("applying dump {}", manifest.id),
            message: "it carries no changes".into(),
        });
    };
    client.batch_execute("BEGIN").await.map_err(|e| RestoreError::query("starting the delta's transaction", &e))?;
    let result = apply_in_transaction(client, database, bridge, manifest, changes, refresh, read_ahead).await;
    match result {
        Ok(count) => {
            client.batch_execute("COMMIT").await.map_err(|e| RestoreError::query("committing the delta", &e))?;
            info!(dump = %manifest.id, changes = count, "changes applied");
            Ok(count)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn apply_in_transaction(
    client: &Client,
    database: &str,
    bridge: &dyn Bridge,
    manifest: &Manifest,
    changes: &ChangeSet,
    refresh: &[&DdlObject],
    read_ahead: Option<&ReadAhead>,
) -> Result<u64, RestoreError> {
    let replica = "SAVEPOINT rb_role; SET LOCAL session_replication_role = replica; RELEASE SAVEPOINT rb_role";
    if let Err(e) = client.batch_execute(replica).await {
        let _ = client.batch_execute("ROLLBACK TO SAVEPOINT rb_role").await;
        warn!(
            "triggers will fire while changes are applied (session_replication_role: {}); a superuser restoring avoids it",
            error_message(&e)
        );
    }
    let count = apply_changes(client, bridge, changes, read_ahead).await?;
    for sequence in &changes.sequences {
        let sql = format!(
            "SELECT pg_catalog.setval({}, {}, {})",
            quote_literal(&sequence.name),
            sequence.last_value,
            sequence.is_called
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| RestoreError::query(format!("setting sequence {}", sequence.name), &e))?;
    }
    for object in refresh {
        client.batch_execute(&object.sql).await.map_err(|e| RestoreError::Object {
            kind: object.kind.label(),
            name: object.name.clone(),
            message: error_message(&e),
        })?;
    }
    let sql = format!(
        "ALTER DATABASE {} SET {DUMP_ID_SETTING} = {}",
        quote_ident(database),
        quote_literal(manifest.id.as_str())
    );
    client.batch_execute(&sql).await.map_err(|e| RestoreError::query("recording the dump id", &e))?;
    Ok(count)
}

/// Gathers the changes into runs and applies them in order, the next run
/// gathered while one is applied; returns how many changes there were.
async fn apply_changes(
    client: &Client,
    bridge: &dyn Bridge,
    changes: &ChangeSet,
    read_ahead: Option<&ReadAhead>,
) -> Result<u64, RestoreError> {
    let (handoff, mut receiver) = mpsc::channel::<Step>(WAITING_STEPS);
    let gather = async move {
        let mut gatherer = Gatherer::new(&changes.tables);
        for segment in &changes.segments {
            read_segment(bridge, segment, &mut gatherer, &handoff).await?;
        }
        gatherer.end_run();
        hand_over(&handoff, gatherer.take_ready()).await?;
        Ok::<_, RestoreError>(gatherer.count)
    };
    let apply = async {
        while let Some(step) = receiver.recv().await {
            match step {
                Step::Run(run) => {
                    let table = &changes.tables[run.table as usize];
                    if let Some(reader) = read_ahead {
                        read_ahead_of(reader, table, &run);
                    }
                    statements::apply(client, table, run).await?
                }
                Step::Truncate(sql) => {
                    client.batch_execute(&sql).await.map_err(|e| RestoreError::query(sql.clone(), &e))?
                }
            }
        }
        Ok(())
    };
    let (count, ()) = tokio::try_join!(gather, apply)?;
    Ok(count)
}

/// Gives the keys of the rows `run` changes to `reader`.
fn read_ahead_of(reader: &ReadAhead, table: &ChangeTable, run: &Run) {
    // Under replica identity full the "key" is every column, compared as
    // text: there is no index to read it by.
    if !run.keys.is_empty() && !table.full_identity {
        let columns = table.key.iter().map(|k| quote_ident(k)).collect();
        let table = quote_qualified(&table.schema, &table.name);
        let head_start = matches!(run.kind, Kind::Update(_));
        reader.read(Keys { table, columns, rows: run.keys.clone(), head_start });
    }
}

/// Hands complete steps to the applying side, waiting while
/// [`WAITING_STEPS`] are waiting.
async fn hand_over(handoff: &mpsc::Sender<Step>, steps: Vec<Step>) -> Result<(), RestoreError> {
    for step in steps {
        // Closed only when the applying side has stopped on an error, which
        // is the one reported.
        handoff.send(step).await.map_err(|_| RestoreError::Cancelled)?;
    }
    Ok(())
}

/// Reads one segment of change records into `gatherer`, handing over the
/// steps each chunk completes; checks the segment's checksum and count.
async fn read_segment(
    bridge: &dyn Bridge,
    segment: &SegmentEntry,
    gatherer: &mut Gatherer<'_>,
    handoff: &mpsc::Sender<Step>,
) -> Result<(), RestoreError> {
    let fail = |message: String| RestoreError::Segment { table: "changes".into(), key: segment.key.clone(), message };
    let reader = bridge.open(&segment.key).await?;
    let mut decoder = ZstdDecoder::new(BufReader::with_capacity(CHUNK_BYTES, reader));
    let mut splitter = RowSplitter::new(CopyFormat::Binary, record::FIELDS);
    let mut hasher = ChecksumHasher::new();
    let mut buffer = BytesMut::with_capacity(CHUNK_BYTES);
    let mut rows = 0u64;
    loop {
        buffer.clear();
        let read = decoder
            .read_buf(&mut buffer)
            .await
            .map_err(|e| fail(format!("the segment is corrupted (cannot decompress: {e})")))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer);
        splitter
            .feed::<Problem>(&buffer, |row| {
                rows += 1;
                gatherer.push(record::decode(row).map_err(|e| Problem(e.to_string()))?).map_err(Problem)
            })
            .map_err(|p| fail(p.0))?;
        hand_over(handoff, gatherer.take_ready()).await?;
    }
    splitter.finish().map_err(|e| fail(e.to_string()))?;
    let checksum = hasher.finish();
    if checksum != segment.checksum {
        return Err(fail(format!(
            "checksum mismatch (manifest {}, data {checksum}): the dump is corrupted",
            segment.checksum
        )));
    }
    if rows != segment.rows {
        return Err(fail(format!("read {rows} changes, the manifest says {}", segment.rows)));
    }
    Ok(())
}

/// Why a segment's records cannot be applied.
struct Problem(String);

impl From<crate::copy::binary::FormatError> for Problem {
    fn from(e: crate::copy::binary::FormatError) -> Self {
        Problem(e.to_string())
    }
}
