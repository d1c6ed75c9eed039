//! `$VAR` and `${VAR}` in config values, expanded from the environment.
//!
//! Expansion happens while the YAML is deserialized (see [`Expanded`]), so an
//! unset variable is reported with the file position of the value that named
//! it. `$$` stands for a literal `$`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Expands `$VAR`, `${VAR}` and `$$` in `text` with `lookup`.
///
/// # Errors
/// The name of the first variable `lookup` does not know, or a malformed
/// reference.
pub fn expand(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            (&braced[..end], &braced[end + 1..])
        } else if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        } else {
            let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("malformed variable reference in {text:?} (write $$ for a literal $)"));
        }
        let value = lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// A string config value with environment variables expanded.
#[derive(Clone, PartialEq, Eq)]
pub struct Expanded(pub String);

impl<'de> Deserialize<'de> for Expanded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        expand(&raw, |name| std::env::var(name).ok()).map(Expanded).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Expanded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A secret config value (a transformer key, a password): expanded like any
/// value, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Secret(pub Expanded);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0 .0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.internal".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn both_forms_and_escapes_expand() {
        assert_eq!(expand("postgres://$HOST/x", env).unwrap(), "postgres://db.internal/x");
        assert_eq!(expand("${HOST}:5432", env).unwrap(), "db.internal:5432");
        assert_eq!(expand("a$EMPTY-b", env).unwrap(), "a-b");
        assert_eq!(expand("pa$$word", env).unwrap(), "pa$word");
        assert_eq!(expand("no vars", env).unwrap(), "no vars");
    }

    #[test]
    fn unset_and_malformed_references_are_errors() {
        assert_eq!(expand("$NOPE", env).unwrap_err(), "environment variable NOPE is not set");
        assert!(expand("${HOST", env).unwrap_err().contains("unclosed"));
        assert!(expand("cost: 5$", env).unwrap_err().contains("$$"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Secret(Expanded("hunter2".into()));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
