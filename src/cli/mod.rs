//! The command line: arguments (clap), logging, and the commands.

mod dumps;
mod logging;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

pub use logging::init_logging;

use crate::bridge::{self, Bridge};
use crate::config::Config;
use crate::format::store::DumpRef;
use crate::progress::Progress;
use crate::restore::{self, RestoreOptions};

/// Copy a PostgreSQL database through object storage, obfuscating
/// sensitive columns on the way.
#[derive(Debug, Parser)]
#[command(name = "replibyte", version, about)]
pub struct Cli {
    /// The configuration file (YAML).
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Dump the source into the bridge now (prints the dump id), or manage
    /// the dumps in the bridge.
    Dump {
        #[command(subcommand)]
        action: Option<DumpAction>,
        /// Parallel connections (default: the number of CPU cores).
        #[arg(short, long)]
        jobs: Option<usize>,
    },
    /// Restore a dump (an id, or `latest`) into the destination.
    Restore {
        /// The dump to restore.
        #[arg(default_value = "latest", value_parser = parse_dump_ref)]
        dump: DumpRef,
        /// Parallel connections (default: the number of CPU cores).
        #[arg(short, long)]
        jobs: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DumpAction {
    /// List the dumps in the bridge, newest first.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a dump from the bridge.
    Delete {
        #[arg(value_parser = parse_dump_id)]
        id: crate::format::DumpId,
    },
}

fn parse_dump_ref(s: &str) -> Result<DumpRef, String> {
    s.parse()
}

fn parse_dump_id(s: &str) -> Result<crate::format::DumpId, String> {
    s.parse()
}

/// Runs the command the arguments name.
///
/// # Errors
/// Whatever stops the command, as one chain of causes.
pub async fn run(cli: Cli) -> Result<()> {
    let config_path = cli.config.clone().context("no configuration file given (use -c FILE)")?;
    let config = Config::load(&config_path)?;
    match cli.command {
        None => anyhow::bail!("the agent is not available yet; use `dump` or `restore`"),
        Some(Command::Dump { action: None, jobs }) => dumps::dump(&config, jobs).await,
        Some(Command::Dump { action: Some(DumpAction::List { json }), .. }) => dumps::list(&config, json).await,
        Some(Command::Dump { action: Some(DumpAction::Delete { id }), .. }) => dumps::delete(&config, &id).await,
        Some(Command::Restore { dump, jobs }) => {
            let destination = config.destination()?;
            let bridge = open_bridge(&config).await?;
            let options = RestoreOptions { jobs: jobs_or_default(jobs) };
            let manifest =
                restore::run(&destination.connection_uri, bridge, &dump, &options, &Progress::new("restored")).await?;
            println!("{}", manifest.id);
            Ok(())
        }
    }
}

async fn open_bridge(config: &Config) -> Result<Arc<dyn Bridge>> {
    Ok(Arc::from(bridge::open(&config.bridge).await?))
}

/// `--jobs`, or the number of CPU cores.
fn jobs_or_default(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).max(1)
}
