//! Rough durations of a restore's tasks: enough to start the longest chains
//! of work first, so that the last minutes are not one index build or one
//! foreign-key scan running alone while the other workers idle.
//!
//! Nanoseconds per row, measured on PostgreSQL 15 with `scripts/bench.sh`
//! (index builds 0.2–0.75 µs/row; a foreign key's scan 0.7 µs per
//! referencing row, the referenced table's scan included). Only their
//! ratios matter.

use crate::catalog::ObjectKind;

const INDEX_PER_ROW: u64 = 300;
const VALIDATION_PER_ROW: u64 = 700;
/// A foreign key added and checked in one statement names both tables.
const FOREIGN_KEY_PER_ROW: u64 = 400;

/// Running an object of `kind` on tables holding `rows` rows. Objects that
/// neither index nor check rows are a catalog change: nothing.
pub fn object(kind: ObjectKind, rows: u64) -> u64 {
    let per_row = match kind {
        ObjectKind::Index | ObjectKind::Constraint => INDEX_PER_ROW,
        ObjectKind::Validation => VALIDATION_PER_ROW,
        ObjectKind::ForeignKey => FOREIGN_KEY_PER_ROW,
        _ => 0,
    };
    rows.saturating_mul(per_row)
}
