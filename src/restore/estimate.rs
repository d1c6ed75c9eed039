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

/// An object to run, as far as its duration goes.
pub struct Work {
    pub kind: ObjectKind,
    /// Rows of the tables it reads.
    pub rows: u64,
    /// A key whose index is built beforehand, on its own, and adopted.
    pub adopts_index: bool,
    /// A foreign key added `NOT VALID`, whose rows a later validation
    /// checks.
    pub validated_later: bool,
}

/// Running `work`. Objects that neither index nor check rows are a catalog
/// change: nothing; so are a key that adopts an index built on its own, and
/// a foreign key whose scan is its validation's.
pub fn object(work: &Work) -> u64 {
    let per_row = match work.kind {
        ObjectKind::Constraint if work.adopts_index => 0,
        ObjectKind::ForeignKey if work.validated_later => 0,
        ObjectKind::Index | ObjectKind::Constraint => INDEX_PER_ROW,
        ObjectKind::Validation => VALIDATION_PER_ROW,
        ObjectKind::ForeignKey => FOREIGN_KEY_PER_ROW,
        _ => 0,
    };
    work.rows.saturating_mul(per_row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(kind: ObjectKind, adopts_index: bool, validated_later: bool) -> Work {
        Work { kind, rows: 1000, adopts_index, validated_later }
    }

    #[test]
    fn catalog_changes_cost_nothing_and_scans_cost_by_the_row() {
        assert_eq!(object(&work(ObjectKind::Table, false, false)), 0);
        assert_eq!(object(&work(ObjectKind::Constraint, true, false)), 0);
        assert_eq!(object(&work(ObjectKind::ForeignKey, false, true)), 0);
        let index = object(&work(ObjectKind::Index, false, false));
        assert_eq!(object(&work(ObjectKind::Constraint, false, false)), index);
        assert!(object(&work(ObjectKind::Validation, false, false)) > index);
        assert!(object(&work(ObjectKind::ForeignKey, false, false)) > index);
    }
}
