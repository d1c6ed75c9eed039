//! The replication slot and publication an incremental chain reads, on the
//! source: created with a base, read and advanced by each delta, dropped
//! when the chain starts over or incremental dumps are turned off.
//!
//! Everything goes through SQL functions on a normal connection
//! (`pg_create_logical_replication_slot`, `pg_logical_slot_peek_binary_changes`,
//! `pg_replication_slot_advance`): no replication-protocol connection is
//! needed. The slot and the publication share a name; publications named
//! `replibyte_…` are replibyte's bookkeeping and never copied.

use tokio_postgres::Client;

use super::Lsn;
use crate::catalog::{ServerVersion, TableData};
use crate::pg::error_message;
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};

/// Prefix of the slots and publications replibyte makes.
pub const PREFIX: &str = "replibyte_";

/// A failing statement on the source, with what it was doing.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct SlotError {
    pub what: String,
    pub message: String,
}

fn fail(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SlotError {
    let what = what.into();
    move |e| SlotError { what, message: error_message(&e) }
}

/// The default slot name for a database: `replibyte_` and the name in
/// the characters a slot name allows.
pub fn default_name(database: &str) -> String {
    let mut name = PREFIX.to_string();
    for c in database.chars() {
        let c = c.to_ascii_lowercase();
        name.push(if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '_' });
    }
    name.truncate(63);
    name
}

/// A slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// Where the next read starts.
    pub confirmed_flush: Option<Lsn>,
    /// WAL the slot holds back from removal, in bytes.
    pub retained_bytes: i64,
    /// The database the slot decodes.
    pub database: String,
}

/// The slot named `slot`, if it exists.
///
/// # Errors
/// A failing query.
pub async fn state(client: &Client, slot: &str) -> Result<Option<SlotState>, SlotError> {
    let sql = "SELECT s.confirmed_flush_lsn::text, \
                      coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn), 0)::int8, \
                      coalesce(s.database, '') \
               FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1";
    let row = client.query_opt(sql, &[&slot]).await.map_err(fail("reading the replication slot"))?;
    Ok(row.map(|r| SlotState {
        confirmed_flush: r.get::<_, Option<String>>(0).and_then(|l| l.parse().ok()),
        retained_bytes: r.get(1),
        database: r.get(2),
    }))
}

/// What the source lacks for incremental dumps of `tables`, one line each
/// with its fix (nothing when all is well).
///
/// # Errors
/// A failing query.
pub async fn missing(client: &Client, version: ServerVersion, tables: &[TableData]) -> Result<Vec<String>, SlotError> {
    let mut out = Vec::new();
    if !version.at_least(14) {
        out.push(format!(
            "the source runs PostgreSQL {version}; incremental dumps need 14 or newer (binary logical decoding)"
        ));
        return Ok(out);
    }
    let row = client
        .query_one(
            "SELECT pg_catalog.current_setting('wal_level'), r.rolreplication OR r.rolsuper, r.rolname \
             FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER",
            &[],
        )
        .await
        .map_err(fail("checking the source's settings"))?;
    let wal_level: String = row.get(0);
    if wal_level != "logical" {
        out.push(format!(
            "wal_level is {wal_level}; incremental dumps need wal_level = logical (ALTER SYSTEM SET wal_level = logical, then restart the server)"
        ));
    }
    if !row.get::<_, bool>(1) {
        let role: String = row.get(2);
        out.push(format!("role {role} may not read a replication slot: ALTER ROLE {} REPLICATION", quote_ident(&role)));
    }
    let sql = "SELECT c.relreplident::text, \
                      EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), \
                      c.relpersistence::text \
               FROM pg_catalog.pg_class c WHERE c.oid = $1::text::pg_catalog.regclass";
    for table in tables.iter().filter(|t| !crate::catalog::large_objects::is_large_objects(&t.schema, &t.name)) {
        let name = quote_qualified(&table.schema, &table.name);
        let row = client.query_one(sql, &[&name]).await.map_err(fail(format!("reading table {name}")))?;
        let (identity, has_key, persistence): (String, bool, String) = (row.get(0), row.get(1), row.get(2));
        if identity == "n" || (identity == "d" && !has_key) {
            out.push(format!(
                "table {name} has no primary key or replica identity, so a change cannot find its row: add a primary key, or ALTER TABLE {name} REPLICA IDENTITY FULL"
            ));
        }
        if persistence == "u" {
            out.push(format!(
                "table {name} is unlogged: its changes never reach a slot; skip its rows (skip_data) or make it logged"
            ));
        }
        if table.format == crate::copy::CopyFormat::Text {
            out.push(format!(
                "table {name} has a column type without binary I/O, which deltas cannot carry: skip it (skip_tables) or its rows (skip_data)"
            ));
        }
    }
    Ok(out)
}

/// Makes the publication `name` publish exactly `tables`.
///
/// # Errors
/// A failing statement (the role must own the tables, or be superuser).
pub async fn publish(client: &Client, name: &str, tables: &[TableData]) -> Result<(), SlotError> {
    let list: Vec<String> = tables
        .iter()
        .filter(|t| !crate::catalog::large_objects::is_large_objects(&t.schema, &t.name))
        .map(|t| format!("ONLY {}", quote_qualified(&t.schema, &t.name)))
        .collect();
    let exists = client
        .query_opt("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", &[&name])
        .await
        .map_err(fail("reading the publication"))?
        .is_some();
    let publication = quote_ident(name);
    let sql = match (exists, list.is_empty()) {
        (false, true) => format!("CREATE PUBLICATION {publication}"),
        (false, false) => format!("CREATE PUBLICATION {publication} FOR TABLE {}", list.join(", ")),
        (true, true) => {
            let current = client
                .query(
                    "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = $1",
                    &[&name],
                )
                .await
                .map_err(fail("reading the publication"))?;
            let drop: Vec<String> = current.iter().map(|r| quote_qualified(r.get(0), r.get(1))).collect();
            if drop.is_empty() {
                return Ok(());
            }
            format!("ALTER PUBLICATION {publication} DROP TABLE {}", drop.join(", "))
        }
        (true, false) => format!("ALTER PUBLICATION {publication} SET TABLE {}", list.join(", ")),
    };
    client.batch_execute(&sql).await.map_err(fail(format!("publishing the dumped tables ({name})")))
}

/// Creates the slot; returns once every transaction committing after its
/// start point will be decoded.
///
/// # Errors
/// A failing statement (no REPLICATION attribute, no free slot, …).
pub async fn create(client: &Client, slot: &str) -> Result<Lsn, SlotError> {
    let row = client
        .query_one("SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')", &[&slot])
        .await
        .map_err(fail(format!("creating replication slot {slot}")))?;
    row.get::<_, String>(0).parse().map_err(|message| SlotError { what: "the new slot's position".into(), message })
}

/// Drops the slot and its publication, when they exist.
///
/// # Errors
/// A failing statement (the slot in use by another session, …).
pub async fn drop(client: &Client, slot: &str) -> Result<(), SlotError> {
    client
        .query(
            "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(fail(format!("dropping replication slot {slot}")))?;
    client
        .batch_execute(&format!("DROP PUBLICATION IF EXISTS {}", quote_ident(slot)))
        .await
        .map_err(fail(format!("dropping publication {slot}")))
}

/// Stops whatever session is reading the slot (a peek whose changes are no
/// longer wanted) and returns once it has let go of the slot; `reader` is
/// that session's connection, `client` another one.
///
/// # Errors
/// A failing statement.
pub async fn stop_reading(client: &Client, reader: &Client, slot: &str) -> Result<(), SlotError> {
    client
        .query(
            "SELECT pg_catalog.pg_cancel_backend(active_pid) FROM pg_catalog.pg_replication_slots \
             WHERE slot_name = $1 AND active_pid IS NOT NULL",
            &[&slot],
        )
        .await
        .map_err(fail(format!("stopping the read of replication slot {slot}")))?;
    // Queued behind the cancelled peek: it returns once that session is
    // idle again, its slot released (its own outcome does not matter).
    let _ = reader.batch_execute("SELECT 1").await;
    Ok(())
}

/// Moves the slot past every change committed before `lsn`: they will not
/// be read again.
///
/// # Errors
/// A failing statement.
pub async fn advance(client: &Client, slot: &str, lsn: Lsn) -> Result<(), SlotError> {
    let sql = format!(
        "SELECT pg_catalog.pg_replication_slot_advance($1, {}::pg_catalog.pg_lsn)",
        quote_literal(&lsn.to_string())
    );
    client.query(&sql, &[&slot]).await.map_err(fail(format!("advancing replication slot {slot}")))?;
    Ok(())
}

/// A WAL position before which every transaction committed so far has its
/// commit record on disk, where logical decoding can read it.
///
/// With `synchronous_commit = off` a commit returns before its record is
/// flushed; committing a transaction of our own synchronously flushes
/// everything written before it. It must write WAL to be flushed: a
/// transactional logical message (which pgoutput does not pass on unless
/// asked).
///
/// # Errors
/// A failing query.
pub async fn flushed_lsn(client: &Client) -> Result<Lsn, SlotError> {
    client
        .batch_execute(
            "SET synchronous_commit = on; BEGIN; \
             SELECT pg_catalog.pg_logical_emit_message(true, 'replibyte', 'flush'); COMMIT",
        )
        .await
        .map_err(fail("flushing the WAL"))?;
    let row = client
        .query_one("SELECT pg_catalog.pg_current_wal_flush_lsn()::text", &[])
        .await
        .map_err(fail("reading the WAL position"))?;
    row.get::<_, String>(0).parse().map_err(|message| SlotError { what: "the WAL position".into(), message })
}

/// The COPY that streams every change committed before `upto` without
/// consuming it (the slot moves only with [`advance`]), one pgoutput
/// message per row, values in binary form.
pub fn peek_copy(slot: &str, upto: Lsn) -> String {
    format!(
        "COPY (SELECT data FROM pg_catalog.pg_logical_slot_peek_binary_changes({}, {}::pg_catalog.pg_lsn, NULL, \
         'proto_version', '1', 'publication_names', {}, 'binary', 'true')) TO STDOUT (FORMAT binary)",
        quote_literal(slot),
        quote_literal(&upto.to_string()),
        quote_literal(&quote_ident(slot))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_valid_slot_names() {
        assert_eq!(default_name("App-DB"), "replibyte_app_db");
        assert_eq!(default_name("表"), "replibyte__");
        assert!(default_name(&"x".repeat(80)).len() <= 63);
    }
}
