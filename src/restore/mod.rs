//! Restore: bridge → unzstd → COPY IN → destination, in a fresh database
//! that replaces the target only once it is complete.
//!
//! For each dumped database: create `{target}_rb_new_{hex}` beside the
//! target, run the pre-data objects, load every segment (checksums and row
//! counts verified), run the data, post-data and refresh objects, then swap
//! names in one transaction and drop the old database. Until the swap the
//! target is untouched; a failed restore drops its new database, a killed
//! one leaves it for the next restore to clean up.

mod apply;
mod compatibility;
mod database;
mod error;
mod estimate;
mod globals;
mod load;
mod locks;
mod objects;
mod schedule;
mod workers;

pub use error::RestoreError;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio_postgres::Client;
use tracing::{debug, info};

use crate::bridge::Bridge;
use crate::catalog::{DatabaseSchema, Phase};
use crate::config::{ConnectionUri, DestinationConfig};
use crate::format::locks::ReadLock;
use crate::format::store::{self, DumpRef};
use crate::format::{DumpId, Manifest};
use crate::pg;
use crate::progress::Progress;
use apply::ReadAhead;
use tokio_util::sync::CancellationToken;

/// How a restore runs.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Connections loading segments and building indexes in parallel.
    pub jobs: usize,
    /// New names for restored databases, by source name.
    pub database_names: BTreeMap<String, String>,
    /// An incremental dump: restore its chain into a fresh database even
    /// when the destination holds an earlier dump of it.
    pub full: bool,
}

impl RestoreOptions {
    /// The options the config asks for; `jobs` (from the command line)
    /// overrides `destination.jobs`, and both default to the CPU count.
    pub fn from_config(destination: &DestinationConfig, jobs: Option<usize>) -> Self {
        RestoreOptions {
            jobs: crate::jobs_or_default(jobs.or(destination.jobs)),
            database_names: destination.database_names.clone(),
            full: false,
        }
    }
}

/// Name of the database-level setting that records which dump a database
/// was restored from (`SHOW replibyte.dump_id`).
pub const DUMP_ID_SETTING: &str = "replibyte.dump_id";

/// Restores the dump `which` names into the destination; returns its
/// manifest.
///
/// # Errors
/// An unknown dump, an unreachable destination, a failing statement, a
/// corrupted segment: the destination is then left as it was.
pub async fn run(
    destination: &ConnectionUri,
    bridge: Arc<dyn Bridge>,
    which: &DumpRef,
    options: &RestoreOptions,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<Manifest, RestoreError> {
    let last = store::resolve(bridge.as_ref(), which).await?;
    let chain = store::chain(bridge.as_ref(), &last).await?;
    // Every dump read stays in the bridge until the restore is done.
    let ids: Vec<DumpId> = chain.iter().map(|m| m.id.clone()).collect();
    let lock = ReadLock::take(bridge.clone(), &ids, "restore").await?;
    let outcome = restore_chain(destination, bridge, &chain, options, progress, cancel).await;
    lock.release().await;
    outcome.map(|()| last)
}

/// Restores `chain` (a base and the deltas after it) into the destination.
async fn restore_chain(
    destination: &ConnectionUri,
    bridge: Arc<dyn Bridge>,
    chain: &[Manifest],
    options: &RestoreOptions,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<(), RestoreError> {
    // A delete that came before the lock: fail now, not halfway.
    for manifest in chain {
        if store::read_manifest(bridge.as_ref(), &manifest.id).await?.is_none() {
            return Err(store::StoreError::UnknownDump { store: bridge.describe(), id: manifest.id.to_string() }.into());
        }
    }
    if chain.len() > 1 && !options.full && in_place(destination, bridge.as_ref(), options, chain, cancel).await? {
        return Ok(());
    }
    let last = chain.last().expect("a chain has its last dump");
    let (manifest, deltas) = chain.split_first().expect("a chain has its base");
    let globals = match &manifest.globals_key {
        Some(key) => Some(store::read_globals(bridge.as_ref(), key).await?),
        None => None,
    };
    let mut schemas = Vec::with_capacity(manifest.databases.len());
    for entry in &manifest.databases {
        schemas.push(Arc::new(store::read_schema(bridge.as_ref(), &entry.schema_key).await?));
    }
    if let Some(first) = manifest.databases.first() {
        let probe =
            database::Maintenance::connect(destination, &target_name(destination, options, manifest, &first.name))
                .await?;
        let all: Vec<&DatabaseSchema> = schemas.iter().map(Arc::as_ref).collect();
        compatibility::check(probe.server_version().await?, &all, globals.as_ref())?;
    }
    if let Some(globals) = &globals {
        globals::restore(destination, globals).await?;
    }
    for (entry, schema) in manifest.databases.iter().zip(schemas) {
        let target = target_name(destination, options, manifest, &entry.name);
        let maintenance = database::Maintenance::connect(destination, &target).await?;
        finish_left_behind(&destination.with_database(&target)).await?;
        info!(dump = %manifest.id, database = %target, destination = %destination.server(), "restore started");
        let fresh = maintenance.create_fresh(&target, &schema.database).await?;
        let work = async {
            let uri = destination.with_database(fresh.name());
            let client = pg::connect(&uri, "replibyte restore").await?;
            fresh.apply_settings(&client, &schema.database, &manifest.id).await?;
            let roles = objects::existing_roles(&client).await?;
            objects::run_all(&client, schema.objects.iter().filter(|o| o.phase == Phase::PreData), &roles).await?;
            workers::run(
                &uri,
                schema.clone(),
                Arc::new(entry.clone()),
                bridge.clone(),
                roles.clone(),
                options.jobs,
                progress,
            )
            .await?;
            let grants =
                schema.objects.iter().filter(|o| o.phase == Phase::PostData && !schedule::runs_in_parallel(o.kind));
            objects::run_all(&client, grants, &roles).await?;
            objects::run_all(&client, schema.objects.iter().filter(|o| o.phase == Phase::Refresh), &roles).await?;
            // An incremental dump: its chain's changes, into the fresh
            // database too, before it is swapped in.
            for (i, delta) in deltas.iter().enumerate() {
                let refresh = if i + 1 == deltas.len() { refresh_objects(&schema) } else { Vec::new() };
                apply::apply(&client, &[], fresh.name(), bridge.as_ref(), delta, &refresh, None).await?;
            }
            Ok::<_, RestoreError>(())
        };
        // Cancelling drops the work (and its connections) before the fresh
        // database is discarded below.
        let restored = tokio::select! {
            result = work => result,
            _ = cancel.cancelled() => Err(RestoreError::Cancelled),
        };
        match restored {
            Ok(()) => maintenance.swap(fresh, &target).await?,
            Err(e) => {
                maintenance.discard(fresh).await;
                return Err(e);
            }
        }
        info!(database = %target, "restored");
    }
    info!(dump = %last.id, rows = manifest.totals.rows, changes_applied = deltas.len(), "restore complete");
    Ok(())
}

/// The materialized views to refresh once changes are applied (as a full
/// restore refreshes them after its rows).
fn refresh_objects(schema: &DatabaseSchema) -> Vec<&crate::catalog::DdlObject> {
    schema.objects.iter().filter(|o| o.kind == crate::catalog::ObjectKind::Refresh).collect()
}

/// Brings a destination that holds a dump of `chain` (not the last) up to
/// the last, applying each later dump's changes in place, each in one
/// transaction. Returns `false` when the destination holds none of the
/// chain (a full restore is needed).
///
/// # Errors
/// A change the destination refuses (it then holds the last dump applied
/// whole), a corrupted segment, a cancelled run.
async fn in_place(
    destination: &ConnectionUri,
    bridge: &dyn Bridge,
    options: &RestoreOptions,
    chain: &[Manifest],
    cancel: &CancellationToken,
) -> Result<bool, RestoreError> {
    let base = &chain[0];
    let Some(entry) = base.databases.first() else { return Ok(false) };
    let target = target_name(destination, options, base, &entry.name);
    let uri = destination.with_database(&target);
    // The connection that applies the changes first asks which dump the
    // database holds. The others, opened beside it (`jobs` counts the
    // connections a restore may open), apply other tables' changes where
    // that can be done ([`apply::parallel`]), else one reads ahead of the
    // changes; into a fresh database, just loaded, neither is worth it.
    let tables = chain.iter().filter_map(|m| m.databases.first()?.changes.as_ref()).map(|c| c.tables.len()).max();
    let extra = options.jobs.saturating_sub(1).min(tables.unwrap_or(1).saturating_sub(1).max(1));
    let (client, others) = tokio::join!(
        pg::connect(&uri, "replibyte restore"),
        futures::future::join_all((0..extra).map(|_| pg::connect(&uri, "replibyte restore helper")))
    );
    let Ok(client) = client else { return Ok(false) };
    let Some(held) = dump_held_by(&client).await else { return Ok(false) };
    apply::resolve_prepared(&client).await?;
    let Some(position) = chain.iter().position(|m| m.id.as_str() == held) else { return Ok(false) };
    let last = chain.last().expect("a chain");
    if position + 1 == chain.len() {
        info!(dump = %last.id, database = %target, "the destination already holds this dump");
        return Ok(true);
    }
    let schema = store::read_schema(bridge, &entry.schema_key).await?;
    let refresh = refresh_objects(&schema);
    let mut helpers: Vec<Client> = others.into_iter().filter_map(Result::ok).collect();
    let read_ahead = if helpers.is_empty() || (refresh.is_empty() && prepares_transactions(&client).await) {
        None
    } else {
        helpers.drain(..).next().map(ReadAhead::start)
    };
    info!(from = %held, to = %last.id, database = %target, "applying changes in place");
    for delta in &chain[position + 1..] {
        let refresh = if delta.id == last.id { refresh.as_slice() } else { &[] };
        tokio::select! {
            result = apply::apply(&client, &helpers, &target, bridge, delta, refresh, read_ahead.as_ref()) => { result?; }
            _ = cancel.cancelled() => return Err(RestoreError::Cancelled),
        }
    }
    if let Some(reader) = &read_ahead {
        debug!(rows = reader.rows_read(), "rows read ahead of the changes");
    }
    Ok(true)
}

/// Finishes the prepared transactions a stopped apply left in the database
/// `uri` names, if it exists: they would keep it from being swapped out.
async fn finish_left_behind(uri: &ConnectionUri) -> Result<(), RestoreError> {
    match pg::connect(uri, "replibyte restore check").await {
        Ok(client) => apply::resolve_prepared(&client).await,
        Err(_) => Ok(()),
    }
}

/// Whether the server `client` is connected to can prepare transactions
/// (`max_prepared_transactions` above 0).
async fn prepares_transactions(client: &Client) -> bool {
    let sql = "SELECT current_setting('max_prepared_transactions')::int > 0";
    client.query_one(sql, &[]).await.is_ok_and(|row| row.get(0))
}

/// The dump the database `uri` names was last restored from, if it exists
/// and was restored by replibyte.
async fn held_dump(uri: &ConnectionUri) -> Option<String> {
    let client = pg::connect(uri, "replibyte restore check").await.ok()?;
    dump_held_by(&client).await
}

/// The dump the database `client` is connected to was last restored from,
/// if replibyte restored it.
async fn dump_held_by(client: &Client) -> Option<String> {
    let sql = format!("SELECT pg_catalog.current_setting('{DUMP_ID_SETTING}', true)");
    client.query_one(sql.as_str(), &[]).await.ok()?.get(0)
}

/// The name a dumped database gets on the destination: the one
/// `database_names` gives; else, for a dump of one database, the one the
/// destination URI names; else its own.
fn target_name(destination: &ConnectionUri, options: &RestoreOptions, manifest: &Manifest, source: &str) -> String {
    if let Some(name) = options.database_names.get(source) {
        return name.clone();
    }
    match destination.database() {
        Some(name) if manifest.databases.len() == 1 => name.to_string(),
        _ => source.to_string(),
    }
}

/// The id of the dump the destination database was last restored from, if
/// it exists and was restored by replibyte (for a dump of several
/// databases, the first one's).
pub async fn restored_dump_id(
    destination: &ConnectionUri,
    databases: &[crate::format::DatabaseEntry],
) -> Option<String> {
    let name = destination.database().or(databases.first().map(|d| d.name.as_str()))?;
    held_dump(&destination.with_database(name)).await
}
