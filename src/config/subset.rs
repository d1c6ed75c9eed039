//! `source.subset:` — a consistent part of the rows.

use serde::Deserialize;

/// One table whose rows are chosen.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubsetTable {
    /// `schema.table`; a partitioned table stands for its partitions.
    pub table: String,
    /// A condition on the table's rows (SQL, as after `WHERE`).
    #[serde(rename = "where")]
    pub condition: Option<String>,
    /// About this percentage of the rows (a sample, 0–100).
    pub percent: Option<f64>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// Also take the rows that reference the chosen ones (and theirs, down
    /// the foreign keys).
    #[serde(default)]
    pub follow_children: bool,
}

/// What happens to tables no subset reaches.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unreached {
    /// Copied whole (the default).
    #[default]
    Whole,
    /// Left empty, but for the rows the chosen rows need.
    Empty,
}

impl SubsetTable {
    /// Checks that exactly one way of choosing rows is given.
    ///
    /// # Errors
    /// Zero or several of `where`, `percent`, `limit`, or a percent out of
    /// range.
    pub fn validate(&self) -> Result<(), String> {
        let given =
            [self.condition.is_some(), self.percent.is_some(), self.limit.is_some()].iter().filter(|g| **g).count();
        if given != 1 {
            return Err(format!("subset of {}: give exactly one of where, percent, limit", self.table));
        }
        if let Some(p) = self.percent {
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("subset of {}: percent {p} is not between 0 and 100", self.table));
            }
        }
        Ok(())
    }
}
