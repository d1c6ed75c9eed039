//! Keys stay consistent: a transformed column that a foreign key connects
//! to another must be transformed the same way on both sides (same
//! transformer, same options, hence the same key), or the restore's
//! foreign key fails and joins silently break.
//!
//! `follow_references: true` on a column writes that once: its transformer
//! is applied to every column that references it, and to theirs, through
//! composite keys, partitions (foreign keys are read at the level they are
//! declared, and each side stands for its leaf partitions) and chains of
//! references.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use super::problems::{Part, Problem, RulesError};
use super::rules::Rules;
use crate::config::{ColumnTransformer, TableTransformers};
use crate::transform::options;

/// `(schema, table, column)` of a leaf table.
type LeafColumn = (String, String, String);

/// One column pair of a foreign key, each side as its leaf tables.
#[derive(Debug, Clone)]
pub struct Link {
    pub constraint: String,
    /// `schema.table` as declared (for messages).
    pub referencing: String,
    pub referenced: String,
    pub referencing_column: String,
    pub referenced_column: String,
    pub referencing_leaves: Vec<(String, String)>,
    pub referenced_leaves: Vec<(String, String)>,
}

/// Every foreign key column pair of the source, each side with the leaves
/// of its whole partitioned table (a key declared on one partition stands
/// for its siblings: a column is transformed alike in every partition); a
/// table that is not partitioned is its own leaf.
///
/// # Errors
/// A failing query.
pub async fn links(client: &Client) -> Result<Vec<Link>, RulesError> {
    let sql = "SELECT con.conname::text, \
                      pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(c.relname), \
                      pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.relname), \
                      a.attname::text, fa.attname::text, \
                      coalesce((SELECT pg_catalog.array_agg(ln.nspname::text || '\u{1}' || l.relname::text) \
                       FROM pg_catalog.pg_partition_tree(coalesce(pg_catalog.pg_partition_root(con.conrelid), con.conrelid)) t JOIN pg_catalog.pg_class l ON l.oid = t.relid \
                       JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace WHERE t.isleaf), \
                       ARRAY[cn.nspname::text || '\u{1}' || c.relname::text]), \
                      coalesce((SELECT pg_catalog.array_agg(ln.nspname::text || '\u{1}' || l.relname::text) \
                       FROM pg_catalog.pg_partition_tree(coalesce(pg_catalog.pg_partition_root(con.confrelid), con.confrelid)) t JOIN pg_catalog.pg_class l ON l.oid = t.relid \
                       JOIN pg_catalog.pg_namespace ln ON ln.oid = l.relnamespace WHERE t.isleaf), \
                       ARRAY[fn.nspname::text || '\u{1}' || f.relname::text]) \
               FROM pg_catalog.pg_constraint con \
               JOIN pg_catalog.pg_class c ON c.oid = con.conrelid JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace \
               JOIN pg_catalog.pg_class f ON f.oid = con.confrelid JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace \
               CROSS JOIN LATERAL unnest(con.conkey, con.confkey) AS k(src, dst) \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.src \
               JOIN pg_catalog.pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = k.dst \
               WHERE con.contype = 'f' AND con.conparentid = 0 \
               ORDER BY 1, 2";
    let rows = client
        .query(sql, &[])
        .await
        .map_err(|e| RulesError::Query(format!("reading foreign keys: {}", crate::pg::error_message(&e))))?;
    let split = |list: Option<Vec<String>>| -> Vec<(String, String)> {
        list.unwrap_or_default()
            .iter()
            .filter_map(|e| e.split_once('\u{1}').map(|(s, t)| (s.to_string(), t.to_string())))
            .collect()
    };
    Ok(rows
        .iter()
        .map(|r| Link {
            constraint: r.get(0),
            referencing: r.get(1),
            referenced: r.get(2),
            referencing_column: r.get(3),
            referenced_column: r.get(4),
            referencing_leaves: split(r.get(5)),
            referenced_leaves: split(r.get(6)),
        })
        .collect())
}

/// A column's transformer as it matters for keys: its name and canonical
/// options (what its key is derived from), and where it is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    transformer: String,
    options: String,
    follow: bool,
    /// Entry and column index in the (expanded) config.
    at: (usize, usize),
}

impl Signature {
    fn same_mapping(&self, other: &Signature) -> bool {
        self.transformer == other.transformer && self.options == other.options
    }
}

/// The transformers of every leaf column, from `rules` (a configured
/// partitioned table stands for its leaves, as `leaves` resolves them).
fn signatures(
    rules: &Rules,
    leaves: &HashMap<(String, String), Vec<(String, String)>>,
) -> BTreeMap<LeafColumn, Signature> {
    let mut out = BTreeMap::new();
    for (i, entry) in rules.tables.iter().enumerate() {
        let named = (entry.schema.clone(), entry.table.clone());
        let targets = leaves.get(&named).cloned().unwrap_or_else(|| vec![named]);
        for (j, column) in entry.columns.iter().enumerate() {
            let signature = Signature {
                transformer: column.transformer.clone(),
                options: options::canonical(column.options.as_ref()),
                follow: column.follow_references,
                at: (i, j),
            };
            for (schema, table) in &targets {
                out.entry((schema.clone(), table.clone(), column.name.clone())).or_insert_with(|| signature.clone());
            }
        }
    }
    out
}

/// One side's signature: the one its leaves share (the first found).
fn side(signatures: &BTreeMap<LeafColumn, Signature>, leaves: &[(String, String)], column: &str) -> Option<Signature> {
    leaves.iter().find_map(|(s, t)| signatures.get(&(s.clone(), t.clone(), column.to_string())).cloned())
}

/// `rules` with every `follow_references` transformer copied onto the
/// columns that reference its column, transitively. A referencing column
/// already configured keeps its own (checked by [`consistency`]).
pub fn follow(rules: &Rules, links: &[Link], leaves: &HashMap<(String, String), Vec<(String, String)>>) -> Rules {
    let mut expanded = rules.clone();
    loop {
        let mut added = false;
        for link in links {
            let known = signatures(&expanded, leaves);
            let Some(source) = side(&known, &link.referenced_leaves, &link.referenced_column) else { continue };
            if !source.follow || side(&known, &link.referencing_leaves, &link.referencing_column).is_some() {
                continue;
            }
            let configured = &expanded.tables[source.at.0].columns[source.at.1];
            let copy = ColumnTransformer { name: link.referencing_column.clone(), ..configured.clone() };
            for (schema, table) in &link.referencing_leaves {
                expanded.tables.push(TableTransformers {
                    schema: schema.clone(),
                    table: table.clone(),
                    columns: vec![copy.clone()],
                });
            }
            added = true;
        }
        if !added {
            return expanded;
        }
    }
}

/// Every foreign key whose two sides are transformed differently, as a
/// problem at the configured side.
pub fn consistency(
    rules: &Rules,
    links: &[Link],
    leaves: &HashMap<(String, String), Vec<(String, String)>>,
) -> Vec<Problem> {
    let known = signatures(rules, leaves);
    let mut problems = Vec::new();
    // `transient` keeps the values, as no transformer does; `null` on the
    // referencing side cannot break a key (a null reference is never
    // checked).
    let changing = |s: Option<Signature>| s.filter(|s| s.transformer != "transient");
    for link in links {
        let referencing = changing(side(&known, &link.referencing_leaves, &link.referencing_column));
        if referencing.as_ref().is_some_and(|s| s.transformer == "null") {
            continue;
        }
        let referenced = changing(side(&known, &link.referenced_leaves, &link.referenced_column));
        let here = format!("{}.{}", link.referencing, link.referencing_column);
        let there = format!("{}.{}", link.referenced, link.referenced_column);
        let (at, message) = match (&referencing, &referenced) {
            (None, None) => continue,
            (Some(a), Some(b)) if a.same_mapping(b) => continue,
            (None, Some(b)) => (
                b.at,
                format!(
                    "foreign key {}: {here} references {there}, which transformer `{}` changes, but {here} keeps its \
                     values, so the restore's foreign key would fail: give {here} the same transformer and options, or \
                     set `follow_references: true` on {there}",
                    link.constraint, b.transformer
                ),
            ),
            (Some(a), None) => (
                a.at,
                format!(
                    "foreign key {}: {here} is changed by transformer `{}`, but the column it references, {there}, \
                     keeps its values, so the restore's foreign key would fail: transform {there} the same way (with \
                     `follow_references: true` there), or leave {here} as it is",
                    link.constraint, a.transformer
                ),
            ),
            (Some(a), Some(b)) => (
                a.at,
                format!(
                    "foreign key {}: {here} is changed by `{}` and {there}, which it references, by `{}` (or other \
                     options): the values would no longer match; use one transformer and options on both, e.g. \
                     `follow_references: true` on {there} and none on {here}",
                    link.constraint, a.transformer, b.transformer
                ),
            ),
        };
        problems.push(Problem { table: at.0, column: Some(at.1), part: Part::Transformer, message });
    }
    problems.sort_by(|a, b| a.message.cmp(&b.message));
    problems.dedup_by(|a, b| a.message == b.message);
    problems
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    /// Rules with one transformer on each `(table, column, transformer)`.
    fn rules(columns: &[(&str, &str, &str)]) -> Rules {
        let mut yaml = "source:\n  connection_uri: postgres://h/db\n  transformers:\n".to_string();
        for (table, column, transformer) in columns {
            yaml.push_str(&format!(
                "    - {{schema: public, table: {table}, columns: [{{name: {column}, transformer: {transformer}}}]}}\n"
            ));
        }
        let config = Config::parse(&yaml, Path::new("conf.yaml")).unwrap();
        Rules::new(config.source().unwrap(), Path::new("conf.yaml"))
    }

    fn orders_to_customers() -> Vec<Link> {
        vec![Link {
            constraint: "orders_customer_fkey".into(),
            referencing: "public.orders".into(),
            referenced: "public.customers".into(),
            referencing_column: "customer_email".into(),
            referenced_column: "email".into(),
            referencing_leaves: vec![("public".into(), "orders".into())],
            referenced_leaves: vec![("public".into(), "customers".into())],
        }]
    }

    fn problems(columns: &[(&str, &str, &str)]) -> usize {
        consistency(&rules(columns), &orders_to_customers(), &HashMap::new()).len()
    }

    #[test]
    fn both_sides_of_a_key_must_change_alike() {
        assert_eq!(problems(&[]), 0);
        assert_eq!(problems(&[("customers", "email", "email"), ("orders", "customer_email", "email")]), 0);
        assert_eq!(problems(&[("customers", "email", "email")]), 1);
        assert_eq!(problems(&[("orders", "customer_email", "email")]), 1);
        assert_eq!(problems(&[("customers", "email", "email"), ("orders", "customer_email", "hash")]), 1);
    }

    #[test]
    fn transient_keeps_values_and_a_null_reference_breaks_nothing() {
        assert_eq!(problems(&[("customers", "email", "transient"), ("orders", "customer_email", "transient")]), 0);
        assert_eq!(problems(&[("customers", "email", "transient")]), 0);
        assert_eq!(problems(&[("orders", "customer_email", "transient")]), 0);
        assert_eq!(problems(&[("customers", "email", "email"), ("orders", "customer_email", "transient")]), 1);
        assert_eq!(problems(&[("customers", "email", "email"), ("orders", "customer_email", "null")]), 0);
        assert_eq!(problems(&[("orders", "customer_email", "null")]), 0);
        assert_eq!(problems(&[("customers", "email", "null")]), 1);
    }
}
