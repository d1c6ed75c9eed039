//! Gathering a delta's changes, in commit order, into runs: consecutive
//! changes of one kind to one table, as binary COPY tuples, each applied
//! in a few statements ([`super::statements`]).
//!
//! A run ends where the kind or the table changes, when a key comes back
//! (so each row's changes keep their order), or when it holds
//! [`RUN_BYTES`] (so memory does not grow with a large statement's
//! changes).

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};

use crate::changes::pgoutput::{decode_tuple, Value};
use crate::changes::record::Change;
use crate::changes::rows::to_copy_tuple;
use crate::format::ChangeTable;
use crate::pg::ident::quote_qualified;

/// A run is complete once it holds this many bytes of rows.
const RUN_BYTES: usize = 8 * 1024 * 1024;

/// What a run of changes does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Insert,
    /// Which columns the updates set.
    Update(Vec<bool>),
    Delete,
}

/// A run complete, ready to apply.
pub struct Run {
    /// Index of the table among the delta's tables.
    pub table: u32,
    pub kind: Kind,
    /// Inserts: whole rows. Updates: each row's old key, then the values
    /// it sets. Deletes: keys.
    pub rows: Bytes,
    /// The keys of the rows an update or delete run changes, in order
    /// (what a read-ahead reads by); empty for inserts.
    pub keys: Bytes,
}

/// A statement group to run, in order.
pub enum Step {
    Run(Run),
    /// The statement, and the tables it empties (indexes among the
    /// delta's tables).
    Truncate {
        sql: String,
        tables: Vec<u32>,
    },
}

/// A run being gathered.
struct Open {
    table: u32,
    kind: Kind,
    rows: BytesMut,
    /// Its keys, to end the run when one comes back.
    seen: HashSet<Vec<u8>>,
    /// The same keys in order (an update run's; a delete run's rows are
    /// its keys).
    keys: BytesMut,
}

/// Turns changes into steps; [`Gatherer::take_ready`] hands over the steps
/// completed so far.
pub struct Gatherer<'a> {
    tables: &'a [ChangeTable],
    open: Option<Open>,
    ready: Vec<Step>,
    /// Changes gathered.
    pub count: u64,
}

impl<'a> Gatherer<'a> {
    pub fn new(tables: &'a [ChangeTable]) -> Self {
        Gatherer { tables, open: None, ready: Vec::new(), count: 0 }
    }

    fn table(&self, index: u32) -> Result<&'a ChangeTable, String> {
        self.tables.get(index as usize).ok_or_else(|| format!("change to unknown table #{index}"))
    }

    /// Adds one change to the open run (ending it first if the change
    /// cannot join it).
    pub fn push(&mut self, change: Change<'_>) -> Result<(), String> {
        self.count += 1;
        let (table, kind, row, key) = match change {
            Change::Truncate { tables, cascade, restart_identity } => {
                self.end_run();
                let names: Vec<String> = tables
                    .iter()
                    .map(|&t| self.table(t).map(|t| format!("ONLY {}", quote_qualified(&t.schema, &t.name))))
                    .collect::<Result<_, _>>()?;
                let restart = if restart_identity { " RESTART IDENTITY" } else { "" };
                let cascade = if cascade { " CASCADE" } else { "" };
                let sql = format!("TRUNCATE {}{restart}{cascade}", names.join(", "));
                self.ready.push(Step::Truncate { sql, tables: tables.to_vec() });
                return Ok(());
            }
            Change::Insert { table, new } => {
                let values = decode_tuple(new).map_err(|e| e.to_string())?;
                let all: Vec<usize> = (0..values.len()).collect();
                let mut row = Vec::new();
                to_copy_tuple(&[(&values, &all)], &mut row)?;
                (table, Kind::Insert, row, None)
            }
            Change::Update { table, old, new } => {
                let t = self.table(table)?;
                let values = decode_tuple(new).map_err(|e| e.to_string())?;
                let old_values = old.map(decode_tuple).transpose().map_err(|e| e.to_string())?;
                let key_from = old_values.as_deref().unwrap_or(&values);
                let key_columns = key_positions(t)?;
                // Columns to set: those the change carries, but not the key
                // when it did not change (an identity column GENERATED
                // ALWAYS cannot be set, even to itself).
                let present: Vec<bool> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| !matches!(v, Value::Unchanged) && (old_values.is_some() || !key_columns.contains(&i)))
                    .collect();
                let mut key = Vec::new();
                to_copy_tuple(&[(key_from, &key_columns)], &mut key)?;
                // The row's old key (what finds it), then its new values.
                let set: Vec<usize> = present.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
                let mut row = Vec::new();
                to_copy_tuple(&[(key_from, &key_columns), (&values, &set)], &mut row)?;
                (table, Kind::Update(present), row, Some(key))
            }
            Change::Delete { table, old } => {
                let t = self.table(table)?;
                let values = decode_tuple(old).map_err(|e| e.to_string())?;
                let mut row = Vec::new();
                to_copy_tuple(&[(&values, &key_positions(t)?)], &mut row)?;
                (table, Kind::Delete, row.clone(), Some(row))
            }
        };
        let joins = self.open.as_ref().is_some_and(|run| {
            run.table == table && run.kind == kind && key.as_ref().is_none_or(|k| !run.seen.contains(k))
        });
        if !joins {
            self.end_run();
            self.open = Some(Open { table, kind, rows: BytesMut::new(), seen: HashSet::new(), keys: BytesMut::new() });
        }
        let run = self.open.as_mut().expect("opened above");
        run.rows.extend_from_slice(&row);
        if let Some(key) = key {
            if matches!(run.kind, Kind::Update(_)) {
                run.keys.extend_from_slice(&key);
            }
            run.seen.insert(key);
        }
        if run.rows.len() >= RUN_BYTES {
            self.end_run();
        }
        Ok(())
    }

    /// Ends the open run: it is ready.
    pub fn end_run(&mut self) {
        if let Some(run) = self.open.take() {
            let rows = run.rows.freeze();
            let keys = if run.kind == Kind::Delete { rows.clone() } else { run.keys.freeze() };
            self.ready.push(Step::Run(Run { table: run.table, kind: run.kind, rows, keys }));
        }
    }

    /// The steps completed since the last call, in order.
    pub fn take_ready(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.ready)
    }
}

/// Positions of the key columns among the table's columns.
fn key_positions(table: &ChangeTable) -> Result<Vec<usize>, String> {
    if table.key.is_empty() {
        return Err(format!("table {}.{} has no key to find its rows by", table.schema, table.name));
    }
    table
        .key
        .iter()
        .map(|k| table.columns.iter().position(|c| c == k).ok_or_else(|| format!("key column {k} is not a column")))
        .collect()
}
