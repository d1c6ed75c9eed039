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
}
