//! The command line: arguments (clap), logging, and the commands.

mod check;
mod dumps;
mod logging;
mod scan;
mod transformers;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

pub use logging::init_logging;

use crate::bridge::{self, Bridge};
use crate::config::Config;
use crate::format::retention::RetentionPolicy;
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
        /// For an incremental dump: restore its whole chain into a fresh
        /// database even when the destination holds an earlier dump of it.
        #[arg(long)]
        full: bool,
    },
    /// Run as an agent: dump on `source.cron`, restore on
    /// `destination.cron`, answer on the control port (the default command).
    Agent,
    /// Check the config against the live source (tables, columns,
    /// transformers and their options) without copying anything.
    Check,
    /// Find the columns that hold personal data (emails, phones, names, …)
    /// from a sample of their values; never prints a value.
    Scan {
        /// A JSON array of findings instead of a table.
        #[arg(long, conflicts_with = "suggest")]
        json: bool,
        /// A `transformers:` block for the columns found, to paste under
        /// `source:`.
        #[arg(long)]
        suggest: bool,
    },
    /// The built-in column transformers.
    Transformer {
        #[command(subcommand)]
        action: TransformerAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum TransformerAction {
    /// Every built-in transformer, its options and the column types it
    /// accepts.
    List,
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
    /// Read a whole dump back and check it against its manifest (every
    /// object decrypted and decompressed, every checksum and row count, the
    /// schema files); changes nothing. Lists every problem on stdout.
    Verify {
        #[arg(value_parser = parse_dump_id)]
        id: crate::format::DumpId,
        /// Segments read in parallel (default: the number of CPU cores).
        #[arg(short, long)]
        jobs: Option<usize>,
    },
    /// Drop the replication slot (and publication) of incremental dumps on
    /// the source, e.g. once `source.incremental` is turned off: an idle
    /// slot keeps the source's WAL forever.
    DropSlot,
    /// Delete old dumps (and leftovers of failed ones). A dump is kept when
    /// any rule keeps it; the newest complete dump is always kept, and so
    /// is every dump a kept incremental dump applies to.
    Prune {
        /// Keep this many newest complete dumps.
        #[arg(long)]
        keep_last: Option<usize>,
        /// Keep complete dumps younger than this many days.
        #[arg(long)]
        keep_days: Option<u32>,
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
    if let Some(Command::Transformer { action: TransformerAction::List }) = cli.command {
        transformers::list();
        return Ok(());
    }
    let config_path = cli.config.clone().context("no configuration file given (use -c FILE)")?;
    let config = Config::load(&config_path)?;
    match cli.command {
        None | Some(Command::Agent) => {
            let retry = crate::agent::runner::RetryPolicy::from_config(config.retry.as_ref());
            crate::agent::run(config, retry, shutdown_on_signal()).await
        }
        Some(Command::Dump { action: None, jobs }) => dumps::dump(&config, jobs).await,
        Some(Command::Check) => check::check(&config).await,
        Some(Command::Scan { json, suggest }) => scan::scan(&config, json, suggest).await,
        Some(Command::Transformer { .. }) => unreachable!("handled before the config is read"),
        Some(Command::Dump { action: Some(DumpAction::List { json }), .. }) => dumps::list(&config, json).await,
        Some(Command::Dump { action: Some(DumpAction::Delete { id }), .. }) => dumps::delete(&config, &id).await,
        Some(Command::Dump { action: Some(DumpAction::Verify { id, jobs }), .. }) => {
            verify::verify(&config, &id, jobs).await
        }
        Some(Command::Dump { action: Some(DumpAction::DropSlot), .. }) => dumps::drop_slot(&config).await,
        Some(Command::Dump { action: Some(DumpAction::Prune { keep_last, keep_days }), .. }) => {
            dumps::prune(&config, &RetentionPolicy { keep_last, keep_days }).await
        }
        Some(Command::Restore { dump, jobs, full }) => {
            let destination = config.destination()?;
            let bridge = open_bridge(&config).await?;
            let options = RestoreOptions { full, ..RestoreOptions::from_config(destination, jobs) };
            let progress = Progress::new("restored");
            let cancel = shutdown_on_signal();
            let manifest =
                restore::run(&destination.connection_uri, bridge, &dump, &options, &progress, &cancel).await?;
            println!("{}", manifest.id);
            Ok(())
        }
    }
}

async fn open_bridge(config: &Config) -> Result<Arc<dyn Bridge>> {
    Ok(Arc::from(bridge::open(&config.bridge).await?))
}

/// A token cancelled at the first SIGINT (Ctrl-C) or SIGTERM, so the work
/// in progress can stop cleanly: no half dump listed, no half restore
/// swapped in.
fn shutdown_on_signal() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    cancel.cancel();
                    return;
                }
            };
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
        tracing::info!("signal received: stopping cleanly");
        cancel.cancel();
    });
    token
}
