//! Applying a delta on several connections, each table's changes on one,
//! committed all together or not at all.
//!
//! One backend applying a delta is bound by its own work: the index entries
//! of every updated row (an update that changes an indexed column is never
//! HOT), the pages it reads. Tables are independent once triggers and
//! foreign keys are off ([`super::route`]), so their changes can be applied
//! side by side, but then in several transactions. What keeps the delta
//! all-or-nothing is two-phase commit: each helper connection prepares its
//! transaction (`PREPARE TRANSACTION`, under a name that says the dump,
//! [`super::prepared`]); the first connection, which also sets the
//! sequences and records the dump id, commits only once all have prepared,
//! and that commit decides; the helpers then commit their prepared
//! transactions. A run that stops on the way leaves prepared transactions
//! that the next restore of the database finishes the way the decision
//! went.
//!
//! The changes are applied on one connection instead ([`Outcome::Unsuited`],
//! nothing committed) when the server has no prepared transactions to
//! spare (`max_prepared_transactions`, 0 by default), triggers cannot be
//! turned off (the order across tables would then matter) or some are
//! enabled `ALWAYS` or `REPLICA`, the role may not create the helpers'
//! staging tables, or a `TRUNCATE` spans tables on different connections
//! (and, decided by the caller, when materialized views are to be
//! refreshed).

use futures::future::join_all;
use tokio_postgres::Client;
use tracing::warn;

use super::prepared::{self, transaction_name, APPLY_LOCK};
use super::{apply_changes, as_replica, finish, Applier, RestoreError, Staging, Stop};
use crate::bridge::Bridge;
use crate::format::{ChangeSet, Manifest};
use crate::pg::error_message;
use crate::pg::ident::quote_literal;

/// How a parallel apply ended, when it did not fail.
pub enum Outcome {
    /// Committed; how many changes.
    Applied(u64),
    /// Nothing was committed: why the changes go on one connection.
    Unsuited(String),
}

/// Applies `changes` on `client` and `helpers`, as [`super::apply`] does
/// on one connection (without materialized views to refresh: they would
/// have to see every connection's changes).
///
/// # Errors
/// A corrupted segment, a change the database refuses: nothing is
/// committed.
pub async fn apply(
    client: &Client,
    helpers: &[Client],
    database: &str,
    bridge: &dyn Bridge,
    manifest: &Manifest,
    changes: &ChangeSet,
) -> Result<Outcome, RestoreError> {
    if let Some(why) = begin(client, helpers, changes).await {
        return Ok(Outcome::Unsuited(why));
    }
    let mut appliers = vec![Applier { client, staging: Staging::Temporary }];
    appliers
        .extend(helpers.iter().enumerate().map(|(i, client)| Applier { client, staging: Staging::Unlogged(i + 1) }));
    let applied = match apply_changes(&appliers, bridge, changes, None).await {
        Ok(count) => finish(client, database, manifest, changes, &[]).await.map(|()| count).map_err(Stop::Failed),
        Err(stop) => Err(stop),
    };
    let count = match applied {
        Ok(count) => count,
        Err(stop) => {
            rollback(client, helpers).await;
            return match stop {
                Stop::Failed(e) => Err(e),
                Stop::Unsuited(why) => Ok(Outcome::Unsuited(why)),
            };
        }
    };
    let names: Vec<String> = (1..=helpers.len()).map(|i| transaction_name(manifest.id.as_str(), i)).collect();
    let prepared = each("PREPARE TRANSACTION", helpers.iter().zip(&names)).await;
    if let Some(e) = prepared.iter().find_map(|r| r.as_ref().err()) {
        let why = format!("preparing a transaction failed ({})", error_message(e));
        // A PREPARE that fails rolls its transaction back.
        let undo = helpers.iter().zip(&names).zip(&prepared).filter(|(_, r)| r.is_ok()).map(|(pair, _)| pair);
        each("ROLLBACK PREPARED", undo).await;
        let _ = client.batch_execute("ROLLBACK").await;
        return Ok(Outcome::Unsuited(why));
    }
    // The decision.
    if let Err(e) = client.batch_execute("COMMIT").await {
        // Whether it committed is for the catalog to say, not the error (a
        // lost connection may have lost only the reply).
        settle(&helpers[0]).await;
        return Err(RestoreError::query("committing the delta", &e));
    }
    let committed = each("COMMIT PREPARED", helpers.iter().zip(&names)).await;
    if committed.iter().any(Result::is_err) {
        settle(client).await;
    }
    Ok(Outcome::Applied(count))
}

/// What decides whether changes to tables in the schemas `$1` can be split
/// over connections: how many more transactions the server can hold
/// prepared; whether the role may create the helpers' staging tables in
/// every one of those schemas; whether a trigger or rule fires even under
/// `session_replication_role = replica` (what it writes may be another
/// connection's table, whose lock would be waited for without end).
const SUITABILITY: &str = "SELECT \
     current_setting('max_prepared_transactions')::bigint - (SELECT count(*) FROM pg_catalog.pg_prepared_xacts), \
     coalesce((SELECT bool_and(pg_catalog.has_schema_privilege(s, 'CREATE')) FROM unnest($1::text[]) s), true), \
     EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgenabled IN ('A', 'R') AND NOT tgisinternal) \
       OR EXISTS (SELECT FROM pg_catalog.pg_rewrite WHERE ev_enabled IN ('A', 'R') AND ev_type <> '1')";

/// Starts the transactions, triggers off; why the changes cannot be
/// applied this way, if they cannot (every transaction then rolled back).
async fn begin(client: &Client, helpers: &[Client], changes: &ChangeSet) -> Option<String> {
    // The lock tells a restore that looks for prepared transactions left
    // behind that these are not: their run is still deciding.
    let start = format!("BEGIN; SELECT pg_catalog.pg_advisory_xact_lock({APPLY_LOCK})");
    if let Err(e) = client.batch_execute(&start).await {
        let _ = client.batch_execute("ROLLBACK").await;
        return Some(format!("starting the transaction failed ({})", error_message(&e)));
    }
    if let Some(why) = unsuited(client, helpers.len(), changes).await {
        let _ = client.batch_execute("ROLLBACK").await;
        return Some(why);
    }
    let started = join_all(helpers.iter().map(|h| async move {
        h.batch_execute("BEGIN").await?;
        as_replica(h).await
    }))
    .await;
    let why = started.into_iter().find_map(Result::err)?;
    rollback(client, helpers).await;
    Some(format!("a helper connection failed ({})", error_message(&why)))
}

/// Why `changes` cannot be split over `helpers` more connections, asked
/// on `client` in its transaction (whose triggers it turns off).
async fn unsuited(client: &Client, helpers: usize, changes: &ChangeSet) -> Option<String> {
    let schemas: Vec<&str> = changes.tables.iter().map(|t| t.schema.as_str()).collect();
    let row = match client.query_one(SUITABILITY, &[&schemas]).await {
        Ok(row) => row,
        Err(e) => return Some(error_message(&e)),
    };
    let (spare, may_stage, firing): (i64, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if spare < helpers as i64 {
        return Some(format!(
            "the server has {spare} prepared transactions to spare (max_prepared_transactions), {helpers} are needed"
        ));
    }
    if !may_stage {
        return Some("a helper could not stage changes (no CREATE on a changed table's schema)".into());
    }
    if firing {
        return Some("a trigger or rule is enabled ALWAYS or REPLICA (it fires while changes are applied)".into());
    }
    as_replica(client).await.err().map(|e| format!("triggers cannot be turned off ({})", error_message(&e)))
}

/// Runs `command` (`PREPARE TRANSACTION`, `COMMIT PREPARED`, …) with its
/// transaction's name on each connection, all at once.
async fn each<'a>(
    command: &str,
    on: impl Iterator<Item = (&'a Client, &'a String)>,
) -> Vec<Result<(), tokio_postgres::Error>> {
    join_all(
        on.map(
            |(client, name)| async move { client.batch_execute(&format!("{command} {}", quote_literal(name))).await },
        ),
    )
    .await
}

/// Rolls back every connection's transaction.
async fn rollback(client: &Client, helpers: &[Client]) {
    let all = std::iter::once(client).chain(helpers);
    join_all(all.map(|c| c.batch_execute("ROLLBACK"))).await;
}

/// Finishes this run's prepared transactions as the decision went, on
/// `client` (outside a transaction); what it cannot finish, the next
/// restore of the database does.
async fn settle(client: &Client) {
    if let Err(e) = prepared::resolve(client).await {
        warn!("{e}; the next restore of the database finishes them");
    }
}
