//! Grants: the privileges of tables, columns, sequences, routines, schemas
//! and types, as GRANT and REVOKE statements relative to the privileges an
//! object starts with.
//!
//! Like pg_dump, only the difference from the starting ACL (the built-in
//! default for the owner, or `pg_init_privs`) is written. Ownership is not
//! copied: objects belong to the role that restores them, so the source
//! owner's own privileges are written for `CURRENT_USER`. Each grantee's
//! statements form one object that requires that role, so a role missing on
//! the destination skips its grants with a warning instead of failing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::rows;
use super::CatalogError;
use crate::pg::ident::quote_ident;

/// One privilege of one grantee: (grantee OID, privilege, grantable).
type Item = (u32, String, bool);

pub async fn read(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let roles: HashMap<u32, String> = rows(
        client,
        "roles",
        "SELECT oid, rolname FROM pg_catalog.pg_roles",
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
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
         ) \
         SELECT o.classid, o.objid, o.subid, o.owner, \
                CASE o.classid WHEN {pg_class} THEN CASE o.objtype WHEN 's' THEN 'SEQUENCE' ELSE 'TABLE' END \
                               WHEN {pg_proc} THEN 'ROUTINE' WHEN {pg_namespace} THEN 'SCHEMA' \
                               ELSE CASE (SELECT t.typtype FROM pg_catalog.pg_type t WHERE t.oid = o.objid) \
                                    WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END END, \
                i.identity, \
                (SELECT pg_catalog.quote_ident(a.attname) FROM pg_catalog.pg_attribute a \
                 WHERE o.subid > 0 AND a.attrelid = o.objid AND a.attnum = o.subid), \
                (SELECT pg_catalog.array_agg(x.grantee::text || ':' || x.privilege_type || ':' || x.is_grantable::text) \
                 FROM pg_catalog.aclexplode(o.acl) x), \
                (SELECT pg_catalog.array_agg(x.grantee::text || ':' || x.privilege_type || ':' || x.is_grantable::text) \
                 FROM pg_catalog.aclexplode(coalesce(pip.initprivs, \
                      CASE WHEN o.objtype = 'c' THEN '{{}}'::pg_catalog.aclitem[] \
                           ELSE pg_catalog.acldefault(o.objtype::\"char\", o.owner) END)) x) \
         FROM objs o \
         LEFT JOIN pg_catalog.pg_init_privs pip ON pip.classoid = o.classid AND pip.objoid = o.objid AND pip.objsubid = o.subid, \
         LATERAL pg_catalog.pg_identify_object(o.classid, o.objid, 0) i",
        pg_class = class::PG_CLASS,
        pg_proc = class::PG_PROC,
        pg_namespace = class::PG_NAMESPACE,
        pg_type = class::PG_TYPE,
    );
    for row in rows(client, "privileges", &sql).await? {
        let key: (u32, u32) = (row.get(0), row.get(1));
        if graph
            .find(key)
            .is_none_or(|i| graph.object(i).kind == ObjectKind::Extension)
        {
            continue;
        }
        let subid: i32 = row.get(2);
        let owner: u32 = row.get(3);
        let keyword: String = row.get(4);
        let identity: String = row.get(5);
        let column: Option<String> = row.get(6);
        let actual = parse_items(row.get::<_, Option<Vec<String>>>(7).unwrap_or_default());
        let base = parse_items(row.get::<_, Option<Vec<String>>>(8).unwrap_or_default());
        let target = Target {
            keyword: &keyword,
            identity: &identity,
            column: column.as_deref(),
        };
        for (grantee, statements) in statements_by_grantee(&target, &actual, &base) {
            let (grantee_sql, required) = match grantee {
                0 => ("PUBLIC".to_string(), None),
                g if g == owner => ("CURRENT_USER".to_string(), None),
                g => match roles.get(&g) {
                    Some(name) => (quote_ident(name), Some(name.clone())),
                    None => continue,
                },
            };
            let sql = statements.join("\n").replace(GRANTEE, &grantee_sql);
            let what = column
                .as_ref()
                .map(|c| format!("{identity}.{c}"))
                .unwrap_or_else(|| identity.clone());
            let suffix = format!("{subid}-{grantee}");
            if let Some(index) = graph.add_dependent(
                key,
                &suffix,
                ObjectKind::Grant,
                format!("{what} to {grantee_sql}"),
                Phase::PostData,
                sql,
            ) {
                graph.object_mut(index).requires_roles = required.into_iter().collect();
            }
        }
    }
    Ok(())
}

/// Where privileges apply, as GRANT writes it.
struct Target<'a> {
    keyword: &'a str,
    identity: &'a str,
    column: Option<&'a str>,
}

/// Placeholder for the grantee in generated statements.
const GRANTEE: &str = "\u{0}GRANTEE\u{0}";

fn parse_items(entries: Vec<String>) -> BTreeSet<Item> {
    entries
        .iter()
        .filter_map(|e| {
            let mut parts = e.splitn(3, ':');
            let grantee = parts.next()?.parse().ok()?;
            let privilege = parts.next()?.to_string();
            let grantable = parts.next()? == "true";
            Some((grantee, privilege, grantable))
        })
        .collect()
}

/// The REVOKE and GRANT statements that turn `base` into `actual`, per
/// grantee (the grantee written as [`GRANTEE`]).
fn statements_by_grantee(
    target: &Target,
    actual: &BTreeSet<Item>,
    base: &BTreeSet<Item>,
) -> BTreeMap<u32, Vec<String>> {
    let on = match target.column {
        Some(_) => format!("ON TABLE {}", target.identity),
        None => format!("ON {} {}", target.keyword, target.identity),
    };
    let privilege = |p: &str| match target.column {
        Some(c) => format!("{p} ({c})"),
        None => p.to_string(),
    };
    let mut out: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (grantee, p, grantable) in base.difference(actual) {
        let kept = actual.contains(&(*grantee, p.clone(), !grantable));
        let statement = if kept && *grantable {
            format!(
                "REVOKE GRANT OPTION FOR {} {on} FROM {GRANTEE};",
                privilege(p)
            )
        } else if kept {
            continue; // the grant below adds the grant option
        } else {
            format!("REVOKE {} {on} FROM {GRANTEE};", privilege(p))
        };
        out.entry(*grantee).or_default().push(statement);
    }
    for (grantee, p, grantable) in actual.difference(base) {
        if !grantable && base.contains(&(*grantee, p.clone(), true)) {
            continue; // handled by REVOKE GRANT OPTION above
        }
        let option = if *grantable { " WITH GRANT OPTION" } else { "" };
        out.entry(*grantee)
            .or_default()
            .push(format!("GRANT {} {on} TO {GRANTEE}{option};", privilege(p)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[(u32, &str, bool)]) -> BTreeSet<Item> {
        list.iter()
            .map(|(g, p, o)| (*g, p.to_string(), *o))
            .collect()
    }

    #[test]
    fn only_the_difference_from_the_base_is_written() {
        let target = Target {
            keyword: "ROUTINE",
            identity: "public.f(integer)",
            column: None,
        };
        let base = items(&[(0, "EXECUTE", false), (10, "EXECUTE", false)]);
        let actual = items(&[(10, "EXECUTE", false), (20, "EXECUTE", true)]);
        let out = statements_by_grantee(&target, &actual, &base);
        assert_eq!(
            out[&0],
            vec![format!(
                "REVOKE EXECUTE ON ROUTINE public.f(integer) FROM {GRANTEE};"
            )]
        );
        assert_eq!(
            out[&20],
            vec![format!(
                "GRANT EXECUTE ON ROUTINE public.f(integer) TO {GRANTEE} WITH GRANT OPTION;"
            )]
        );
        assert!(!out.contains_key(&10));
    }

    #[test]
    fn column_privileges_name_the_column() {
        let target = Target {
            keyword: "TABLE",
            identity: "public.t",
            column: Some("\"email\""),
        };
        let out = statements_by_grantee(&target, &items(&[(30, "SELECT", false)]), &items(&[]));
        assert_eq!(
            out[&30],
            vec![format!(
                "GRANT SELECT (\"email\") ON TABLE public.t TO {GRANTEE};"
            )]
        );
    }

    #[test]
    fn losing_only_the_grant_option_revokes_only_the_option() {
        let target = Target {
            keyword: "TABLE",
            identity: "t",
            column: None,
        };
        let out = statements_by_grantee(
            &target,
            &items(&[(5, "SELECT", false)]),
            &items(&[(5, "SELECT", true)]),
        );
        assert_eq!(
            out[&5],
            vec![format!(
                "REVOKE GRANT OPTION FOR SELECT ON TABLE t FROM {GRANTEE};"
            )]
        );
    }
}
