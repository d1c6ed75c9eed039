//! What is wrong with a transformer config: each [`Problem`] names the part
//! of a column entry it is about, so that [`RulesError`] can give the line
//! it is on.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::config::{line_of, PathStep};

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
    /// Every problem of the config file at `config`, with the line it is
    /// on (those without one first), sorted, each once.
    pub(super) fn invalid(config: &Path, problems: Vec<Problem>) -> RulesError {
        let text = std::fs::read_to_string(config).unwrap_or_default();
        let mut located: Vec<(Option<usize>, String)> =
            problems.into_iter().map(|p| (line_of(&text, &p.path()), p.message)).collect();
        located.sort();
        located.dedup();
        RulesError::Invalid { config: config.to_path_buf(), problems: located }
    }

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
