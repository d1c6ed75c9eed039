//! What passed the checks of its columns: the tables with transformed
//! columns, whose constraints are then tested on a sample and which become
//! the plans.

use super::facts::ColumnFacts;
use crate::catalog::TableData;
use crate::transform::plan::Step;

/// A table with transformed columns, as checked.
pub struct PlannedTable<'a> {
    pub table: &'a TableData,
    /// Index of its entry in `source.transformers`.
    pub entry: usize,
    pub columns: Vec<PlannedColumn>,
}

/// A transformed column, as checked.
pub struct PlannedColumn {
    /// Index of its entry in the table entry's `columns`.
    pub entry: usize,
    pub facts: ColumnFacts,
    pub step: Step,
}
