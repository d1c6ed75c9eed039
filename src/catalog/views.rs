//! Views and materialized views.
//!
//! A view can read itself (`CREATE OR REPLACE VIEW v AS TABLE v` is
//! accepted) or views that read it back; created in any order, one of them
//! fails, and so does pg_dump's output. Views in such a loop are created
//! twice: first a placeholder with the same columns, then, once every
//! placeholder of the loop exists, `CREATE OR REPLACE VIEW` with the real
//! definition.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::relations::options_list;
use super::CatalogError;
use crate::pg::ident::{quote_ident, quote_qualified};

pub async fn read(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let looping = views_in_loops(client).await?;
    let placeholders = placeholder_columns(client, &looping).await?;
    let sql = format!(
        "SELECT c.oid, n.nspname, c.relname, c.relkind, pg_catalog.pg_get_viewdef(c.oid), coalesce(c.reloptions, '{{}}'), \
                c.relispopulated, CASE WHEN am.amname <> 'heap' THEN am.amname END, \
                (SELECT r.oid FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
         WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_CLASS, "c.oid")
    );
    for row in rows(client, "views", &sql).await? {
        let oid: u32 = row.get(0);
        let name = quote_qualified(row.get(1), row.get(2));
        let materialized = row.get::<_, i8>(3) as u8 == b'm';
        let definition: String = row.get(4);
        let definition = definition.trim_end().trim_end_matches(';');
        let mut check_option = None;
        let options: Vec<String> = row
            .get::<_, Vec<String>>(5)
            .into_iter()
            .filter(|o| match o.strip_prefix("check_option=") {
                Some(level) => {
                    check_option = Some(level.to_uppercase());
                    false
                }
                None => true,
            })
            .collect();
        let invoker = options.iter().any(|o| o.starts_with("security_invoker="));
        let with = if options.is_empty() { String::new() } else { format!(" WITH ({})", options_list(&options)) };
        if materialized {
            let using =
                row.get::<_, Option<String>>(7).map(|am| format!(" USING {}", quote_ident(&am))).unwrap_or_default();
            let sql = format!("CREATE MATERIALIZED VIEW {name}{using}{with} AS\n{definition}\n  WITH NO DATA;");
            graph.add((class::PG_CLASS, oid), ObjectKind::MaterializedView, name.clone(), Phase::PreData, sql);
            if row.get::<_, bool>(6) {
                let sql = format!("REFRESH MATERIALIZED VIEW {name};");
                graph.add_dependent((class::PG_CLASS, oid), "refresh", ObjectKind::Refresh, name, Phase::Refresh, sql);
            }
            continue;
        }
        let check = check_option.map(|level| format!("\n  WITH {level} CHECK OPTION")).unwrap_or_default();
        let index = match placeholders.get(&oid) {
            None => {
                let sql = format!("CREATE VIEW {name}{with} AS\n{definition}{check};");
                graph.add((class::PG_CLASS, oid), ObjectKind::View, name, Phase::PreData, sql)
            }
            Some(columns) => {
                // The placeholder stands for the view (what reads the view
                // needs only its columns); the definition is keyed by the
                // view's rule, whose dependencies are the query's.
                let list: Vec<String> = columns.iter().map(|c| c.select_item.clone()).collect();
                let sql = format!("CREATE VIEW {name} AS\nSELECT {};", list.join(", "));
                let placeholder =
                    graph.add((class::PG_CLASS, oid), ObjectKind::View, name.clone(), Phase::PreData, sql);
                for column in columns {
                    graph.depend(placeholder, (class::PG_TYPE, column.type_oid));
                }
                let sql = format!("CREATE OR REPLACE VIEW {name}{with} AS\n{definition}{check};");
                let rule: u32 = row.get(8);
                let real = graph.add((class::PG_REWRITE, rule), ObjectKind::View, name, Phase::PreData, sql);
                graph.depend(real, (class::PG_CLASS, oid));
                real
            }
        };
        if invoker {
            graph.requires_major(index, 15);
        }
    }
    // A view's rows come from its `_RETURN` rule: dependencies recorded on
    // the rule belong to the view (to its definition, for a view in a loop).
    let rules = "SELECT r.oid, r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.rulename = '_RETURN'";
    for row in rows(client, "view rules", rules).await? {
        graph.alias_key((class::PG_REWRITE, row.get(0)), (class::PG_CLASS, row.get(1)));
    }
    Ok(())
}

/// Views that read themselves, directly or through other views. (Every
/// view's rule depends on its own view as a whole; reading itself shows as
/// a dependency on its columns.)
async fn views_in_loops(client: &Client) -> Result<HashSet<u32>, CatalogError> {
    let sql = "SELECT DISTINCT r.ev_class, d.refobjid FROM pg_catalog.pg_depend d \
               JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid \
               JOIN pg_catalog.pg_class v ON v.oid = d.refobjid \
               WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
                 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                 AND d.deptype = 'n' AND r.rulename = '_RETURN' AND v.relkind = 'v' AND r.ev_class >= 16384 \
                 AND NOT (d.refobjid = r.ev_class AND d.refobjsubid = 0)";
    let edges: Vec<(u32, u32)> =
        rows(client, "views reading views", sql).await?.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(in_loops(&edges))
}

/// The nodes of a directed graph that can reach themselves.
fn in_loops(edges: &[(u32, u32)]) -> HashSet<u32> {
    let mut next: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    next.keys()
        .copied()
        .filter(|&start| {
            let mut seen = HashSet::new();
            let mut stack = next[&start].clone();
            while let Some(node) = stack.pop() {
                if node == start {
                    return true;
                }
                if seen.insert(node) {
                    stack.extend(next.get(&node).into_iter().flatten());
                }
            }
            false
        })
        .collect()
}

/// A column of a placeholder view.
struct PlaceholderColumn {
    /// `NULL::type [COLLATE c] AS name`.
    select_item: String,
    type_oid: u32,
}

/// The columns of the placeholders of `views`, by view.
async fn placeholder_columns(
    client: &Client,
    views: &HashSet<u32>,
) -> Result<HashMap<u32, Vec<PlaceholderColumn>>, CatalogError> {
    let mut out: HashMap<u32, Vec<PlaceholderColumn>> = HashMap::new();
    if views.is_empty() {
        return Ok(out);
    }
    let list: Vec<String> = views.iter().map(u32::to_string).collect();
    let sql = format!(
        "SELECT a.attrelid, 'NULL::' || pg_catalog.format_type(a.atttypid, a.atttypmod) \
                || CASE WHEN a.attcollation <> t.typcollation THEN \
                     (SELECT ' COLLATE ' || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                      FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
                      WHERE co.oid = a.attcollation) ELSE '' END \
                || ' AS ' || pg_catalog.quote_ident(a.attname), a.atttypid \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid IN ({}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum",
        list.join(", ")
    );
    for row in rows(client, "columns of views in loops", &sql).await? {
        out.entry(row.get(0)).or_default().push(PlaceholderColumn { select_item: row.get(1), type_oid: row.get(2) });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_are_found_and_what_only_reads_them_is_not() {
        // 1 reads itself; 2 and 3 read each other; 4 reads 2; 5 reads 6.
        let edges = [(1, 1), (2, 3), (3, 2), (4, 2), (5, 6)];
        let found = in_loops(&edges);
        assert_eq!(found, HashSet::from([1, 2, 3]));
    }
}
