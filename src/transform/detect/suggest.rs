//! The transformer each finding calls for, and `scan --suggest`'s
//! ready-to-paste `transformers:` block.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Category, Finding};
use crate::catalog::ColumnInfo;
use crate::transform::registry;
use crate::transform::types::Type;

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

/// The transformer for one value of `category`: the first of its
/// candidates that can write the column's type (`check` would refuse the
/// others); where the column is unique, one that keeps values unique.
fn inner(category: Category, column: &ColumnInfo) -> &'static str {
    let ty = Type::from_oid(column.type_oid).unwrap_or(Type::TEXT);
    let accepts = |name: &&'static str| registry::find(name).is_some_and(|kind| (kind.accepts)(&ty));
    let name = column.name.to_lowercase();
    let unique: &[&str] = match category {
        Category::Email => &["email", "hash", "pseudonym", "uuid"],
        _ => &["hash", "pseudonym", "uuid"],
    };
    if column.unique {
        // No keeper of uniqueness writes this type: nulls never collide.
        return unique.iter().copied().find(accepts).unwrap_or("null");
    }
    let candidates: &[&str] = match category {
        Category::Email => &["email", "redacted"],
        Category::Phone => &["phone-number", "redacted"],
        Category::PersonName if ["last", "surname", "family"].iter().any(|w| name.contains(w)) => {
            &["last-name", "redacted"]
        }
        Category::PersonName => &["first-name", "redacted"],
        Category::DateOfBirth => &["random-date", "random"],
        Category::PaymentCard => &["credit-card", "hash", "random"],
        Category::IpAddress => &["redacted"],
        Category::PostalAddress | Category::NationalId | Category::Iban | Category::FreeText => &["redacted", "random"],
    };
    // `null` writes every type, and a unique column may hold many nulls.
    candidates.iter().copied().find(accepts).unwrap_or("null")
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
            // A value inside JSON is text to the transformer; the path's
            // words tell a last name.
            let info = ColumnInfo {
                name: path.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_oid: u32, unique: bool) -> ColumnInfo {
        ColumnInfo { name: name.into(), type_name: String::new(), type_oid, not_null: true, unique }
    }

    #[test]
    fn suggestions_fit_the_column_type() {
        const TEXT: u32 = 25;
        const INT8: u32 = 20;
        const NUMERIC: u32 = 1700;
        const DATE: u32 = 1082;
        const INET: u32 = 869;
        assert_eq!(inner(Category::PaymentCard, &column("pan", TEXT, false)), "credit-card");
        assert_eq!(inner(Category::PaymentCard, &column("pan", INT8, false)), "hash");
        assert_eq!(inner(Category::PaymentCard, &column("pan", NUMERIC, false)), "random");
        assert_eq!(inner(Category::PaymentCard, &column("pan", NUMERIC, true)), "null");
        assert_eq!(inner(Category::DateOfBirth, &column("born", DATE, false)), "random-date");
        assert_eq!(inner(Category::DateOfBirth, &column("born", TEXT, false)), "random");
        assert_eq!(inner(Category::DateOfBirth, &column("born", DATE, true)), "null");
        assert_eq!(inner(Category::IpAddress, &column("ip", INET, false)), "null");
        assert_eq!(inner(Category::IpAddress, &column("ip", TEXT, false)), "redacted");
        assert_eq!(inner(Category::Email, &column("email", TEXT, true)), "email");
        assert_eq!(inner(Category::PersonName, &column("name", TEXT, true)), "hash");
        assert_eq!(inner(Category::PersonName, &column("owner.last_name", TEXT, false)), "last-name");
        assert_eq!(inner(Category::PersonName, &column("owner.first", TEXT, false)), "first-name");
    }
}
