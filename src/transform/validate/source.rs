//! Checking the transformer config against the source, before any row
//! moves: every table and column it names must exist; every transformer
//! must exist, accept the column's type and its options; and what it writes
//! must fit the column: NOT NULL, the length limit of `varchar(n)`, a
//! unique index, CHECK constraints and domains ([`checks`]).
//!
//! Every problem is collected, not just the first, so one `check` run shows
//! all that needs fixing.

use std::collections::HashSet;
use std::sync::Arc;

use tokio_postgres::Client;

use super::checks;
use super::facts::{self, ColumnFacts, TableName};
use super::plan::Step;
use super::references;
use super::registry::{self, closest};
use super::rules::{Part, Problem};
use super::{Length, Plans, Rules, RulesError, TablePlan, UNIQUE_BITS};
use crate::catalog::TableData;
use crate::config::ColumnTransformer;
use crate::copy::CopyFormat;

/// A table with transformed columns, as checked.
pub struct PlannedTable<'a> {
    pub table: &'a TableData,
    /// Index of its entry in `source.transformers`.
    pub entry: usize,
    pub columns: Vec<PlannedColumn>,
}

/// A transformed column, as checked.
pub struct PlannedColumn {
    /// Index of its entry in the table entry's `columns`.
    pub entry: usize,
    pub facts: ColumnFacts,
    pub step: Step,
}

/// The plans of `rules` on this source, or every problem found.
///
/// # Errors
/// A failing query (problems with the config are the inner error).
pub async fn plan(
    rules: &Rules,
    client: &Client,
    tables: &[TableData],
) -> Result<Result<Plans, Vec<Problem>>, RulesError> {
    if rules.is_empty() {
        return Ok(Ok(Plans::default()));
    }
    let mut problems = Vec::new();
    // Transformers that follow references reach the referencing columns
    // first, so those are checked like the others.
    // Keys between tables whose rows are dumped: a table out of scope
    // (only_tables, skip_tables, skip_data) neither breaks a key nor is
    // reached by `follow_references`.
    let dumped =
        |leaves: &[(String, String)]| leaves.iter().all(|(s, t)| tables.iter().any(|d| d.schema == *s && d.name == *t));
    let links: Vec<_> = references::links(client)
        .await?
        .into_iter()
        .filter(|l| dumped(&l.referencing_leaves) && dumped(&l.referenced_leaves))
        .collect();
    let configured: Vec<TableName> = rules.tables.iter().map(|t| (t.schema.clone(), t.table.clone())).collect();
    let expanded = references::follow(rules, &links, &facts::leaves(client, &configured).await?);
    let rules = &expanded;
    let names: Vec<TableName> = rules.tables.iter().map(|t| (t.schema.clone(), t.table.clone())).collect();
    let leaves = facts::leaves(client, &names).await?;
    problems.extend(references::consistency(rules, &links, &leaves));

    let mut targets: Vec<(usize, &TableData)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let shown = format!("{}.{}", name.0, name.1);
        let problem = |message: String| Problem { table: i, column: None, part: Part::Table, message };
        let Some(found) = leaves.get(name) else {
            problems
                .push(problem(format!("table {shown} does not exist in the source; {}", suggest_table(name, tables))));
            continue;
        };
        for (schema, table) in found {
            match tables.iter().find(|t| t.schema == *schema && t.name == *table) {
                Some(data) if data.format == CopyFormat::Text => problems.push(problem(format!(
                    "table {schema}.{table} is copied in text format (one of its column types has no binary \
                     send/receive), and transformers rewrite binary COPY only; remove its transformers"
                ))),
                Some(data) => targets.push((i, data)),
                None => problems.push(problem(format!(
                    "{schema}.{table} is not a table whose rows are dumped (a view or foreign table?); \
                     transformers apply to tables"
                ))),
            }
        }
    }

    let wanted: Vec<(String, String, String)> = targets
        .iter()
        .flat_map(|(i, t)| rules.tables[*i].columns.iter().map(|c| (t.schema.clone(), t.name.clone(), c.name.clone())))
        .collect();
    let facts = facts::columns(client, &wanted).await?;

    let mut planned = Vec::new();
    let mut seen = HashSet::new();
    for (i, table) in targets {
        let entry = &rules.tables[i];
        let mut columns = Vec::new();
        for (j, configured) in entry.columns.iter().enumerate() {
            let key = (table.schema.clone(), table.name.clone(), configured.name.clone());
            let result = if seen.insert(key.clone()) {
                column(rules, &format!("{}.{}", entry.schema, entry.table), table, configured, facts.get(&key))
            } else {
                Err((Part::Name, format!("column {}.{} has more than one transformer", key.1, key.2)))
            };
            match result {
                Ok((facts, step)) => columns.push(PlannedColumn { entry: j, facts, step }),
                Err((part, message)) => problems.push(Problem { table: i, column: Some(j), part, message }),
            }
        }
        planned.push(PlannedTable { table, entry: i, columns });
    }
    // Constraints are tested with the columns that passed, so one run
    // reports those problems too.
    problems.extend(checks::sample(client, &planned).await?);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut plans = Plans::default();
    for table in planned {
        let steps = table.columns.into_iter().map(|c| c.step).collect();
        plans.insert(&table.table.schema, &table.table.name, TablePlan::new(steps));
    }
    Ok(Ok(plans))
}

/// Builds and checks one column's transformer: its facts and step, or what
/// is wrong and where.
fn column(
    rules: &Rules,
    shown: &str,
    table: &TableData,
    configured: &ColumnTransformer,
    facts: Option<&ColumnFacts>,
) -> Result<(ColumnFacts, Step), (Part, String)> {
    let at = format!("column {shown}.{}", configured.name);
    let Some(index) = table.columns.iter().position(|c| c.name == configured.name) else {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        return Err((
            Part::Name,
            format!("{at} does not exist (or is generated); {}", suggest(&configured.name, &names)),
        ));
    };
    let info = &table.columns[index];
    let facts = facts.ok_or_else(|| (Part::Name, format!("{at}: its type could not be read from the catalog")))?;
    let Some(kind) = registry::find(&configured.transformer) else {
        let message =
            format!("unknown transformer `{}`; {}", configured.transformer, registry::suggest(&configured.transformer));
        return Err((Part::Transformer, message));
    };
    if !(kind.accepts)(&facts.column.ty) {
        return Err((
            Part::Transformer,
            format!(
                "{at} is of type {}, which transformer `{}` cannot write; it accepts {}",
                info.type_name,
                kind.name,
                kind.accepted_types()
            ),
        ));
    }
    let part = if configured.options.is_some() { Part::Options } else { Part::Transformer };
    let transformer = kind
        .build(configured.options.as_ref(), &facts.column, &rules.keys, rules.dir())
        .map_err(|e| (part, format!("{at}, transformer `{}`: {e}", kind.name)))?;
    let promised = transformer.guarantees();
    if info.not_null && promised.makes_nulls {
        return Err((
            part,
            format!("{at} is NOT NULL, but transformer `{}` can write NULL; choose one that writes values", kind.name),
        ));
    }
    if let Some(max) = facts.column.max_chars {
        let too_long = match promised.length {
            Length::AtMost(n) => (n > max).then(|| format!("up to {n} characters")),
            Length::Unbounded => Some("values of any length".to_string()),
            Length::Same => None,
        };
        if let Some(writes) = too_long {
            return Err((
                part,
                format!(
                    "{at} is {} (at most {max} characters), but transformer `{}` writes {writes}; \
                     choose options or a transformer that write shorter values",
                    info.type_name, kind.name
                ),
            ));
        }
    }
    if info.unique && promised.unique_bits < UNIQUE_BITS {
        return Err((
            Part::Transformer,
            format!(
                "{at} is under a unique index or primary key, but transformer `{}` cannot keep its values unique \
                 (it needs {UNIQUE_BITS} bits of keyed hash per value, and carries {}); use email, hash or uuid, \
                 which are unique by construction",
                kind.name, promised.unique_bits
            ),
        ));
    }
    let step =
        Step { index, column: info.name.clone(), transformer_name: kind.name, transformer: Arc::from(transformer) };
    Ok((facts.clone(), step))
}

/// "did you mean …" among `names`, or the list of them.
fn suggest(wanted: &str, names: &[&str]) -> String {
    match closest(wanted, names.iter().copied()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("there are: {}", names.join(", ")),
    }
}

/// A hint for a table that does not exist.
fn suggest_table(name: &TableName, tables: &[TableData]) -> String {
    let names: Vec<String> = tables.iter().map(TableData::display_name).collect();
    match closest(&format!("{}.{}", name.0, name.1), names.iter().map(String::as_str)) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            let in_schema: Vec<&str> =
                tables.iter().filter(|t| t.schema == name.0).map(|t| t.name.as_str()).take(20).collect();
            if in_schema.is_empty() {
                format!("there is no table in schema {} (`database:` names the schema)", name.0)
            } else {
                format!("tables in schema {}: {}", name.0, in_schema.join(", "))
            }
        }
    }
}
