//! The prepared transactions of a delta applied on several connections
//! ([`super::parallel`]), and what becomes of those a failed run left
//! behind.
//!
//! Each helper connection prepares its transaction under a name that says
//! which dump it belongs to; the connection that records the dump id
//! commits normally, after every helper has prepared, and that commit is
//! the decision. So a prepared transaction found later belongs to a dump
//! the database now holds (the run stopped between the decision and the
//! last `COMMIT PREPARED`: it is committed) or to one it does not hold (the
//! run stopped before the decision: it is rolled back). Until then it keeps
//! its locks and holds back vacuum's horizon (and would keep a full
//! restore from swapping the database out), which is why every restore
//! starts by resolving them.

use tokio_postgres::Client;
use tracing::warn;

use super::RestoreError;
use crate::pg::ident::quote_literal;

/// What the names of replibyte's prepared transactions start with.
const PREFIX: &str = "replibyte:";

/// The advisory lock (per database) a delta's deciding transaction holds:
/// while another run holds it, that run's prepared transactions are its
/// own to finish, not orphans.
pub const APPLY_LOCK: i64 = 0x7265_706c_6962_7974;

/// The name of the transaction helper `connection` prepares for `dump`.
pub fn transaction_name(dump: &str, connection: usize) -> String {
    format!("{PREFIX}{dump}:{connection}")
}

/// The dump a prepared transaction's name belongs to, if replibyte named it.
fn dump_of(name: &str) -> Option<&str> {
    name.strip_prefix(PREFIX)?.rsplit_once(':').map(|(dump, _)| dump)
}

/// Commits the prepared transactions left in `client`'s database for the
/// dump it holds (its id as recorded in the catalog, which a session's
/// settings only show from its start), rolls back the others. Does nothing
/// while another run is applying changes to the database.
///
/// # Errors
/// A failing query (the transactions then stay for the next run).
pub async fn resolve(client: &Client) -> Result<(), RestoreError> {
    let fail = |e: tokio_postgres::Error| RestoreError::query("finishing prepared transactions of an earlier run", &e);
    let locked: bool =
        client.query_one("SELECT pg_catalog.pg_try_advisory_lock($1)", &[&APPLY_LOCK]).await.map_err(fail)?.get(0);
    if !locked {
        return Ok(());
    }
    let outcome = resolve_locked(client).await.map_err(fail);
    let unlocked = client.execute("SELECT pg_catalog.pg_advisory_unlock($1)", &[&APPLY_LOCK]).await.map_err(fail);
    outcome.and(unlocked.map(|_| ()))
}

async fn resolve_locked(client: &Client) -> Result<(), tokio_postgres::Error> {
    let names = client
        .query(
            "SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)",
            &[&PREFIX],
        )
        .await?;
    if names.is_empty() {
        return Ok(());
    }
    let held = held_in_catalog(client).await?;
    for row in names {
        let name: String = row.get(0);
        let commit = dump_of(&name).is_some_and(|dump| held.as_deref() == Some(dump));
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        warn!(transaction = %name, "an earlier run left a prepared transaction: {verb} PREPARED");
        client.batch_execute(&format!("{verb} PREPARED {}", quote_literal(&name))).await?;
    }
    Ok(())
}

/// The dump id the catalog records for the current database now.
async fn held_in_catalog(client: &Client) -> Result<Option<String>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT substr(s, length({setting}) + 1) FROM pg_catalog.pg_db_role_setting, unnest(setconfig) s \
         WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) \
         AND starts_with(s, {setting})",
        setting = quote_literal(&format!("{}=", super::DUMP_ID_SETTING)),
    );
    Ok(client.query_opt(sql.as_str(), &[]).await?.map(|row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_their_dump() {
        let name = transaction_name("20261202T163003.396Z-b79f", 2);
        assert_eq!(name, "replibyte:20261202T163003.396Z-b79f:2");
        assert_eq!(dump_of(&name), Some("20261202T163003.396Z-b79f"));
        assert_eq!(dump_of("someone_else:1"), None);
        assert_eq!(dump_of("replibyte:nocolon"), None);
    }
}
