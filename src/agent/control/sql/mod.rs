//! The control port's SQL: each statement runs in a fresh in-memory SQLite
//! database holding the agent's tables (`replibyte.dumps`, `runs`,
//! `status`, `tables`), so any read-only `SELECT` works — projections,
//! `WHERE`, `GROUP BY`, aggregates, joins — in SQLite's dialect, with the
//! columns typed as PostgreSQL clients expect. Why SQLite and not
//! DataFusion: docs/DECISIONS.md.
//!
//! Nothing the statement does outlives it: the database is built for it
//! and dropped after. An authorizer allows reading and nothing else (no
//! write, no `ATTACH` of a file, no `PRAGMA`); a deadline and a row cap
//! keep a runaway query from holding the agent.

mod schema;
mod typed;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::functions::FunctionFlags;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{Connection, ErrorCode, Statement};

pub use rusqlite::types::Value as Parameter;
pub use schema::{timestamp, Snapshot};
pub use typed::{Column, ColumnType, Value};

/// How long a statement may run.
const DEADLINE: Duration = Duration::from_secs(2);

/// How many rows an answer may have.
const MAX_ROWS: usize = 100_000;

/// What the control port understands, for messages.
pub const UNDERSTOOD: &str = "the control port answers read-only SELECT statements (SQLite's dialect) over \
                              replibyte.dumps, replibyte.runs, replibyte.status and replibyte.tables, and \
                              CALL replibyte.dump_now() | replibyte.restore_now()";

/// Why a statement got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("the control port is read-only: {0} is refused; {UNDERSTOOD}")]
    ReadOnly(String),
    #[error("{0}; {UNDERSTOOD}")]
    Invalid(String),
    #[error("the answer has more than {MAX_ROWS} rows: add a WHERE or a LIMIT")]
    TooLarge,
    #[error("the statement ran longer than {} s and was stopped", DEADLINE.as_secs())]
    TooSlow,
}

impl SqlError {
    /// The SQLSTATE clients see.
    pub fn code(&self) -> &'static str {
        match self {
            SqlError::ReadOnly(_) => "25006",
            SqlError::Invalid(_) => "42601",
            SqlError::TooLarge => "54000",
            SqlError::TooSlow => "57014",
        }
    }
}

/// What a statement reads and takes, known before its data is gathered.
#[derive(Debug)]
pub struct Needs {
    /// Reads `replibyte.dumps`, which means listing the bridge.
    pub dumps: bool,
    /// `$1`, `$2`, …: the highest number (or the count of `?`).
    pub parameters: usize,
}

/// Rows and their typed columns.
#[derive(Debug)]
pub struct Answer {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

/// Checks `sql` against empty tables: whether it is allowed, what it reads.
///
/// # Errors
/// A statement that is not valid, or not read-only.
pub fn needs(sql: &str) -> Result<Needs, SqlError> {
    let db = open(Utc::now())?;
    let guard = Guard::install(&db);
    let statement = guard.prepare(&db, sql)?;
    let reads = guard.reads.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Needs { dumps: reads.contains("dumps"), parameters: parameter_count(&statement) })
}

/// Runs `sql` over `snapshot` with `parameters` (`$1` is the first).
///
/// The columns' types do not depend on the parameters: a column declared
/// in the schema has its declared type, an expression the type of its
/// values with every parameter null, so what a statement's description
/// says (before parameters are known) is what its rows are.
///
/// # Errors
/// An invalid, writing, too slow or too large statement.
pub fn answer(sql: &str, snapshot: &Snapshot, parameters: &[Option<Parameter>]) -> Result<Answer, SqlError> {
    let db = open(snapshot.now)?;
    schema::fill(&db, snapshot).map_err(|e| SqlError::Invalid(e.to_string()))?;
    let guard = Guard::install(&db);
    let mut statement = guard.prepare(&db, sql)?;
    let described = rows(&guard, &mut statement, &[])?;
    let columns = columns(&statement, &described);
    let raw = if parameters.is_empty() { described } else { rows(&guard, &mut statement, parameters)? };
    let rows = raw
        .into_iter()
        .map(|row| {
            row.into_iter().zip(&columns).map(|(value, column)| column.kind.convert(value)).collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()
        .map_err(SqlError::Invalid)?;
    Ok(Answer { columns, rows })
}

/// A database with the empty tables and `now()`.
fn open(now: DateTime<Utc>) -> Result<Connection, SqlError> {
    let setup = || -> rusqlite::Result<Connection> {
        let db = Connection::open_in_memory()?;
        db.execute_batch("ATTACH DATABASE ':memory:' AS replibyte")?;
        db.execute_batch(schema::TABLES)?;
        let now = timestamp(now);
        db.create_scalar_function(
            "now",
            0,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            move |_| Ok(now.clone()),
        )?;
        Ok(db)
    };
    setup().map_err(|e| SqlError::Invalid(format!("cannot set up the query engine: {e}")))
}

/// The authorizer and the deadline of one statement.
struct Guard {
    /// What the authorizer refused, for the message.
    refused: Arc<Mutex<Option<String>>>,
    /// The tables the statement reads.
    reads: Arc<Mutex<BTreeSet<String>>>,
}

impl Guard {
    fn install(db: &Connection) -> Self {
        let refused = Arc::new(Mutex::new(None));
        let reads = Arc::new(Mutex::new(BTreeSet::new()));
        let (refusals, read) = (refused.clone(), reads.clone());
        db.authorizer(Some(move |context: AuthContext<'_>| match context.action {
            AuthAction::Select | AuthAction::Recursive | AuthAction::Function { .. } => Authorization::Allow,
            AuthAction::Read { table_name, .. } => {
                read.lock().unwrap_or_else(|p| p.into_inner()).insert(table_name.to_string());
                Authorization::Allow
            }
            action => {
                *refusals.lock().unwrap_or_else(|p| p.into_inner()) = Some(refused_action(&action));
                Authorization::Deny
            }
        }));
        let deadline = Instant::now() + DEADLINE;
        db.progress_handler(10_000, Some(move || Instant::now() > deadline));
        Guard { refused, reads }
    }

    fn prepare<'db>(&self, db: &'db Connection, sql: &str) -> Result<Statement<'db>, SqlError> {
        db.prepare(sql).map_err(|e| self.error(e))
    }

    fn error(&self, error: rusqlite::Error) -> SqlError {
        if let Some(action) = self.refused.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return SqlError::ReadOnly(action);
        }
        match &error {
            rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::OperationInterrupted => SqlError::TooSlow,
            rusqlite::Error::SqliteFailure(_, Some(message)) => SqlError::Invalid(message.clone()),
            rusqlite::Error::MultipleStatement => SqlError::Invalid("one statement at a time".to_string()),
            _ => SqlError::Invalid(error.to_string()),
        }
    }
}

/// What a refused statement tried, in SQL words.
fn refused_action(action: &AuthAction<'_>) -> String {
    match action {
        AuthAction::Insert { table_name } => format!("INSERT INTO {table_name}"),
        AuthAction::Update { table_name, .. } => format!("UPDATE {table_name}"),
        AuthAction::Delete { table_name } => format!("DELETE FROM {table_name}"),
        AuthAction::Attach { .. } => "ATTACH".to_string(),
        AuthAction::Detach { .. } => "DETACH".to_string(),
        AuthAction::Pragma { pragma_name, .. } => format!("PRAGMA {pragma_name}"),
        AuthAction::Transaction { .. } | AuthAction::Savepoint { .. } => "a transaction".to_string(),
        _ => "a change to the schema".to_string(),
    }
}

/// `$n` parameters name their place; `?` ones count.
fn parameter_count(statement: &Statement<'_>) -> usize {
    (1..=statement.parameter_count()).map(|i| place(statement, i)).max().unwrap_or(0)
}

/// The place (from 1) in the client's parameters of SQLite's parameter `i`.
fn place(statement: &Statement<'_>, i: usize) -> usize {
    statement.parameter_name(i).and_then(|name| name.strip_prefix('$')).and_then(|n| n.parse().ok()).unwrap_or(i)
}

/// Every row of `statement` run with `parameters` (missing ones are null).
fn rows(
    guard: &Guard,
    statement: &mut Statement<'_>,
    parameters: &[Option<Parameter>],
) -> Result<Vec<Vec<Parameter>>, SqlError> {
    for i in 1..=statement.parameter_count() {
        let value = parameters.get(place(statement, i) - 1).cloned().flatten().unwrap_or(Parameter::Null);
        statement.raw_bind_parameter(i, value).map_err(|e| guard.error(e))?;
    }
    let width = statement.column_count();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| guard.error(e))? {
        if out.len() == MAX_ROWS {
            return Err(SqlError::TooLarge);
        }
        out.push((0..width).map(|i| row.get::<_, Parameter>(i)).collect::<Result<_, _>>().map_err(|e| guard.error(e))?);
    }
    Ok(out)
}

/// The columns of `statement`, typed by declaration or by `rows`' values.
fn columns(statement: &Statement<'_>, rows: &[Vec<Parameter>]) -> Vec<Column> {
    statement
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| Column {
            name: column.name().to_string(),
            kind: column
                .decl_type()
                .and_then(ColumnType::declared)
                .unwrap_or_else(|| ColumnType::inferred(rows.iter().map(|row| &row[i]))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::state::{AgentState, RunKind};

    fn snapshot() -> Snapshot {
        let state = AgentState::default();
        state.started(RunKind::Dump);
        state.finished(RunKind::Dump, |r| {
            r.status = "succeeded";
            r.rows = 10;
        });
        state.started(RunKind::Restore);
        state.finished(RunKind::Restore, |r| r.status = "failed");
        Snapshot { now: Utc::now(), dumps: Vec::new(), runs: state.runs(), status: state.status(), tables: Vec::new() }
    }

    #[test]
    fn selects_are_answered_with_typed_columns() {
        let answer = answer(
            "SELECT kind, count(*) AS n, max(started_at) AS last, sum(rows), started_at < now() FROM replibyte.runs \
             GROUP BY kind ORDER BY kind",
            &snapshot(),
            &[],
        )
        .unwrap();
        let kinds: Vec<_> = answer.columns.iter().map(|c| c.kind).collect();
        use ColumnType::*;
        assert_eq!(kinds, vec![Text, Int8, Timestamptz, Int8, Int8]);
        assert_eq!(answer.rows.len(), 2);
        assert_eq!(answer.rows[0][0], Value::Text("dump".into()));
        assert_eq!(answer.rows[0][3], Value::Int(10));
    }

    #[test]
    fn parameters_are_numbered_like_postgresql_ones() {
        let sql = "SELECT status FROM replibyte.runs WHERE kind = $2 AND status <> $1";
        assert_eq!(needs(sql).unwrap().parameters, 2);
        let found =
            answer(sql, &snapshot(), &[Some(Parameter::Text("x".into())), Some(Parameter::Text("restore".into()))])
                .unwrap();
        assert_eq!(found.rows, vec![vec![Value::Text("failed".into())]]);
    }

    #[test]
    fn writes_and_files_are_refused() {
        for sql in [
            "DELETE FROM replibyte.dumps",
            "INSERT INTO replibyte.runs (kind) VALUES ('x')",
            "CREATE TABLE t (a int)",
            "ATTACH DATABASE '/tmp/x.db' AS x",
            "PRAGMA table_info(runs)",
        ] {
            let error = needs(sql).unwrap_err();
            assert!(matches!(error, SqlError::ReadOnly(_)), "{sql}: {error}");
            assert!(error.to_string().contains("read-only"), "{error}");
        }
        assert!(matches!(needs("SELEC 1"), Err(SqlError::Invalid(_))));
        assert!(matches!(needs("SELECT * FROM replibyte.nothing"), Err(SqlError::Invalid(_))));
    }

    #[test]
    fn runaway_statements_are_stopped() {
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";
        assert!(matches!(answer(endless, &snapshot(), &[]), Err(SqlError::TooSlow)));
        let many = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 200000) SELECT i FROM n";
        assert!(matches!(answer(many, &snapshot(), &[]), Err(SqlError::TooLarge)));
    }
}
