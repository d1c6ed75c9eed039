//! Do transformed values pass the column's CHECK constraints and domain?
//!
//! Constraints are arbitrary SQL, so the source evaluates them: a few rows
//! of each table are read, their transformed values computed, and the
//! table's CHECK expressions evaluated on each row with those values bound
//! as parameters of the column's own type (binding a domain-typed parameter
//! runs the domain's constraints too). Read-only, so it works inside the
//! dump's snapshot and on a standby. A sample proves no absence of
//! violations, but catches the transformer that can never fit (`redacted`
//! under `CHECK (email LIKE '%@%')`).

use bytes::BytesMut;
use postgres_types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Client;

use super::planned::PlannedTable;
use super::problems::{Part, Problem, RulesError};
use crate::pg::ident::{quote_ident, quote_qualified};
use crate::transform::spec::Field;

/// Rows sampled per table.
const SAMPLE_ROWS: i64 = 16;

/// A field as the server sent it, or as it is sent back: raw binary bytes
/// of any type.
#[derive(Debug)]
struct Raw(Option<Vec<u8>>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw.to_vec())))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl ToSql for Raw {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn failed(what: &str, table: &str, e: &tokio_postgres::Error) -> RulesError {
    RulesError::Query(format!("{what} of {table}: {}", crate::pg::error_message(e)))
}

/// A CHECK constraint that involves a transformed column.
struct Check {
    name: String,
    expression: String,
    columns: Vec<String>,
}

/// Problems found by evaluating constraints on sampled, transformed rows.
///
/// # Errors
/// A failing query that is not a constraint violation.
pub async fn sample(client: &Client, planned: &[PlannedTable<'_>]) -> Result<Vec<Problem>, RulesError> {
    let mut problems = Vec::new();
    for table in planned.iter().filter(|t| !t.columns.is_empty()) {
        let name = quote_qualified(&table.table.schema, &table.table.name);
        let checks = checks(client, &name, table).await?;
        if checks.is_empty() && !table.columns.iter().any(|c| c.facts.domain) {
            continue;
        }
        problems.extend(sample_table(client, &name, table, &checks).await?);
    }
    Ok(problems)
}

/// The validated CHECK constraints of the table involving a transformed
/// column.
async fn checks(client: &Client, name: &str, table: &PlannedTable<'_>) -> Result<Vec<Check>, RulesError> {
    let sql = "SELECT co.conname, pg_catalog.pg_get_expr(co.conbin, co.conrelid), \
                      ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a \
                            WHERE a.attrelid = co.conrelid AND a.attnum = ANY (co.conkey)) \
               FROM pg_catalog.pg_constraint co \
               WHERE co.conrelid = $1::text::pg_catalog.regclass AND co.contype = 'c' AND co.convalidated \
               ORDER BY co.conname";
    let rows = client.query(sql, &[&name]).await.map_err(|e| failed("reading the CHECK constraints", name, &e))?;
    Ok(rows
        .iter()
        .map(|r| Check { name: r.get(0), expression: r.get(1), columns: r.get(2) })
        .filter(|c| c.columns.iter().any(|col| table.columns.iter().any(|t| t.step.column == *col)))
        .collect())
}

async fn sample_table(
    client: &Client,
    name: &str,
    table: &PlannedTable<'_>,
    checks: &[Check],
) -> Result<Vec<Problem>, RulesError> {
    // Every column of the relation (generated ones too: a CHECK may read
    // them), the transformed ones replaced by parameters of their type.
    let attributes = client
        .query(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = $1::text::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&name],
        )
        .await
        .map_err(|e| failed("reading the columns", name, &e))?;
    let mut select = Vec::new();
    for row in &attributes {
        let (column, type_name): (String, String) = (row.get(0), row.get(1));
        match table.columns.iter().position(|c| c.step.column == column) {
            Some(i) => select.push(format!("${}::{type_name} AS {}", i + 2, quote_ident(&column))),
            None => select.push(format!("t.{}", quote_ident(&column))),
        }
    }
    let tests: Vec<String> = checks.iter().map(|c| format!("({}) IS NOT FALSE", c.expression)).collect();
    let sql = format!(
        "SELECT true{} FROM (SELECT {} FROM ONLY {name} AS t WHERE t.ctid = $1) AS t",
        tests.iter().map(|t| format!(", {t}")).collect::<String>(),
        select.join(", ")
    );
    let statement = client.prepare(&sql).await.map_err(|e| failed("preparing the CHECK test", name, &e))?;

    let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.step.column)).collect();
    let rows = client
        .query(&format!("SELECT ctid, {} FROM ONLY {name} LIMIT {SAMPLE_ROWS}", columns.join(", ")), &[])
        .await
        .map_err(|e| failed("sampling rows", name, &e))?;
    let mut broken = vec![0usize; checks.len()];
    let mut problems = Vec::new();
    'rows: for row in &rows {
        let mut params = vec![row.get::<_, Raw>(0)];
        for (i, column) in table.columns.iter().enumerate() {
            let Raw(input) = row.get(i + 1);
            let mut out = Vec::new();
            let value = match column.step.transformer.apply(input.as_deref(), &mut out) {
                Ok(Field::Value) => Some(out),
                Ok(Field::Null) => None,
                // A value the transformer refuses fails the dump anyway,
                // with its own message: skip the row here.
                Err(_) => continue 'rows,
            };
            params.push(Raw(value));
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        match client.query(&statement, &refs).await {
            Ok(result) => {
                if let Some(result) = result.first() {
                    for (k, count) in broken.iter_mut().enumerate() {
                        *count += usize::from(!result.get::<_, bool>(k + 1));
                    }
                }
            }
            Err(e) if is_violation(&e) => {
                // Binding a value the column's domain (or type) refuses.
                let column = table.columns.iter().find(|c| c.facts.domain).unwrap_or(&table.columns[0]);
                problems.push(Problem {
                    table: table.entry,
                    column: Some(column.entry),
                    part: Part::Transformer,
                    message: format!(
                        "column {}.{}: transformer `{}` writes values its type refuses: {}",
                        table.table.display_name(),
                        column.step.column,
                        column.step.transformer_name,
                        crate::pg::error_message(&e)
                    ),
                });
                return Ok(problems);
            }
            Err(e) => return Err(failed("testing the CHECK constraints", name, &e)),
        }
    }
    for (check, count) in checks.iter().zip(broken).filter(|(_, n)| *n > 0) {
        for column in table.columns.iter().filter(|c| check.columns.contains(&c.step.column)) {
            problems.push(Problem {
                table: table.entry,
                column: Some(column.entry),
                part: Part::Transformer,
                message: format!(
                    "column {}.{}: transformer `{}` breaks CHECK constraint {} ({}) on {count} of {} sampled rows; \
                     choose a transformer or options whose values pass it",
                    table.table.display_name(),
                    column.step.column,
                    column.step.transformer_name,
                    check.name,
                    check.expression,
                    rows.len()
                ),
            });
        }
    }
    Ok(problems)
}

/// A value a type or constraint refuses: integrity violations (class 23)
/// and data exceptions (class 22).
fn is_violation(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}
