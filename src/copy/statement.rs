//! The COPY commands of a dump (`TO STDOUT`) and a restore (`FROM STDIN`).

use super::CopyFormat;
use crate::pg::ident::{quote_ident, quote_qualified};

/// Heap pages `[start, end)` of a table; `end` is `None` for "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub start: u32,
    pub end: Option<u32>,
}

/// The COPY that reads a table's rows, or those on a range of its pages.
///
/// A whole table uses the table form, `COPY schema.table (columns) TO
/// STDOUT`: it is the fastest, and never includes rows of child tables,
/// which are dumped on their own. A range needs the query form, with `ONLY`
/// for the same reason; PostgreSQL 14+ runs its `ctid` bounds as a TID range
/// scan.
pub fn copy_out(schema: &str, table: &str, columns: &[&str], format: CopyFormat, range: Option<PageRange>) -> String {
    let name = quote_qualified(schema, table);
    let Some(range) = range else {
        return format!("COPY {name} {} TO STDOUT (FORMAT {})", column_list(columns), format.sql());
    };
    let select: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let mut filter = format!("ctid >= '({},0)'::pg_catalog.tid", range.start);
    if let Some(end) = range.end {
        filter.push_str(&format!(" AND ctid < '({end},0)'::pg_catalog.tid"));
    }
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
    fn ranges_read_only_their_pages_of_only_that_table() {
        let range = PageRange { start: 10, end: Some(20) };
        assert_eq!(
            copy_out("s", "t", &["a"], CopyFormat::Binary, Some(range)),
            r#"COPY (SELECT "a" FROM ONLY "s"."t" WHERE ctid >= '(10,0)'::pg_catalog.tid AND ctid < '(20,0)'::pg_catalog.tid) TO STDOUT (FORMAT binary)"#
        );
        let last = PageRange { start: 20, end: None };
        assert!(copy_out("s", "t", &[], CopyFormat::Text, Some(last)).starts_with("COPY (SELECT  FROM ONLY"));
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
