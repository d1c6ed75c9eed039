//! Restoring roles and memberships: the missing roles are created (without
//! passwords or superuser powers); roles the destination already has are
//! left exactly as they are.

use std::collections::HashSet;

use tracing::{info, warn};

use super::objects::existing_roles;
use super::RestoreError;
use crate::catalog::globals::Globals;
use crate::config::ConnectionUri;
use crate::pg;

/// Creates the roles of `globals` that `destination`'s server lacks, and
/// their memberships.
///
/// # Errors
/// A role that cannot be created (e.g. the restoring role lacks CREATEROLE).
pub async fn restore(destination: &ConnectionUri, globals: &Globals) -> Result<(), RestoreError> {
    let maintenance = if destination.database() == Some("postgres") { "template1" } else { "postgres" };
    let client = pg::connect(&destination.with_database(maintenance), "replibyte restore").await?;
    let existing = existing_roles(&client).await?;
    let mut created = HashSet::new();
    for role in globals.roles.iter().filter(|r| !existing.contains(&r.name)) {
        client.batch_execute(&role.create_sql()).await.map_err(|e| RestoreError::Object {
            kind: "role".to_string(),
            name: role.name.clone(),
            message: pg::error_message(&e),
        })?;
        if role.is_privileged() {
            warn!(role = %role.name, "role created without its superuser, replication or RLS-bypass power");
        }
        created.insert(role.name.clone());
    }
    let known: HashSet<&String> = existing.iter().chain(created.iter()).collect();
    for membership in globals.memberships.iter().filter(|m| created.contains(&m.member) && known.contains(&m.role)) {
        client.batch_execute(&membership.grant_sql()).await.map_err(|e| RestoreError::Object {
            kind: "role membership".to_string(),
            name: format!("{} in {}", membership.member, membership.role),
            message: pg::error_message(&e),
        })?;
    }
    if !created.is_empty() {
        info!(roles = created.len(), "roles created");
    }
    Ok(())
}
