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
    /// Which databases to dump: absent for the URI's, a list, or `all`.
    #[serde(default)]
    pub databases: Databases,
    /// Also dump roles and their memberships (never passwords).
    #[serde(default)]
    pub globals: bool,
    /// Only these tables (`schema.table` globs) and what they need.
    #[serde(default)]
    pub only_tables: Vec<String>,
    /// Everything but these tables (and what depends on them).
    #[serde(default)]
    pub skip_tables: Vec<String>,
    /// These tables' structure without their rows.
    #[serde(default)]
    pub skip_data: Vec<String>,
    /// Only these rows, and every row they need for their foreign keys.
    #[serde(default)]
    pub subset: Vec<super::SubsetTable>,
    /// Tables no subset reaches: `whole` (default) or `empty`.
    #[serde(default)]
    pub subset_unreached: super::Unreached,
    /// Dumps after the first carry only the changes since the previous one.
    #[serde(default)]
    pub incremental: super::Incremental,
    /// WAL a replication slot may hold back before a run drops it and takes
    /// a new base (default 10GB).
    pub max_retained_wal: Option<String>,
    /// What a dump does with a column that looks sensitive and has no
    /// transformer: `fail`, `warn` (default) or `ignore`.
    #[serde(default)]
    pub unmasked_pii: UnmaskedPii,
}

/// `source.unmasked_pii`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnmaskedPii {
    /// Stop the dump before anything is stored.
    Fail,
    /// Log each such column and go on.
    #[default]
    Warn,
    /// Do not scan.
    Ignore,
}

/// `source.databases`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Databases {
    /// The database the connection URI names.
    #[default]
    FromUri,
    /// Every connectable, non-template database of the server.
    All,
    /// These, by name.
    Named(Vec<String>),
}

impl<'de> Deserialize<'de> for Databases {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        match Raw::deserialize(d)? {
            Raw::Word(word) if word == "all" => Ok(Databases::All),
            Raw::Word(name) => Ok(Databases::Named(vec![name])),
            Raw::List(names) if names.is_empty() => {
                Err(serde::de::Error::custom("databases: an empty list; leave it out to dump the URI's database"))
            }
            Raw::List(names) => Ok(Databases::Named(names)),
        }
    }
}
