//! Applying an incremental dump's changes to a database that holds its
//! parent: in one transaction, in commit order, by key.
//!
//! Consecutive changes of one kind to one table are applied together: rows
//! to insert go in with one `COPY`; rows to update or delete go into a
//! temporary table with one `COPY`, then one `UPDATE … FROM` or
//! `DELETE … USING` joins them by key. A run ends where the kind or the
//! table changes, or when a key comes back (so each row's changes keep
//! their order). Updates set only the columns the change carries: a
//! TOASTed value it did not touch stays as it is. Triggers and foreign
//! keys are not fired while applying (`session_replication_role =
//! replica`, as PostgreSQL's own subscribers do): the source already ran
//! them, and their effects are among the changes.

use std::collections::HashSet;

use async_compression::tokio::bufread::ZstdDecoder;
use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use tokio::io::{AsyncReadExt, BufReader};
use tokio_postgres::Client;
use tracing::{info, warn};

use super::{RestoreError, DUMP_ID_SETTING};
use crate::bridge::Bridge;
use crate::catalog::DdlObject;
use crate::changes::pgoutput::{decode_tuple, Value};
use crate::changes::record::{self, Change};
use crate::changes::rows::to_copy_tuple;
use crate::copy::binary;
use crate::copy::rows::RowSplitter;
use crate::copy::CopyFormat;
use crate::format::{ChangeSet, ChangeTable, Manifest, SegmentEntry};
use crate::pg::error_message;
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};
use crate::segment::ChecksumHasher;

/// Bytes read from a segment at a time.
const CHUNK_BYTES: usize = 256 * 1024;

/// A run is applied once it holds this many bytes of rows, so memory does
/// not grow with a large statement's changes.
const RUN_BYTES: usize = 8 * 1024 * 1024;

/// Applies the changes of `manifest` to the database `client` is connected
/// to (named `database`), sets the sequences, refreshes the materialized
/// views (`refresh`) and records the dump, all in one transaction: the
/// database ends up holding `manifest`'s dump, or stays as it was.
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
) -> Result<u64, RestoreError> {
    let Some(changes) = manifest.databases.first().and_then(|d| d.changes.as_ref()) else {
        return Err(RestoreError::Query {
            what: format!("applying dump {}", manifest.id),
            message: "it carries no changes".into(),
        });
    };
    client.batch_execute("BEGIN").await.map_err(|e| RestoreError::query("starting the delta's transaction", &e))?;
    let result = apply_in_transaction(client, database, bridge, manifest, changes, refresh).await;
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
) -> Result<u64, RestoreError> {
    let replica = "SAVEPOINT rb_role; SET LOCAL session_replication_role = replica; RELEASE SAVEPOINT rb_role";
    if let Err(e) = client.batch_execute(replica).await {
        let _ = client.batch_execute("ROLLBACK TO SAVEPOINT rb_role").await;
        warn!(
            "triggers will fire while changes are applied (session_replication_role: {}); a superuser restoring avoids it",
            error_message(&e)
        );
    }
    let mut batcher = Batcher::new(client, &changes.tables);
    for segment in &changes.segments {
        read_segment(bridge, segment, &mut batcher).await?;
    }
    batcher.flush().await?;
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
    Ok(batcher.count)
}

/// Reads one segment of change records into `batcher`, applying the runs
/// each chunk completes (memory holds a chunk and the run in progress);
/// checks the segment's checksum and count.
async fn read_segment(
    bridge: &dyn Bridge,
    segment: &SegmentEntry,
    batcher: &mut Batcher<'_>,
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
                batcher.push(record::decode(row).map_err(|e| Problem(e.to_string()))?).map_err(Problem)
            })
            .map_err(|p| fail(p.0))?;
        batcher.run_pending().await?;
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

/// What a run of changes does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Insert,
    /// Which columns the updates set.
    Update(Vec<bool>),
    Delete,
}

/// Consecutive changes of one kind to one table, as binary COPY tuples.
struct Run {
    table: u32,
    kind: Kind,
    rows: Vec<u8>,
    keys: HashSet<Vec<u8>>,
}

/// Gathers changes into runs and applies each run in a few statements.
/// Decoding is synchronous and applying is not: runs are queued while a
/// segment's records are read, then applied.
struct Batcher<'a> {
    client: &'a Client,
    tables: &'a [ChangeTable],
    current: Option<Run>,
    ready: Vec<Step>,
    count: u64,
}

/// A statement group to run, in order.
enum Step {
    Run(Run),
    Truncate(String),
}

impl<'a> Batcher<'a> {
    fn new(client: &'a Client, tables: &'a [ChangeTable]) -> Self {
        Batcher { client, tables, current: None, ready: Vec::new(), count: 0 }
    }

    fn table(&self, index: u32) -> Result<&'a ChangeTable, String> {
        self.tables.get(index as usize).ok_or_else(|| format!("change to unknown table #{index}"))
    }

    /// Adds one change to the current run (starting a new one if needed).
    fn push(&mut self, change: Change<'_>) -> Result<(), String> {
        self.count += 1;
        let (table, kind, row, key) = match change {
            Change::Truncate { tables, cascade, restart_identity } => {
                self.end_run();
                let names: Vec<String> = tables
                    .iter()
                    .map(|&t| self.table(t).map(|t| format!("ONLY {}", quote_qualified(&t.schema, &t.name))))
                    .collect::<Result<_, _>>()?;
                let restart = if restart_identity { " RESTART IDENTITY" } else { "" };
                let cascade = if cascade { " CASCADE" } else { "" };
                self.ready.push(Step::Truncate(format!("TRUNCATE {}{restart}{cascade}", names.join(", "))));
                return Ok(());
            }
            Change::Insert { table, new } => {
                let values = decode_tuple(new).map_err(|e| e.to_string())?;
                let all: Vec<usize> = (0..values.len()).collect();
                let mut row = Vec::new();
                to_copy_tuple(&[(&values, &all)], &mut row)?;
                (table, Kind::Insert, row, None)
            }
            Change::Update { table, old, new } => {
                let t = self.table(table)?;
                let values = decode_tuple(new).map_err(|e| e.to_string())?;
                let old_values = old.map(decode_tuple).transpose().map_err(|e| e.to_string())?;
                let key_from = old_values.as_deref().unwrap_or(&values);
                let key_columns = key_positions(t)?;
                // Columns to set: those the change carries, but not the key
                // when it did not change (an identity column GENERATED
                // ALWAYS cannot be set, even to itself).
                let present: Vec<bool> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| !matches!(v, Value::Unchanged) && (old_values.is_some() || !key_columns.contains(&i)))
                    .collect();
                let mut key = Vec::new();
                to_copy_tuple(&[(key_from, &key_columns)], &mut key)?;
                // The row's old key (what finds it), then its new values.
                let set: Vec<usize> = present.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
                let mut row = Vec::new();
                to_copy_tuple(&[(key_from, &key_columns), (&values, &set)], &mut row)?;
                (table, Kind::Update(present), row, Some(key))
            }
            Change::Delete { table, old } => {
                let t = self.table(table)?;
                let values = decode_tuple(old).map_err(|e| e.to_string())?;
                let mut row = Vec::new();
                to_copy_tuple(&[(&values, &key_positions(t)?)], &mut row)?;
                (table, Kind::Delete, row.clone(), Some(row))
            }
        };
        let same_run = self.current.as_ref().is_some_and(|run| {
            run.table == table && run.kind == kind && key.as_ref().is_none_or(|k| !run.keys.contains(k))
        });
        if !same_run {
            self.end_run();
            self.current = Some(Run { table, kind, rows: Vec::new(), keys: HashSet::new() });
        }
        let run = self.current.as_mut().expect("started above");
        run.rows.extend_from_slice(&row);
        if let Some(key) = key {
            run.keys.insert(key);
        }
        if run.rows.len() >= RUN_BYTES {
            self.end_run();
        }
        Ok(())
    }

    fn end_run(&mut self) {
        if let Some(run) = self.current.take() {
            self.ready.push(Step::Run(run));
        }
    }

    /// Applies the runs that are complete.
    async fn run_pending(&mut self) -> Result<(), RestoreError> {
        for step in std::mem::take(&mut self.ready) {
            match step {
                Step::Run(run) => self.apply(run).await?,
                Step::Truncate(sql) => {
                    self.client.batch_execute(&sql).await.map_err(|e| RestoreError::query(sql.clone(), &e))?
                }
            }
        }
        Ok(())
    }

    /// Applies everything, the last run included.
    async fn flush(&mut self) -> Result<(), RestoreError> {
        self.end_run();
        self.run_pending().await
    }

    async fn apply(&self, run: Run) -> Result<(), RestoreError> {
        let t = &self.tables[run.table as usize];
        let table = quote_qualified(&t.schema, &t.name);
        let fail = |what: &str, e: tokio_postgres::Error| RestoreError::Query {
            what: format!("applying {what} to {}.{}", t.schema, t.name),
            message: error_message(&e),
        };
        let column = |name: &String| quote_ident(name);
        let key: Vec<String> = t.key.iter().map(column).collect();
        // A key column compared by its own equality, or by its text under
        // replica identity full (whose columns may lack an equality).
        let matches = |i: usize, k: &str| {
            if t.full_identity {
                format!("t.{k}::text IS NOT DISTINCT FROM s.k{i}::text")
            } else {
                format!("t.{k} = s.k{i}")
            }
        };
        let condition: Vec<String> = key.iter().enumerate().map(|(i, k)| matches(i, k)).collect();
        match &run.kind {
            Kind::Insert => {
                let columns: Vec<String> = t.columns.iter().map(column).collect();
                let sql = format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", columns.join(", "));
                copy_rows(self.client, &sql, run.rows).await.map_err(|e| fail("inserts", e))
            }
            Kind::Update(present) => {
                let set: Vec<&String> = t.columns.iter().zip(present).filter(|(_, p)| **p).map(|(c, _)| c).collect();
                if set.is_empty() {
                    return Ok(());
                }
                let mut select: Vec<String> = key.iter().enumerate().map(|(i, k)| format!("{k} AS k{i}")).collect();
                select.extend(set.iter().enumerate().map(|(i, c)| format!("{} AS c{i}", column(c))));
                let assignments: Vec<String> =
                    set.iter().enumerate().map(|(i, c)| format!("{} = s.c{i}", column(c))).collect();
                let apply = format!(
                    "UPDATE ONLY {table} t SET {} FROM pg_temp.rb_apply s WHERE {}",
                    assignments.join(", "),
                    condition.join(" AND ")
                );
                self.staged(&table, &select, run.rows, &apply).await.map_err(|e| fail("updates", e))
            }
            Kind::Delete => {
                let select: Vec<String> = key.iter().enumerate().map(|(i, k)| format!("{k} AS k{i}")).collect();
                let apply =
                    format!("DELETE FROM ONLY {table} t USING pg_temp.rb_apply s WHERE {}", condition.join(" AND "));
                self.staged(&table, &select, run.rows, &apply).await.map_err(|e| fail("deletes", e))
            }
        }
    }

    /// Loads `rows` into a temporary table shaped by `select` (columns of
    /// `table`), runs `apply` against it, drops it.
    async fn staged(
        &self,
        table: &str,
        select: &[String],
        rows: Vec<u8>,
        apply: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let create =
            format!("CREATE TEMPORARY TABLE rb_apply AS SELECT {} FROM ONLY {table} WITH NO DATA", select.join(", "));
        self.client.batch_execute(&create).await?;
        copy_rows(self.client, "COPY pg_temp.rb_apply FROM STDIN (FORMAT binary)", rows).await?;
        self.client.batch_execute(apply).await?;
        self.client.batch_execute("DROP TABLE pg_temp.rb_apply").await
    }
}

/// Positions of the key columns among the table's columns.
fn key_positions(table: &ChangeTable) -> Result<Vec<usize>, String> {
    if table.key.is_empty() {
        return Err(format!("table {}.{} has no key to find its rows by", table.schema, table.name));
    }
    table
        .key
        .iter()
        .map(|k| table.columns.iter().position(|c| c == k).ok_or_else(|| format!("key column {k} is not a column")))
        .collect()
}

/// Streams binary COPY tuples (without header) into `sql`.
async fn copy_rows(client: &Client, sql: &str, rows: Vec<u8>) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(binary::HEADER)).await?;
    sink.send(Bytes::from(rows)).await?;
    sink.send(Bytes::from_static(binary::TRAILER)).await?;
    sink.as_mut().finish().await?;
    Ok(())
}
