//! Large objects: created (empty) with the schema, their bytes copied as
//! the rows of a table of their own, their grants and comments applied
//! like any other object's.
//!
//! The rows are `(loid, off, data)` chunks of at most [`CHUNK_BYTES`], read
//! with `lo_get` inside the dump's snapshot (any role that can read the
//! objects can dump them, as with pg_dump), so they stream through the
//! same bounded, checksummed segments as every table. A restore loads each
//! segment into a temporary table and writes it with `lo_put`.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ColumnInfo, ObjectKind, Phase, TableData};
use super::query::rows;
use super::CatalogError;
use crate::copy::CopyFormat;

/// The schema and name the large objects' rows go by: `pg_catalog.pg_largeobject`
/// in `skip_data` or `only_tables` leaves them out or takes them in.
pub const SCHEMA: &str = "pg_catalog";
pub const TABLE: &str = "pg_largeobject";

/// Bytes per row (a multiple of PostgreSQL's 2 KiB large-object pages, so
/// two chunks never share a page).
pub const CHUNK_BYTES: i64 = 256 * 1024;

/// Whether `schema.table` is the large objects' table.
pub fn is_large_objects(schema: &str, table: &str) -> bool {
    schema == SCHEMA && table == TABLE
}

/// Adds an object that creates every large object, and returns the table
/// their bytes are copied as (none when the database has none).
///
/// # Errors
/// A failing query.
pub async fn read(client: &Client, graph: &mut Graph) -> Result<Option<TableData>, CatalogError> {
    let sql = "SELECT coalesce(pg_catalog.array_agg(m.oid ORDER BY m.oid), '{}'), \
                      pg_catalog.pg_relation_size('pg_catalog.pg_largeobject') \
               FROM pg_catalog.pg_largeobject_metadata m";
    let row = rows(client, "large objects", sql).await?.into_iter().next();
    let Some(row) = row else { return Ok(None) };
    let oids: Vec<u32> = row.get(0);
    if oids.is_empty() {
        return Ok(None);
    }
    let list: Vec<String> = oids.iter().map(u32::to_string).collect();
    let sql = format!(
        "SELECT pg_catalog.count(pg_catalog.lo_create(o)) FROM pg_catalog.unnest('{{{}}}'::pg_catalog.oid[]) o;",
        list.join(",")
    );
    let name = crate::pg::ident::quote_qualified(SCHEMA, TABLE);
    let index = graph.add((class::PG_LARGEOBJECT, 0), ObjectKind::LargeObjects, name, Phase::PreData, sql);
    // Grants and comments on each object land on this one.
    for oid in oids {
        graph.alias((class::PG_LARGEOBJECT, oid), index);
    }
    let column = |name: &str, type_name: &str, type_oid: u32| ColumnInfo {
        name: name.to_string(),
        type_name: type_name.to_string(),
        type_oid,
        not_null: true,
        unique: false,
    };
    Ok(Some(TableData {
        schema: SCHEMA.to_string(),
        name: TABLE.to_string(),
        columns: vec![column("loid", "oid", 26), column("off", "bigint", 20), column("data", "bytea", 17)],
        format: CopyFormat::Binary,
        estimated_bytes: row.get(1),
    }))
}

/// The query whose rows are the chunks of every large object, in order.
/// An empty object gives one empty chunk, so that it is created too.
pub fn copy_out_query() -> String {
    format!(
        "SELECT m.oid, c.off, pg_catalog.lo_get(m.oid, c.off, {CHUNK_BYTES}) \
         FROM pg_catalog.pg_largeobject_metadata m, \
         LATERAL (SELECT pg_catalog.lo_lseek64(f.fd, 0, 2) AS size, pg_catalog.lo_close(f.fd) \
                  FROM (SELECT pg_catalog.lo_open(m.oid, 262144) AS fd) f) s, \
         LATERAL pg_catalog.generate_series(0::pg_catalog.int8, GREATEST(s.size - 1, 0), {CHUNK_BYTES}) c(off) \
         ORDER BY m.oid, c.off"
    )
}

/// Statements around the COPY of one segment on the destination: the
/// chunks go to a temporary table, then into their objects.
pub const LOAD_BEFORE: &str = "BEGIN; CREATE TEMPORARY TABLE IF NOT EXISTS rb_large_object_chunks \
    (loid pg_catalog.oid, off pg_catalog.int8, data pg_catalog.bytea) ON COMMIT DELETE ROWS";
pub const LOAD_TARGET: &str = "pg_temp.rb_large_object_chunks";
pub const LOAD_AFTER: &str =
    "SELECT pg_catalog.count(pg_catalog.lo_put(loid, off, data)) FROM pg_temp.rb_large_object_chunks; COMMIT";
