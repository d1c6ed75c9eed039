//! Replibyte copies a PostgreSQL database from a source to a destination
//! through object storage, replacing sensitive columns on the way.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! source ─► catalog ─► copy (COPY OUT, binary) ─► transform ─► segment (+zstd) ─► bridge
//! source ─► changes (logical slot, pgoutput) ─► transform ─► segment (+zstd) ─► bridge
//! bridge ─► restore (unzstd, COPY IN; changes applied in place) ─► destination
//! ```
//!
//! [`dump`] and [`restore`] drive the stages; [`format`] is the layout of a
//! dump in the bridge; [`config`] reads the YAML file; [`cli`] is the
//! command line.

pub mod agent;
pub mod bridge;
pub mod catalog;
pub mod changes;
pub mod cli;
pub mod config;
pub mod copy;
pub mod dump;
pub mod format;
pub mod pg;
pub mod progress;
pub mod restore;
pub mod segment;
pub mod transform;

/// `--jobs` (or its config key), or the number of CPU cores.
pub fn jobs_or_default(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).max(1)
}
