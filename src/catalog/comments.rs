//! `COMMENT ON …` for every commented object that replibyte creates.
//!
//! `pg_identify_object` gives each object's type and a quoted, qualified
//! identity, which for nearly every kind is exactly what COMMENT ON takes.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::ObjectKind;
use super::query::rows;
use super::CatalogError;
use crate::pg::ident::quote_literal;

pub async fn read(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT d.classoid, d.objoid, d.description, o.type, \
                CASE WHEN d.classoid = {pg_constraint} THEN \
                  (SELECT pg_catalog.quote_ident(c.conname) || ' ON ' || \
                          CASE WHEN c.contypid <> 0 THEN 'DOMAIN ' || pg_catalog.format_type(c.contypid, NULL) \
                               ELSE c.conrelid::pg_catalog.regclass::text END \
                   FROM pg_catalog.pg_constraint c WHERE c.oid = d.objoid) \
                ELSE o.identity END \
         FROM pg_catalog.pg_description d, LATERAL pg_catalog.pg_identify_object(d.classoid, d.objoid, d.objsubid) o \
         WHERE d.objoid >= 16384 OR (d.classoid = {pg_namespace} AND d.objoid = 2200)",
        pg_constraint = class::PG_CONSTRAINT,
        pg_namespace = class::PG_NAMESPACE,
    );
    for row in rows(client, "comments", &sql).await? {
        let key: (u32, u32) = (row.get(0), row.get(1));
        let Some(index) = graph.find(key) else {
            continue;
        };
        // A member of an extension keeps the comment its extension gives it.
        if graph.object(index).kind == ObjectKind::Extension && key.0 != class::PG_EXTENSION {
            continue;
        }
        let Some(target) = comment_target(row.get(3)) else {
            continue;
        };
        let identity: String = row.get(4);
        // An aggregate over no argument is named `(*)` in COMMENT ON.
        let identity = match identity.strip_suffix("()") {
            Some(name) if target == "AGGREGATE" => format!("{name}(*)"),
            _ => identity,
        };
        let sql = format!("COMMENT ON {target} {identity} IS {};", quote_literal(row.get(2)));
        graph.append_sql(index, &sql);
    }
    Ok(())
}

/// The COMMENT ON keyword for a `pg_identify_object` type.
fn comment_target(object_type: &str) -> Option<&'static str> {
    if object_type.ends_with(" column") {
        return Some("COLUMN");
    }
    Some(match object_type {
        "table" => "TABLE",
        "foreign table" => "FOREIGN TABLE",
        "server" => "SERVER",
        "publication" => "PUBLICATION",
        "event trigger" => "EVENT TRIGGER",
        "view" => "VIEW",
        "materialized view" => "MATERIALIZED VIEW",
        "index" => "INDEX",
        "sequence" => "SEQUENCE",
        "schema" => "SCHEMA",
        "extension" => "EXTENSION",
        "function" => "FUNCTION",
        "procedure" => "PROCEDURE",
        "aggregate" => "AGGREGATE",
        "type" | "composite type" => "TYPE",
        "domain" => "DOMAIN",
        "collation" => "COLLATION",
        "text search configuration" => "TEXT SEARCH CONFIGURATION",
        "text search dictionary" => "TEXT SEARCH DICTIONARY",
        "operator" => "OPERATOR",
        "cast" => "CAST",
        "trigger" => "TRIGGER",
        "rule" => "RULE",
        "policy" => "POLICY",
        "table constraint" | "domain constraint" => "CONSTRAINT",
        "statistics object" => "STATISTICS",
        "large object" => "LARGE OBJECT",
        _ => return None,
    })
}
