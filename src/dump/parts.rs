//! Cutting large tables into ranges of heap pages, so one huge table does
//! not serialize a parallel dump.
//!
//! Each part is read with `WHERE ctid >= '(start,0)' AND ctid < '(end,0)'`,
//! which PostgreSQL 14+ runs as a TID range scan: every worker reads only
//! its pages. The last part has no upper bound, so rows on pages added
//! since the size was read are still dumped (the snapshot decides which
//! rows exist, not the page count).

use std::collections::HashMap;

use crate::catalog::TableData;

/// Heap pages `[start, end)` of a table; `end` is `None` for "to the end".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRange {
    pub start: u32,
    pub end: Option<u32>,
}

impl PageRange {
    /// The condition keeping the rows on these pages.
    pub fn condition(&self) -> String {
        let mut filter = format!("ctid >= '({},0)'::pg_catalog.tid", self.start);
        if let Some(end) = self.end {
            filter.push_str(&format!(" AND ctid < '({end},0)'::pg_catalog.tid"));
        }
        filter
    }
}

/// Tables smaller than this are dumped whole, unless the config says
/// otherwise (`source.split_table_mib`).
pub const SPLIT_BYTES: i64 = 256 * 1024 * 1024;

/// One unit of dump work: a whole table, or a range of its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Index of the table in the catalog's list.
    pub table: usize,
    /// Number of the part within its table, from 0.
    pub number: usize,
    /// How many parts the table has.
    pub of: usize,
    pub rows: Rows,
    pub estimated_bytes: i64,
}

/// Which rows of its table a part reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    All,
    Pages(PageRange),
    /// The rows a subset chose, listed by `ctid` in this temporary table of
    /// the coordinator's session.
    Chosen(String),
}

impl Part {
    /// The condition of the part's COPY, if it reads some rows only.
    pub fn filter(&self) -> Option<String> {
        match &self.rows {
            Rows::All => None,
            Rows::Pages(range) => Some(range.condition()),
            Rows::Chosen(temp) => Some(format!("ctid IN (SELECT tid FROM pg_temp.{temp})")),
        }
    }

    /// Whether the part must be read by the coordinator (only its session
    /// sees the temporary tables of a subset).
    pub fn needs_coordinator(&self) -> bool {
        matches!(self.rows, Rows::Chosen(_))
    }
}

/// The parts of every table, largest first. `pages` gives the heap size in
/// pages of the tables that may be split (`None` for the others: too small,
/// a single job, or a server without TID range scans). A split table gets
/// a part per half-threshold of size, between 2 and 4 per job.
///
/// Tables in `chosen` (a subset's temporary table by table index) are read
/// whole by the coordinator instead.
pub fn plan(
    tables: &[TableData],
    pages: impl Fn(usize) -> Option<u32>,
    jobs: usize,
    split_bytes: i64,
    chosen: &HashMap<usize, String>,
) -> Vec<Part> {
    let mut parts = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        if let Some(temp) = chosen.get(&index) {
            let rows = Rows::Chosen(temp.clone());
            parts.push(Part { table: index, number: 0, of: 1, rows, estimated_bytes: table.estimated_bytes });
            continue;
        }
        let count = match pages(index) {
            Some(p) if p > 1 && table.estimated_bytes >= split_bytes => {
                let by_size = (table.estimated_bytes / (split_bytes / 2).max(1)).max(1) as usize;
                by_size.clamp(2, (jobs * 4).max(2)).min(p as usize)
            }
            _ => 1,
        };
        if count == 1 {
            parts.push(Part {
                table: index,
                number: 0,
                of: 1,
                rows: Rows::All,
                estimated_bytes: table.estimated_bytes,
            });
            continue;
        }
        let total = pages(index).expect("counted above") as u64;
        for number in 0..count {
            let start = (total * number as u64 / count as u64) as u32;
            let end = (number + 1 < count).then(|| (total * (number as u64 + 1) / count as u64) as u32);
            parts.push(Part {
                table: index,
                number,
                of: count,
                rows: Rows::Pages(PageRange { start, end }),
                estimated_bytes: table.estimated_bytes / count as i64,
            });
        }
    }
    parts.sort_by(|a, b| {
        b.estimated_bytes.cmp(&a.estimated_bytes).then(a.table.cmp(&b.table)).then(a.number.cmp(&b.number))
    });
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::CopyFormat;

    fn table(name: &str, bytes: i64) -> TableData {
        TableData {
            schema: "s".into(),
            name: name.into(),
            columns: Vec::new(),
            format: CopyFormat::Binary,
            estimated_bytes: bytes,
        }
    }

    #[test]
    fn large_tables_are_cut_into_contiguous_ranges_covering_every_page() {
        let tables = vec![table("big", 1024 * 1024 * 1024), table("small", 1024)];
        let parts = plan(&tables, |t| (t == 0).then_some(131_072), 2, SPLIT_BYTES, &HashMap::new());
        let big: Vec<&Part> = parts.iter().filter(|p| p.table == 0).collect();
        assert_eq!(big.len(), 8);
        let mut ranges: Vec<PageRange> = big
            .iter()
            .map(|p| match p.rows {
                Rows::Pages(range) => range,
                _ => panic!("a split part reads pages"),
            })
            .collect();
        ranges.sort_by_key(|r| r.start);
        assert_eq!(ranges[0].start, 0);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, Some(pair[1].start));
        }
        assert_eq!(ranges.last().unwrap().end, None);
        let small: Vec<&Part> = parts.iter().filter(|p| p.table == 1).collect();
        assert_eq!(small, vec![&Part { table: 1, number: 0, of: 1, rows: Rows::All, estimated_bytes: 1024 }]);
        assert_eq!(parts.last().unwrap().table, 1, "largest first");
    }

    #[test]
    fn ranges_become_tid_conditions() {
        assert_eq!(
            PageRange { start: 10, end: Some(20) }.condition(),
            "ctid >= '(10,0)'::pg_catalog.tid AND ctid < '(20,0)'::pg_catalog.tid"
        );
        assert_eq!(PageRange { start: 20, end: None }.condition(), "ctid >= '(20,0)'::pg_catalog.tid");
    }

    #[test]
    fn without_page_counts_nothing_is_split() {
        let tables = vec![table("big", 1024 * 1024 * 1024)];
        assert_eq!(plan(&tables, |_| None, 4, SPLIT_BYTES, &HashMap::new()).len(), 1);
        let chosen = HashMap::from([(0, "rb_subset_0".to_string())]);
        let parts = plan(&tables, |_| Some(131_072), 4, SPLIT_BYTES, &chosen);
        assert_eq!(parts.len(), 1, "a subset table is never split");
        assert_eq!(parts[0].filter().unwrap(), "ctid IN (SELECT tid FROM pg_temp.rb_subset_0)");
        assert!(parts[0].needs_coordinator());
    }
}
