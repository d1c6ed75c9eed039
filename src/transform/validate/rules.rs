//! The transformer config as a whole: the columns it names, the keys its
//! transformers draw from and the fingerprint a manifest records. It is
//! checked against a source by [`Rules::plan`] (in `source.rs`), and the
//! problems found are [`super::problems`].

use std::path::{Path, PathBuf};

use crate::config::{SourceConfig, TableTransformers};
use crate::transform::key::Keys;
use crate::transform::options;

/// The transformers of a source, ready to be checked against its catalog
/// and turned into [`Plans`](crate::transform::Plans).
#[derive(Debug, Clone)]
pub struct Rules {
    pub(super) tables: Vec<TableTransformers>,
    pub(super) keys: Keys,
    keyed: bool,
    /// The config file: named in messages, and the folder relative paths in
    /// options start from.
    pub(super) config_path: PathBuf,
}

impl Rules {
    /// The rules of `source`, read from the config file at `config_path`.
    /// With `source.secret` the outputs are deterministic; without, a key is
    /// drawn for this run.
    pub fn new(source: &SourceConfig, config_path: &Path) -> Rules {
        let keys = source.secret.as_ref().map_or_else(Keys::random, |s| Keys::from_secret(s.expose()));
        Rules {
            tables: source.transformers.clone(),
            keys,
            keyed: source.secret.is_some(),
            config_path: config_path.to_path_buf(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(|t| t.columns.is_empty())
    }

    /// How many columns are configured.
    pub fn columns(&self) -> usize {
        self.tables.iter().map(|t| t.columns.len()).sum()
    }

    /// A fingerprint of the transformer config for the manifest: equal for
    /// equal configs however they are written, `None` without transformers.
    /// It covers whether a secret was set, never the secret.
    pub fn fingerprint(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut entries: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| {
                t.columns.iter().map(move |c| {
                    let options = options::canonical(c.options.as_ref());
                    serde_json::json!([t.schema, t.table, c.name, c.transformer, options]).to_string()
                })
            })
            .collect();
        entries.sort();
        entries.push(format!("keyed={}", self.keyed));
        Some(format!("blake3:{}", &blake3::hash(entries.join("\n").as_bytes()).to_hex()[..32]))
    }

    /// The folder relative paths in options start from.
    pub(super) fn dir(&self) -> &Path {
        self.config_path.parent().unwrap_or(Path::new("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn rules(yaml: &str) -> Rules {
        let config = Config::parse(yaml, Path::new("conf.yaml")).unwrap();
        Rules::new(config.source().unwrap(), Path::new("conf.yaml"))
    }

    const BASE: &str = "source:\n  connection_uri: postgres://h/db\n";

    #[test]
    fn fingerprints_follow_the_config_not_its_layout_nor_the_secret() {
        let a = rules(&format!(
            "{BASE}  secret: one\n  transformers:\n    - {{schema: public, table: t, columns: [{{name: a, transformer: hash, options: {{length: 20}}}}, {{name: b, transformer: email}}]}}\n"
        ));
        let b = rules(&format!(
            "{BASE}  secret: two\n  transformers:\n    - database: public\n      table: t\n      columns:\n        - name: b\n          transformer: email\n        - name: a\n          transformer: hash\n          options:\n            length: 20\n"
        ));
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert!(a.fingerprint().unwrap().starts_with("blake3:"));
        let c = rules(&format!(
            "{BASE}  secret: one\n  transformers:\n    - {{schema: public, table: t, columns: [{{name: a, transformer: hash, options: {{length: 24}}}}, {{name: b, transformer: email}}]}}\n"
        ));
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(rules(BASE).fingerprint(), None);
        let unkeyed = rules(&format!(
            "{BASE}  transformers:\n    - {{schema: public, table: t, columns: [{{name: a, transformer: hash, options: {{length: 20}}}}, {{name: b, transformer: email}}]}}\n"
        ));
        assert_ne!(a.fingerprint(), unkeyed.fingerprint());
    }
}
