//! Whether the destination's PostgreSQL can express everything a dump
//! holds: a dump restores into its source's major or any newer one; into
//! an older one only when no object needs a newer major. Checked before the
//! destination changes (before roles are created or a database is made).

use super::RestoreError;
use crate::catalog::globals::Globals;
use crate::catalog::{DatabaseSchema, ServerVersion};

/// Refuses the dump when an object needs a newer major than the
/// destination's, naming the first such object.
///
/// # Errors
/// [`RestoreError::TooOld`] for the first object the destination cannot create.
pub fn check(
    destination: ServerVersion,
    schemas: &[&DatabaseSchema],
    globals: Option<&Globals>,
) -> Result<(), RestoreError> {
    let too_old = |major: Option<u32>| major.filter(|&m| !destination.at_least(m));
    for schema in schemas {
        for object in &schema.objects {
            if let Some(major) = too_old(object.requires_major) {
                return Err(RestoreError::TooOld {
                    what: format!("{} {} in database {}", object.kind.label(), object.name, schema.database.name),
                    major,
                    destination,
                });
            }
        }
    }
    for membership in globals.iter().flat_map(|g| &g.memberships) {
        if let Some(major) = too_old(membership.requires_major()) {
            return Err(RestoreError::TooOld {
                what: format!("membership of {} in {} (INHERIT/SET options)", membership.member, membership.role),
                major,
                destination,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{DatabaseInfo, DdlObject, ObjectKind, Phase};

    fn schema(requires_major: Option<u32>) -> DatabaseSchema {
        let object = DdlObject {
            id: "table-1".into(),
            kind: ObjectKind::Table,
            name: "public.t".into(),
            phase: Phase::PreData,
            sql: String::new(),
            depends_on: Vec::new(),
            requires_roles: Vec::new(),
            requires_major,
        };
        DatabaseSchema { database: DatabaseInfo::example(), objects: vec![object], tables: Vec::new() }
    }

    #[test]
    fn an_object_of_a_newer_major_is_refused_by_name() {
        let needs_18 = schema(Some(18));
        let error = check(ServerVersion(160_014), &[&needs_18], None).unwrap_err().to_string();
        assert_eq!(
            error,
            "table public.t in database example needs PostgreSQL 18 or newer, the destination runs 16.14: restore into PostgreSQL 18 or newer; nothing was changed"
        );
        assert!(check(ServerVersion(180_004), &[&needs_18], None).is_ok());
        assert!(check(ServerVersion(130_023), &[&schema(None)], None).is_ok());
    }
}
