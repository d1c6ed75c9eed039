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
}
