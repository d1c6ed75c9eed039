//! The `replibyte` schema the control port's SQL reads: four tables, filled
//! from a [`Snapshot`] of the agent for each statement.
//!
//! Declared types are PostgreSQL's names (SQLite keeps them as written and
//! reports them back), so a column reaches the client with its type:
//! `timestamptz`, `int8`, `float8`, `bool` or `text`. Timestamps are stored
//! as ISO 8601 UTC text (`2026-12-01T08:00:00.123456Z`, microseconds like PostgreSQL): they sort and compare
//! as text, with `now()` and with the literals Grafana's `$__timeFilter`
//! writes; SQLite's date functions read them too.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection};

use crate::agent::state::{RunRecord, RunTables, Status};
use crate::format::DumpSummary;

/// What the agent knows at the moment of a statement.
pub struct Snapshot {
    pub now: DateTime<Utc>,
    /// Only when the statement reads `replibyte.dumps`: listing the bridge
    /// is the one costly part.
    pub dumps: Vec<DumpSummary>,
    pub runs: Vec<RunRecord>,
    pub status: Status,
    pub tables: Vec<RunTables>,
}

/// The tables, in the attached database `replibyte`.
pub const TABLES: &str = "
CREATE TABLE replibyte.dumps (
    id TEXT, created_at TIMESTAMPTZ, status TEXT, size_bytes INT8, tables INT8, rows INT8,
    kind TEXT, parent TEXT, complete BOOL);
CREATE TABLE replibyte.runs (
    kind TEXT, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status TEXT, error TEXT, dump_id TEXT,
    rows INT8, bytes INT8, seconds FLOAT8);
CREATE TABLE replibyte.status (
    state TEXT, current_run TEXT, next_dump_at TIMESTAMPTZ, next_restore_at TIMESTAMPTZ,
    last_dump_status TEXT, last_dump_id TEXT, last_restore_status TEXT, last_restored_dump_id TEXT,
    version TEXT, running BOOL);
CREATE TABLE replibyte.tables (
    run TEXT, dump_id TEXT, name TEXT, rows INT8, bytes INT8, seconds FLOAT8);
";

/// A timestamp as the tables hold it.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Fills the tables.
///
/// # Errors
/// Only SQLite's own (out of memory).
pub fn fill(db: &Connection, snapshot: &Snapshot) -> rusqlite::Result<()> {
    let mut dumps = db.prepare("INSERT INTO replibyte.dumps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
    for d in &snapshot.dumps {
        dumps.execute(params![
            d.id.to_string(),
            timestamp(d.created_at),
            d.status,
            d.size_bytes as i64,
            d.tables as i64,
            d.rows as i64,
            d.kind,
            d.parent.as_ref().map(ToString::to_string),
            d.is_complete(),
        ])?;
    }
    let mut runs = db.prepare("INSERT INTO replibyte.runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
    for r in &snapshot.runs {
        let seconds = (r.finished_at.unwrap_or(snapshot.now) - r.started_at).num_milliseconds() as f64 / 1000.0;
        runs.execute(params![
            r.kind.label(),
            timestamp(r.started_at),
            r.finished_at.map(timestamp),
            r.status,
            r.error,
            r.dump_id,
            r.rows as i64,
            r.bytes as i64,
            seconds,
        ])?;
    }
    let s = &snapshot.status;
    db.execute(
        "INSERT INTO replibyte.status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            if s.current.is_some() { "running" } else { "idle" },
            s.current.as_ref().map(|r| r.kind.label()),
            s.next_dump.map(timestamp),
            s.next_restore.map(timestamp),
            s.last_dump.as_ref().map(|r| r.status),
            s.last_dump.as_ref().and_then(|r| r.dump_id.as_deref()),
            s.last_restore.as_ref().map(|r| r.status),
            s.last_restore.as_ref().and_then(|r| r.dump_id.as_deref()),
            env!("CARGO_PKG_VERSION"),
            s.current.is_some(),
        ],
    )?;
    let mut tables = db.prepare("INSERT INTO replibyte.tables VALUES (?, ?, ?, ?, ?, ?)")?;
    for run in &snapshot.tables {
        for t in &run.tables {
            tables.execute(params![
                run.kind.label(),
                run.dump_id,
                t.table,
                t.rows as i64,
                t.bytes as i64,
                t.seconds
            ])?;
        }
    }
    Ok(())
}
