//! Runs dumps and restores for the agent: one at a time, retried with
//! backoff, recorded, cancellable.
//!
//! Runs of different kinds wait for each other (a dump and a restore due at
//! the same minute both happen, one after the other); a run due while one of
//! its own kind is still running or waiting is skipped and recorded as such.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::state::{AgentState, RunKind, RunTables};
use crate::bridge::Bridge;
use crate::config::{Config, RetryConfig};
use crate::dump::{self, DumpError, DumpOptions};
use crate::format::retention;
use crate::format::store::{self, DumpRef, StoreError};
use crate::progress::{Progress, TableFigures};
use crate::restore::{self, RestoreError, RestoreOptions};

/// How failed runs are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub first_backoff: Duration,
}

impl RetryPolicy {
    /// `retry:` from the config: 3 attempts, 5 seconds first, by default.
    pub fn from_config(config: Option<&RetryConfig>) -> Self {
        RetryPolicy {
            attempts: config.and_then(|c| c.attempts).unwrap_or(3).max(1),
            first_backoff: Duration::from_secs(config.and_then(|c| c.backoff_seconds).unwrap_or(5)),
        }
    }
}

pub struct Runner {
    config: Arc<Config>,
    bridge: Arc<dyn Bridge>,
    state: Arc<AgentState>,
    /// Held by the run in progress.
    exclusive: tokio::sync::Mutex<()>,
    dump_pending: AtomicBool,
    restore_pending: AtomicBool,
    retry: RetryPolicy,
    shutdown: CancellationToken,
    /// Runs started and not yet awaited.
    tasks: std::sync::Mutex<JoinSet<()>>,
}

/// Why a run did not start.
#[derive(Debug, PartialEq, Eq)]
pub enum NotStarted {
    AlreadyPending(RunKind),
    ShuttingDown,
}

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotStarted::AlreadyPending(kind) => write!(f, "a {} is already running or waiting to run", kind.label()),
            NotStarted::ShuttingDown => f.write_str("the agent is shutting down"),
        }
    }
}

impl Runner {
    pub fn new(
        config: Arc<Config>,
        bridge: Arc<dyn Bridge>,
        state: Arc<AgentState>,
        retry: RetryPolicy,
        shutdown: CancellationToken,
    ) -> Self {
        Runner {
            config,
            bridge,
            state,
            exclusive: tokio::sync::Mutex::new(()),
            dump_pending: AtomicBool::new(false),
            restore_pending: AtomicBool::new(false),
            retry,
            shutdown,
            tasks: std::sync::Mutex::new(JoinSet::new()),
        }
    }

    /// Waits for every run started so far (after a shutdown, they end by
    /// cancelling themselves).
    pub async fn wait(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        while tasks.join_next().await.is_some() {}
    }

    fn pending(&self, kind: RunKind) -> &AtomicBool {
        match kind {
            RunKind::Dump => &self.dump_pending,
            RunKind::Restore => &self.restore_pending,
        }
    }

    /// Starts a run of `kind` in the background, unless one of the same kind
    /// is running or waiting.
    ///
    /// # Errors
    /// Why it did not start (also recorded as a skipped run).
    pub fn start(self: &Arc<Self>, kind: RunKind) -> Result<(), NotStarted> {
        if self.shutdown.is_cancelled() {
            return Err(NotStarted::ShuttingDown);
        }
        if self.pending(kind).swap(true, Ordering::SeqCst) {
            let reason = NotStarted::AlreadyPending(kind);
            self.state.skipped(kind, &reason.to_string());
            warn!("{} due but skipped: {reason}", kind.label());
            return Err(reason);
        }
        let runner = self.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        // Reap finished runs so the set does not grow for months.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            runner.run_with_retries(kind).await;
            runner.pending(kind).store(false, Ordering::SeqCst);
        });
        Ok(())
    }

    /// Runs `kind` until it succeeds or the attempts are spent. Each attempt
    /// holds the exclusive turn; the waits between attempts do not, so a
    /// failing restore does not hold back a due dump.
    async fn run_with_retries(&self, kind: RunKind) {
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            let turn = self.exclusive.lock().await;
            if self.shutdown.is_cancelled() {
                if attempt > 1 {
                    self.state.finished(kind, |run| run.status = "cancelled");
                }
                return;
            }
            if attempt == 1 {
                self.state.started(kind);
                info!("{} run started", kind.label());
            }
            let outcome = match kind {
                RunKind::Dump => self.dump_once().await,
                RunKind::Restore => self.restore_once().await,
            };
            self.bridge_metrics().await;
            // The turn is held until the run is recorded: the state has one
            // current run, and the next run's start must not come first.
            match outcome {
                Ok(done) => {
                    info!("{} run {}", kind.label(), done.status);
                    if !done.tables.is_empty() {
                        self.state.set_tables(RunTables { kind, dump_id: done.dump_id.clone(), tables: done.tables });
                    }
                    self.state.finished(kind, |run| {
                        run.status = done.status;
                        run.dump_id = done.dump_id;
                        run.rows = done.rows;
                        run.bytes = done.bytes;
                    });
                    return;
                }
                Err(failure) if failure.cancelled || attempt >= self.retry.attempts => {
                    let status = if failure.cancelled { "cancelled" } else { "failed" };
                    warn!("{} run {status}: {}", kind.label(), failure.message);
                    self.state.finished(kind, |run| {
                        run.status = status;
                        run.error = Some(failure.message);
                    });
                    return;
                }
                Err(failure) => {
                    drop(turn);
                    warn!(
                        "{} attempt {attempt} failed, retrying in {}s: {}",
                        kind.label(),
                        backoff.as_secs(),
                        failure.message
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = self.shutdown.cancelled() => {
                            self.state.finished(kind, |run| {
                                run.status = "cancelled";
                                run.error = Some(failure.message);
                            });
                            return;
                        }
                    }
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// What the bridge holds, for `/metrics`.
    pub async fn bridge_metrics(&self) {
        if let Ok(dumps) = store::list(self.bridge.as_ref()).await {
            let complete: Vec<_> = dumps.iter().filter(|d| d.is_complete()).collect();
            super::metrics::bridge(complete.len(), complete.iter().map(|d| d.size_bytes).sum());
        }
    }

    /// The WAL an incremental chain's slot holds back, for `/metrics`.
    async fn slot_metrics(&self, source: &crate::config::SourceConfig) {
        if !source.incremental.enabled {
            return;
        }
        let Ok(client) = crate::pg::connect(&source.connection_uri, "replibyte agent").await else { return };
        let Ok(row) = client.query_one("SELECT pg_catalog.current_database()::text", &[]).await else { return };
        let slot = source.incremental.slot.clone().unwrap_or_else(|| crate::changes::slot::default_name(row.get(0)));
        if let Ok(Some(state)) = crate::changes::slot::state(&client, &slot).await {
            super::metrics::retained_wal(state.retained_bytes);
        }
    }

    async fn dump_once(&self) -> Result<Done, Failure> {
        let source = self.config.source().map_err(Failure::from_error)?;
        let options = DumpOptions::from_config(source, &self.config.path, None).map_err(Failure::from_error)?;
        let progress = Progress::recorded("dumped");
        let manifest = dump::run(&source.connection_uri, self.bridge.clone(), &options, &progress, &self.shutdown)
            .await
            .map_err(|e| Failure { cancelled: matches!(e, DumpError::Cancelled), message: format!("{e:#}") })?;
        self.slot_metrics(source).await;
        if let Some(policy) = &source.retention {
            match retention::prune(self.bridge.as_ref(), policy, chrono::Utc::now()).await {
                Ok(deleted) if !deleted.is_empty() => info!(deleted = deleted.len(), "retention pruned old dumps"),
                Ok(_) => {}
                Err(e) => warn!("retention failed: {e}"),
            }
        }
        Ok(Done {
            status: "succeeded",
            dump_id: Some(manifest.id.to_string()),
            rows: manifest.totals.rows,
            bytes: manifest.totals.stored_bytes,
            tables: progress.figures(),
        })
    }

    async fn restore_once(&self) -> Result<Done, Failure> {
        let destination = self.config.destination().map_err(Failure::from_error)?;
        let latest = match store::resolve(self.bridge.as_ref(), &DumpRef::Latest).await {
            Ok(latest) => latest,
            Err(StoreError::NoDumps { .. }) => return Ok(Done::skipped(None)),
            Err(e) => return Err(Failure::from_error(e)),
        };
        let restored = restore::restored_dump_id(&destination.connection_uri, &latest.databases).await;
        if restored.as_deref() == Some(latest.id.as_str()) {
            return Ok(Done::skipped(Some(latest.id.to_string())));
        }
        let options = RestoreOptions::from_config(destination, None);
        let which = DumpRef::Id(latest.id.clone());
        let progress = Progress::recorded("restored");
        let manifest =
            restore::run(&destination.connection_uri, self.bridge.clone(), &which, &options, &progress, &self.shutdown)
                .await
                .map_err(|e| Failure { cancelled: matches!(e, RestoreError::Cancelled), message: format!("{e:#}") })?;
        Ok(Done {
            status: "succeeded",
            dump_id: Some(manifest.id.to_string()),
            rows: manifest.totals.rows,
            bytes: manifest.totals.stored_bytes,
            tables: progress.figures(),
        })
    }
}

/// A run that ended well.
struct Done {
    status: &'static str,
    dump_id: Option<String>,
    rows: u64,
    bytes: u64,
    tables: Vec<TableFigures>,
}

impl Done {
    /// Nothing to do (no dump yet, or the latest is already restored).
    fn skipped(dump_id: Option<String>) -> Self {
        Done { status: "skipped", dump_id, rows: 0, bytes: 0, tables: Vec::new() }
    }
}

/// A run that did not.
struct Failure {
    cancelled: bool,
    message: String,
}

impl Failure {
    fn from_error(e: impl std::fmt::Display) -> Self {
        Failure { cancelled: false, message: e.to_string() }
    }
}
