//! Reading the sample: one query per table, `TABLESAMPLE SYSTEM` sized for
//! about twice the rows wanted, at most [`ScanOptions::rows`] rows, each
//! value read as text (long text cut, large JSON left out) and counted as
//! it streams by: memory holds counts, not rows. Each table has a time
//! budget; a table that runs out is reported, not scanned.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_postgres::Client;

use super::hints;
use super::json;
use super::suggest;
use super::tally::{Shape, Tally};
use super::{Category, Finding};
use crate::catalog::{large_objects, ColumnInfo, TableData};
use crate::pg::error_message;
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};

/// How much of each table is read.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Rows sampled per table (so at most this many values per column).
    pub rows: u64,
    /// Time allowed per table.
    pub budget: Duration,
    /// Leave out the columns that already have a transformer (a dump only
    /// needs the others).
    pub skip_covered: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { rows: 10_000, budget: Duration::from_secs(10), skip_covered: false }
    }
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scanned {
    pub findings: Vec<Finding>,
    pub tables: usize,
    pub columns: usize,
    /// Tables not scanned (out of time), with why.
    pub unscanned: Vec<String>,
    pub elapsed: Duration,
}

/// Built-in types that hold no personal data worth sampling: booleans,
/// small numbers, floats, binary, uuids, times of day, intervals, money,
/// geometry, bit strings.
const NOT_SAMPLED: &[u32] = &[
    16, 17, 18, 21, 23, 26, 700, 701, 790, 1083, 1186, 1266, 2950, 600, 601, 602, 603, 604, 628, 718, 1560, 1562, 3614,
    3615, 3220, 5038,
];
const JSON_OIDS: &[u32] = &[114, 3802];
const DATE_OIDS: &[u32] = &[1082, 1114, 1184];

fn shape(column: &ColumnInfo) -> Option<Shape> {
    if NOT_SAMPLED.contains(&column.type_oid) || column.type_name.ends_with("[]") {
        None
    } else if JSON_OIDS.contains(&column.type_oid) {
        Some(Shape::Json)
    } else if DATE_OIDS.contains(&column.type_oid) {
        Some(Shape::Date)
    } else {
        Some(Shape::Text)
    }
}

/// Scans `tables` with `client`, which must be inside a transaction (the
/// dump's snapshot, or the scan's own). `covered` tells whether a column
/// already has a transformer.
///
/// # Errors
/// A failing query other than a table running out of time.
pub async fn scan(
    client: &Client,
    tables: &[TableData],
    covered: impl Fn(&TableData, &str) -> bool,
    options: ScanOptions,
) -> Result<Scanned, tokio_postgres::Error> {
    let started = Instant::now();
    let mut out = Scanned::default();
    for table in tables.iter().filter(|t| !large_objects::is_large_objects(&t.schema, &t.name)) {
        let columns: Vec<(&ColumnInfo, Shape)> = table
            .columns
            .iter()
            .filter(|c| !(options.skip_covered && covered(table, &c.name)))
            .filter_map(|c| shape(c).map(|s| (c, s)))
            .collect();
        if columns.is_empty() {
            continue;
        }
        out.tables += 1;
        out.columns += columns.len();
        match sample_table(client, table, &columns, options).await? {
            Some(tallies) => {
                for ((column, shape), tally) in columns.iter().zip(tallies) {
                    out.findings.extend(findings(table, column, *shape, tally, covered(table, &column.name)));
                }
            }
            None => out.unscanned.push(format!(
                "{}: not sampled within {} s",
                table.display_name(),
                options.budget.as_secs()
            )),
        }
    }
    out.elapsed = started.elapsed();
    Ok(out)
}

/// What one column's sample comes to.
enum Counts {
    Plain(Tally),
    Json(BTreeMap<String, Tally>),
}

/// Samples one table; `None` when it runs out of time.
async fn sample_table(
    client: &Client,
    table: &TableData,
    columns: &[(&ColumnInfo, Shape)],
    options: ScanOptions,
) -> Result<Option<Vec<Counts>>, tokio_postgres::Error> {
    let name = quote_qualified(&table.schema, &table.name);
    let estimate: f64 = client
        .query_one(
            "SELECT greatest(c.reltuples, 0)::float8 FROM pg_catalog.pg_class c WHERE c.oid = $1::text::pg_catalog.regclass",
            &[&name],
        )
        .await?
        .get(0);
    let wanted = options.rows as f64 * 2.0;
    let sample = if estimate > wanted {
        format!(" TABLESAMPLE SYSTEM ({:.6})", (100.0 * wanted / estimate).clamp(0.000_001, 100.0))
    } else {
        String::new()
    };
    let select: Vec<String> = columns
        .iter()
        .map(|(c, shape)| {
            let col = quote_ident(&c.name);
            match shape {
                Shape::Text => format!("pg_catalog.left({col}::text, 2048)"),
                Shape::Date => format!("{col}::text"),
                Shape::Json => format!("CASE WHEN pg_catalog.pg_column_size({col}) <= 65536 THEN {col}::text END"),
            }
        })
        .collect();
    let sql = format!("SELECT {} FROM ONLY {name}{sample} LIMIT {}", select.join(", "), options.rows);
    let budget = format!(
        "SAVEPOINT rb_scan; SET LOCAL statement_timeout = {}",
        quote_literal(&format!("{}ms", options.budget.as_millis()))
    );
    client.batch_execute(&budget).await?;
    let result = read(client, &sql, columns).await;
    // Rolling the savepoint back (a SELECT loses nothing) also undoes the
    // SET LOCAL: the rest of the transaction keeps the session's own
    // statement_timeout, whatever the role or the config set.
    let undo = client.batch_execute("ROLLBACK TO SAVEPOINT rb_scan; RELEASE SAVEPOINT rb_scan").await;
    match result {
        Ok(counts) => {
            undo?;
            Ok(Some(counts))
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {
            undo?;
            tracing::warn!(table = %table.display_name(), "not sampled in time: {}", error_message(&e));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

async fn read(
    client: &Client,
    sql: &str,
    columns: &[(&ColumnInfo, Shape)],
) -> Result<Vec<Counts>, tokio_postgres::Error> {
    let mut counts: Vec<Counts> = columns
        .iter()
        .map(
            |(_, shape)| {
                if *shape == Shape::Json {
                    Counts::Json(BTreeMap::new())
                } else {
                    Counts::Plain(Tally::default())
                }
            },
        )
        .collect();
    let rows = client.query_raw(sql, std::iter::empty::<&str>()).await?;
    futures::pin_mut!(rows);
    while let Some(row) = rows.next().await {
        let row = row?;
        for (i, count) in counts.iter_mut().enumerate() {
            let Some(value) = row.get::<_, Option<&str>>(i) else { continue };
            match count {
                Counts::Plain(tally) if columns[i].1 == Shape::Date => {
                    tally.count();
                    if let Some(date) = super::values::date_of(value) {
                        tally.date(date, value.len() <= 10 || value[10..].trim_start().starts_with("00:00:00"));
                    }
                }
                Counts::Plain(tally) => tally.text(value),
                Counts::Json(paths) => {
                    if let Ok(document) = serde_json::from_str(value) {
                        json::walk(&document, paths);
                    }
                }
            }
        }
    }
    Ok(counts)
}

/// The findings of one column.
fn findings(table: &TableData, column: &ColumnInfo, shape: Shape, counts: Counts, covered: bool) -> Vec<Finding> {
    let finding = |path: Option<String>, category: Category, confidence, evidence| Finding {
        schema: table.schema.clone(),
        table: table.name.clone(),
        column: column.name.clone(),
        transformer: suggest::transformer(category, column, path.as_deref()),
        path,
        category,
        confidence,
        evidence,
        transformed: covered,
    };
    match counts {
        Counts::Plain(tally) => tally
            .verdict(shape, hints::of(&column.name))
            .map(|(category, confidence, evidence)| vec![finding(None, category, confidence, evidence)])
            .unwrap_or_default(),
        Counts::Json(paths) => paths
            .iter()
            .filter_map(|(path, tally)| {
                let (category, confidence, evidence) = tally.verdict(Shape::Text, hints::of(json::last_key(path)))?;
                Some(finding(Some(path.clone()), category, confidence, evidence))
            })
            .collect(),
    }
}
