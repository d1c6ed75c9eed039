//! Which post-data objects may run side by side on one table.
//!
//! PostgreSQL's locks keep concurrent DDL correct whatever we do; this model
//! only keeps a worker from starting an object that would sit waiting for a
//! lock another worker's object holds — a worker blocked on a lock is a
//! core doing nothing — as pg_restore keeps items on one table apart. Three
//! modes stand for the locks the restore's statements take on the tables
//! they name:
//!
//! - `CREATE INDEX` takes SHARE: index builds of one table run together;
//! - `VALIDATE CONSTRAINT` takes SHARE UPDATE EXCLUSIVE on its table (and
//!   only ROW SHARE on the table it references): it scans beside the table's
//!   index builds, not beside another validation of the same table;
//! - everything else (`ADD CONSTRAINT`, `CREATE TRIGGER`, …) is taken as
//!   exclusive: alone on its tables.

use std::collections::HashMap;

use crate::catalog::ObjectKind;

/// The lock an object's statements take on each table it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Share,
    ShareUpdateExclusive,
    Exclusive,
}

impl LockMode {
    pub fn of(kind: ObjectKind) -> LockMode {
        match kind {
            ObjectKind::Index => LockMode::Share,
            ObjectKind::Validation => LockMode::ShareUpdateExclusive,
            _ => LockMode::Exclusive,
        }
    }

    fn conflicts_with(self, other: LockMode) -> bool {
        use LockMode::{Share, ShareUpdateExclusive};
        !matches!((self, other), (Share, Share) | (Share, ShareUpdateExclusive) | (ShareUpdateExclusive, Share))
    }

    fn slot(self) -> usize {
        self as usize
    }
}

const ALL: [LockMode; 3] = [LockMode::Share, LockMode::ShareUpdateExclusive, LockMode::Exclusive];

/// The locks that running objects hold, by table.
#[derive(Debug, Default)]
pub struct HeldLocks {
    /// How many running objects hold each mode on a table.
    by_table: HashMap<usize, [u32; 3]>,
}

impl HeldLocks {
    /// Whether an object taking `mode` on `tables` could start now without
    /// waiting for a running one.
    pub fn admit(&self, mode: LockMode, tables: &[usize]) -> bool {
        tables.iter().all(|table| {
            let Some(held) = self.by_table.get(table) else { return true };
            ALL.iter().all(|other| held[other.slot()] == 0 || !mode.conflicts_with(*other))
        })
    }

    pub fn take(&mut self, mode: LockMode, tables: &[usize]) {
        for table in tables {
            self.by_table.entry(*table).or_default()[mode.slot()] += 1;
        }
    }

    pub fn release(&mut self, mode: LockMode, tables: &[usize]) {
        for table in tables {
            if let Some(held) = self.by_table.get_mut(table) {
                held[mode.slot()] -= 1;
                if held.iter().all(|&n| n == 0) {
                    self.by_table.remove(table);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_builds_share_a_table_with_each_other_and_a_validation() {
        let mut held = HeldLocks::default();
        held.take(LockMode::Share, &[1]);
        assert!(held.admit(LockMode::Share, &[1]));
        assert!(held.admit(LockMode::ShareUpdateExclusive, &[1]));
        assert!(!held.admit(LockMode::Exclusive, &[1]));
        assert!(held.admit(LockMode::Exclusive, &[2]));
        held.take(LockMode::ShareUpdateExclusive, &[1]);
        assert!(!held.admit(LockMode::ShareUpdateExclusive, &[1]));
        assert!(held.admit(LockMode::Share, &[1]));
    }

    #[test]
    fn an_exclusive_object_waits_for_every_lock_on_any_of_its_tables() {
        let mut held = HeldLocks::default();
        held.take(LockMode::Exclusive, &[1, 2]);
        assert!(!held.admit(LockMode::Share, &[2]));
        assert!(!held.admit(LockMode::Exclusive, &[3, 1]));
        held.release(LockMode::Exclusive, &[1, 2]);
        assert!(held.admit(LockMode::Exclusive, &[1, 2]));
        assert!(held.by_table.is_empty());
    }
}
