//! The statements that apply one run: rows to insert go in with one `COPY`;
//! rows to update or delete go into a temporary table with one `COPY`,
//! then one `UPDATE … FROM` or `DELETE … USING` joins them by key. Updates
//! set only the columns the change carries: a TOASTed value it did not
//! touch stays as it is.
//!
//! The staging table is temporary, except on a connection whose
//! transaction is to be prepared ([`Staging::Unlogged`]): `PREPARE
//! TRANSACTION` refuses a transaction that touched a temporary table.

use bytes::Bytes;
use futures::SinkExt;
use tokio_postgres::Client;

use super::runs::{Kind, Run};
use super::RestoreError;
use crate::copy::binary;
use crate::format::ChangeTable;
use crate::pg::error_message;
use crate::pg::ident::{quote_ident, quote_qualified};

/// Where a run of updates or deletes is staged.
#[derive(Debug, Clone, Copy)]
pub enum Staging {
    /// `pg_temp.rb_apply`.
    Temporary,
    /// An unlogged table in the changed table's schema, created and dropped
    /// in the transaction (so no other session ever sees it), named for
    /// the connection (so two connections' tables never collide).
    Unlogged(usize),
}

impl Staging {
    /// The `CREATE` keyword and the qualified name of the staging table for
    /// changes to `t`.
    fn table(self, t: &ChangeTable) -> (&'static str, String) {
        match self {
            Staging::Temporary => ("TEMPORARY", "pg_temp.rb_apply".to_string()),
            Staging::Unlogged(connection) => {
                ("UNLOGGED", quote_qualified(&t.schema, &format!("replibyte_apply_{connection}")))
            }
        }
    }
}

/// Applies `run`, changes to the table `t`, staging updates and deletes as
/// `staging` says.
///
/// # Errors
/// A change the database refuses (a row a user added meanwhile with the
/// same key, …), named with its table.
pub async fn apply(client: &Client, t: &ChangeTable, run: Run, staging: Staging) -> Result<(), RestoreError> {
    let table = quote_qualified(&t.schema, &t.name);
    let (kind, staged_as) = staging.table(t);
    let fail = |what: &str, e: tokio_postgres::Error| RestoreError::Query {
        what: format!("applying {what} to {}.{}", t.schema, t.name),
        message: error_message(&e),
    };
    let column = |name: &String| quote_ident(name);
    let key: Vec<String> = t.key.iter().map(column).collect();
    let condition = key_matches(&key, t.full_identity);
    match &run.kind {
        Kind::Insert => {
            let columns: Vec<String> = t.columns.iter().map(column).collect();
            let sql = format!("COPY {table} ({}) FROM STDIN (FORMAT binary)", columns.join(", "));
            copy_rows(client, &sql, run.rows).await.map_err(|e| fail("inserts", e))
        }
        Kind::Update(present) => {
            let set: Vec<&String> = t.columns.iter().zip(present).filter(|(_, p)| **p).map(|(c, _)| c).collect();
            if set.is_empty() {
                return Ok(());
            }
            let mut select = key_select(&key);
            select.extend(set.iter().enumerate().map(|(i, c)| format!("{} AS c{i}", column(c))));
            let assignments: Vec<String> =
                set.iter().enumerate().map(|(i, c)| format!("{} = s.c{i}", column(c))).collect();
            let apply =
                format!("UPDATE ONLY {table} t SET {} FROM {staged_as} s WHERE {condition}", assignments.join(", "));
            staged(client, (kind, &staged_as), &table, &select, run.rows, &apply).await.map_err(|e| fail("updates", e))
        }
        Kind::Delete => {
            let apply = format!("DELETE FROM ONLY {table} t USING {staged_as} s WHERE {condition}");
            staged(client, (kind, &staged_as), &table, &key_select(&key), run.rows, &apply)
                .await
                .map_err(|e| fail("deletes", e))
        }
    }
}

/// Loads `rows` into the staging table `into` (its `CREATE` keyword and
/// name), shaped by `select`, runs `apply` against it, drops it.
async fn staged(
    client: &Client,
    into: (&str, &str),
    table: &str,
    select: &[String],
    rows: Bytes,
    apply: &str,
) -> Result<(), tokio_postgres::Error> {
    stage(client, into, table, select, rows).await?;
    client.batch_execute(apply).await?;
    client.batch_execute(&format!("DROP TABLE {}", into.1)).await
}

/// Creates the table `into` (`TEMPORARY` or `UNLOGGED`, and its qualified
/// name) shaped by `select` (expressions over `table`'s columns, so each
/// has its column's type) and streams `rows` into it.
pub(super) async fn stage(
    client: &Client,
    (kind, name): (&str, &str),
    table: &str,
    select: &[String],
    rows: Bytes,
) -> Result<(), tokio_postgres::Error> {
    let create = format!("CREATE {kind} TABLE {name} AS SELECT {} FROM ONLY {table} WITH NO DATA", select.join(", "));
    client.batch_execute(&create).await?;
    copy_rows(client, &format!("COPY {name} FROM STDIN (FORMAT binary)"), rows).await
}

/// The key columns (quoted) named `k0`, `k1`, … for a staging table.
pub(super) fn key_select(key: &[String]) -> Vec<String> {
    key.iter().enumerate().map(|(i, k)| format!("{k} AS k{i}")).collect()
}

/// The condition joining the table `t` to the staged keys `s`: each key
/// column by its own equality, or by its text under replica identity full
/// (whose columns may lack an equality).
pub(super) fn key_matches(key: &[String], full_identity: bool) -> String {
    let matches = key.iter().enumerate().map(|(i, k)| {
        if full_identity {
            format!("t.{k}::text IS NOT DISTINCT FROM s.k{i}::text")
        } else {
            format!("t.{k} = s.k{i}")
        }
    });
    matches.collect::<Vec<_>>().join(" AND ")
}

/// Streams binary COPY tuples (without header) into `sql`.
async fn copy_rows(client: &Client, sql: &str, rows: Bytes) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(binary::HEADER)).await?;
    sink.send(rows).await?;
    sink.send(Bytes::from_static(binary::TRAILER)).await?;
    sink.as_mut().finish().await?;
    Ok(())
}
