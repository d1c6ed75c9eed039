//! `dump verify ID`: every problem of a dump on stdout, one per line
//! (`object: what is wrong`); stderr gets the usual single error line when
//! there is any.

use anyhow::{bail, Result};
use indicatif::HumanBytes;

use super::open_bridge;
use crate::config::Config;
use crate::format::{verify, DumpId};
use crate::progress::Progress;

pub async fn verify(config: &Config, id: &DumpId, jobs: Option<usize>) -> Result<()> {
    let bridge = open_bridge(config).await?;
    let report = verify::verify(bridge, id, crate::jobs_or_default(jobs), &Progress::new("verified")).await?;
    for problem in &report.problems {
        println!("{problem}");
    }
    if !report.problems.is_empty() {
        bail!("dump {id} has {} problem(s), listed on stdout", report.problems.len());
    }
    println!(
        "{id}: OK ({} segments, {} rows, {} uncompressed; checksums, row counts and schemas match the manifest)",
        report.segments,
        report.rows,
        HumanBytes(report.raw_bytes)
    );
    Ok(())
}
