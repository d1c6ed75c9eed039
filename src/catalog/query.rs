//! Running catalog queries, and the SQL fragments every family shares.

use tokio_postgres::{Client, Row};

use super::graph::{class, Graph, ObjKey};
use super::version::ServerVersion;
use super::{CatalogError, Warnings};

/// A namespace alias `n` that is a user schema: not a system, toast or
/// temporary one.
pub const USER_SCHEMA: &str = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'";

/// SQL that is true when the row `classid`/`oid_expr` does not belong to an
/// extension (those come with `CREATE EXTENSION`).
pub fn not_in_extension(classid: u32, oid_expr: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend ext WHERE ext.classid = {classid} AND ext.objid = {oid_expr} AND ext.deptype = 'e')"
    )
}

/// Runs a catalog query; `what` names it in errors.
///
/// # Errors
/// The query's failure, with the server's message.
pub async fn rows(client: &Client, what: &'static str, sql: &str) -> Result<Vec<Row>, CatalogError> {
    client.query(sql, &[]).await.map_err(|e| CatalogError::query(what, &e))
}

/// Every dependency between catalog rows that can order objects: normal,
/// automatic and partition dependencies, reduced to `(classid, objid)`.
///
/// # Errors
/// A failing query.
pub async fn dependencies(client: &Client) -> Result<Vec<(ObjKey, ObjKey)>, CatalogError> {
    let sql = "SELECT classid, objid, refclassid, refobjid FROM pg_catalog.pg_depend \
               WHERE deptype IN ('n', 'a', 'P', 'S') AND objid >= 16384";
    Ok(rows(client, "dependencies", sql)
        .await?
        .iter()
        .map(|r| ((r.get::<_, u32>(0), r.get::<_, u32>(1)), (r.get::<_, u32>(2), r.get::<_, u32>(3))))
        .collect())
}

/// Type rows that stand for another object: an array type for its element
/// type, a relation's row type for the relation, a multirange for its
/// range. Called once every object is in the graph.
///
/// # Errors
/// A failing query.
pub async fn type_aliases(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // Ordered so that each alias's target is resolvable when it is added:
    // row types, then multiranges (14+), then arrays (of either).
    let multiranges = if version.at_least(14) {
        "UNION ALL SELECT 2, r.rngmultitypid, r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngtypid >= 16384 "
    } else {
        ""
    };
    let sql = format!(
        "SELECT 1, t.oid, t.typrelid FROM pg_catalog.pg_type t WHERE t.typrelid <> 0 AND t.oid >= 16384 \
         {multiranges}\
         UNION ALL SELECT 3, a.oid, e.oid FROM pg_catalog.pg_type a \
           JOIN pg_catalog.pg_type e ON e.typarray = a.oid WHERE a.oid >= 16384 \
         ORDER BY 1"
    );
    for row in rows(client, "type aliases", &sql).await? {
        let (step, alias, target): (i32, u32, u32) = (row.get(0), row.get(1), row.get(2));
        let target_class = if step == 1 { class::PG_CLASS } else { class::PG_TYPE };
        graph.alias_key((class::PG_TYPE, alias), (target_class, target));
    }
    Ok(())
}

/// Objects replibyte does not copy: each present kind becomes a warning, so
/// nothing is left out silently.
///
/// # Errors
/// A failing query.
pub async fn warn_unsupported(client: &Client, warnings: &mut Warnings) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT 'foreign data wrapper ' || w.fdwname FROM pg_catalog.pg_foreign_data_wrapper w WHERE {ext_fdw} \
         UNION ALL SELECT 'subscription ' || subname FROM pg_catalog.pg_subscription \
           WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) \
         UNION ALL SELECT 'operator class ' || opcname FROM pg_catalog.pg_opclass o \
           JOIN pg_catalog.pg_namespace n ON n.oid = o.opcnamespace WHERE {USER_SCHEMA} AND {ext_opc} \
         UNION ALL SELECT 'procedural language ' || lanname FROM pg_catalog.pg_language l \
           WHERE l.oid >= 16384 AND {ext_lan}",
        ext_fdw = not_in_extension(class::PG_FOREIGN_DATA_WRAPPER, "w.oid"),
        ext_opc = not_in_extension(2616, "o.oid"),
        ext_lan = not_in_extension(class::PG_LANGUAGE, "l.oid"),
    );
    for row in rows(client, "objects replibyte does not copy", &sql).await? {
        warnings.push(format!("not copied: {}", row.get::<_, String>(0)));
    }
    Ok(())
}
