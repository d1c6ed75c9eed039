//! The COPY commands of a dump (`TO STDOUT`) and a restore (`FROM STDIN`).

use super::CopyFormat;
use crate::pg::ident::{quote_ident, quote_qualified};

/// The COPY that reads a table's rows, or those `filter` (an SQL condition)
/// keeps.
///
/// All rows use the table form, `COPY schema.table (columns) TO STDOUT`: it
/// is the fastest, and never includes rows of child tables, which are
/// dumped on their own. A filter needs the query form, with `ONLY` for the
/// same reason.
pub fn copy_out(schema: &str, table: &str, columns: &[&str], format: CopyFormat, filter: Option<&str>) -> String {
    let name = quote_qualified(schema, table);
    let Some(filter) = filter else {
        return format!("COPY {name} {} TO STDOUT (FORMAT {})", column_list(columns), format.sql());
    };
    let select: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!("COPY (SELECT {} FROM ONLY {name} WHERE {filter}) TO STDOUT (FORMAT {})", select.join(", "), format.sql())
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
    fn filters_read_only_that_table() {
        assert_eq!(
            copy_out("s", "t", &["a", "b"], CopyFormat::Binary, Some("x > 1")),
            r#"COPY (SELECT "a", "b" FROM ONLY "s"."t" WHERE x > 1) TO STDOUT (FORMAT binary)"#
        );
        assert!(copy_out("s", "t", &[], CopyFormat::Text, Some("true")).starts_with("COPY (SELECT  FROM ONLY"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(
            copy_out("my schema", "Tab\"le", &["id", "from"], CopyFormat::Binary, None),
            r#"COPY "my schema"."Tab""le" ("id", "from") TO STDOUT (FORMAT binary)"#
        );
        assert_eq!(copy_in("s", "t", &[], CopyFormat::Text), r#"COPY "s"."t"  FROM STDIN (FORMAT text)"#);
    }
}
