//! Running the schema's objects of one phase, in dependency order.

use std::collections::HashSet;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;
use tracing::warn;

use super::RestoreError;
use crate::catalog::DdlObject;

/// The roles that exist on the destination server.
///
/// # Errors
/// A failing query.
pub async fn existing_roles(client: &Client) -> Result<HashSet<String>, RestoreError> {
    let rows = client
        .query("SELECT rolname FROM pg_catalog.pg_roles", &[])
        .await
        .map_err(|e| RestoreError::query("listing roles", &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Runs `objects` one after the other.
///
/// # Errors
/// The first statement that fails, naming its object.
pub async fn run_all(
    client: &Client,
    objects: impl Iterator<Item = &DdlObject>,
    roles: &HashSet<String>,
) -> Result<(), RestoreError> {
    let mut warned = HashSet::new();
    for object in objects {
        run_object(client, object, roles, &mut warned).await?;
    }
    Ok(())
}

/// Runs one object's statements. An object naming a role the destination
/// lacks (a grant, a policy) is skipped, with one warning per role in
/// `warned`.
///
/// # Errors
/// A statement that fails, naming the object.
pub async fn run_object(
    client: &Client,
    object: &DdlObject,
    roles: &HashSet<String>,
    warned: &mut HashSet<String>,
) -> Result<(), RestoreError> {
    if object.sql.is_empty() {
        return Ok(());
    }
    if let Some(missing) = object.requires_roles.iter().find(|r| !roles.contains(*r)) {
        if warned.insert(missing.clone()) {
            warn!(role = %missing, "role does not exist on the destination: its grants and policies are skipped (create it, or copy roles with globals)");
        }
        return Ok(());
    }
    // Objects run side by side take their locks in orders no schedule can
    // rule out (a trigger on a partitioned table walks down its partitions
    // while a key on a partition locks upwards). PostgreSQL then cancels one
    // of them, whose implicit transaction rolled back whole: run it again.
    let mut attempt = 1;
    loop {
        match client.batch_execute(&object.sql).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < DEADLOCK_ATTEMPTS && e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) => {
                attempt += 1;
            }
            Err(e) => {
                return Err(RestoreError::Object {
                    kind: object.kind.label(),
                    name: object.name.clone(),
                    message: crate::pg::error_message(&e),
                })
            }
        }
    }
}

/// How many times an object cancelled by a deadlock is run.
const DEADLOCK_ATTEMPTS: u32 = 5;
