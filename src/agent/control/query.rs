//! The control port's commands: the calls that start a run now. Anything
//! else is SQL, answered by [`super::sql`].

/// A command of the control port.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `CALL replibyte.dump_now()`
    DumpNow,
    /// `CALL replibyte.restore_now()`
    RestoreNow,
    /// An empty query (`;`), which clients send as a ping.
    Empty,
}

/// Recognises a command, ignoring case, spacing, quotes around names and a
/// trailing semicolon.
pub fn command(sql: &str) -> Option<Command> {
    let normalized: String = sql
        .trim()
        .trim_end_matches(';')
        .replace('"', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    match normalized.as_str() {
        "" => Some(Command::Empty),
        "call replibyte.dump_now()" => Some(Command::DumpNow),
        "call replibyte.restore_now()" => Some(Command::RestoreNow),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_variations_are_accepted() {
        assert_eq!(command("CALL replibyte.dump_now();"), Some(Command::DumpNow));
        assert_eq!(command("  call \"replibyte\".\"restore_now\"()  "), Some(Command::RestoreNow));
        assert_eq!(command(";"), Some(Command::Empty));
        assert_eq!(command("SELECT * FROM replibyte.dumps"), None);
    }
}
