//! The COPY commands of a dump (`TO STDOUT`) and a restore (`FROM STDIN`).

use super::CopyFormat;
use crate::pg::ident::{quote_ident, quote_qualified};

/// `COPY schema.table (columns) TO STDOUT (FORMAT …)`.
///
/// Table form rather than `COPY (SELECT …)`: it is faster, and `COPY table TO`
/// never includes rows of child tables, which are dumped on their own.
pub fn copy_out(schema: &str, table: &str, columns: &[&str], format: CopyFormat) -> String {
    format!("COPY {} {} TO STDOUT (FORMAT {})", quote_qualified(schema, table), column_list(columns), format.sql())
}

/// `COPY schema.table (columns) FROM STDIN (FORMAT …)`.
pub fn copy_in(schema: &str, table: &str, columns: &[&str], format: CopyFormat) -> String {
    format!("COPY {} {} FROM STDIN (FORMAT {})", quote_qualified(schema, table), column_list(columns), format.sql())
}

fn column_list(columns: &[&str]) -> String {
    // A table without columns still takes an (empty) list: `COPY t () …` is
    // invalid, so leave it out and let COPY use every (zero) column.
    if columns.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!("({})", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(
            copy_out("my schema", "Tab\"le", &["id", "from"], CopyFormat::Binary),
            r#"COPY "my schema"."Tab""le" ("id", "from") TO STDOUT (FORMAT binary)"#
        );
        assert_eq!(copy_in("s", "t", &[], CopyFormat::Text), r#"COPY "s"."t"  FROM STDIN (FORMAT text)"#);
    }
}
