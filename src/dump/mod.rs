//! Dump: source → catalog → COPY OUT → segment → bridge, then the manifest.
//!
//! One coordinator connection opens a `REPEATABLE READ, READ ONLY`
//! transaction, exports its snapshot, locks the tables and reads the
//! catalog. Worker connections import that snapshot, so every table is read
//! at the same instant, and take tables largest first. The manifest is
//! written only when every segment is stored: a dump that fails or is
//! killed never becomes restorable.

mod chain;
mod delta;
mod error;
mod parts;
mod privacy;
mod subset;
mod table;
mod upload;

pub use error::DumpError;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::bridge::Bridge;
use crate::catalog::scope::Scope;
use crate::catalog::{self, ServerVersion, TableData};
use crate::changes::slot;
use crate::config::{
    incremental, ConnectionUri, Databases, Incremental, SourceConfig, SubsetTable, UnmaskedPii, Unreached,
};
use crate::format::{self, store, DatabaseEntry, DumpId, Manifest, SegmentEntry, TableEntry};
use crate::pg::{self, ident::quote_qualified};
use crate::progress::Progress;
use crate::segment::SegmentOptions;
use crate::transform::{Plans, Rules};

/// How a dump runs.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Worker connections copying tables in parallel.
    pub jobs: usize,
    pub segment: SegmentOptions,
    /// Column transformers, checked against the catalog before any row.
    pub rules: Rules,
    /// Tables at least this large are read in page ranges in parallel.
    pub split_bytes: i64,
    /// Which databases.
    pub databases: Databases,
    /// Also roles and memberships.
    pub globals: bool,
    /// Which tables, and which without rows.
    pub scope: Scope,
    /// Which rows, when only some.
    pub subset: Vec<SubsetTable>,
    pub subset_unreached: Unreached,
    /// Dumps after a base carry only the changes since the previous one.
    pub incremental: Incremental,
    /// WAL the slot may hold back before a run drops it (bytes).
    pub max_retained_wal: u64,
    /// What to do with columns that look sensitive and have no transformer.
    pub unmasked_pii: UnmaskedPii,
}

impl DumpOptions {
    /// The options `source` asks for; `jobs` (from the command line)
    /// overrides `source.jobs`, and both default to the CPU count.
    /// `config_path` names the file in transformer errors.
    ///
    /// # Errors
    /// A malformed table pattern.
    pub fn from_config(source: &SourceConfig, config_path: &Path, jobs: Option<usize>) -> Result<Self, String> {
        let mut segment = SegmentOptions::default();
        if let Some(mib) = source.segment_size_mib {
            segment.max_raw_bytes = mib.max(1) * 1024 * 1024;
        }
        if let Some(level) = source.compression_level {
            segment.zstd_level = level;
        }
        let split_bytes = source.split_table_mib.map_or(parts::SPLIT_BYTES, |mib| (mib.max(1) * 1024 * 1024) as i64);
        let scope = Scope::new(&source.only_tables, &source.skip_tables, &source.skip_data)
            .map_err(|e| format!("{}: source.{e}", config_path.display()))?;
        for entry in &source.subset {
            entry.validate().map_err(|e| format!("{}: source.{e}", config_path.display()))?;
        }
        let max_retained_wal = match &source.max_retained_wal {
            Some(text) => {
                incremental::parse_size(text).map_err(|e| format!("{}: source.{e}", config_path.display()))?
            }
            None => incremental::MAX_RETAINED_WAL,
        };
        if source.incremental.enabled {
            incremental_fits(source).map_err(|e| format!("{}: source.incremental: {e}", config_path.display()))?;
        }
        Ok(DumpOptions {
            jobs: crate::jobs_or_default(jobs.or(source.jobs)),
            segment,
            rules: Rules::new(source, config_path),
            split_bytes,
            databases: source.databases.clone(),
            globals: source.globals,
            scope,
            subset: source.subset.clone(),
            subset_unreached: source.subset_unreached,
            incremental: source.incremental.clone(),
            max_retained_wal,
            unmasked_pii: source.unmasked_pii,
        })
    }
}

/// Whether the rest of `source` goes with incremental dumps.
fn incremental_fits(source: &SourceConfig) -> Result<(), String> {
    if !source.subset.is_empty() || source.databases != Databases::FromUri || source.globals {
        return Err("works on one database, without a subset or globals: leave out source.databases, \
                    source.subset and source.globals, or incremental"
            .into());
    }
    if !source.transformers.is_empty() && source.secret.is_none() {
        return Err("with transformers, deltas need source.secret: without it each run draws other fakes, \
                    and a changed row would no longer match its base"
            .into());
    }
    if source.incremental.slot.as_ref().is_some_and(|s| !s.starts_with(crate::changes::slot::PREFIX)) {
        return Err(format!(
            "slot names start with {} (its publication, of the same name, is then never copied)",
            crate::changes::slot::PREFIX
        ));
    }
    Ok(())
}

/// Dumps the database `source` names into `bridge`; returns the manifest of
/// the complete dump.
///
/// # Errors
/// Any failure; the partial dump is then removed from the bridge (best
/// effort; what remains is never listed as complete).
pub async fn run(
    source: &ConnectionUri,
    bridge: Arc<dyn Bridge>,
    options: &DumpOptions,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<Manifest, DumpError> {
    let created_at = Utc::now();
    let id = DumpId::new(created_at);
    // Cancelling drops the dump's work (its connections and half-written
    // objects) before the cleanup below.
    let outcome = tokio::select! {
        result = dump(source, &id, bridge.clone(), options, progress) => result,
        _ = cancel.cancelled() => Err(DumpError::Cancelled),
    };
    match outcome {
        Ok(manifest) => Ok(manifest),
        Err(e) => {
            if let Err(cleanup) = bridge.delete_prefix(&format::keys::dump_dir(&id)).await {
                warn!(dump = %id, "could not remove the failed dump's objects: {cleanup}");
            }
            Err(e)
        }
    }
}

async fn dump(
    source: &ConnectionUri,
    id: &DumpId,
    bridge: Arc<dyn Bridge>,
    options: &DumpOptions,
    progress: &Progress,
) -> Result<Manifest, DumpError> {
    if options.incremental.enabled {
        return chain::dump(source, id, bridge, options, progress).await;
    }
    let names = database_names(source, &options.databases).await?;
    let mut databases = Vec::new();
    let mut schema_bytes = 0;
    let mut server_version = String::new();
    for name in &names {
        let uri = name.as_ref().map_or_else(|| source.clone(), |n| source.with_database(n));
        let dumped = dump_database(&uri, id, bridge.clone(), options, None, progress).await?;
        databases.push(dumped.entry);
        schema_bytes += dumped.schema_bytes;
        server_version = dumped.server_version;
    }
    let globals_key = if options.globals {
        let client = pg::connect(source, "replibyte dump").await?;
        let globals = catalog::globals::read(&client).await?;
        let (key, bytes) = store::write_globals(bridge.as_ref(), id, &globals).await?;
        schema_bytes += bytes;
        info!(dump = %id, roles = globals.roles.len(), "roles dumped (without passwords)");
        Some(key)
    } else {
        None
    };

    let mut manifest = new_manifest(id, options, server_version, databases, schema_bytes);
    manifest.globals_key = globals_key;
    commit(bridge.as_ref(), manifest).await
}

/// The manifest of a full dump of `databases`.
fn new_manifest(
    id: &DumpId,
    options: &DumpOptions,
    server_version: String,
    databases: Vec<DatabaseEntry>,
    schema_bytes: u64,
) -> Manifest {
    Manifest {
        format: format::FORMAT_NAME.to_string(),
        format_version: format::FORMAT_VERSION,
        id: id.clone(),
        created_at: id.started_at().unwrap_or_else(Utc::now),
        finished_at: Utc::now(),
        replibyte_version: env!("CARGO_PKG_VERSION").to_string(),
        source_server_version: server_version,
        transformers_fingerprint: options.rules.fingerprint(),
        globals_key: None,
        totals: Manifest::compute_totals(&databases, schema_bytes),
        databases,
        kind: format::DumpKind::Full,
        parent: None,
        replication: None,
    }
}

/// Stores the manifest: from now on the dump exists.
async fn commit(bridge: &dyn Bridge, manifest: Manifest) -> Result<Manifest, DumpError> {
    store::commit(bridge, &manifest).await?;
    let totals = &manifest.totals;
    info!(dump = %manifest.id, kind = manifest.kind.label(), tables = totals.tables, rows = totals.rows, stored_bytes = totals.stored_bytes, "dump complete");
    Ok(manifest)
}

/// The databases to dump: `None` for "the one the URI names".
///
/// # Errors
/// When `all` cannot list the server's databases.
pub async fn database_names(source: &ConnectionUri, databases: &Databases) -> Result<Vec<Option<String>>, DumpError> {
    match databases {
        Databases::FromUri => Ok(vec![None]),
        Databases::Named(names) => Ok(names.iter().cloned().map(Some).collect()),
        Databases::All => {
            let client = pg::connect(source, "replibyte dump").await?;
            let sql =
                "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname";
            let rows = client.query(sql, &[]).await.map_err(|e| DumpError::query("listing databases", &e))?;
            Ok(rows.iter().map(|r| Some(r.get(0))).collect())
        }
    }
}

/// A database dumped in full.
struct DatabaseDump {
    entry: DatabaseEntry,
    schema_bytes: u64,
    server_version: String,
    /// For the base of an incremental chain: where its slot starts.
    replication: Option<format::Replication>,
}

/// Dumps one database in its own snapshot. With `base_slot`, the dump is
/// the base of an incremental chain: the slot is created (again) just
/// before the snapshot is taken.
async fn dump_database(
    source: &ConnectionUri,
    id: &DumpId,
    bridge: Arc<dyn Bridge>,
    options: &DumpOptions,
    base_slot: Option<&str>,
    progress: &Progress,
) -> Result<DatabaseDump, DumpError> {
    let coordinator = pg::connect(source, "replibyte dump").await?;
    info!(dump = %id, source = %source.server(), database = source.database().unwrap_or_default(), "dump started");
    let slot_start = match base_slot {
        Some(slot) => Some(chain::prepare_base(&coordinator, slot, options).await?),
        None => None,
    };
    let dumped: Result<DatabaseDump, DumpError> = async {
        // Choosing a subset needs temporary tables, hence a writable session.
        let snapshot = begin_snapshot(&coordinator, options.subset.is_empty()).await?;
        lock_tables(&coordinator).await?;
        let server_version =
            query_one(&coordinator, "server version", "SELECT pg_catalog.current_setting('server_version')").await?;
        let schema = read_schema(&coordinator, options).await?;
        let replication = match (base_slot, slot_start) {
            (Some(slot), Some(prepared)) => {
                Some(chain::base_replication(&coordinator, slot, id, prepared, &schema).await?)
            }
            _ => None,
        };
        let plans = options.rules.plan(&coordinator, &schema.tables).await?;
        if !plans.is_empty() {
            info!(dump = %id, tables = plans.len(), columns = options.rules.columns(), "transformers checked");
        }
        privacy::guard(&coordinator, &schema.tables, &plans, options.unmasked_pii).await?;
        let chosen = if options.subset.is_empty() {
            HashMap::new()
        } else {
            subset::choose(&coordinator, &schema.tables, &options.subset, options.subset_unreached).await?
        };
        let database = schema.database.name.clone();
        let (schema_key, schema_bytes) = store::write_schema(bridge.as_ref(), id, &schema).await?;

        let tables = copy_tables(
            source,
            &coordinator,
            &chosen,
            &snapshot,
            &database,
            id,
            bridge.clone(),
            schema.tables.clone(),
            plans,
            options,
            progress,
        )
        .await?;
        // The snapshot must outlive every worker's import; end it only now.
        coordinator
            .batch_execute("COMMIT")
            .await
            .map_err(|e| DumpError::query("ending the snapshot transaction", &e))?;
        Ok(DatabaseDump {
            entry: DatabaseEntry { name: database, schema_key, tables, changes: None },
            schema_bytes,
            server_version,
            replication,
        })
    }
    .await;
    if let (Err(_), Some(slot)) = (&dumped, base_slot) {
        // A failed base leaves no slot holding WAL back for a chain that
        // does not exist (the next base would drop it, but maybe never).
        match pg::connect(source, "replibyte dump").await {
            Ok(client) => {
                if let Err(e) = slot::drop(&client, slot).await {
                    warn!(slot, "the failed base's replication slot was not dropped: {e}");
                }
            }
            Err(e) => warn!(slot, "the failed base's replication slot was not dropped: {e}"),
        }
    }
    dumped
}

/// The database's schema, narrowed to the scope; warnings logged.
async fn read_schema(client: &Client, options: &DumpOptions) -> Result<catalog::DatabaseSchema, DumpError> {
    let (mut schema, warnings) = catalog::read(client).await?;
    for warning in &warnings {
        warn!("{warning}");
    }
    if !options.scope.is_everything() {
        let applied = options.scope.apply(&mut schema).map_err(|message| DumpError::Scope { message })?;
        info!(
            database = %schema.database.name,
            objects_left_out = applied.objects_left_out,
            tables_without_rows = applied.tables_without_data,
            "scope applied"
        );
    }
    Ok(schema)
}

/// Opens the dump's transaction and exports its snapshot.
async fn begin_snapshot(client: &Client, read_only: bool) -> Result<String, DumpError> {
    let mode = if read_only { ", READ ONLY" } else { "" };
    client
        .batch_execute(&format!("BEGIN ISOLATION LEVEL REPEATABLE READ{mode}"))
        .await
        .map_err(|e| DumpError::query("starting the snapshot transaction", &e))?;
    query_one(client, "snapshot export", "SELECT pg_catalog.pg_export_snapshot()").await
}

/// Takes ACCESS SHARE locks on every user table, as pg_dump does, so no
/// table is dropped or altered while the dump reads it.
async fn lock_tables(client: &Client) -> Result<(), DumpError> {
    let sql = "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'";
    let rows = client.query(sql, &[]).await.map_err(|e| DumpError::query("listing tables to lock", &e))?;
    let names: Vec<String> = rows.iter().map(|r| quote_qualified(r.get(0), r.get(1))).collect();
    for batch in names.chunks(500) {
        let sql = format!("LOCK TABLE {} IN ACCESS SHARE MODE", batch.join(", "));
        client.batch_execute(&sql).await.map_err(|e| DumpError::query("locking tables", &e))?;
    }
    Ok(())
}

async fn query_one(client: &Client, what: &str, sql: &str) -> Result<String, DumpError> {
    let row = client.query_one(sql, &[]).await.map_err(|e| DumpError::query(what, &e))?;
    Ok(row.get(0))
}

/// Copies every table with `options.jobs` workers sharing the snapshot,
/// large tables cut into page ranges read in parallel.
#[allow(clippy::too_many_arguments)]
async fn copy_tables(
    source: &ConnectionUri,
    coordinator: &Client,
    chosen: &HashMap<usize, String>,
    snapshot: &str,
    database: &str,
    id: &DumpId,
    bridge: Arc<dyn Bridge>,
    tables: Vec<TableData>,
    plans: Plans,
    options: &DumpOptions,
    progress: &Progress,
) -> Result<Vec<TableEntry>, DumpError> {
    let pages = page_counts(coordinator, &tables, options).await?;
    let (own, work): (Vec<_>, Vec<_>) =
        parts::plan(&tables, |t| pages.get(&t).copied(), options.jobs, options.split_bytes, chosen)
            .into_iter()
            .partition(|p| p.needs_coordinator());
    let jobs = options.jobs.clamp(1, work.len().max(1));
    let tables = Arc::new(tables);
    let queue = Arc::new(Mutex::new(VecDeque::from(work)));
    let context = table::Context {
        bridge: bridge.clone(),
        id: id.clone(),
        database: database.to_string(),
        segment: options.segment,
        progress: progress.clone(),
        plans: plans.clone(),
    };
    let mut workers = JoinSet::new();
    for _ in 0..jobs {
        let client = pg::connect(source, "replibyte dump worker").await?;
        import_snapshot(&client, snapshot).await?;
        let context = context.clone();
        let (queue, tables) = (queue.clone(), tables.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().expect("not poisoned").pop_front();
                let Some(part) = next else { break };
                let segments = table::dump(&client, &tables[part.table], &part, &context).await?;
                done.push((part, segments));
            }
            Ok::<_, DumpError>(done)
        });
    }
    let mut segments_of: Vec<Vec<(usize, Vec<SegmentEntry>)>> = vec![Vec::new(); tables.len()];
    // The subset's tables, read by the coordinator while the workers run.
    for part in own {
        match table::dump(coordinator, &tables[part.table], &part, &context).await {
            Ok(segments) => segments_of[part.table].push((part.number, segments)),
            Err(e) => {
                workers.abort_all();
                return Err(e);
            }
        }
    }
    while let Some(result) = workers.join_next().await {
        match result {
            Ok(Ok(done)) => {
                for (part, segments) in done {
                    segments_of[part.table].push((part.number, segments));
                }
            }
            Ok(Err(e)) => {
                workers.abort_all();
                return Err(e);
            }
            Err(join) => {
                workers.abort_all();
                return Err(DumpError::Worker(join.to_string()));
            }
        }
    }
    // Manifest order: the catalog's (largest first), parts in page order.
    Ok(tables
        .iter()
        .zip(segments_of)
        .map(|(table, mut parts)| {
            parts.sort_by_key(|(number, _)| *number);
            let segments: Vec<SegmentEntry> = parts.into_iter().flat_map(|(_, s)| s).collect();
            TableEntry {
                schema: table.schema.clone(),
                name: table.name.clone(),
                columns: table.columns.clone(),
                format: table.format,
                rows: segments.iter().map(|s| s.rows).sum(),
                segments,
            }
        })
        .collect())
}

/// Heap sizes in pages of the tables worth splitting, by index: only with
/// several jobs, and only on servers with TID range scans (14+), where a
/// range reads just its pages.
async fn page_counts(
    client: &Client,
    tables: &[TableData],
    options: &DumpOptions,
) -> Result<HashMap<usize, u32>, DumpError> {
    let mut out = HashMap::new();
    let version = ServerVersion::of(client).await.map_err(|e| DumpError::query("reading the server version", &e))?;
    if options.jobs < 2 || !version.at_least(14) {
        return Ok(out);
    }
    // Large objects are read by one query, in order: never split.
    let splittable = |t: &TableData| {
        t.estimated_bytes >= options.split_bytes && !catalog::large_objects::is_large_objects(&t.schema, &t.name)
    };
    for (index, table) in tables.iter().enumerate().filter(|(_, t)| splittable(t)) {
        let sql = format!(
            "SELECT (pg_catalog.pg_relation_size({}::pg_catalog.regclass) / pg_catalog.current_setting('block_size')::int8)::int8",
            pg::ident::quote_literal(&quote_qualified(&table.schema, &table.name))
        );
        let pages: i64 =
            client.query_one(&sql, &[]).await.map_err(|e| DumpError::query("reading table sizes", &e))?.get(0);
        out.insert(index, u32::try_from(pages).unwrap_or(u32::MAX));
    }
    Ok(out)
}

async fn import_snapshot(client: &Client, snapshot: &str) -> Result<(), DumpError> {
    let sql = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {}",
        pg::ident::quote_literal(snapshot)
    );
    client.batch_execute(&sql).await.map_err(|e| DumpError::query("importing the snapshot", &e))
}
