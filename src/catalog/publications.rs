//! Logical replication publications and what they publish.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::rows;
use super::version::ServerVersion;
use super::CatalogError;
use crate::pg::ident::quote_ident;

pub async fn read(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // 18 can publish stored generated columns. Publications named
    // `replibyte_…` are incremental dumps' bookkeeping, not the source's.
    let generated = if version.at_least(18) { "p.pubgencols = 's'" } else { "false" };
    let sql = format!(
        "SELECT p.oid, p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot, {generated} \
         FROM pg_catalog.pg_publication p WHERE p.pubname NOT LIKE '{}%'",
        crate::changes::slot::PREFIX.replace('_', "\\_")
    );
    for row in rows(client, "publications", &sql).await? {
        let name = quote_ident(row.get(1));
        let actions: Vec<&str> = [(3, "insert"), (4, "update"), (5, "delete"), (6, "truncate")]
            .into_iter()
            .filter(|(column, _)| row.get::<_, bool>(*column))
            .map(|(_, action)| action)
            .collect();
        let all = if row.get::<_, bool>(2) { " FOR ALL TABLES" } else { "" };
        let generated_columns = row.get::<_, bool>(8);
        let sql = format!(
            "CREATE PUBLICATION {name}{all} WITH (publish = '{}', publish_via_partition_root = {}{});",
            actions.join(", "),
            row.get::<_, bool>(7),
            if generated_columns { ", publish_generated_columns = stored" } else { "" }
        );
        let index = graph.add((class::PG_PUBLICATION, row.get(0)), ObjectKind::Publication, name, Phase::PostData, sql);
        if generated_columns {
            graph.requires_major(index, 18);
        }
    }

    // Row filters, column lists and whole schemas arrived in 15.
    let (filter, columns) = if version.at_least(15) {
        (
            "pg_catalog.pg_get_expr(r.prqual, r.prrelid)",
            "(SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) \
              FROM pg_catalog.pg_attribute a WHERE a.attrelid = r.prrelid AND a.attnum = ANY (r.prattrs))",
        )
    } else {
        ("NULL::text", "NULL::text")
    };
    let tables = format!(
        "SELECT r.oid, r.prpubid, r.prrelid::pg_catalog.regclass::text, {filter}, {columns} \
         FROM pg_catalog.pg_publication_rel r"
    );
    for row in rows(client, "published tables", &tables).await? {
        let Some(publication) = graph.find((class::PG_PUBLICATION, row.get(1))) else { continue };
        let publication = graph.object(publication).name.clone();
        let table: String = row.get(2);
        let columns = row.get::<_, Option<String>>(4).map(|c| format!(" ({c})")).unwrap_or_default();
        let filter = row.get::<_, Option<String>>(3).map(|w| format!(" WHERE ({w})")).unwrap_or_default();
        let sql = format!("ALTER PUBLICATION {publication} ADD TABLE ONLY {table}{columns}{filter};");
        let index = graph.add(
            (class::PG_PUBLICATION_REL, row.get(0)),
            ObjectKind::Publication,
            format!("{table} in {publication}"),
            Phase::PostData,
            sql,
        );
        if !columns.is_empty() || !filter.is_empty() {
            graph.requires_major(index, 15);
        }
    }
    if !version.at_least(15) {
        return Ok(());
    }

    let schemas =
        "SELECT s.oid, s.pnpubid, pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_publication_namespace s \
                   JOIN pg_catalog.pg_namespace n ON n.oid = s.pnnspid";
    for row in rows(client, "published schemas", schemas).await? {
        let Some(publication) = graph.find((class::PG_PUBLICATION, row.get(1))) else { continue };
        let publication = graph.object(publication).name.clone();
        let schema: String = row.get(2);
        let sql = format!("ALTER PUBLICATION {publication} ADD TABLES IN SCHEMA {schema};");
        let index = graph.add(
            (class::PG_PUBLICATION_NAMESPACE, row.get(0)),
            ObjectKind::Publication,
            format!("{schema} in {publication}"),
            Phase::PostData,
            sql,
        );
        graph.requires_major(index, 15);
    }
    Ok(())
}
