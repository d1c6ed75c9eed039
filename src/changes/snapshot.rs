//! Which transactions a base dump's snapshot already saw.
//!
//! The slot is created first (it returns once every transaction committing
//! after its start point will be decoded), then the base dump's snapshot is
//! taken. Transactions committed in between are in both: the first delta
//! leaves out those the snapshot saw, so that no change is lost or applied
//! twice. The snapshot is recorded as `pg_current_snapshot()` prints it.

use std::collections::HashSet;

/// `xmin:xmax:xip,…` of a snapshot, with 64-bit transaction ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    xmin: u64,
    xmax: u64,
    in_progress: HashSet<u64>,
}

impl Snapshot {
    /// Reads `pg_current_snapshot()`'s text.
    ///
    /// # Errors
    /// Text of another shape.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a snapshot (xmin:xmax:xip)");
        let mut parts = text.splitn(3, ':');
        let number = |p: Option<&str>| p.and_then(|p| p.parse::<u64>().ok()).ok_or_else(bad);
        let xmin = number(parts.next())?;
        let xmax = number(parts.next())?;
        let in_progress = match parts.next() {
            Some("") | None => HashSet::new(),
            Some(list) => list.split(',').map(|x| x.parse::<u64>().map_err(|_| bad())).collect::<Result<_, _>>()?,
        };
        Ok(Snapshot { xmin, xmax, in_progress })
    }

    /// Whether the transaction `xid` (32 bits, as logical decoding gives
    /// it) had committed when the snapshot was taken. Only committed
    /// transactions are decoded, so "finished before the snapshot" is
    /// "seen by it". Ids are compared modulo 2^32, as PostgreSQL does.
    pub fn saw(&self, xid: u32) -> bool {
        let precedes = |a: u32, b: u32| (a.wrapping_sub(b) as i32) < 0;
        let (xmin, xmax) = (self.xmin as u32, self.xmax as u32);
        if precedes(xid, xmin) {
            return true;
        }
        precedes(xid, xmax) && !self.in_progress.iter().any(|&x| x as u32 == xid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_finished_before_the_snapshot_are_seen() {
        let s = Snapshot::parse("100:105:101,103").unwrap();
        assert!(s.saw(99) && s.saw(100) && s.saw(102) && s.saw(104));
        assert!(!s.saw(101) && !s.saw(103) && !s.saw(105) && !s.saw(200));
        let plain = Snapshot::parse("7:7:").unwrap();
        assert!(plain.saw(6) && !plain.saw(7));
        assert!(Snapshot::parse("x").is_err());
    }

    #[test]
    fn ids_wrap_around_at_32_bits() {
        // xmin just below 2^32 in epoch 1: xid 3 of the next epoch is after it.
        let s = Snapshot::parse(&format!("{}:{}:", (1u64 << 32) + 4_294_967_290, (2u64 << 32) + 10)).unwrap();
        assert!(s.saw(4_294_967_295) && s.saw(5));
        assert!(!s.saw(10) && !s.saw(11));
    }
}
