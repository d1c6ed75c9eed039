//! `dump`, `dump list`, `dump delete`.

use anyhow::Result;
use indicatif::HumanBytes;

use super::{open_bridge, shutdown_on_signal};
use crate::changes::slot;
use crate::config::Config;
use crate::dump::{self, DumpOptions};
use crate::format::retention::{self, RetentionPolicy};
use crate::format::{store, DumpId};
use crate::progress::Progress;

pub async fn dump(config: &Config, jobs: Option<usize>) -> Result<()> {
    let source = config.source()?;
    let bridge = open_bridge(config).await?;
    let options = DumpOptions::from_config(source, &config.path, jobs).map_err(anyhow::Error::msg)?;
    let cancel = shutdown_on_signal();
    let manifest = dump::run(&source.connection_uri, bridge, &options, &Progress::new("dumped"), &cancel).await?;
    println!("{}", manifest.id);
    Ok(())
}

pub async fn list(config: &Config, json: bool) -> Result<()> {
    let bridge = open_bridge(config).await?;
    let dumps = store::list(bridge.as_ref()).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&dumps)?);
        return Ok(());
    }
    // Ids are 25 characters: the column is as wide as the widest.
    let width = dumps.iter().map(|d| d.id.as_str().len()).max().unwrap_or(0).max(2);
    println!(
        "{:<width$} {:<20} {:<11} {:<12} {:>10} {:>7} {:>12}",
        "ID", "CREATED (UTC)", "STATUS", "KIND", "SIZE", "TABLES", "ROWS"
    );
    for d in &dumps {
        println!(
            "{:<width$} {:<20} {:<11} {:<12} {:>10} {:>7} {:>12}",
            d.id.as_str(),
            d.created_at.format("%Y-%m-%d %H:%M:%S"),
            d.status,
            d.kind,
            HumanBytes(d.size_bytes).to_string(),
            d.tables,
            d.rows
        );
    }
    Ok(())
}

pub async fn delete(config: &Config, id: &DumpId) -> Result<()> {
    let bridge = open_bridge(config).await?;
    let dumps = store::list(bridge.as_ref()).await?;
    let dependents = retention::dependents(&dumps, id);
    if let Some(child) = dependents.first() {
        anyhow::bail!(
            "dump {id} cannot be deleted: incremental dump {child} applies to it; delete the dumps after it first (newest first)"
        );
    }
    store::delete(bridge.as_ref(), id).await?;
    println!("deleted {id}");
    Ok(())
}

pub async fn drop_slot(config: &Config) -> Result<()> {
    let source = config.source()?;
    let client = crate::pg::connect(&source.connection_uri, "replibyte").await?;
    let database: String = client.query_one("SELECT pg_catalog.current_database()::text", &[]).await?.get(0);
    let name = source.incremental.slot.clone().unwrap_or_else(|| slot::default_name(&database));
    let existed = slot::state(&client, &name).await?.is_some();
    slot::drop(&client, &name).await?;
    if existed {
        println!("dropped replication slot and publication {name}");
    } else {
        println!("no replication slot {name} on the source (its publication, if any, is dropped)");
    }
    Ok(())
}

pub async fn prune(config: &Config, policy: &RetentionPolicy) -> Result<()> {
    if policy.keep_last.is_none() && policy.keep_days.is_none() {
        anyhow::bail!("dump prune needs --keep-last N and/or --keep-days D");
    }
    let bridge = open_bridge(config).await?;
    let deleted = retention::prune(bridge.as_ref(), policy, chrono::Utc::now()).await?;
    for id in &deleted {
        println!("deleted {id}");
    }
    Ok(())
}
