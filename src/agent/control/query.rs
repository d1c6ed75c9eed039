//! The few statements the control port understands.

/// A statement the control port answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Statement {
    /// `SELECT * FROM replibyte.dumps`
    Dumps,
    /// `SELECT * FROM replibyte.runs`
    Runs,
    /// `SELECT * FROM replibyte.status`
    Status,
    /// `CALL replibyte.dump_now()`
    DumpNow,
    /// `CALL replibyte.restore_now()`
    RestoreNow,
    /// An empty query (`;`), which clients send as a ping.
    Empty,
}

/// What the control port says to anything else.
pub const HELP: &str =
    "the replibyte control port understands: SELECT * FROM replibyte.dumps | replibyte.runs | replibyte.status; \
                        CALL replibyte.dump_now() | replibyte.restore_now()";

/// Recognises a statement, ignoring case, spacing, quotes around names and a
/// trailing semicolon.
///
/// # Errors
/// Anything else, with the list of what is understood.
pub fn parse(sql: &str) -> Result<Statement, String> {
    let normalized: String = sql
        .trim()
        .trim_end_matches(';')
        .replace('"', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let statement = match normalized.as_str() {
        "" => Statement::Empty,
        "select * from replibyte.dumps" => Statement::Dumps,
        "select * from replibyte.runs" => Statement::Runs,
        "select * from replibyte.status" => Statement::Status,
        "call replibyte.dump_now()" => Statement::DumpNow,
        "call replibyte.restore_now()" => Statement::RestoreNow,
        _ => return Err(format!("unsupported statement: {}. {HELP}", sql.trim())),
    };
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_variations_are_accepted() {
        assert_eq!(parse("SELECT * FROM replibyte.dumps;"), Ok(Statement::Dumps));
        assert_eq!(parse("  select *\n from \"replibyte\".\"runs\"  "), Ok(Statement::Runs));
        assert_eq!(parse("CALL replibyte.dump_now();"), Ok(Statement::DumpNow));
        assert_eq!(parse(";"), Ok(Statement::Empty));
    }

    #[test]
    fn anything_else_is_an_error_listing_what_works() {
        let err = parse("DROP TABLE users").unwrap_err();
        assert!(err.contains("unsupported statement: DROP TABLE users"));
        assert!(err.contains("replibyte.status"));
    }
}
