//! COPY: the binary (or text) row stream between PostgreSQL and a dump.
//!
//! [`binary`] is the pure codec, [`rows`] cuts a COPY OUT stream into rows,
//! [`statement`] builds the `COPY` commands both sides run.

pub mod binary;
pub mod rows;
pub mod statement;

use serde::{Deserialize, Serialize};

/// How a table's rows are encoded in its segments.
///
/// Binary is the rule; text is the fallback for tables with a column whose
/// type has no binary send/receive functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyFormat {
    Binary,
    Text,
}

impl CopyFormat {
    /// The `FORMAT` option of a COPY command.
    pub fn sql(self) -> &'static str {
        match self {
            CopyFormat::Binary => "binary",
            CopyFormat::Text => "text",
        }
    }
}
