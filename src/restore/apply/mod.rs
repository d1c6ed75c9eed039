//! Applying an incremental dump's changes to a database that holds its
//! parent: all or nothing, in commit order, by key.
//!
//! The changes are read segment by segment and gathered into runs
//! ([`runs`]), each applied in a few statements ([`statements`]). Gathering
//! and applying overlap: the next run is gathered while one is applied.
//! With more than one connection, each table's runs go to one of them
//! ([`route`]) and the connections' transactions commit together
//! ([`parallel`], [`prepared`]); where that cannot be done, all runs are
//! applied in one transaction, and as a run's apply starts its keys go to
//! the [`ReadAhead`], if any, which reads the rows it changes on a second
//! connection: an update run ahead of the apply, a delete run from the
//! other end.
//! Triggers and foreign keys are not fired while
//! applying (`session_replication_role = replica`, as PostgreSQL's own
//! subscribers do): the source already ran them, and their effects are
//! among the changes.

mod parallel;
mod prepared;
mod read_ahead;
mod route;
mod runs;
mod statements;

use async_compression::tokio::bufread::ZstdDecoder;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_postgres::Client;
use tracing::{info, warn};

pub use self::prepared::resolve as resolve_prepared;
use self::read_ahead::Keys;
pub use self::read_ahead::ReadAhead;
use self::route::Router;
use self::runs::{Gatherer, Kind, Run, Step};
use self::statements::Staging;
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
/// views (`refresh`) and records the dump: the database ends up holding
/// `manifest`'s dump, or stays as it was.
///
/// With `helpers` (more connections to the same database) and nothing to
/// refresh, the tables' changes are applied side by side ([`parallel`]);
/// where that cannot be done, in one transaction on `client`, `read_ahead`
/// (if any) given the keys of each run before it is applied.
///
/// # Errors
/// A corrupted segment, or a change the database refuses (a row a user
/// added meanwhile with the same key, …).
pub async fn apply(
    client: &Client,
    helpers: &[Client],
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
    if !helpers.is_empty() && refresh.is_empty() && changes.tables.len() > 1 {
        match parallel::apply(client, helpers, database, bridge, manifest, changes).await? {
            parallel::Outcome::Applied(count) => {
                info!(dump = %manifest.id, changes = count, connections = helpers.len() + 1, "changes applied");
                return Ok(count);
            }
            parallel::Outcome::Unsuited(why) => info!("changes applied on one connection: {why}"),
        }
    }
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
    if let Err(e) = as_replica(client).await {
        warn!(
            "triggers will fire while changes are applied (session_replication_role: {}); a superuser restoring avoids it",
            error_message(&e)
        );
    }
    let appliers = [Applier { client, staging: Staging::Temporary }];
    let count = match apply_changes(&appliers, bridge, changes, read_ahead).await {
        Ok(count) => count,
        Err(Stop::Failed(e)) => return Err(e),
        Err(Stop::Unsuited(why)) => return Err(RestoreError::Query { what: "applying changes".into(), message: why }),
    };
    finish(client, database, manifest, changes, refresh).await?;
    Ok(count)
}

/// Turns off triggers and foreign keys for the rest of the transaction
/// (leaving it usable when that is refused).
async fn as_replica(client: &Client) -> Result<(), tokio_postgres::Error> {
    let replica = "SAVEPOINT rb_role; SET LOCAL session_replication_role = replica; RELEASE SAVEPOINT rb_role";
    let result = client.batch_execute(replica).await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK TO SAVEPOINT rb_role").await;
    }
    result
}

/// What comes after the changes, in the transaction that records the dump:
/// the sequences, the materialized views, the dump id.
async fn finish(
    client: &Client,
    database: &str,
    manifest: &Manifest,
    changes: &ChangeSet,
    refresh: &[&DdlObject],
) -> Result<(), RestoreError> {
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
    client.batch_execute(&sql).await.map_err(|e| RestoreError::query("recording the dump id", &e))
}

/// Why applying changes stopped.
enum Stop {
    Failed(RestoreError),
    /// The changes cannot be split over the connections (nothing is
    /// committed: they are applied on one).
    Unsuited(String),
}

impl From<RestoreError> for Stop {
    fn from(e: RestoreError) -> Self {
        Stop::Failed(e)
    }
}

/// A connection applying runs, in its transaction.
struct Applier<'c> {
    client: &'c Client,
    staging: Staging,
}

/// Gathers the changes into runs and applies them in order, the next run
/// gathered while one is applied, each table's on one of `appliers`;
/// returns how many changes there were.
async fn apply_changes(
    appliers: &[Applier<'_>],
    bridge: &dyn Bridge,
    changes: &ChangeSet,
    read_ahead: Option<&ReadAhead>,
) -> Result<u64, Stop> {
    let (senders, receivers): (Vec<_>, Vec<_>) = appliers.iter().map(|_| mpsc::channel::<Step>(WAITING_STEPS)).unzip();
    let gather = async move {
        let mut gatherer = Gatherer::new(&changes.tables);
        let mut dispatch = Dispatch { senders, router: Router::new(appliers.len()) };
        for segment in &changes.segments {
            read_segment(bridge, segment, &mut gatherer, &mut dispatch).await?;
        }
        gatherer.end_run();
        dispatch.send(gatherer.take_ready()).await?;
        Ok::<_, Stop>(gatherer.count)
    };
    let apply = futures::future::try_join_all(
        appliers.iter().zip(receivers).map(|(applier, receiver)| run_steps(applier, changes, receiver, read_ahead)),
    );
    let (count, _) = tokio::try_join!(gather, async { apply.await.map_err(Stop::Failed) })?;
    Ok(count)
}

/// Applies the steps `receiver` is given on `applier`'s connection.
async fn run_steps(
    applier: &Applier<'_>,
    changes: &ChangeSet,
    mut receiver: mpsc::Receiver<Step>,
    read_ahead: Option<&ReadAhead>,
) -> Result<(), RestoreError> {
    let client = applier.client;
    while let Some(step) = receiver.recv().await {
        match step {
            Step::Run(run) => {
                let table = &changes.tables[run.table as usize];
                if let Some(reader) = read_ahead {
                    read_ahead_of(reader, table, &run);
                }
                statements::apply(client, table, run, applier.staging).await?
            }
            Step::Truncate { sql, .. } => {
                client.batch_execute(&sql).await.map_err(|e| RestoreError::query(sql.clone(), &e))?
            }
        }
    }
    Ok(())
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

/// Hands complete steps to the connections that apply them, waiting while
/// [`WAITING_STEPS`] wait for the one a step goes to.
struct Dispatch {
    senders: Vec<mpsc::Sender<Step>>,
    router: Router,
}

impl Dispatch {
    async fn send(&mut self, steps: Vec<Step>) -> Result<(), Stop> {
        for step in steps {
            let connection = match &step {
                Step::Run(run) => self.router.route(&[run.table], run.rows.len()),
                Step::Truncate { tables, .. } => self.router.route(tables, 0),
            }
            .map_err(Stop::Unsuited)?;
            // Closed only when the applying side has stopped on an error,
            // which is the one reported.
            self.senders[connection].send(step).await.map_err(|_| RestoreError::Cancelled)?;
        }
        Ok(())
    }
}

/// Reads one segment of change records into `gatherer`, handing over the
/// steps each chunk completes; checks the segment's checksum and count.
async fn read_segment(
    bridge: &dyn Bridge,
    segment: &SegmentEntry,
    gatherer: &mut Gatherer<'_>,
    dispatch: &mut Dispatch,
) -> Result<(), Stop> {
    let fail = |message: String| RestoreError::Segment { table: "changes".into(), key: segment.key.clone(), message };
    let reader = bridge.open(&segment.key).await.map_err(RestoreError::from)?;
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
        dispatch.send(gatherer.take_ready()).await?;
    }
    splitter.finish().map_err(|e| fail(e.to_string()))?;
    let checksum = hasher.finish();
    if checksum != segment.checksum {
        return Err(Stop::Failed(fail(format!(
            "checksum mismatch (manifest {}, data {checksum}): the dump is corrupted",
            segment.checksum
        ))));
    }
    if rows != segment.rows {
        return Err(Stop::Failed(fail(format!("read {rows} changes, the manifest says {}", segment.rows))));
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
