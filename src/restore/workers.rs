//! Runs a restore's [`Schedule`] over several connections: segments load
//! and post-data objects run in parallel, each as soon as it may.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::debug;

use super::load::load_segment;
use super::objects::run_object;
use super::schedule::{Next, Schedule, Task};
use super::RestoreError;
use crate::bridge::Bridge;
use crate::catalog::DatabaseSchema;
use crate::config::ConnectionUri;
use crate::format::DatabaseEntry;
use crate::pg;
use crate::progress::Progress;

/// Session settings of the workers. `synchronous_commit = off` is safe:
/// nothing is visible until the swap, and a crash before it discards this
/// database anyway. More memory for index builds and the joins that
/// validate foreign keys.
const WORKER_SETTINGS: &str = "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'; SET work_mem = '64MB'";

/// Added when several workers run: they already build indexes side by
/// side, and each build's own parallel workers on top oversubscribe the
/// server's cores (measured on 2 cores: 5-10 % slower restores). A single
/// worker keeps the server's parallel index builds.
const SIDE_BY_SIDE_SETTINGS: &str = "SET max_parallel_maintenance_workers = 0";

/// What every worker shares.
struct Shared {
    schedule: Mutex<Schedule>,
    changed: Notify,
    schema: Arc<DatabaseSchema>,
    database: Arc<DatabaseEntry>,
    bridge: Arc<dyn Bridge>,
    roles: HashSet<String>,
    progress: Progress,
}

/// Loads every segment and runs every data and post-data object of one
/// database, with `jobs` connections to `uri`.
///
/// # Errors
/// The first task that fails; the other workers stop.
pub async fn run(
    uri: &ConnectionUri,
    schema: Arc<DatabaseSchema>,
    database: Arc<DatabaseEntry>,
    bridge: Arc<dyn Bridge>,
    roles: HashSet<String>,
    jobs: usize,
    progress: &Progress,
) -> Result<(), RestoreError> {
    let schedule = Schedule::new(&schema, &database.tables);
    let shared = Arc::new(Shared {
        schedule: Mutex::new(schedule),
        changed: Notify::new(),
        schema,
        database,
        bridge,
        roles,
        progress: progress.clone(),
    });
    let mut workers = JoinSet::new();
    for _ in 0..jobs.max(1) {
        let client = pg::connect(uri, "replibyte restore worker").await?;
        let settings =
            if jobs > 1 { format!("{WORKER_SETTINGS}; {SIDE_BY_SIDE_SETTINGS}") } else { WORKER_SETTINGS.into() };
        client.batch_execute(&settings).await.map_err(|e| RestoreError::query("configuring a restore session", &e))?;
        workers.spawn(work(client, shared.clone()));
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

async fn work(client: tokio_postgres::Client, shared: Arc<Shared>) -> Result<(), RestoreError> {
    let mut warned = HashSet::new();
    loop {
        // Register interest before looking, so a completion between the
        // look and the wait is not missed.
        let changed = shared.changed.notified();
        let next = shared.schedule.lock().expect("not poisoned").next();
        let task = match next {
            Next::Run(task) => task,
            Next::Wait => {
                changed.await;
                continue;
            }
            Next::Done => {
                // Wake the others: they may be waiting for this last one.
                shared.changed.notify_waiters();
                return Ok(());
            }
        };
        let started = Instant::now();
        match task {
            Task::Segment { table, segment } => {
                let table = &shared.database.tables[table];
                load_segment(&client, shared.bridge.as_ref(), table, &table.segments[segment], &shared.progress)
                    .await?;
                debug!(table = %table.name, segment, elapsed = ?started.elapsed(), "segment loaded");
            }
            Task::Object(i) => {
                let object = &shared.schema.objects[i];
                run_object(&client, object, &shared.roles, &mut warned).await?;
                debug!(kind = object.kind.label(), name = %object.name, elapsed = ?started.elapsed(), "object created");
            }
        }
        shared.schedule.lock().expect("not poisoned").complete(task);
        shared.changed.notify_waiters();
    }
}
