//! Incremental chains: whether a run is a delta or a new base, and the
//! base's slot.
//!
//! A run finds the newest dump of its chain in the bridge (same slot, same
//! database). It takes a delta from there unless the chain must start over:
//! no earlier dump, a chain too long or a base too old (`full_every`,
//! `max_chain`), other transformers, a slot gone, moved or holding back too
//! much WAL, or a schema that changed. A new base drops the slot, publishes
//! the dumped tables, creates the slot again and only then takes its
//! snapshot; the first delta leaves out what that snapshot saw.

use std::sync::Arc;

use chrono::Utc;
use tokio_postgres::Client;
use tracing::{info, warn};

use super::{commit, delta, dump_database, new_manifest, read_schema, DumpError, DumpOptions};
use crate::bridge::Bridge;
use crate::catalog::{DatabaseSchema, ObjectKind, ServerVersion};
use crate::changes::{slot, Lsn};
use crate::config::ConnectionUri;
use crate::format::{keys, store, DumpId, Manifest, Replication};
use crate::pg;
use crate::progress::Progress;

/// Dumps the source as the next dump of its chain: a delta, or a new base.
///
/// # Errors
/// Whatever stops the dump; nothing is listed as complete then.
pub async fn dump(
    source: &ConnectionUri,
    id: &DumpId,
    bridge: Arc<dyn Bridge>,
    options: &DumpOptions,
    progress: &Progress,
) -> Result<Manifest, DumpError> {
    // A delta reads the catalog on one connection while the server decodes
    // the slot's changes on the other ([`delta::dump`]); a base opens its
    // own.
    let (client, reader) =
        tokio::try_join!(pg::connect(source, "replibyte dump"), pg::connect(source, "replibyte dump changes"))?;
    let database: String = client
        .query_one("SELECT pg_catalog.current_database()::text", &[])
        .await
        .map_err(|e| DumpError::query("reading the database name", &e))?
        .get(0);
    let slot = options.incremental.slot.clone().unwrap_or_else(|| slot::default_name(&database));
    let reason = match latest_of_chain(bridge.as_ref(), &slot, &database).await? {
        None => "no earlier dump of this chain in the bridge".to_string(),
        Some(parent) => match why_new_base(&parent, options) {
            Some(reason) => reason,
            None => match delta::dump(&client, &reader, id, bridge.clone(), options, progress, &parent, &slot).await? {
                delta::Outcome::Stored(manifest) => {
                    let manifest = commit(bridge.as_ref(), *manifest).await?;
                    // Only now may the slot forget these changes. If it
                    // cannot, the next run catches up from the manifest.
                    if let Err(e) = delta::advance_slot(&client, &manifest).await {
                        warn!(dump = %id, slot = %slot, "the replication slot was not moved on ({e}); the next run will");
                    }
                    return Ok(manifest);
                }
                delta::Outcome::NeedsBase(reason) => reason,
            },
        },
    };
    drop((client, reader));
    info!(dump = %id, slot = %slot, "taking a new base: {reason}");
    // A delta that gave up may have stored segments under this id.
    bridge.delete_prefix(&keys::dump_dir(id)).await?;
    let dumped = dump_database(source, id, bridge.clone(), options, Some(&slot), progress).await?;
    let mut manifest = new_manifest(id, options, dumped.server_version, vec![dumped.entry], dumped.schema_bytes);
    manifest.replication = dumped.replication;
    commit(bridge.as_ref(), manifest).await
}

/// The newest complete dump of the chain reading `slot` on `database`.
async fn latest_of_chain(bridge: &dyn Bridge, slot: &str, database: &str) -> Result<Option<Manifest>, DumpError> {
    for summary in store::list(bridge).await?.into_iter().filter(|s| s.is_complete()) {
        let Some(manifest) = store::read_manifest(bridge, &summary.id).await? else { continue };
        let same_chain = manifest.replication.as_ref().is_some_and(|r| r.slot == slot)
            && manifest.databases.first().is_some_and(|d| d.name == database);
        if same_chain {
            return Ok(Some(manifest));
        }
    }
    Ok(None)
}

/// Why the chain of `parent` cannot go on, from what the bridge knows.
fn why_new_base(parent: &Manifest, options: &DumpOptions) -> Option<String> {
    let replication = parent.replication.as_ref()?;
    if replication.chain_length >= options.incremental.max_chain {
        return Some(format!("the chain has {} dumps after its base (max_chain)", replication.chain_length));
    }
    let age = replication.base.started_at().map(|at| Utc::now() - at).unwrap_or_default();
    if age.to_std().unwrap_or_default() >= options.incremental.full_every {
        return Some(format!(
            "the base is {} old (full_every: {})",
            humantime::format_duration(std::time::Duration::from_secs(age.num_seconds().max(0) as u64)),
            humantime::format_duration(options.incremental.full_every)
        ));
    }
    if parent.transformers_fingerprint != options.rules.fingerprint() {
        return Some("the transformers changed since the chain's last dump".to_string());
    }
    None
}

/// What a base knows before its snapshot is taken.
pub struct PreparedBase {
    /// Where the new slot starts.
    start: Lsn,
    /// The tables published, to check against those the snapshot sees.
    tables: Vec<String>,
}

/// Readies the source for a base: checks what incremental dumps need,
/// drops the chain's old slot, publishes the dumped tables, creates the
/// slot. Called before the snapshot is taken.
///
/// # Errors
/// What the source lacks (all of it, in one message), or a failing
/// statement.
pub async fn prepare_base(client: &Client, slot_name: &str, options: &DumpOptions) -> Result<PreparedBase, DumpError> {
    let version = ServerVersion::of(client).await.map_err(|e| DumpError::query("reading the server version", &e))?;
    let schema = read_schema(client, options).await?;
    let missing = slot::missing(client, version, &schema.tables).await?;
    if !missing.is_empty() {
        return Err(DumpError::Incremental { message: missing.join("; ") });
    }
    slot::drop(client, slot_name).await?;
    slot::publish(client, slot_name, &schema.tables).await?;
    let start = slot::create(client, slot_name).await?;
    info!(slot = %slot_name, lsn = %start, "replication slot created");
    Ok(PreparedBase { start, tables: table_names(&schema) })
}

/// The base's place in the WAL, read inside its snapshot.
///
/// # Errors
/// Tables that changed between [`prepare_base`] and the snapshot (run
/// again), or a failing query.
pub async fn base_replication(
    client: &Client,
    slot_name: &str,
    id: &DumpId,
    prepared: PreparedBase,
    schema: &DatabaseSchema,
) -> Result<Replication, DumpError> {
    if table_names(schema) != prepared.tables {
        return Err(DumpError::Incremental {
            message: "tables were created or dropped while the base was being prepared; run the dump again".into(),
        });
    }
    let snapshot: String = client
        .query_one("SELECT pg_catalog.pg_current_snapshot()::text", &[])
        .await
        .map_err(|e| DumpError::query("reading the base's snapshot", &e))?
        .get(0);
    Ok(Replication {
        slot: slot_name.to_string(),
        start_lsn: prepared.start,
        end_lsn: prepared.start,
        base_snapshot: Some(snapshot),
        base: id.clone(),
        chain_length: 0,
        schema_fingerprint: schema_fingerprint(schema),
    })
}

fn table_names(schema: &DatabaseSchema) -> Vec<String> {
    let mut names: Vec<String> = schema.tables.iter().map(|t| t.display_name()).collect();
    names.sort();
    names
}

/// A digest of what a delta relies on staying the same: every object's
/// statements (sequence values aside) and every copied table's columns.
pub fn schema_fingerprint(schema: &DatabaseSchema) -> String {
    let mut hasher = blake3::Hasher::new();
    for object in schema.objects.iter().filter(|o| o.kind != ObjectKind::SequenceValue) {
        for part in [object.id.as_str(), object.sql.as_str()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    let mut tables: Vec<_> = schema.tables.iter().collect();
    tables.sort_by_key(|t| t.display_name());
    for table in tables {
        hasher.update(table.display_name().as_bytes());
        for column in &table.columns {
            hasher.update(format!("\0{}\0{}", column.name, column.type_name).as_bytes());
        }
        hasher.update(table.format.sql().as_bytes());
    }
    hasher.finalize().to_hex()[..32].to_string()
}
