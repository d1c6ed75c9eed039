//! Which connection applies which table's changes, when a delta is applied
//! on several ([`super::parallel`]).
//!
//! A table stays on the connection that got its first change, so its
//! changes keep their commit order; a new table goes to the connection
//! given the fewest bytes so far. With triggers and foreign keys off, the
//! changes of different tables do not depend on each other, and no
//! connection waits for a lock another holds: each locks only its own
//! tables. A `TRUNCATE` of several tables is the exception (it locks them
//! all, and may fail on one alone when another references it): it goes
//! where its tables are, and if they are on different connections the
//! delta cannot be split.

use std::collections::HashMap;

/// The connection each table's changes go to.
pub struct Router {
    of_table: HashMap<u32, usize>,
    /// Bytes of rows given to each connection.
    load: Vec<usize>,
}

impl Router {
    pub fn new(connections: usize) -> Self {
        Router { of_table: HashMap::new(), load: vec![0; connections.max(1)] }
    }

    /// The connection for a step on `tables` (indexes among the delta's
    /// tables) of `bytes` of rows.
    ///
    /// # Errors
    /// The tables are already on different connections.
    pub fn route(&mut self, tables: &[u32], bytes: usize) -> Result<usize, String> {
        let mut on: Vec<usize> = tables.iter().filter_map(|t| self.of_table.get(t).copied()).collect();
        on.sort_unstable();
        on.dedup();
        let connection = match on.as_slice() {
            [] => (0..self.load.len()).min_by_key(|&c| self.load[c]).unwrap_or(0),
            [one] => *one,
            _ => return Err("a TRUNCATE empties tables whose changes are applied on different connections".into()),
        };
        for &table in tables {
            self.of_table.insert(table, connection);
        }
        self.load[connection] += bytes;
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_stays_where_it_started_and_new_tables_go_to_the_least_loaded() {
        let mut router = Router::new(2);
        assert_eq!(router.route(&[0], 100), Ok(0));
        assert_eq!(router.route(&[1], 10), Ok(1));
        assert_eq!(router.route(&[0], 5), Ok(0));
        assert_eq!(router.route(&[2], 50), Ok(1));
        assert_eq!(router.route(&[3], 1), Ok(1));
        assert_eq!(router.route(&[1], 1000), Ok(1));
        assert_eq!(router.route(&[4], 1), Ok(0));
    }

    #[test]
    fn a_truncate_goes_where_its_tables_are_or_cannot_be_split() {
        let mut router = Router::new(2);
        assert_eq!(router.route(&[0], 100), Ok(0));
        assert_eq!(router.route(&[0, 5], 0), Ok(0));
        assert_eq!(router.route(&[5], 1), Ok(0));
        assert_eq!(router.route(&[1], 1), Ok(1));
        assert!(router.route(&[5, 1], 0).is_err());
    }

    #[test]
    fn one_connection_takes_everything() {
        let mut router = Router::new(1);
        assert_eq!(router.route(&[0], 1), Ok(0));
        assert_eq!(router.route(&[3, 0, 7], 0), Ok(0));
    }
}
