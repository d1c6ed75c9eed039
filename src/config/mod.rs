//! Config: the YAML file given with `-c`, as in DESIGN.md.
//!
//! Every struct denies unknown keys, so a typo is an error naming the file,
//! line and key instead of a setting silently ignored. String values expand
//! `$VAR` / `${VAR}` from the environment ([`env`]).

mod bridge;
mod destination;
pub mod env;
pub mod incremental;
mod one_or_list;
mod source;
mod subset;
mod transformers;
mod uri;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

pub use bridge::{BridgeConfig, EncryptionConfig};
pub use destination::DestinationConfig;
pub use env::{Expanded, Secret};
pub use incremental::Incremental;
pub use source::{Databases, SourceConfig, UnmaskedPii};
pub use subset::{SubsetTable, Unreached};
pub use transformers::{line_of, ColumnTransformer, PathStep, TableTransformers};
pub use uri::ConnectionUri;

/// A config file that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The whole config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the agent's control port.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Port of the agent's control port.
    #[serde(default = "default_port")]
    pub port: u16,
    pub source: Option<SourceConfig>,
    /// A map, or a one-element list (both forms appear in the wild).
    #[serde(default, deserialize_with = "one_or_list::deserialize")]
    pub bridge: BridgeConfig,
    pub destination: Option<DestinationConfig>,
    /// Time zone of the cron schedules (IANA name); UTC when absent.
    pub timezone: Option<String>,
    /// The agent's control port.
    pub control: Option<ControlConfig>,
    /// How the agent retries a failed run.
    pub retry: Option<RetryConfig>,
    /// The agent's Prometheus metrics.
    pub metrics: Option<MetricsConfig>,
    /// Where the file was read from, for messages.
    #[serde(skip)]
    pub path: PathBuf,
}

/// `control:` — the agent's control port.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// Required when `bind` is not a loopback address.
    pub password: Option<Secret>,
}

/// `metrics:` — where the agent serves `/metrics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Loopback by default; any other address exposes the metrics to the
    /// network (they hold no secret).
    #[serde(default = "default_bind")]
    pub bind: String,
    #[serde(default = "default_metrics_port")]
    pub port: u16,
}

fn default_metrics_port() -> u16 {
    9187
}

/// `retry:` — how the agent retries a failed run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per run, the first included (default 3).
    pub attempts: Option<u32>,
    /// Wait before the second attempt, doubled for each further one
    /// (default 5 seconds).
    pub backoff_seconds: Option<u64>,
}

fn default_bind() -> String {
    "127.0.0.1".to_string()
}

fn default_port() -> u16 {
    1337
}

impl Config {
    /// Reads and parses the config file at `path`.
    ///
    /// # Errors
    /// An unreadable file, malformed YAML, an unknown key, an unset variable,
    /// a malformed value: each names the file and, where YAML knows it, the
    /// line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` is only used in messages.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        // An empty file is an empty map, so that "no bridge" means the default.
        let text = if text.trim().is_empty() { "{}" } else { text };
        let mut config: Config = serde_yaml::from_str(text)
            .map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
        config.path = path.to_path_buf();
        Ok(config)
    }

    /// The time zone of the schedules.
    ///
    /// # Errors
    /// A name that is not an IANA time zone.
    pub fn time_zone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        match &self.timezone {
            None => Ok(chrono_tz::UTC),
            Some(name) => name.parse().map_err(|_| ConfigError::Invalid {
                path: self.path.clone(),
                message: format!(
                    "timezone {name:?} is not an IANA time zone name (e.g. UTC, Europe/Paris, America/New_York)"
                ),
            }),
        }
    }

    /// The `source` section, which the command needs.
    ///
    /// # Errors
    /// When the file has no `source`.
    pub fn source(&self) -> Result<&SourceConfig, ConfigError> {
        self.source.as_ref().ok_or_else(|| self.missing("source", "source:\n  connection_uri: postgres://user@host/db"))
    }

    /// The `destination` section, which the command needs.
    ///
    /// # Errors
    /// When the file has no `destination`.
    pub fn destination(&self) -> Result<&DestinationConfig, ConfigError> {
        self.destination
            .as_ref()
            .ok_or_else(|| self.missing("destination", "destination:\n  connection_uri: postgres://user@host/db"))
    }

    fn missing(&self, section: &str, example: &str) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            message: format!("this command needs a `{section}` section, e.g.\n{example}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("conf.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_design_example_parses() {
        std::env::set_var("REPLIBYTE_TEST_URI", "postgres://u:pw@127.0.0.1:5432/app");
        let config = parse(
            "bind: 127.0.0.1\nport: 1337\nsource:\n  connection_uri: $REPLIBYTE_TEST_URI\n  transformers:\n    - database: public\n      table: employees\n      columns:\n        - name: last_name\n          transformer: random\nbridge:\n  - type: local\n    path: /tmp/x\ndestination:\n  connection_uri: ${REPLIBYTE_TEST_URI}\n",
        )
        .unwrap();
        let source = config.source().unwrap();
        assert_eq!(source.transformers[0].schema, "public");
        assert_eq!(source.transformers[0].columns[0].transformer, "random");
        assert!(matches!(&config.bridge, BridgeConfig::Local { path, .. } if path == Path::new("/tmp/x")));
        assert!(!format!("{config:?}").contains(":pw@"), "password shown in Debug");
    }

    #[test]
    fn no_bridge_means_the_local_default() {
        let config = parse("destination:\n  connection_uri: postgres://h/db\n").unwrap();
        assert!(matches!(&config.bridge, BridgeConfig::Local { path, .. } if path == Path::new("./replibyte-data")));
        assert!(config.source().unwrap_err().to_string().contains("needs a `source` section"));
    }

    #[test]
    fn unknown_keys_name_the_file_and_line() {
        let err = parse("source:\n  connection_uri: postgres://h/db\n  colour: blue\n").unwrap_err();
        assert!(err.contains("conf.yaml"), "{err}");
        assert!(err.contains("colour"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn unset_variables_are_named_with_their_line() {
        let err = parse("source:\n  connection_uri: $REPLIBYTE_SURELY_UNSET\n").unwrap_err();
        assert!(err.contains("REPLIBYTE_SURELY_UNSET is not set"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn malformed_yaml_is_an_error_with_a_line() {
        let err = parse("source: [\n").unwrap_err();
        assert!(err.contains("conf.yaml") && err.contains("line"), "{err}");
    }

    #[test]
    fn a_bridge_list_must_have_one_element() {
        let err = parse("bridge: []\n").unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
    }
}
