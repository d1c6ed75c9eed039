//! A PostgreSQL connection URI from the config: checked when the config is
//! read, never shown with its password.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::Expanded;
use crate::pg::tls::TlsSettings;

/// A connection URI (or `key=value` string) as libpq accepts it.
#[derive(Clone)]
pub struct ConnectionUri {
    config: tokio_postgres::Config,
    /// `sslmode`, `sslrootcert`, `sslcert`, `sslkey`: read here, as
    /// tokio-postgres only knows part of them.
    tls: TlsSettings,
}

impl ConnectionUri {
    /// Parses a connection string.
    ///
    /// # Errors
    /// A string tokio-postgres cannot read, or TLS settings that make no
    /// sense; the message does not repeat the string, which may hold a
    /// password.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (rest, tls) = TlsSettings::extract(text).map_err(|e| format!("connection_uri: {e}"))?;
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|e| format!("connection_uri is not a valid PostgreSQL URI ({e}); expected postgres://user:password@host:port/database"))?;
        if config.get_hosts().is_empty() {
            return Err(
                "connection_uri names no host; expected postgres://user:password@host:port/database".to_string()
            );
        }
        config.ssl_mode(tls.mode.negotiation());
        Ok(ConnectionUri { config, tls })
    }

    /// The parsed settings.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The database the URI names, if any.
    pub fn database(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    /// How the connection uses TLS.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// The same server with another database.
    pub fn with_database(&self, database: &str) -> ConnectionUri {
        let mut config = self.config.clone();
        config.dbname(database);
        ConnectionUri { config, tls: self.tls.clone() }
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

    #[test]
    fn tls_settings_are_read_beside_what_tokio_postgres_knows() {
        use crate::pg::tls::SslMode;
        let uri = ConnectionUri::parse("postgres://u:s3cret@h/app?sslmode=verify-full&sslrootcert=/ca.pem").unwrap();
        assert_eq!(uri.tls().mode, SslMode::VerifyFull);
        assert_eq!(uri.config().get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        assert_eq!(uri.with_database("other").tls(), uri.tls());
        let err = ConnectionUri::parse("postgres://u:s3cret@h/app?sslmode=nope").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
