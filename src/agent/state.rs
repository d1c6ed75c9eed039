//! What the agent has done and is doing, for the control port.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::progress::TableFigures;

/// How many finished runs are remembered.
const HISTORY: usize = 200;

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Dump,
    Restore,
}

impl RunKind {
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Dump => "dump",
            RunKind::Restore => "restore",
        }
    }
}

/// One run, finished or not.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub kind: RunKind,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `failed`, `cancelled` or `skipped`.
    pub status: &'static str,
    pub error: Option<String>,
    pub dump_id: Option<String>,
    pub rows: u64,
    pub bytes: u64,
}

/// Shared, lock-protected agent state.
#[derive(Default)]
pub struct AgentState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    runs: VecDeque<RunRecord>,
    /// The runs started and not finished, oldest first: at most one per
    /// kind (a run waiting between attempts leaves the turn to the other
    /// kind's).
    current: Vec<RunRecord>,
    next_dump: Option<DateTime<Utc>>,
    next_restore: Option<DateTime<Utc>>,
    /// The latest successful dump's tables, then the latest restore's.
    tables: Vec<RunTables>,
}

/// What each table moved in the latest successful run of a kind.
#[derive(Debug, Clone)]
pub struct RunTables {
    pub kind: RunKind,
    pub dump_id: Option<String>,
    pub tables: Vec<TableFigures>,
}

/// A snapshot of the agent's status.
pub struct Status {
    pub current: Option<RunRecord>,
    pub next_dump: Option<DateTime<Utc>>,
    pub next_restore: Option<DateTime<Utc>>,
    pub last_dump: Option<RunRecord>,
    pub last_restore: Option<RunRecord>,
}

impl AgentState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn started(&self, kind: RunKind) {
        super::metrics::started(kind);
        let mut inner = self.lock();
        inner.current.retain(|r| r.kind != kind);
        inner.current.push(RunRecord {
            kind,
            started_at: Utc::now(),
            finished_at: None,
            status: "running",
            error: None,
            dump_id: None,
            rows: 0,
            bytes: 0,
        });
    }

    /// Ends the current run of `kind` with `outcome` filled in.
    pub fn finished(&self, kind: RunKind, outcome: impl FnOnce(&mut RunRecord)) {
        let mut inner = self.lock();
        if let Some(at) = inner.current.iter().position(|r| r.kind == kind) {
            let mut run = inner.current.remove(at);
            run.finished_at = Some(Utc::now());
            outcome(&mut run);
            super::metrics::finished(&run);
            inner.push(run);
        }
    }

    /// Records a run that was due but did not start.
    pub fn skipped(&self, kind: RunKind, reason: &str) {
        let now = Utc::now();
        let run = RunRecord {
            kind,
            started_at: now,
            finished_at: Some(now),
            status: "skipped",
            error: Some(reason.to_string()),
            dump_id: None,
            rows: 0,
            bytes: 0,
        };
        super::metrics::finished(&run);
        self.lock().push(run);
    }

    pub fn set_next(&self, kind: RunKind, at: Option<DateTime<Utc>>) {
        let mut inner = self.lock();
        match kind {
            RunKind::Dump => inner.next_dump = at,
            RunKind::Restore => inner.next_restore = at,
        }
    }

    /// Keeps what each table moved in a successful run, in place of the
    /// previous run of that kind.
    pub fn set_tables(&self, run: RunTables) {
        let mut inner = self.lock();
        inner.tables.retain(|t| t.kind != run.kind);
        inner.tables.push(run);
    }

    /// The tables of the latest successful dump and restore.
    pub fn tables(&self) -> Vec<RunTables> {
        self.lock().tables.clone()
    }

    /// Every run, newest first (the running one included).
    pub fn runs(&self) -> Vec<RunRecord> {
        let inner = self.lock();
        inner.current.iter().rev().cloned().chain(inner.runs.iter().rev().cloned()).collect()
    }

    pub fn status(&self) -> Status {
        let inner = self.lock();
        let last = |kind| inner.runs.iter().rev().find(|r| r.kind == kind && r.status != "skipped").cloned();
        Status {
            current: inner.current.last().cloned(),
            next_dump: inner.next_dump,
            next_restore: inner.next_restore,
            last_dump: last(RunKind::Dump),
            last_restore: last(RunKind::Restore),
        }
    }
}

impl Inner {
    fn push(&mut self, run: RunRecord) {
        if self.runs.len() == HISTORY {
            self.runs.pop_front();
        }
        self.runs.push_back(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_listed_newest_first_with_the_current_one() {
        let state = AgentState::default();
        state.started(RunKind::Dump);
        state.finished(RunKind::Dump, |r| r.status = "succeeded");
        state.skipped(RunKind::Restore, "busy");
        state.started(RunKind::Restore);
        let runs = state.runs();
        assert_eq!(runs.iter().map(|r| r.status).collect::<Vec<_>>(), vec!["running", "skipped", "succeeded"]);
        assert_eq!(state.status().last_dump.unwrap().status, "succeeded");
        assert!(state.status().last_restore.is_none());
    }

    #[test]
    fn runs_of_both_kinds_in_flight_are_each_recorded_as_their_own() {
        // A restore waits between attempts while a dump runs and ends.
        let state = AgentState::default();
        state.started(RunKind::Restore);
        state.started(RunKind::Dump);
        state.finished(RunKind::Dump, |r| r.status = "succeeded");
        state.finished(RunKind::Restore, |r| r.status = "failed");
        let runs: Vec<_> = state.runs().into_iter().map(|r| (r.kind, r.status)).collect();
        assert_eq!(runs, vec![(RunKind::Restore, "failed"), (RunKind::Dump, "succeeded")]);
    }
}
