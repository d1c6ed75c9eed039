//! Reading ahead of a delta's apply: a second connection reads the rows a
//! run of updates or deletes is about to change, by the same key, while the
//! applying transaction stages and applies the run.
//!
//! Applying a delta in place is bound by reading the pages its changes
//! touch (each changed row's index leaf and heap page, scattered over
//! tables larger than shared buffers), one at a time, in the one backend
//! that holds the delta's transaction. PostgreSQL's replay of WAL has the
//! same bound and prefetches for it (`recovery_prefetch`). Where a delta
//! cannot be split over connections ([`super::parallel`]), reading can:
//! the pages this connection reads are in shared buffers
//! (or at least the OS cache) when the transaction gets to them, and the
//! two reads run on two cores. It reads the run being applied, not the
//! next ones: pages read further ahead would evict the ones the apply is
//! about to use when a run touches more pages than shared buffers hold.
//!
//! It is only a hint: it reads committed rows in its own short statements,
//! holds no lock across tables (so it can neither deadlock with the apply
//! nor delay it by more than one statement), and an error stops it (with a
//! warning) without touching the apply.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tracing::warn;

use super::statements::{key_matches, key_select, stage};
use crate::copy::binary::{self, Next};
use crate::pg::error_message;

/// The rows of one run to read: binary COPY tuples of the key columns.
#[derive(Clone)]
pub struct Keys {
    /// The table, quoted and qualified.
    pub table: String,
    /// Its key columns, quoted.
    pub columns: Vec<String>,
    pub rows: Bytes,
    /// Whether the apply stages whole rows before it changes any (an
    /// update run): the reader then starts well ahead of it.
    pub head_start: bool,
}

/// A connection reading the rows runs will change, in the background.
pub struct ReadAhead {
    /// The run to read next: a newer one replaces it (the apply never
    /// waits for the reader; a run it did not get to is not read).
    next: watch::Sender<Option<Keys>>,
    rows_read: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl ReadAhead {
    /// Starts reading what [`ReadAhead::read`] is given, on `client`.
    pub fn start(client: Client) -> ReadAhead {
        let (next, mut runs) = watch::channel::<Option<Keys>>(None);
        let rows_read = Arc::new(AtomicU64::new(0));
        let counter = rows_read.clone();
        let task = tokio::spawn(async move {
            while runs.changed().await.is_ok() {
                let Some(keys) = runs.borrow_and_update().clone() else { continue };
                match read(&client, &keys).await {
                    Ok(rows) => counter.fetch_add(rows, Ordering::Relaxed),
                    Err(e) => {
                        warn!(table = %keys.table, "read-ahead stopped ({}); changes are applied without it", error_message(&e));
                        return;
                    }
                };
            }
        });
        ReadAhead { next, rows_read, task }
    }

    /// Reads `keys` next, instead of a run not yet started.
    pub fn read(&self, keys: Keys) {
        self.next.send_replace(Some(keys));
    }

    /// How many rows have been read ahead so far.
    pub fn rows_read(&self) -> u64 {
        self.rows_read.load(Ordering::Relaxed)
    }
}

impl Drop for ReadAhead {
    /// Stops reading: what is left to read is no longer needed. Dropping
    /// the task drops its connection.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the rows `keys` names through the key's index (the keys staged in
/// a temporary table and joined to the table, as the apply itself does),
/// touching each row's heap page: `count(t.ctid)` cannot be answered from
/// the index alone.
///
/// With a head start, in the apply's order: staging only keys, this
/// connection is reading while the apply still stages whole rows (20,000
/// updated rows of six columns, jsonb among them: 30 ms), and it reads
/// about twice as fast as the apply changes rows, so it stays ahead to
/// the end. Without one, from the last row ([`last_first`]).
async fn read(client: &Client, keys: &Keys) -> Result<u64, tokio_postgres::Error> {
    let table = &keys.table;
    let rows =
        if keys.head_start { keys.rows.clone() } else { Bytes::from(last_first(&keys.rows, keys.columns.len())) };
    stage(client, ("TEMPORARY", "pg_temp.rb_read_ahead"), table, &key_select(&keys.columns), rows).await?;
    let sql = format!(
        "SELECT count(t.ctid) FROM ONLY {table} t JOIN pg_temp.rb_read_ahead s ON {}",
        key_matches(&keys.columns, false)
    );
    let found: i64 = client.query_one(sql.as_str(), &[]).await?.get(0);
    client.batch_execute("DROP TABLE pg_temp.rb_read_ahead").await?;
    Ok(u64::try_from(found).unwrap_or(0))
}

/// The binary COPY tuples of `rows` (of `fields` fields each), last first.
///
/// The apply goes through a run's rows from the first; reading them from
/// the last, the read-ahead meets it halfway, each having read about half
/// the pages (read in the same order, the two would mostly wait for the
/// same pages), and what it reads is not evicted by reads far ahead of the
/// apply when a run touches more pages than shared buffers hold.
fn last_first(rows: &[u8], fields: usize) -> Vec<u8> {
    let mut tuples = Vec::new();
    let mut rest = rows;
    while let Ok(Next::Tuple(len)) = binary::tuple_len(rest, fields) {
        tuples.push(&rest[..len]);
        rest = &rest[len..];
    }
    let mut out = Vec::with_capacity(rows.len());
    for tuple in tuples.iter().rev() {
        out.extend_from_slice(tuple);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(values: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        binary::put_field_count(&mut out, values.len());
        for v in values {
            binary::put_field(&mut out, Some(v));
        }
        out
    }

    #[test]
    fn tuples_come_last_first() {
        let (a, b, c) = (tuple(&[b"1", b"x"]), tuple(&[b"22", b""]), tuple(&[b"333", b"yy"]));
        let rows = [a.clone(), b.clone(), c.clone()].concat();
        assert_eq!(last_first(&rows, 2), [c, b, a].concat());
        assert!(last_first(&[], 2).is_empty());
    }
}
