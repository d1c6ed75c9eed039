//! [`Rules::plan`]: every check of the config against the source, in
//! order: foreign keys followed and kept consistent, the tables, each
//! column, then the constraints on a sample; and the plans when nothing is
//! wrong.

use std::collections::HashSet;

use tokio_postgres::Client;

use super::facts::{self, TableName};
use super::planned::{PlannedColumn, PlannedTable};
use super::problems::{Part, Problem, RulesError};
use super::rules::Rules;
use super::{column, constraints, references};
use crate::catalog::TableData;
use crate::copy::CopyFormat;
use crate::transform::plan::{Plans, TablePlan};
use crate::transform::registry::closest;

impl Rules {
    /// Checks every configured transformer against the catalog the source
    /// `client` is connected to (`tables` as the catalog reader found them)
    /// and builds the plans of the tables with transformed columns.
    ///
    /// Runs before any row is copied, inside the dump's snapshot.
    ///
    /// # Errors
    /// Every problem found, each with its config line; or a failing query.
    pub async fn plan(&self, client: &Client, tables: &[TableData]) -> Result<Plans, RulesError> {
        match plan(self, client, tables).await? {
            Ok(plans) => Ok(plans),
            Err(problems) => Err(RulesError::invalid(&self.config_path, problems)),
        }
    }
}

/// The plans of `rules` on this source, or every problem found.
///
/// # Errors
/// A failing query (problems with the config are the inner error).
async fn plan(rules: &Rules, client: &Client, tables: &[TableData]) -> Result<Result<Plans, Vec<Problem>>, RulesError> {
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
                column::check(rules, &format!("{}.{}", entry.schema, entry.table), table, configured, facts.get(&key))
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
    problems.extend(constraints::sample(client, &planned).await?);
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
