//! The PostgreSQL release a catalog is read from, and the releases that
//! introduced what the reader meets.
//!
//! Catalog columns come and go between majors (`daticulocale` became
//! `datlocale` in 17, not-null constraints got `pg_constraint` rows in 18),
//! so each reader picks its SQL by [`ServerVersion`]. What it reads may also
//! need a recent major to be created again; such objects are marked with the
//! major they need ([`crate::catalog::DdlObject::requires_major`]) so that a
//! restore into an older server stops before it changes anything.

use std::fmt;

use tokio_postgres::Client;

use super::CatalogError;

/// The oldest major replibyte reads as a source.
pub const OLDEST_SOURCE_MAJOR: u32 = 13;
/// The newest major replibyte was tested against; newer ones are read with
/// its queries, and a warning.
pub const NEWEST_TESTED_MAJOR: u32 = 18;

/// `server_version_num`, e.g. `150018` for 15.18.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion(pub u32);

impl ServerVersion {
    /// The version of the server `client` is connected to.
    ///
    /// # Errors
    /// A failing query.
    pub async fn of(client: &Client) -> Result<Self, tokio_postgres::Error> {
        let row = client.query_one("SELECT pg_catalog.current_setting('server_version_num')::int4", &[]).await?;
        Ok(ServerVersion(row.get::<_, i32>(0).max(0) as u32))
    }

    pub fn major(self) -> u32 {
        self.0 / 10_000
    }

    /// Whether the server is of major `major` or newer.
    pub fn at_least(self, major: u32) -> bool {
        self.major() >= major
    }

    /// Refuses sources older than [`OLDEST_SOURCE_MAJOR`].
    ///
    /// # Errors
    /// An unsupported major, in words a user can act on.
    pub fn check_source(self) -> Result<(), CatalogError> {
        if self.major() < OLDEST_SOURCE_MAJOR {
            return Err(CatalogError::Unsupported {
                message: format!(
                    "the source runs PostgreSQL {self}; replibyte reads PostgreSQL {OLDEST_SOURCE_MAJOR} to {NEWEST_TESTED_MAJOR}: upgrade the source or dump it with an older tool"
                ),
            });
        }
        Ok(())
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major(), self.0 % 10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_and_their_order() {
        let v = ServerVersion(130_023);
        assert_eq!(v.major(), 13);
        assert!(v.at_least(13) && !v.at_least(14));
        assert_eq!(v.to_string(), "13.23");
        assert!(ServerVersion(180_004).at_least(17));
        assert!(ServerVersion(120_022).check_source().is_err());
        assert!(ServerVersion(130_000).check_source().is_ok());
    }
}
