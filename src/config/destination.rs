//! `destination:` — the database dumps are restored into.

use serde::Deserialize;

use super::ConnectionUri;

/// The database dumps are restored into.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    pub connection_uri: ConnectionUri,
}
