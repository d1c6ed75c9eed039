//! `dump`, `dump list`, `dump delete`.

use anyhow::Result;
use indicatif::HumanBytes;

use super::{jobs_or_default, open_bridge};
use crate::config::Config;
use crate::dump::{self, DumpOptions};
use crate::format::{store, DumpId};
use crate::progress::Progress;
use crate::segment::SegmentOptions;

pub async fn dump(config: &Config, jobs: Option<usize>) -> Result<()> {
    let source = config.source()?;
    let bridge = open_bridge(config).await?;
    let mut segment = SegmentOptions::default();
    if let Some(mib) = source.segment_size_mib {
        segment.max_raw_bytes = mib.max(1) * 1024 * 1024;
    }
    if let Some(level) = source.compression_level {
        segment.zstd_level = level;
    }
    let options = DumpOptions { jobs: jobs_or_default(jobs), segment };
    let manifest = dump::run(&source.connection_uri, bridge, &options, &Progress::new("dumped")).await?;
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
