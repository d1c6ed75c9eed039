//! A PostgreSQL connection URI from the config: checked when the config is
//! read, never shown with its password.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::Expanded;

/// A connection URI (or `key=value` string) as libpq accepts it.
#[derive(Clone)]
pub struct ConnectionUri {
    text: String,
    config: tokio_postgres::Config,
}

impl ConnectionUri {
    /// Parses a connection string.
    ///
    /// # Errors
    /// A string tokio-postgres cannot read; the message does not repeat the
    /// string, which may hold a password.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config = tokio_postgres::Config::from_str(text)
            .map_err(|e| format!("connection_uri is not a valid PostgreSQL URI ({e}); expected postgres://user:password@host:port/database"))?;
        if config.get_hosts().is_empty() {
            return Err(
                "connection_uri names no host; expected postgres://user:password@host:port/database".to_string()
            );
        }
        Ok(ConnectionUri { text: text.to_string(), config })
    }

    /// The parsed settings.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The database the URI names, if any.
    pub fn database(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// The raw text (with its password): only for handing to a connector.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The same server with another database.
    pub fn with_database(&self, database: &str) -> ConnectionUri {
        let mut config = self.config.clone();
        config.dbname(database);
        ConnectionUri { text: self.text.clone(), config }
    }

    /// `host:port` for messages: no user, no password.
    pub fn server(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "?".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }
}

impl fmt::Debug for ConnectionUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionUri({}/{})", self.server(), self.database().unwrap_or(""))
    }
}

impl<'de> Deserialize<'de> for ConnectionUri {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Expanded(text) = Expanded::deserialize(d)?;
        ConnectionUri::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_do_not_echo_the_password() {
        let err = ConnectionUri::parse("postgres://u:s3cret@h:notaport/db").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        let uri = ConnectionUri::parse("postgres://u:s3cret@db.example:6543/app").unwrap();
        assert_eq!(uri.server(), "db.example:6543");
        assert_eq!(uri.database(), Some("app"));
        assert!(!format!("{uri:?}").contains("s3cret"));
        assert_eq!(uri.with_database("postgres").database(), Some("postgres"));
    }
}
