//! `check`: the config against the live source, before any data moves.
//!
//! Connects to each database of the dump, reads the catalog (in a read-only
//! snapshot, as a dump does), applies the scope, prints every table to be
//! dumped with its estimated rows and size, and checks every transformer as
//! `dump` would at its start. Transformer problems are the command's report:
//! one per line on stdout, `file:line: what and how to fix it`; stderr gets
//! the usual single error line.

use anyhow::{bail, Result};
use indicatif::HumanBytes;

use crate::catalog::{self, DatabaseSchema};
use crate::changes::slot;
use crate::config::Config;
use crate::dump::{self, DumpOptions};
use crate::pg::{self, ident::quote_literal, ident::quote_qualified};
use crate::transform::RulesError;

pub async fn check(config: &Config) -> Result<()> {
    let source = config.source()?;
    let options = DumpOptions::from_config(source, &config.path, None).map_err(anyhow::Error::msg)?;
    for name in dump::database_names(&source.connection_uri, &options.databases).await? {
        let uri =
            name.as_ref().map_or_else(|| source.connection_uri.clone(), |n| source.connection_uri.with_database(n));
        let client = pg::connect(&uri, "replibyte check").await?;
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        let (mut schema, _) = catalog::read(&client).await?;
        options.scope.apply(&mut schema).map_err(|e| anyhow::anyhow!("{}: source.{e}", config.path.display()))?;
        print_estimates(&client, &schema, !options.subset.is_empty()).await?;
        if options.incremental.enabled {
            check_incremental(&options, &client, &schema).await?;
        }
        check_transformers(config, &options, &client, &schema).await?;
    }
    Ok(())
}

/// The slot of an incremental chain, the WAL it holds back, and what the
/// source lacks before a first base.
async fn check_incremental(
    options: &DumpOptions,
    client: &tokio_postgres::Client,
    schema: &DatabaseSchema,
) -> Result<()> {
    let name = options.incremental.slot.clone().unwrap_or_else(|| slot::default_name(&schema.database.name));
    let version = catalog::ServerVersion::of(client).await?;
    match slot::state(client, &name).await? {
        Some(state) => println!(
            "  incremental: slot {name} at {}, holding back {} of WAL (limit {})",
            state.confirmed_flush.map(|l| l.to_string()).unwrap_or_default(),
            HumanBytes(state.retained_bytes.max(0) as u64),
            HumanBytes(options.max_retained_wal)
        ),
        None => println!("  incremental: no slot {name} yet (the next dump is a base and creates it)"),
    }
    let missing = slot::missing(client, version, &schema.tables).await?;
    for line in &missing {
        println!("  incremental: {line}");
    }
    if !missing.is_empty() {
        bail!("the source is not ready for incremental dumps: {} problem(s), listed on stdout", missing.len());
    }
    Ok(())
}

/// Every table to dump, with the planner's row estimate and its size.
async fn print_estimates(client: &tokio_postgres::Client, schema: &DatabaseSchema, subset: bool) -> Result<()> {
    println!("database {}", schema.database.name);
    println!("  {:<48} {:>14} {:>12}", "TABLE", "EST. ROWS", "SIZE");
    let (mut rows, mut bytes) = (0i64, 0i64);
    for table in &schema.tables {
        let name = quote_qualified(&table.schema, &table.name);
        let sql = format!(
            "SELECT greatest(reltuples, 0)::int8 FROM pg_catalog.pg_class WHERE oid = {}::pg_catalog.regclass",
            quote_literal(&name)
        );
        let estimate: i64 = client.query_one(sql.as_str(), &[]).await?.get(0);
        println!(
            "  {:<48} {:>14} {:>12}",
            table.display_name(),
            estimate,
            HumanBytes(table.estimated_bytes.max(0) as u64).to_string()
        );
        rows += estimate;
        bytes += table.estimated_bytes.max(0);
    }
    println!("  {} tables, about {rows} rows, {}", schema.tables.len(), HumanBytes(bytes.max(0) as u64));
    if subset {
        println!("  (a subset is chosen when the dump runs: these are the tables' full sizes)");
    }
    Ok(())
}

async fn check_transformers(
    config: &Config,
    options: &DumpOptions,
    client: &tokio_postgres::Client,
    schema: &DatabaseSchema,
) -> Result<()> {
    let rules = &options.rules;
    match rules.plan(client, &schema.tables).await {
        Ok(plans) => {
            println!(
                "{}: OK ({} tables to dump; {} transformed columns in {} tables)",
                config.path.display(),
                schema.tables.len(),
                rules.columns(),
                plans.len()
            );
            Ok(())
        }
        Err(error @ RulesError::Invalid { .. }) => {
            let lines = error.lines();
            for line in &lines {
                println!("{line}");
            }
            bail!("{} has {} transformer problem(s), listed on stdout", config.path.display(), lines.len())
        }
        Err(error) => Err(error.into()),
    }
}
