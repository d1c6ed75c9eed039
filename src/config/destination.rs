//! `destination:` — the database dumps are restored into.

use serde::Deserialize;

use super::ConnectionUri;

/// The database dumps are restored into.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    pub connection_uri: ConnectionUri,
    /// Parallel connections (default: the number of CPU cores).
    pub jobs: Option<usize>,
    /// Agent mode: when to restore the latest dump (5-field cron).
    pub cron: Option<String>,
    /// New names for restored databases: `{source_name: destination_name}`.
    #[serde(default)]
    pub database_names: std::collections::BTreeMap<String, String>,
}
