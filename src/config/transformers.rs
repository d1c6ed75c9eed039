//! `source.transformers:` — which columns are replaced, and how.

use serde::Deserialize;

/// Transformers of the columns of one table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableTransformers {
    /// The table's schema. `database` is the seed's historical name for it.
    #[serde(alias = "database")]
    pub schema: String,
    pub table: String,
    pub columns: Vec<ColumnTransformer>,
}

/// One column's transformer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnTransformer {
    pub name: String,
    /// `transformer_name` is what old replibyte configs say.
    #[serde(alias = "transformer_name")]
    pub transformer: String,
    #[serde(default, alias = "transformer_options")]
    pub options: Option<serde_yaml::Value>,
}
