//! `dump`, `dump list`, `dump delete`.

use anyhow::Result;
use indicatif::HumanBytes;

use super::{open_bridge, shutdown_on_signal};
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
    println!("{:<24} {:<20} {:<11} {:>10} {:>7} {:>12}", "ID", "CREATED (UTC)", "STATUS", "SIZE", "TABLES", "ROWS");
    for d in &dumps {
        println!(
            "{:<24} {:<20} {:<11} {:>10} {:>7} {:>12}",
            d.id,
            d.created_at.format("%Y-%m-%d %H:%M:%S"),
            d.status,
            HumanBytes(d.size_bytes).to_string(),
            d.tables,
            d.rows
        );
    }
    Ok(())
}

pub async fn delete(config: &Config, id: &DumpId) -> Result<()> {
    let bridge = open_bridge(config).await?;
    store::delete(bridge.as_ref(), id).await?;
    println!("deleted {id}");
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
