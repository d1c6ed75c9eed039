//! Quoting of identifiers and literals in the SQL replibyte writes.
//!
//! Every identifier is quoted, always: quotes, spaces, dots, upper case,
//! unicode and reserved words then need no special case.

/// `name` as a quoted identifier: `"na""me"`.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `schema.name`, both parts quoted.
pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// `text` as a string literal. Replibyte's sessions run with
/// `standard_conforming_strings = on` (the default since 9.1), where a
/// backslash in a plain literal is an ordinary character.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The two parts of a name written by [`quote_qualified`]; `None` for
/// anything else.
pub fn unquote_qualified(name: &str) -> Option<(String, String)> {
    let (schema, rest) = unquote_one(name)?;
    let (table, rest) = unquote_one(rest.strip_prefix('.')?)?;
    rest.is_empty().then_some((schema, table))
}

/// A leading quoted identifier and what follows it.
fn unquote_one(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('"')?.char_indices().peekable();
    let mut out = String::new();
    while let Some((at, c)) = chars.next() {
        if c != '"' {
            out.push(c);
        } else if chars.peek().is_some_and(|(_, n)| *n == '"') {
            chars.next();
            out.push('"');
        } else {
            return Some((out, &text[at + 2..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_quoted() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_ident("select"), r#""select""#);
        assert_eq!(quote_qualified("s.x", "Ünï 表"), r#""s.x"."Ünï 表""#);
        assert_eq!(quote_literal(r"it's \n"), r"'it''s \n'");
    }

    #[test]
    fn qualified_names_unquote_back() {
        for (schema, table) in [("public", "t"), ("a\"b", "c.d"), ("Ünï 表", "\"")] {
            let quoted = quote_qualified(schema, table);
            assert_eq!(unquote_qualified(&quoted), Some((schema.to_string(), table.to_string())));
        }
        assert_eq!(unquote_qualified("public.t"), None);
        assert_eq!(unquote_qualified("\"a\".\"b\"x"), None);
    }
}
