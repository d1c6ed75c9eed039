//! Values inside `json`/`jsonb`: every scalar counted under its path, so a
//! finding names where the personal data is (`contact.email`,
//! `phones[*]`), as the `json` transformer's `replace` option takes it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::tally::Tally;

/// Paths seen beyond this many are not counted (a sample of documents with
/// ever-new keys would otherwise grow without bound).
const MAX_PATHS: usize = 256;

/// Counts every scalar of `document` under its path.
pub fn walk(document: &Value, paths: &mut BTreeMap<String, Tally>) {
    visit(document, &mut String::new(), paths);
}

fn visit(value: &Value, path: &mut String, paths: &mut BTreeMap<String, Tally>) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                let before = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                visit(member, path, paths);
                path.truncate(before);
            }
        }
        Value::Array(items) => {
            let before = path.len();
            path.push_str("[*]");
            for item in items {
                visit(item, path, paths);
            }
            path.truncate(before);
        }
        Value::String(text) => count(path, text, paths),
        Value::Number(number) => count(path, &number.to_string(), paths),
        Value::Bool(_) | Value::Null => {}
    }
}

fn count(path: &str, text: &str, paths: &mut BTreeMap<String, Tally>) {
    if path.is_empty() {
        return;
    }
    if let Some(tally) = paths.get_mut(path) {
        tally.text(text);
    } else if paths.len() < MAX_PATHS {
        paths.entry(path.to_string()).or_default().text(text);
    }
}

/// The last key of a path, for name hints (`contacts[*].email` → `email`).
pub fn last_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path).trim_end_matches("[*]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_counted_under_their_paths() {
        let mut paths = BTreeMap::new();
        let doc: Value =
            serde_json::from_str(r#"{"contact": {"email": "a@example.org", "phones": ["+1 555 0100 234"]}, "n": 3}"#)
                .unwrap();
        walk(&doc, &mut paths);
        let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["contact.email", "contact.phones[*]", "n"]);
        assert_eq!(last_key("contact.phones[*]"), "phones");
    }
}
