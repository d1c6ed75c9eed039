//! What checking transformers needs to know about the source beyond the
//! catalog model: the leaf partitions a configured table stands for, and
//! each transformed column's base type and type modifier.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::problems::RulesError;
use crate::transform::types::ColumnType;

/// `(schema, table)`.
pub type TableName = (String, String);

fn failed(what: &str, e: &tokio_postgres::Error) -> RulesError {
    RulesError::Query(format!("{what}: {}", crate::pg::error_message(e)))
}

/// The relations holding the rows of each named relation: itself, or every
/// leaf partition of a partitioned table. A name that is absent from the
/// result does not exist (or is a partitioned table without partitions).
///
/// # Errors
/// A failing query.
pub async fn leaves(client: &Client, tables: &[TableName]) -> Result<HashMap<TableName, Vec<TableName>>, RulesError> {
    let (schemas, names): (Vec<&str>, Vec<&str>) = tables.iter().map(|(s, t)| (s.as_str(), t.as_str())).unzip();
    let sql = "SELECT w.s, w.t, ln.nspname, l.relname \
               FROM unnest($1::text[], $2::text[]) AS w(s, t) \
               JOIN pg_catalog.pg_namespace n ON n.nspname = w.s \
               JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.t \
               CROSS JOIN LATERAL ( \
                 SELECT p.relid FROM pg_catalog.pg_partition_tree(c.oid) AS p WHERE p.isleaf AND c.relkind = 'p' \
                 UNION ALL SELECT c.oid WHERE c.relkind <> 'p') AS leaf \
               JOIN pg_catalog.pg_class l ON l.oid = leaf.relid \
               JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace \
               ORDER BY 3, 4";
    let rows = client.query(sql, &[&schemas, &names]).await.map_err(|e| failed("finding the configured tables", &e))?;
    let mut out: HashMap<TableName, Vec<TableName>> = HashMap::new();
    for row in rows {
        out.entry((row.get(0), row.get(1))).or_default().push((row.get(2), row.get(3)));
    }
    Ok(out)
}

/// A transformed column's type, as transformers see it.
#[derive(Debug, Clone)]
pub struct ColumnFacts {
    /// The base type (under any domains) with its modifier.
    pub column: ColumnType,
    /// Whether the column's type is a domain, whose constraints the values
    /// must also meet.
    pub domain: bool,
}

/// The facts of each `(schema, table, column)`.
///
/// # Errors
/// A failing query.
pub async fn columns(
    client: &Client,
    columns: &[(String, String, String)],
) -> Result<HashMap<(String, String, String), ColumnFacts>, RulesError> {
    let schemas: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
    let tables: Vec<&str> = columns.iter().map(|c| c.1.as_str()).collect();
    let names: Vec<&str> = columns.iter().map(|c| c.2.as_str()).collect();
    // Walk down domains to the base type; a domain's typtypmod is the
    // modifier of the type it is built on (varchar(20) under a domain).
    let sql = "WITH RECURSIVE wanted AS ( \
                 SELECT w.s, w.t, w.c, a.atttypid AS typ, a.atttypmod AS typmod \
                 FROM unnest($1::text[], $2::text[], $3::text[]) AS w(s, t, c) \
                 JOIN pg_catalog.pg_namespace n ON n.nspname = w.s \
                 JOIN pg_catalog.pg_class r ON r.relnamespace = n.oid AND r.relname = w.t \
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attname = w.c \
                   AND a.attnum > 0 AND NOT a.attisdropped), \
               base(s, t, c, typ, typmod, depth) AS ( \
                 SELECT s, t, c, typ, typmod, 0 FROM wanted \
                 UNION ALL \
                 SELECT b.s, b.t, b.c, ty.typbasetype, ty.typtypmod, b.depth + 1 \
                 FROM base b JOIN pg_catalog.pg_type ty ON ty.oid = b.typ WHERE ty.typtype = 'd') \
               SELECT DISTINCT ON (s, t, c) s, t, c, typ, pg_catalog.format_type(typ, NULL), typmod, depth > 0 \
               FROM base ORDER BY s, t, c, depth DESC";
    let rows = client
        .query(sql, &[&schemas, &tables, &names])
        .await
        .map_err(|e| failed("reading the types of the transformed columns", &e))?;
    Ok(rows
        .iter()
        .map(|row| {
            let column = ColumnType::new(row.get(3), row.get::<_, &str>(4), row.get(5));
            ((row.get(0), row.get(1), row.get(2)), ColumnFacts { column, domain: row.get(6) })
        })
        .collect())
}
