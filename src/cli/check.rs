//! `check`: the config against the live source, before any data moves.
//!
//! Connects, reads the catalog (in a read-only snapshot, as a dump does)
//! and checks every transformer as `dump` would at its start. The problems
//! are the command's report: one per line on stdout, `file:line: what and
//! how to fix it`; stderr gets the usual single error line.

use anyhow::{bail, Result};

use crate::catalog;
use crate::config::Config;
use crate::pg;
use crate::transform::{Rules, RulesError};

pub async fn check(config: &Config) -> Result<()> {
    let source = config.source()?;
    let rules = Rules::new(source, &config.path);
    let client = pg::connect(&source.connection_uri, "replibyte check").await?;
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
    let (schema, _) = catalog::read(&client).await?;
    match rules.plan(&client, &schema.tables).await {
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
