//! The index: a summary of every complete dump, so listing does not read
//! every manifest. It can always be rebuilt from the manifests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{DumpId, Manifest, FORMAT_VERSION};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Index {
    pub format_version: u32,
    /// Newest first.
    pub dumps: Vec<DumpSummary>,
}

/// What `dump list` shows of one dump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DumpSummary {
    pub id: DumpId,
    pub created_at: DateTime<Utc>,
    /// `complete` for a restorable dump; `incomplete` for the leftovers of
    /// one that failed or is still running.
    pub status: String,
    pub size_bytes: u64,
    pub tables: u64,
    pub rows: u64,
    pub databases: Vec<String>,
    /// `full`, or `incremental` (the changes since `parent`).
    #[serde(default = "full")]
    pub kind: String,
    /// The dump an incremental dump applies to (null for a full one).
    #[serde(default)]
    pub parent: Option<DumpId>,
}

fn full() -> String {
    super::DumpKind::Full.label().to_string()
}

pub const COMPLETE: &str = "complete";
pub const INCOMPLETE: &str = "incomplete";

impl DumpSummary {
    pub fn of(manifest: &Manifest) -> Self {
        DumpSummary {
            id: manifest.id.clone(),
            created_at: manifest.created_at,
            status: COMPLETE.to_string(),
            size_bytes: manifest.totals.stored_bytes,
            tables: manifest.totals.tables,
            rows: manifest.totals.rows,
            databases: manifest.databases.iter().map(|d| d.name.clone()).collect(),
            kind: manifest.kind.label().to_string(),
            parent: manifest.parent.clone(),
        }
    }

    /// A dump folder without a manifest.
    pub fn incomplete(id: DumpId) -> Self {
        DumpSummary {
            created_at: id.started_at().unwrap_or_default(),
            id,
            status: INCOMPLETE.to_string(),
            size_bytes: 0,
            tables: 0,
            rows: 0,
            databases: Vec::new(),
            kind: full(),
            parent: None,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.status == COMPLETE
    }
}

impl Index {
    pub fn new(mut dumps: Vec<DumpSummary>) -> Self {
        dumps.sort_by(|a, b| b.id.cmp(&a.id));
        Index { format_version: FORMAT_VERSION, dumps }
    }

    /// Adds or replaces a dump's entry.
    pub fn upsert(&mut self, summary: DumpSummary) {
        self.dumps.retain(|d| d.id != summary.id);
        self.dumps.push(summary);
        self.dumps.sort_by(|a, b| b.id.cmp(&a.id));
    }

    pub fn remove(&mut self, id: &DumpId) {
        self.dumps.retain(|d| &d.id != id);
    }
}
