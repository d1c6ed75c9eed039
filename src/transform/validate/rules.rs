//! The transformer config as a whole: the columns it names, the keys its
//! transformers draw from, the fingerprint a manifest records, and the
//! problems found when it is checked against a source.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tokio_postgres::Client;

use super::key::Keys;
use super::{options, validate, Plans};
use crate::catalog::TableData;
use crate::config::{line_of, PathStep, SourceConfig, TableTransformers};

/// The transformers of a source, ready to be checked against its catalog
/// and turned into [`Plans`].
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

    /// Checks every configured transformer against the catalog the source
    /// `client` is connected to (`tables` as the catalog reader found them)
    /// and builds the plans of the tables with transformed columns.
    ///
    /// Runs before any row is copied, inside the dump's snapshot.
    ///
    /// # Errors
    /// Every problem found, each with its config line; or a failing query.
    pub async fn plan(&self, client: &Client, tables: &[TableData]) -> Result<Plans, RulesError> {
        match validate::plan(self, client, tables).await? {
            Ok(plans) => Ok(plans),
            Err(problems) => Err(self.invalid(problems)),
        }
    }

    /// The folder relative paths in options start from.
    pub(super) fn dir(&self) -> &Path {
        self.config_path.parent().unwrap_or(Path::new("."))
    }

    fn invalid(&self, problems: Vec<Problem>) -> RulesError {
        let text = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        let mut located: Vec<(Option<usize>, String)> =
            problems.into_iter().map(|p| (line_of(&text, &p.path()), p.message)).collect();
        located.sort();
        located.dedup();
        RulesError::Invalid { config: self.config_path.clone(), problems: located }
    }
}

/// What a problem is about: which part of a column entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The table entry (its `schema`/`table`).
    Table,
    Name,
    Transformer,
    Options,
}

/// One thing wrong with the transformer config.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Index of the table entry in `source.transformers`.
    pub table: usize,
    /// Index of the column entry, for problems about one column.
    pub column: Option<usize>,
    pub part: Part,
    pub message: String,
}

impl Problem {
    /// The YAML path of what the problem is about.
    fn path(&self) -> Vec<PathStep<'static>> {
        let mut path = vec![PathStep::Key("source"), PathStep::Key("transformers"), PathStep::Index(self.table)];
        match (self.column, self.part) {
            (None, _) | (_, Part::Table) => path.push(PathStep::Key("table")),
            (Some(column), part) => {
                path.extend([PathStep::Key("columns"), PathStep::Index(column)]);
                match part {
                    Part::Transformer => path.push(PathStep::Key("transformer")),
                    Part::Options => path.push(PathStep::Key("options")),
                    Part::Name | Part::Table => path.push(PathStep::Key("name")),
                }
            }
        }
        path
    }
}

/// Transformers that cannot run on this source.
#[derive(Debug, Error)]
pub enum RulesError {
    /// The config asks for something impossible: every problem, with the
    /// line it is on.
    Invalid { config: PathBuf, problems: Vec<(Option<usize>, String)> },
    /// A query needed to check the config failed.
    Query(String),
}

impl RulesError {
    /// One line per problem: `file:line: message`.
    pub fn lines(&self) -> Vec<String> {
        match self {
            RulesError::Invalid { config, problems } => problems
                .iter()
                .map(|(line, message)| match line {
                    Some(line) => format!("{}:{line}: {message}", config.display()),
                    None => format!("{}: {message}", config.display()),
                })
                .collect(),
            RulesError::Query(_) => vec![self.to_string()],
        }
    }
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::Invalid { problems, .. } => {
                let lines = self.lines();
                if problems.len() == 1 {
                    write!(f, "transformers: {}", lines[0])
                } else {
                    write!(f, "transformers: {} problems: {}", problems.len(), lines.join("; "))
                }
            }
            RulesError::Query(message) => write!(f, "checking the transformers against the source: {message}"),
        }
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

    #[test]
    fn problems_are_one_line_each_with_their_config_line() {
        let error = RulesError::Invalid {
            config: PathBuf::from("conf.yaml"),
            problems: vec![(Some(7), "first".into()), (None, "second".into())],
        };
        assert_eq!(error.lines(), ["conf.yaml:7: first", "conf.yaml: second"]);
        assert_eq!(error.to_string(), "transformers: 2 problems: conf.yaml:7: first; conf.yaml: second");
        let path = Problem { table: 1, column: Some(2), part: Part::Options, message: String::new() }.path();
        assert_eq!(
            format!("{path:?}"),
            r#"[Key("source"), Key("transformers"), Index(1), Key("columns"), Index(2), Key("options")]"#
        );
    }
}
