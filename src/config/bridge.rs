//! `bridge:` — where dumps are stored.

use std::path::PathBuf;

use serde::Deserialize;

/// Where dumps are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BridgeConfig {
    /// A directory on this machine.
    Local {
        #[serde(default = "default_local_path")]
        path: PathBuf,
    },
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig::Local { path: default_local_path() }
    }
}

fn default_local_path() -> PathBuf {
    PathBuf::from("./replibyte-data")
}
