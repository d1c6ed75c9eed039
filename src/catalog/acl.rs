//! Grants: the privileges of tables, columns, sequences, routines, schemas,
//! types, foreign servers and languages, and default privileges.
//!
//! Like pg_dump, only the difference from the starting ACL (the built-in
//! default for the owner, or `pg_init_privs` for objects of extensions and
//! the `public` schema) is written. Ownership is not copied: objects belong
//! to the role that restores them, so the source owner's own privileges are
//! written for `CURRENT_USER`. A grant made by another role through a grant
//! option is replayed as that role (`SET SESSION AUTHORIZATION`).
//!
//! Each grantee's statements form one object that requires that role, so a
//! role missing on the destination skips its grants with a warning instead
//! of failing. An object's grant objects are chained in the order of its ACL,
//! so the restored ACL lists its entries in the same order.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::rows;
use super::CatalogError;
use crate::pg::ident::quote_ident;

/// One entry of an ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AclItem {
    grantee: u32,
    grantor: u32,
    privilege: String,
    grantable: bool,
}

/// Turns `aclexplode` rows, serialized as `grantee:grantor:privilege:grantable`,
/// into items, keeping their order.
fn parse_items(entries: Option<Vec<String>>) -> Vec<AclItem> {
    entries
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            let mut parts = e.splitn(4, ':');
            Some(AclItem {
                grantee: parts.next()?.parse().ok()?,
                grantor: parts.next()?.parse().ok()?,
                privilege: parts.next()?.to_string(),
                grantable: parts.next()? == "true",
            })
        })
        .collect()
}

/// SQL turning an `aclitem[]` expression into the strings [`parse_items`] reads.
fn explode(acl: &str) -> String {
    format!(
        "(SELECT pg_catalog.array_agg(x.grantee::text || ':' || x.grantor::text || ':' || x.privilege_type || ':' || x.is_grantable::text) \
          FROM pg_catalog.aclexplode({acl}) x)"
    )
}

pub async fn read(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let roles: HashMap<u32, String> = rows(client, "roles", "SELECT oid, rolname FROM pg_catalog.pg_roles")
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    object_privileges(client, graph, &roles).await?;
    default_privileges(client, graph, &roles).await
}

async fn object_privileges(
    client: &Client,
    graph: &mut Graph,
    roles: &HashMap<u32, String>,
) -> Result<(), CatalogError> {
    let sql = format!(
        "WITH objs(classid, objid, subid, objtype, acl, owner) AS ( \
           SELECT {pg_class}::oid, c.oid, 0, CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END, c.relacl, c.relowner \
             FROM pg_catalog.pg_class c WHERE c.relacl IS NOT NULL AND c.oid >= 16384 \
           UNION ALL SELECT {pg_class}, a.attrelid, a.attnum, 'c', a.attacl, c.relowner \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             WHERE a.attacl IS NOT NULL AND a.attrelid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped \
           UNION ALL SELECT {pg_proc}, p.oid, 0, 'f', p.proacl, p.proowner \
             FROM pg_catalog.pg_proc p WHERE p.proacl IS NOT NULL AND p.oid >= 16384 \
           UNION ALL SELECT {pg_namespace}, n.oid, 0, 'n', n.nspacl, n.nspowner \
             FROM pg_catalog.pg_namespace n WHERE n.nspacl IS NOT NULL AND (n.oid >= 16384 OR n.nspname = 'public') \
           UNION ALL SELECT {pg_type}, t.oid, 0, 'T', t.typacl, t.typowner \
             FROM pg_catalog.pg_type t WHERE t.typacl IS NOT NULL AND t.oid >= 16384 \
           UNION ALL SELECT {pg_foreign_server}, s.oid, 0, 'S', s.srvacl, s.srvowner \
             FROM pg_catalog.pg_foreign_server s WHERE s.srvacl IS NOT NULL \
           UNION ALL SELECT {pg_fdw}, w.oid, 0, 'F', w.fdwacl, w.fdwowner \
             FROM pg_catalog.pg_foreign_data_wrapper w WHERE w.fdwacl IS NOT NULL \
           UNION ALL SELECT {pg_language}, l.oid, 0, 'l', l.lanacl, l.lanowner \
             FROM pg_catalog.pg_language l WHERE l.lanacl IS NOT NULL AND l.oid >= 16384 \
           UNION ALL SELECT {pg_largeobject}, m.oid, 0, 'L', m.lomacl, m.lomowner \
             FROM pg_catalog.pg_largeobject_metadata m WHERE m.lomacl IS NOT NULL \
         ) \
         SELECT o.classid, o.objid, o.subid, o.owner, \
                CASE o.classid WHEN {pg_class} THEN CASE o.objtype WHEN 's' THEN 'SEQUENCE' ELSE 'TABLE' END \
                               WHEN {pg_proc} THEN 'ROUTINE' WHEN {pg_namespace} THEN 'SCHEMA' \
                               WHEN {pg_foreign_server} THEN 'FOREIGN SERVER' \
                               WHEN {pg_fdw} THEN 'FOREIGN DATA WRAPPER' WHEN {pg_language} THEN 'LANGUAGE' \
                               WHEN {pg_largeobject} THEN 'LARGE OBJECT' \
                               ELSE CASE (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = o.objid) \
                                    WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END END, \
                i.identity, \
                (SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.pg_attribute a \
                 WHERE o.subid > 0 AND a.attrelid = o.objid AND a.attnum = o.subid), \
                {actual}, {base} \
         FROM objs o \
         LEFT JOIN pg_catalog.pg_init_privs pip ON pip.classoid = o.classid AND pip.objoid = o.objid AND pip.objsubid = o.subid, \
         LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) i",
        pg_class = class::PG_CLASS,
        pg_proc = class::PG_PROC,
        pg_namespace = class::PG_NAMESPACE,
        pg_type = class::PG_TYPE,
        pg_foreign_server = class::PG_FOREIGN_SERVER,
        pg_fdw = class::PG_FOREIGN_DATA_WRAPPER,
        pg_language = class::PG_LANGUAGE,
        pg_largeobject = class::PG_LARGEOBJECT,
        actual = explode("o.acl"),
        // A column starts with no privileges at all; the original `public`
        // schema with its owner's only, as the restore clears the rest
        // (namespaces.rs).
        base = explode(&format!(
            "CASE WHEN o.classid = {pg_namespace} AND o.objid = {public} THEN pg_catalog.acldefault('n', o.owner) \
             ELSE coalesce(pip.initprivs, CASE WHEN o.objtype <> 'c' THEN pg_catalog.acldefault(o.objtype::\"char\", o.owner) END) END",
            pg_namespace = class::PG_NAMESPACE,
            public = super::namespaces::ORIGINAL_PUBLIC_OID
        )),
    );
    for row in rows(client, "privileges", &sql).await? {
        let key: (u32, u32) = (row.get(0), row.get(1));
        if graph.find(key).is_none() {
            continue;
        }
        let subid: i32 = row.get(2);
        let owner: u32 = row.get(3);
        let keyword: String = row.get(4);
        let identity: String = row.get(5);
        let column: Option<String> = row.get(6);
        let target = Target {
            prefix: String::new(),
            on: format!("ON {} {identity}", if column.is_some() { "TABLE" } else { &keyword }),
            column: column.clone(),
        };
        let what = column.as_ref().map(|c| format!("{identity}.{c}")).unwrap_or(identity);
        let changes = changes_by_grantee(&target, &parse_items(row.get(7)), &parse_items(row.get(8)), owner);
        add_grant_objects(graph, key, &format!("{subid}"), &what, changes, owner, None, roles);
    }
    Ok(())
}

async fn default_privileges(
    client: &Client,
    graph: &mut Graph,
    roles: &HashMap<u32, String>,
) -> Result<(), CatalogError> {
    // Defaults for the whole database start from the built-in defaults;
    // defaults for one schema only ever add to them.
    let sql = format!(
        "SELECT d.oid, d.defaclrole, \
                CASE WHEN d.defaclnamespace <> 0 THEN pg_catalog.quote_ident((SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = d.defaclnamespace)) END, \
                d.defaclobjtype, {actual}, {base} \
         FROM pg_catalog.pg_default_acl d",
        actual = explode("d.defaclacl"),
        base = explode(
            "CASE WHEN d.defaclnamespace = 0 THEN pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole) END"
        ),
    );
    for row in rows(client, "default privileges", &sql).await? {
        let oid: u32 = row.get(0);
        let role: u32 = row.get(1);
        let Some(role_name) = roles.get(&role) else { continue };
        let schema: Option<String> = row.get(2);
        let objects = match row.get::<_, i8>(3) as u8 {
            b'r' => "TABLES",
            b'S' => "SEQUENCES",
            b'f' => "FUNCTIONS",
            b'T' => "TYPES",
            b'n' => "SCHEMAS",
            b'L' => "LARGE OBJECTS",
            _ => continue,
        };
        let in_schema = schema.as_ref().map(|s| format!(" IN SCHEMA {s}")).unwrap_or_default();
        let target = Target {
            prefix: format!("ALTER DEFAULT PRIVILEGES FOR ROLE {}{in_schema} ", quote_ident(role_name)),
            on: format!("ON {objects}"),
            column: None,
        };
        let key = (class::PG_DEFAULT_ACL, oid);
        let name = format!("default privileges of {role_name}{in_schema} on {}", objects.to_lowercase());
        let index = graph.add(key, ObjectKind::DefaultPrivileges, name.clone(), Phase::PostData, String::new());
        if objects == "LARGE OBJECTS" {
            graph.requires_major(index, 18);
        }
        // Here the "owner" is the role the defaults are for.
        let changes = changes_by_grantee(&target, &parse_items(row.get(4)), &parse_items(row.get(5)), role);
        add_grant_objects(graph, key, "0", &name, changes, role, Some(role_name), roles);
    }
    Ok(())
}

/// Where privileges apply, as GRANT writes it.
struct Target {
    /// Written before GRANT / REVOKE (`ALTER DEFAULT PRIVILEGES …`).
    prefix: String,
    /// `ON TABLE x`, `ON TABLES`.
    on: String,
    /// A column's privileges name it after each privilege.
    column: Option<String>,
}

/// Placeholder for the grantee in generated statements.
const GRANTEE: &str = "\u{0}GRANTEE\u{0}";

/// What one grantee's statements need.
struct GranteeChanges {
    grantee: u32,
    statements: Vec<String>,
    /// Roles other than the owner that grant (through a grant option).
    grantors: Vec<u32>,
    /// The oldest major that knows every privilege named.
    requires_major: Option<u32>,
}

/// The major that introduced a privilege, when it is not in every
/// supported one.
fn privilege_major(privilege: &str) -> Option<u32> {
    (privilege == "MAINTAIN").then_some(17)
}

/// The REVOKE and GRANT statements that turn `base` into `actual`, per
/// grantee, in ACL order: grantees that only lose privileges first, then in
/// the order they appear in `actual`.
fn changes_by_grantee(target: &Target, actual: &[AclItem], base: &[AclItem], owner: u32) -> Vec<GranteeChanges> {
    let privilege = |p: &str| match &target.column {
        Some(c) => format!("{p} ({c})"),
        None => p.to_string(),
    };
    let (prefix, on) = (&target.prefix, &target.on);
    let mut out: Vec<GranteeChanges> = Vec::new();
    let entry = |out: &mut Vec<GranteeChanges>, grantee: u32| -> usize {
        match out.iter().position(|c| c.grantee == grantee) {
            Some(i) => i,
            None => {
                out.push(GranteeChanges {
                    grantee,
                    statements: Vec::new(),
                    grantors: Vec::new(),
                    requires_major: None,
                });
                out.len() - 1
            }
        }
    };
    for item in base.iter().filter(|b| !actual.contains(b)) {
        let kept_without_option = actual
            .iter()
            .any(|a| a.grantee == item.grantee && a.grantor == item.grantor && a.privilege == item.privilege);
        let statement = if kept_without_option && item.grantable {
            format!("{prefix}REVOKE GRANT OPTION FOR {} {on} FROM {GRANTEE};", privilege(&item.privilege))
        } else if kept_without_option {
            continue; // the GRANT below adds the grant option
        } else {
            format!("{prefix}REVOKE {} {on} FROM {GRANTEE};", privilege(&item.privilege))
        };
        let i = entry(&mut out, item.grantee);
        out[i].statements.push(statement);
        out[i].requires_major = out[i].requires_major.max(privilege_major(&item.privilege));
    }
    for item in actual.iter().filter(|a| !base.contains(a)) {
        let only_lost_option = !item.grantable
            && base
                .iter()
                .any(|b| b.grantee == item.grantee && b.grantor == item.grantor && b.privilege == item.privilege);
        if only_lost_option {
            continue; // handled by REVOKE GRANT OPTION above
        }
        let option = if item.grantable { " WITH GRANT OPTION" } else { "" };
        let grant = format!("{prefix}GRANT {} {on} TO {GRANTEE}{option};", privilege(&item.privilege));
        let i = entry(&mut out, item.grantee);
        out[i].requires_major = out[i].requires_major.max(privilege_major(&item.privilege));
        if item.grantor != owner && item.grantor != 0 {
            out[i].statements.push(format!(
                "SET SESSION AUTHORIZATION {};\n{grant}\nRESET SESSION AUTHORIZATION;",
                grantor_placeholder(item.grantor)
            ));
            if !out[i].grantors.contains(&item.grantor) {
                out[i].grantors.push(item.grantor);
            }
        } else {
            out[i].statements.push(grant);
        }
    }
    out
}

fn grantor_placeholder(grantor: u32) -> String {
    format!("\u{0}GRANTOR{grantor}\u{0}")
}

/// Adds one grant object per grantee, chained in ACL order.
/// `owner_role` is a role every statement needs besides the grantee's
/// (the role default privileges are for).
#[allow(clippy::too_many_arguments)]
fn add_grant_objects(
    graph: &mut Graph,
    key: (u32, u32),
    subid: &str,
    what: &str,
    changes: Vec<GranteeChanges>,
    owner: u32,
    owner_role: Option<&str>,
    roles: &HashMap<u32, String>,
) {
    let mut previous: Option<String> = None;
    'grantees: for change in changes {
        let (grantee_sql, mut required) = match change.grantee {
            0 => ("PUBLIC".to_string(), Vec::new()),
            g if g == owner => ("CURRENT_USER".to_string(), Vec::new()),
            g => match roles.get(&g) {
                Some(name) => (quote_ident(name), vec![name.clone()]),
                None => continue,
            },
        };
        required.extend(owner_role.map(str::to_string));
        let mut sql = change.statements.join("\n").replace(GRANTEE, &grantee_sql);
        for grantor in &change.grantors {
            let Some(name) = roles.get(grantor) else { continue 'grantees };
            sql = sql.replace(&grantor_placeholder(*grantor), &quote_ident(name));
            required.push(name.clone());
        }
        let suffix = format!("{subid}-{}", change.grantee);
        let name = format!("{what} to {grantee_sql}");
        if let Some(index) = graph.add_dependent(key, &suffix, ObjectKind::Grant, name, Phase::PostData, sql) {
            if let Some(major) = change.requires_major {
                graph.requires_major(index, major);
            }
            let object = graph.object_mut(index);
            object.requires_roles = required;
            if let Some(previous) = previous.replace(object.id.clone()) {
                object.depends_on.push(previous);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(grantee: u32, privilege: &str, grantable: bool) -> AclItem {
        AclItem { grantee, grantor: 10, privilege: privilege.to_string(), grantable }
    }

    fn target(on: &str, column: Option<&str>) -> Target {
        Target { prefix: String::new(), on: on.to_string(), column: column.map(str::to_string) }
    }

    fn statements(changes: &[GranteeChanges], grantee: u32) -> Vec<String> {
        changes.iter().find(|c| c.grantee == grantee).map(|c| c.statements.clone()).unwrap_or_default()
    }

    #[test]
    fn only_the_difference_from_the_base_is_written() {
        let t = target("ON ROUTINE public.f(integer)", None);
        let base = [item(0, "EXECUTE", false), item(10, "EXECUTE", false)];
        let actual = [item(10, "EXECUTE", false), item(20, "EXECUTE", true)];
        let out = changes_by_grantee(&t, &actual, &base, 10);
        assert_eq!(statements(&out, 0), vec![format!("REVOKE EXECUTE ON ROUTINE public.f(integer) FROM {GRANTEE};")]);
        assert_eq!(
            statements(&out, 20),
            vec![format!("GRANT EXECUTE ON ROUTINE public.f(integer) TO {GRANTEE} WITH GRANT OPTION;")]
        );
        assert!(statements(&out, 10).is_empty());
    }

    #[test]
    fn grantees_keep_the_acl_order() {
        let t = target("ON TABLE t", None);
        let actual = [item(10, "SELECT", false), item(30, "SELECT", false), item(20, "SELECT", false)];
        let out = changes_by_grantee(&t, &actual, &[item(10, "SELECT", false)], 10);
        assert_eq!(out.iter().map(|c| c.grantee).collect::<Vec<_>>(), vec![30, 20]);
    }

    #[test]
    fn column_privileges_name_the_column() {
        let t = target("ON TABLE public.t", Some("\"email\""));
        let out = changes_by_grantee(&t, &[item(30, "SELECT", false)], &[], 10);
        assert_eq!(statements(&out, 30), vec![format!("GRANT SELECT (\"email\") ON TABLE public.t TO {GRANTEE};")]);
    }

    #[test]
    fn losing_only_the_grant_option_revokes_only_the_option() {
        let t = target("ON TABLE t", None);
        let out = changes_by_grantee(&t, &[item(5, "SELECT", false)], &[item(5, "SELECT", true)], 10);
        assert_eq!(statements(&out, 5), vec![format!("REVOKE GRANT OPTION FOR SELECT ON TABLE t FROM {GRANTEE};")]);
    }

    #[test]
    fn grants_through_a_grant_option_run_as_the_grantor() {
        let t = target("ON TABLE t", None);
        let via = AclItem { grantee: 40, grantor: 20, privilege: "SELECT".into(), grantable: false };
        let out = changes_by_grantee(&t, &[via], &[], 10);
        assert!(statements(&out, 40)[0].starts_with(&format!("SET SESSION AUTHORIZATION {};", grantor_placeholder(20))));
        assert_eq!(out[0].grantors, vec![20]);
    }

    #[test]
    fn maintain_needs_17() {
        let t = target("ON TABLE t", None);
        let out = changes_by_grantee(&t, &[item(30, "MAINTAIN", false), item(30, "SELECT", false)], &[], 10);
        assert_eq!(out[0].requires_major, Some(17));
        let out = changes_by_grantee(&t, &[item(30, "SELECT", false)], &[], 10);
        assert_eq!(out[0].requires_major, None);
    }
}
