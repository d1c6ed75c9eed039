//! Restore: bridge → unzstd → COPY IN → destination, in a fresh database
//! that replaces the target only once it is complete.
//!
//! For each dumped database: create `{target}_rb_new_{hex}` beside the
//! target, run the pre-data objects, load every segment (checksums and row
//! counts verified), run the data, post-data and refresh objects, then swap
//! names in one transaction and drop the old database. Until the swap the
//! target is untouched; a failed restore drops its new database, a killed
//! one leaves it for the next restore to clean up.

mod database;
mod error;
mod load;
mod objects;
mod schedule;
mod workers;

pub use error::RestoreError;

use std::sync::Arc;

use tracing::info;

use crate::bridge::Bridge;
use crate::catalog::Phase;
use crate::config::ConnectionUri;
use crate::format::store::{self, DumpRef};
use crate::format::Manifest;
use crate::pg;
use crate::progress::Progress;

/// How a restore runs.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Connections loading segments in parallel.
    pub jobs: usize,
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
) -> Result<Manifest, RestoreError> {
    let manifest = store::resolve(bridge.as_ref(), which).await?;
    for entry in &manifest.databases {
        let schema = Arc::new(store::read_schema(bridge.as_ref(), &entry.schema_key).await?);
        let target = destination.database().unwrap_or(&entry.name).to_string();
        let maintenance = database::Maintenance::connect(destination, &target).await?;
        info!(dump = %manifest.id, database = %target, destination = %destination.server(), "restore started");
        let fresh = maintenance.create_fresh(&target, &schema.database).await?;
        let restored = async {
            let uri = destination.with_database(fresh.name());
            let client = pg::connect(&uri, "replibyte restore").await?;
            fresh.apply_settings(&client, &schema.database, &manifest.id).await?;
            let roles = objects::existing_roles(&client).await?;
            objects::run_phase(&client, &schema, Phase::PreData, &roles).await?;
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
            objects::run_phase(&client, &schema, Phase::Refresh, &roles).await?;
            Ok::<_, RestoreError>(())
        }
        .await;
        match restored {
            Ok(()) => maintenance.swap(fresh, &target).await?,
            Err(e) => {
                maintenance.discard(fresh).await;
                return Err(e);
            }
        }
        info!(database = %target, "restored");
    }
    info!(dump = %manifest.id, rows = manifest.totals.rows, "restore complete");
    Ok(manifest)
}
