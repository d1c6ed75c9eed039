//! The manifest: everything a restore needs to know about a dump, written
//! last so that a dump without one does not exist.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DumpId, FORMAT_NAME, FORMAT_VERSION, INCREMENTAL_FORMAT_VERSION};
use crate::catalog::ColumnInfo;
use crate::changes::Lsn;
use crate::copy::CopyFormat;
use crate::segment::Checksum;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// The dump format version; a reader refuses versions it does not know.
    pub format_version: u32,
    pub id: DumpId,
    pub created_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The replibyte version that wrote the dump.
    pub replibyte_version: String,
    /// `server_version` of the source, e.g. `15.18`.
    pub source_server_version: String,
    /// Fingerprint of the transformer config (never the secret), or `None`
    /// when nothing was transformed.
    pub transformers_fingerprint: Option<String>,
    /// Key of the roles and memberships, when `source.globals` was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globals_key: Option<String>,
    pub databases: Vec<DatabaseEntry>,
    pub totals: Totals,
    /// A whole database, or the changes since `parent`.
    #[serde(default)]
    pub kind: DumpKind,
    /// The dump an incremental dump applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<DumpId>,
    /// Where the chain stands in the source's WAL, for the dumps of an
    /// incremental chain (its base included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Replication>,
}

/// What a dump holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpKind {
    /// Every table's rows: restorable on its own.
    #[default]
    Full,
    /// The changes committed since its parent.
    Incremental,
}

impl DumpKind {
    pub fn label(self) -> &'static str {
        match self {
            DumpKind::Full => "full",
            DumpKind::Incremental => "incremental",
        }
    }
}

/// A dump's place in the source's WAL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replication {
    /// The replication slot (and publication) the chain reads.
    pub slot: String,
    /// Changes committed from here (the slot's position at the parent)…
    pub start_lsn: Lsn,
    /// …up to here, where the slot stands once the dump is stored.
    pub end_lsn: Lsn,
    /// A base's snapshot (`pg_current_snapshot()`): the first delta leaves
    /// out the transactions it saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_snapshot: Option<String>,
    /// The base's id (a base names itself).
    pub base: DumpId,
    /// Dumps after the base, this one included (0 for the base).
    pub chain_length: usize,
    /// Of the dumped schema (objects and table columns): a run whose
    /// schema differs takes a new base.
    pub schema_fingerprint: String,
}

/// One dumped database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseEntry {
    pub name: String,
    /// Key of its schema model.
    pub schema_key: String,
    pub tables: Vec<TableEntry>,
    /// An incremental dump's changes (its `tables` list no rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeSet>,
}

/// The changes of an incremental dump, in commit order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeSet {
    /// The tables changes refer to (by position).
    pub tables: Vec<ChangeTable>,
    /// How many changes.
    pub count: u64,
    /// Segments of change records, to apply in this order.
    pub segments: Vec<SegmentEntry>,
    /// Every sequence's value at the end.
    pub sequences: Vec<SequenceValue>,
}

/// A table as the changes see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeTable {
    pub schema: String,
    pub name: String,
    /// Every column a change row carries, in order.
    pub columns: Vec<String>,
    /// The replica identity: the columns a change finds its row by (every
    /// column under replica identity full).
    pub key: Vec<String>,
    /// Replica identity full: rows are found by all their values.
    #[serde(default)]
    pub full_identity: bool,
}

/// A sequence's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceValue {
    /// Qualified and quoted.
    pub name: String,
    pub last_value: i64,
    pub is_called: bool,
}

/// One table's rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    /// `binary`, or `text` for a table with a column type lacking binary I/O.
    pub format: CopyFormat,
    pub rows: u64,
    pub segments: Vec<SegmentEntry>,
}

/// One segment: a self-contained, zstd-compressed COPY file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub key: String,
    pub rows: u64,
    /// Uncompressed size: the COPY bytes.
    pub raw_bytes: u64,
    /// Size in the bridge.
    pub stored_bytes: u64,
    /// Checksum of the uncompressed bytes.
    pub checksum: Checksum,
}

/// Sums over the whole dump.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Totals {
    pub tables: u64,
    pub rows: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

impl Manifest {
    /// Computes the totals from the databases.
    /// Computes the totals from the databases (an incremental dump counts
    /// its changes as rows).
    pub fn compute_totals(databases: &[DatabaseEntry], schema_bytes: u64) -> Totals {
        let mut totals = Totals { stored_bytes: schema_bytes, ..Totals::default() };
        for table in databases.iter().flat_map(|d| &d.tables) {
            totals.tables += 1;
            totals.rows += table.rows;
            for segment in &table.segments {
                totals.raw_bytes += segment.raw_bytes;
                totals.stored_bytes += segment.stored_bytes;
            }
        }
        for changes in databases.iter().filter_map(|d| d.changes.as_ref()) {
            totals.rows += changes.count;
            for segment in &changes.segments {
                totals.raw_bytes += segment.raw_bytes;
                totals.stored_bytes += segment.stored_bytes;
            }
        }
        totals
    }

    /// Reads a manifest, refusing what this build does not understand.
    ///
    /// # Errors
    /// Malformed JSON, another format, or an unknown version.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, String> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
            format_version: u32,
        }
        let header: Header = serde_json::from_slice(bytes).map_err(|e| format!("not a replibyte manifest: {e}"))?;
        if header.format != FORMAT_NAME {
            return Err(format!("not a replibyte manifest (format {:?})", header.format));
        }
        if !(FORMAT_VERSION..=INCREMENTAL_FORMAT_VERSION).contains(&header.format_version) {
            return Err(format!(
                "dump format version {} is not supported by this replibyte (it reads versions {FORMAT_VERSION} to {INCREMENTAL_FORMAT_VERSION}); use a matching replibyte release",
                header.format_version
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("malformed manifest: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_versions_and_formats_are_refused() {
        let future = br#"{"format": "replibyte-dump", "format_version": 99}"#;
        assert!(Manifest::from_json(future).unwrap_err().contains("version 99 is not supported"));
        let other = br#"{"format": "something", "format_version": 1}"#;
        assert!(Manifest::from_json(other).unwrap_err().contains("not a replibyte manifest"));
        assert!(Manifest::from_json(b"{").is_err());
    }
}
