//! Subsets: only some rows of some tables, plus every row those need for
//! their foreign keys to stay valid, all chosen inside the dump's snapshot.
//!
//! The rules, over the foreign keys between tables that hold rows
//! (partitions included):
//!
//! - A *managed* table gets only chosen rows: the subset's tables, and every
//!   table with a foreign key to a managed table (else it could reference a
//!   row that is left out). With `subset_unreached: empty`, every table is
//!   managed; with `whole` (the default) the others are copied whole, which
//!   keeps every key into them valid.
//! - A subset table starts with the rows its `where`, `percent` or `limit`
//!   chooses; other managed tables start empty.
//! - Until nothing changes: the rows that chosen rows reference are chosen
//!   too (so every foreign key holds), and, below a subset table with
//!   `follow_children`, the rows that reference chosen rows.
//!
//! Chosen rows are listed by `ctid` in temporary tables of the coordinator's
//! session (which is why a subset dump needs a writable session on a
//! primary), and read back by the coordinator with
//! `WHERE ctid IN (SELECT tid FROM …)`. Self-references, cycles and
//! composite keys need nothing special: the loop joins on every column of
//! each key and stops when a round adds no row.

use std::collections::{BTreeSet, HashMap};

use tokio_postgres::Client;
use tracing::info;

use super::DumpError;
use crate::catalog::TableData;
use crate::config::{SubsetTable, Unreached};
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};

/// A foreign key between two tables that hold rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The referencing table (index into the dump's tables).
    pub from: usize,
    pub from_columns: Vec<String>,
    /// The referenced table.
    pub to: usize,
    pub to_columns: Vec<String>,
}

/// Which tables are managed and which follow children, by table index.
#[derive(Debug, PartialEq, Eq)]
pub struct Reach {
    pub managed: BTreeSet<usize>,
    pub follow: BTreeSet<usize>,
}

/// Works out the managed and followed tables (see the module doc).
/// `groups` are the partitions of one partitioned table: managed together,
/// as users think of them as one table.
pub fn reach(
    tables: usize,
    edges: &[Edge],
    groups: &[Vec<usize>],
    roots: &[(usize, bool)],
    unreached: Unreached,
) -> Reach {
    let mut managed: BTreeSet<usize> = match unreached {
        Unreached::Empty => (0..tables).collect(),
        Unreached::Whole => roots.iter().map(|(t, _)| *t).collect(),
    };
    let mut follow: BTreeSet<usize> = roots.iter().filter(|(_, f)| *f).map(|(t, _)| *t).collect();
    loop {
        let before = (managed.len(), follow.len());
        for edge in edges {
            if managed.contains(&edge.to) {
                managed.insert(edge.from);
            }
            if follow.contains(&edge.to) {
                follow.insert(edge.from);
            }
        }
        for group in groups {
            if group.iter().any(|t| managed.contains(t)) {
                managed.extend(group.iter().copied());
            }
        }
        if (managed.len(), follow.len()) == before {
            return Reach { managed, follow };
        }
    }
}

/// Name of the temporary table listing the chosen rows of table `index`.
fn temp_name(index: usize) -> String {
    format!("rb_subset_{index}")
}

/// Chooses the rows; returns the temporary table of each managed table.
///
/// # Errors
/// An unknown subset table, a condition PostgreSQL refuses, or a failing
/// query.
pub async fn choose(
    client: &Client,
    tables: &[TableData],
    subset: &[SubsetTable],
    unreached: Unreached,
) -> Result<HashMap<usize, String>, DumpError> {
    let index: HashMap<String, usize> =
        tables.iter().enumerate().map(|(i, t)| (quote_qualified(&t.schema, &t.name), i)).collect();
    let edges = edges(client, &index).await?;
    let mut roots = Vec::new();
    for entry in subset {
        for leaf in leaves(client, &entry.table).await? {
            let Some(&t) = index.get(&leaf) else {
                return Err(DumpError::Scope {
                    message: format!("subset: table {} holds no rows in this dump", entry.table),
                });
            };
            roots.push((t, entry));
        }
    }
    let groups = partition_groups(client, &index).await?;
    let starts: Vec<(usize, bool)> = roots.iter().map(|(t, e)| (*t, e.follow_children)).collect();
    let reach = reach(tables.len(), &edges, &groups, &starts, unreached);

    let run = |sql: String, what: &'static str| async move {
        client.execute(sql.as_str(), &[]).await.map_err(|e| DumpError::query(what, &e))
    };
    for &t in &reach.managed {
        run(
            format!("CREATE TEMPORARY TABLE {} (tid pg_catalog.tid PRIMARY KEY) ON COMMIT DROP", temp_name(t)),
            "subset: creating a work table",
        )
        .await?;
    }
    for (t, entry) in &roots {
        let name = quote_qualified(&tables[*t].schema, &tables[*t].name);
        let select = match (&entry.condition, entry.percent, entry.limit) {
            (Some(condition), _, _) => format!("SELECT ctid FROM ONLY {name} WHERE {condition}"),
            // REPEATABLE: the same rows from one dump to the next, while they last.
            (_, Some(percent), _) => {
                format!("SELECT ctid FROM ONLY {name} TABLESAMPLE BERNOULLI ({percent}) REPEATABLE (0)")
            }
            (_, _, Some(limit)) => format!("SELECT ctid FROM ONLY {name} LIMIT {limit}"),
            _ => unreachable!("validated: one way of choosing"),
        };
        run(format!("INSERT INTO {} {select} ON CONFLICT DO NOTHING", temp_name(*t)), "subset: choosing rows").await?;
    }

    // Until a round adds nothing: parents of chosen rows, and children of
    // chosen rows below followed tables.
    let mut rounds = 0;
    loop {
        let mut added = 0;
        for edge in &edges {
            if reach.managed.contains(&edge.from) && reach.managed.contains(&edge.to) {
                added += run(spread(edge, tables, Toward::Parent), "subset: adding referenced rows").await?;
            }
            if reach.follow.contains(&edge.to) && reach.managed.contains(&edge.from) {
                added += run(spread(edge, tables, Toward::Child), "subset: adding referencing rows").await?;
            }
        }
        rounds += 1;
        if added == 0 {
            break;
        }
    }
    info!(tables = reach.managed.len(), rounds, "subset chosen");
    // Large objects are not rows a foreign key reaches: they are copied whole.
    Ok(reach
        .managed
        .iter()
        .filter(|&&t| !crate::catalog::large_objects::is_large_objects(&tables[t].schema, &tables[t].name))
        .map(|&t| (t, temp_name(t)))
        .collect())
}

/// Which end of a foreign key gains rows.
#[derive(Clone, Copy)]
enum Toward {
    /// The referenced rows of chosen referencing rows.
    Parent,
    /// The referencing rows of chosen referenced rows.
    Child,
}

/// The INSERT adding to one end of `edge` the rows joined to the chosen
/// rows of the other end.
fn spread(edge: &Edge, tables: &[TableData], toward: Toward) -> String {
    let (from, to) = (&tables[edge.from], &tables[edge.to]);
    let join: Vec<String> =
        edge.from_columns.iter().zip(&edge.to_columns).map(|(f, t)| format!("c.{f} = p.{t}")).collect();
    let (child, parent) = (quote_qualified(&from.schema, &from.name), quote_qualified(&to.schema, &to.name));
    let (gains, gains_alias, known, known_alias) = match toward {
        Toward::Parent => (edge.to, "p", edge.from, "c"),
        Toward::Child => (edge.from, "c", edge.to, "p"),
    };
    format!(
        "INSERT INTO {} SELECT {gains_alias}.ctid FROM ONLY {child} c JOIN ONLY {parent} p ON {} \
         WHERE {known_alias}.ctid IN (SELECT tid FROM {}) ON CONFLICT DO NOTHING",
        temp_name(gains),
        join.join(" AND "),
        temp_name(known)
    )
}

/// Foreign keys between tables of this dump, as table indexes.
async fn edges(client: &Client, index: &HashMap<String, usize>) -> Result<Vec<Edge>, DumpError> {
    let sql = "SELECT fn.nspname, f.relname, tn.nspname, t.relname, \
                      ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), \
                      ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) \
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) \
               FROM pg_catalog.pg_constraint c \
               JOIN pg_catalog.pg_class f ON f.oid = c.conrelid JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace \
               JOIN pg_catalog.pg_class t ON t.oid = c.confrelid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace \
               WHERE c.contype = 'f' AND f.relkind = 'r' AND t.relkind = 'r'";
    let rows = client.query(sql, &[]).await.map_err(|e| DumpError::query("subset: reading foreign keys", &e))?;
    let mut out = Vec::new();
    for row in rows {
        let from = quote_qualified(row.get(0), row.get(1));
        let to = quote_qualified(row.get(2), row.get(3));
        if let (Some(&from), Some(&to)) = (index.get(&from), index.get(&to)) {
            let quote = |columns: Vec<String>| columns.iter().map(|c| quote_ident(c)).collect();
            out.push(Edge { from, from_columns: quote(row.get(4)), to, to_columns: quote(row.get(5)) });
        }
    }
    Ok(out)
}

/// The partitions of each partitioned table, as table indexes.
async fn partition_groups(client: &Client, index: &HashMap<String, usize>) -> Result<Vec<Vec<usize>>, DumpError> {
    let sql = "SELECT pg_catalog.pg_partition_root(c.oid)::oid, n.nspname, c.relname FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relispartition AND c.relkind = 'r'";
    let rows = client.query(sql, &[]).await.map_err(|e| DumpError::query("subset: reading partitions", &e))?;
    let mut groups: HashMap<u32, Vec<usize>> = HashMap::new();
    for row in rows {
        if let Some(&t) = index.get(&quote_qualified(row.get(1), row.get(2))) {
            groups.entry(row.get(0)).or_default().push(t);
        }
    }
    Ok(groups.into_values().collect())
}

/// The tables holding the rows of `table` (`schema.table` as SQL writes
/// it): its leaf partitions, or itself.
async fn leaves(client: &Client, table: &str) -> Result<Vec<String>, DumpError> {
    let sql = format!(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid IN (SELECT relid FROM pg_catalog.pg_partition_tree({0}::pg_catalog.regclass) WHERE isleaf \
                         UNION SELECT {0}::pg_catalog.regclass)
           AND c.relkind = 'r'",
        quote_literal(table)
    );
    let rows = client.query(sql.as_str(), &[]).await.map_err(|e| DumpError::Scope {
        message: format!("subset: table {table}: {}", crate::pg::error_message(&e)),
    })?;
    Ok(rows.iter().map(|r| quote_qualified(r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: usize, to: usize) -> Edge {
        Edge { from, from_columns: vec!["x".into()], to, to_columns: vec!["id".into()] }
    }

    #[test]
    fn tables_referencing_a_managed_table_are_managed_and_parents_stay_whole() {
        // 0 customer <- 1 rental <- 2 payment; 1 rental -> 3 inventory; 4 unrelated.
        let edges = [edge(1, 0), edge(2, 1), edge(2, 0), edge(1, 3)];
        let reach = reach(5, &edges, &[], &[(0, true)], Unreached::Whole);
        assert_eq!(reach.managed, BTreeSet::from([0, 1, 2]));
        assert_eq!(reach.follow, BTreeSet::from([0, 1, 2]));
        let not_followed = reach_of(&edges, &[(0, false)]);
        assert!(not_followed.follow.is_empty());
    }

    fn reach_of(edges: &[Edge], roots: &[(usize, bool)]) -> Reach {
        reach(5, edges, &[], roots, Unreached::Whole)
    }

    #[test]
    fn unreached_empty_manages_everything_and_self_references_terminate() {
        let edges = [edge(0, 0), edge(1, 2), edge(2, 1)];
        let reach = reach(3, &edges, &[], &[(0, false)], Unreached::Empty);
        assert_eq!(reach.managed, BTreeSet::from([0, 1, 2]));
        let whole = reach_of(&edges, &[(1, false)]);
        assert_eq!(whole.managed, BTreeSet::from([1, 2]), "a cycle is managed as a whole");
    }

    #[test]
    fn partitions_of_one_table_are_managed_together() {
        // 1 and 2 are partitions of one table; only 1 references 0.
        let reach = reach(3, &[edge(1, 0)], &[vec![1, 2]], &[(0, false)], Unreached::Whole);
        assert_eq!(reach.managed, BTreeSet::from([0, 1, 2]));
    }
}
