//! Scope: which tables a dump carries — `only_tables`, `skip_tables`,
//! `skip_data` — applied to the schema model after it is read.
//!
//! Patterns are `schema.table` globs (`public.*`, `audit.log_20??`). A
//! partitioned or inherited table stands for its partitions and children.
//!
//! - `only_tables`: the chosen tables, what they need (schemas, types,
//!   functions, sequences, extensions), and what belongs to them (defaults,
//!   indexes, constraints, triggers, rules, policies, statistics, grants). A
//!   foreign key to a table outside the scope is left out, as are views and
//!   everything else that is not needed.
//! - `skip_tables`: everything but the matching tables and what depends on
//!   them (views on them, foreign keys to them, …).
//! - `skip_data`: the matching tables keep their structure; their rows are
//!   not copied.

use std::collections::{HashMap, HashSet};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::model::{DatabaseSchema, ObjectKind};
use crate::pg::ident::unquote_qualified;

/// The table filters of a dump.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    only: Option<GlobSet>,
    skip: Option<GlobSet>,
    skip_data: Option<GlobSet>,
}

/// What the scope did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub objects_left_out: usize,
    pub tables_without_data: usize,
}

/// Object kinds that belong to a table: kept with it.
fn belongs_to_tables(kind: ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::Default
            | ObjectKind::Sequence
            | ObjectKind::SequenceValue
            | ObjectKind::Index
            | ObjectKind::Constraint
            | ObjectKind::ForeignKey
            | ObjectKind::Validation
            | ObjectKind::Trigger
            | ObjectKind::Rule
            | ObjectKind::Policy
            | ObjectKind::Statistics
            | ObjectKind::Grant
    )
}

fn glob_set(patterns: &[String], key: &str) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        if !pattern.contains('.') {
            return Err(format!("{key}: {pattern:?} is not schema.table (e.g. public.orders, public.*)"));
        }
        builder.add(Glob::new(pattern).map_err(|e| format!("{key}: {pattern:?}: {e}"))?);
    }
    builder.build().map(Some).map_err(|e| format!("{key}: {e}"))
}

impl Scope {
    /// Builds the filters from the config lists.
    ///
    /// # Errors
    /// A malformed pattern, naming its key.
    pub fn new(only: &[String], skip: &[String], skip_data: &[String]) -> Result<Self, String> {
        Ok(Scope {
            only: glob_set(only, "only_tables")?,
            skip: glob_set(skip, "skip_tables")?,
            skip_data: glob_set(skip_data, "skip_data")?,
        })
    }

    pub fn is_everything(&self) -> bool {
        self.only.is_none() && self.skip.is_none() && self.skip_data.is_none()
    }

    /// Narrows `schema` to the scope.
    ///
    /// # Errors
    /// `skip_data` on a table that a foreign key of a table keeping its rows
    /// points to: that key could not be created on the destination.
    pub fn apply(&self, schema: &mut DatabaseSchema) -> Result<Applied, String> {
        let objects = &schema.objects;
        let index_of: HashMap<&str, usize> = objects.iter().enumerate().map(|(i, o)| (o.id.as_str(), i)).collect();
        let deps: Vec<Vec<usize>> = objects
            .iter()
            .map(|o| o.depends_on.iter().filter_map(|d| index_of.get(d.as_str()).copied()).collect())
            .collect();
        // Large objects go by `pg_catalog.pg_largeobject`, like a table.
        let is_table = |i: usize| {
            matches!(objects[i].kind, ObjectKind::Table | ObjectKind::ForeignTable | ObjectKind::LargeObjects)
        };
        let matches = |set: &GlobSet, i: usize| {
            unquote_qualified(&objects[i].name).is_some_and(|(s, t)| set.is_match(format!("{s}.{t}")))
        };
        // Tables matching a pattern, with their partitions and children.
        let chosen = |set: &GlobSet| -> HashSet<usize> {
            let mut out: HashSet<usize> = (0..objects.len()).filter(|&i| is_table(i) && matches(set, i)).collect();
            // Objects come in dependency order: a child after its parent.
            for (i, needs) in deps.iter().enumerate() {
                if is_table(i) && needs.iter().any(|d| out.contains(d)) {
                    out.insert(i);
                }
            }
            out
        };

        let mut keep: Vec<bool> = vec![true; objects.len()];
        let mut data_tables: Option<HashSet<usize>> = None;
        if let Some(only) = &self.only {
            let selected = chosen(only);
            keep = only_keep(&selected, &deps, |i| objects[i].kind, is_table);
            data_tables = Some(selected);
        }
        if let Some(skip) = &self.skip {
            let skipped = chosen(skip);
            // Everything that depends on a skipped table goes too.
            for i in 0..objects.len() {
                if skipped.contains(&i) || deps[i].iter().any(|&d| !keep[d]) {
                    keep[i] = false;
                }
            }
        }

        let kept_names: HashSet<String> =
            (0..objects.len()).filter(|&i| keep[i] && is_table(i)).map(|i| objects[i].name.clone()).collect();
        let data_names: Option<HashSet<String>> =
            data_tables.map(|set| set.into_iter().filter(|&i| keep[i]).map(|i| objects[i].name.clone()).collect());
        let no_data: HashSet<String> = self
            .skip_data
            .as_ref()
            .map(|set| chosen(set).into_iter().map(|i| objects[i].name.clone()).collect())
            .unwrap_or_default();

        // A foreign key (named "… on {referencing table}") from a table
        // with rows to one without cannot be created.
        for i in (0..objects.len()).filter(|&i| keep[i] && objects[i].kind == ObjectKind::ForeignKey) {
            let tables: Vec<&str> =
                deps[i].iter().filter(|&&d| is_table(d)).map(|&d| objects[d].name.as_str()).collect();
            let referencing = tables.iter().find(|t| objects[i].name.ends_with(*t));
            if let Some(referencing) = referencing {
                let referenced = tables.iter().find(|t| *t != referencing && no_data.contains(**t));
                if let (Some(referenced), false) = (referenced, no_data.contains(*referencing)) {
                    return Err(format!(
                        "skip_data: foreign key {} points to {referenced}, whose rows are not copied; add {referencing} to skip_data (or skip_tables) too",
                        objects[i].name
                    ));
                }
            }
        }

        // Large objects without their bytes would be empty: they go whole.
        for (i, object) in objects.iter().enumerate() {
            if object.kind == ObjectKind::LargeObjects && no_data.contains(&object.name) {
                keep[i] = false;
            }
        }
        for i in 0..objects.len() {
            if deps[i].iter().any(|&d| !keep[d]) {
                keep[i] = false;
            }
        }

        let before = schema.objects.len();
        let mut flags = keep.into_iter();
        schema.objects.retain(|_| flags.next().unwrap_or(true));
        let tables_before = schema.tables.len();
        schema.tables.retain(|t| {
            let name = crate::pg::ident::quote_qualified(&t.schema, &t.name);
            kept_names.contains(&name)
                && data_names.as_ref().is_none_or(|d| d.contains(&name))
                && !no_data.contains(&name)
        });
        Ok(Applied {
            objects_left_out: before - schema.objects.len(),
            tables_without_data: tables_before - schema.tables.len(),
        })
    }
}

/// For `only_tables`: the selected tables, everything they and their own
/// objects need, and every object that belongs to kept tables only.
fn only_keep(
    selected: &HashSet<usize>,
    deps: &[Vec<usize>],
    kind: impl Fn(usize) -> ObjectKind,
    is_table: impl Fn(usize) -> bool,
) -> Vec<bool> {
    let n = deps.len();
    let mut keep = vec![false; n];
    for &i in selected {
        keep[i] = true;
    }
    loop {
        let mut changed = false;
        // What kept objects need.
        for i in (0..n).rev() {
            if keep[i] {
                for &d in &deps[i] {
                    if !keep[d] {
                        keep[d] = true;
                        changed = true;
                    }
                }
            }
        }
        // What belongs to kept objects: an object on tables, when every
        // table it is on is chosen; a grant, a sequence value or a domain
        // constraint, when what it is on is kept.
        for i in 0..n {
            if keep[i] || !belongs_to_tables(kind(i)) {
                continue;
            }
            let mut tables = deps[i].iter().filter(|&&d| is_table(d)).peekable();
            let pulled = if tables.peek().is_some() {
                tables.all(|d| selected.contains(d))
            } else {
                matches!(kind(i), ObjectKind::Grant | ObjectKind::SequenceValue | ObjectKind::Constraint)
                    && !deps[i].is_empty()
                    && deps[i].iter().all(|&d| keep[d])
            };
            if pulled {
                keep[i] = true;
                changed = true;
            }
        }
        if !changed {
            return keep;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::{DatabaseInfo, DdlObject, Phase, TableData};
    use crate::copy::CopyFormat;

    fn object(id: &str, kind: ObjectKind, name: &str, deps: &[&str]) -> DdlObject {
        DdlObject {
            id: id.into(),
            kind,
            name: name.into(),
            phase: Phase::PreData,
            sql: String::new(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            requires_roles: Vec::new(),
            requires_major: None,
        }
    }

    fn table(name: &str) -> TableData {
        TableData {
            schema: "public".into(),
            name: name.into(),
            columns: Vec::new(),
            format: CopyFormat::Binary,
            estimated_bytes: 0,
        }
    }

    fn shop() -> DatabaseSchema {
        DatabaseSchema {
            database: DatabaseInfo::example(),
            objects: vec![
                object("ns", ObjectKind::Schema, "public", &[]),
                object("ty", ObjectKind::Type, "\"public\".\"status\"", &["ns"]),
                object("fn", ObjectKind::Function, "\"public\".\"audit\"()", &["ns"]),
                object("cu", ObjectKind::Table, "\"public\".\"customers\"", &["ns"]),
                object("or", ObjectKind::Table, "\"public\".\"orders\"", &["ns", "ty"]),
                object("lo", ObjectKind::Table, "\"public\".\"log\"", &["ns"]),
                object("cu_pk", ObjectKind::Constraint, "customers_pkey", &["cu"]),
                object(
                    "or_fk",
                    ObjectKind::ForeignKey,
                    "orders_customer_fkey on \"public\".\"orders\"",
                    &["or", "cu", "cu_pk"],
                ),
                object("or_tg", ObjectKind::Trigger, "orders_audit", &["or", "fn"]),
                object("view", ObjectKind::View, "\"public\".\"totals\"", &["or", "cu"]),
                object("grant", ObjectKind::Grant, "orders to reader", &["or"]),
                object("seq", ObjectKind::Sequence, "\"public\".\"unrelated\"", &["ns"]),
            ],
            tables: vec![table("customers"), table("orders"), table("log")],
        }
    }

    fn names(schema: &DatabaseSchema) -> Vec<&str> {
        schema.objects.iter().map(|o| o.id.as_str()).collect()
    }

    fn tables(schema: &DatabaseSchema) -> Vec<&str> {
        schema.tables.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn only_tables_keeps_what_they_need_and_what_belongs_to_them() {
        let mut schema = shop();
        Scope::new(&["public.orders".into()], &[], &[]).unwrap().apply(&mut schema).unwrap();
        // The foreign key to customers and the view are left out; the
        // trigger brings its function, the table its type.
        assert_eq!(names(&schema), vec!["ns", "ty", "fn", "or", "or_tg", "grant"]);
        assert_eq!(tables(&schema), vec!["orders"]);
    }

    #[test]
    fn skip_tables_removes_them_and_their_dependents() {
        let mut schema = shop();
        Scope::new(&[], &["public.cust*".into()], &[]).unwrap().apply(&mut schema).unwrap();
        assert_eq!(names(&schema), vec!["ns", "ty", "fn", "or", "lo", "or_tg", "grant", "seq"]);
        assert_eq!(tables(&schema), vec!["orders", "log"]);
    }

    #[test]
    fn skip_data_keeps_the_structure() {
        let mut schema = shop();
        let applied = Scope::new(&[], &[], &["public.log".into()]).unwrap().apply(&mut schema).unwrap();
        assert_eq!(schema.objects.len(), shop().objects.len());
        assert_eq!(tables(&schema), vec!["customers", "orders"]);
        assert_eq!(applied, Applied { objects_left_out: 0, tables_without_data: 1 });
    }

    #[test]
    fn skip_data_on_a_referenced_table_is_refused() {
        let mut schema = shop();
        let error = Scope::new(&[], &[], &["public.customers".into()]).unwrap().apply(&mut schema).unwrap_err();
        assert!(error.contains("orders_customer_fkey") && error.contains("\"public\".\"orders\""), "{error}");
        let mut schema = shop();
        let both = ["public.customers".to_string(), "public.orders".to_string()];
        assert!(Scope::new(&[], &[], &both).unwrap().apply(&mut schema).is_ok());
    }

    #[test]
    fn patterns_must_name_a_schema() {
        assert!(Scope::new(&["orders".into()], &[], &[]).unwrap_err().contains("only_tables"));
    }
}
