//! `source:` — the database dumps are taken from.

use serde::Deserialize;

use super::{ConnectionUri, Secret, TableTransformers};

/// The database dumps are taken from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub connection_uri: ConnectionUri,
    /// Column transformers, per table.
    #[serde(default)]
    pub transformers: Vec<TableTransformers>,
    /// Key that makes transformers deterministic.
    pub secret: Option<Secret>,
    /// Uncompressed bytes per segment, in MiB.
    pub segment_size_mib: Option<u64>,
    /// zstd compression level.
    pub compression_level: Option<i32>,
    /// Parallel connections (default: the number of CPU cores).
    pub jobs: Option<usize>,
    /// Tables larger than this (MiB, default 256) are read in page ranges
    /// by several connections at once.
    pub split_table_mib: Option<u64>,
    /// Agent mode: when to dump (5-field cron).
    pub cron: Option<String>,
    /// Which dumps to keep; applied after each successful dump of the agent.
    pub retention: Option<crate::format::retention::RetentionPolicy>,
}
