//! The transformer each finding calls for, and `scan --suggest`'s
//! ready-to-paste `transformers:` block.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Category, Finding};
use crate::catalog::ColumnInfo;

/// The transformer for a column (or, with `path`, a value inside a JSON
/// column) of `category`. One that keeps values unique where the column
/// must stay unique; the `json` transformer for a JSON column, editing the
/// path.
pub fn transformer(category: Category, column: &ColumnInfo, path: Option<&str>) -> String {
    if path.is_some() {
        return "json".to_string();
    }
    inner(category, column).to_string()
}

/// The transformer for one value of `category`.
fn inner(category: Category, column: &ColumnInfo) -> &'static str {
    let name = column.name.to_lowercase();
    let integer = matches!(column.type_oid, 20 | 21 | 23 | 1700);
    match category {
        Category::Email => "email",
        _ if column.unique => "hash",
        Category::Phone => "phone-number",
        Category::PersonName if ["last", "surname", "family"].iter().any(|w| name.contains(w)) => "last-name",
        Category::PersonName => "first-name",
        Category::DateOfBirth => "random-date",
        Category::PaymentCard if integer => "hash",
        Category::PaymentCard => "credit-card",
        Category::IpAddress if matches!(column.type_oid, 869 | 650) => "null",
        Category::PostalAddress | Category::NationalId | Category::Iban | Category::IpAddress | Category::FreeText => {
            "redacted"
        }
    }
}

/// What one column gets: its transformer, the paths a `json` transformer
/// replaces (with theirs), and the evidence as comments.
type Suggested = (String, BTreeMap<String, String>, Vec<String>);

/// A `transformers:` block for the columns found that have none yet, with
/// the covered ones named in comments; to paste under `source:`.
pub fn yaml(findings: &[Finding]) -> String {
    let mut tables: BTreeMap<(String, String), BTreeMap<String, Suggested>> = BTreeMap::new();
    let mut covered = Vec::new();
    for f in findings {
        if f.transformed {
            covered.push(format!("#   {} ({}): already transformed", f.place(), f.category.label()));
            continue;
        }
        let column =
            tables.entry((f.schema.clone(), f.table.clone())).or_default().entry(f.column.clone()).or_default();
        column.0 = f.transformer.clone();
        column.2.push(format!(
            "{}{}: {}",
            f.category.label(),
            f.path.as_ref().map(|p| format!(" at {p}")).unwrap_or_default(),
            f.evidence
        ));
        if let Some(path) = &f.path {
            let info = ColumnInfo {
                name: String::new(),
                type_name: "text".into(),
                type_oid: 25,
                not_null: false,
                unique: false,
            };
            column.1.insert(path.clone(), inner(f.category, &info).to_string());
        }
    }
    let mut out = String::from("  transformers:\n");
    for ((schema, table), columns) in &tables {
        let _ = write!(out, "    - schema: {}\n      table: {}\n      columns:\n", yaml_text(schema), yaml_text(table));
        for (column, (transformer, replace, comments)) in columns {
            for comment in comments {
                let _ = writeln!(out, "        # {comment}");
            }
            let _ = write!(out, "        - name: {}\n          transformer: {transformer}\n", yaml_text(column));
            if !replace.is_empty() {
                out.push_str("          options:\n            replace:\n");
                for (path, inner) in replace {
                    let _ = writeln!(out, "              {}: {inner}", yaml_text(path));
                }
            }
        }
    }
    if tables.is_empty() {
        out = String::from("  # nothing to add: every column found has a transformer\n");
    }
    for line in covered {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// A YAML scalar: plain when safe, quoted otherwise.
fn yaml_text(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '*' | '-'))
        && !text.starts_with(['-', '[', '*']);
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}
