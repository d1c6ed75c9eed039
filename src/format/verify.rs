//! `dump verify`: reads a whole dump back and checks it against its
//! manifest, changing nothing.
//!
//! Every object is read as a restore reads it (decrypted by the bridge when
//! it is encrypted, then decompressed), so a dump that verifies is one the
//! restore can load. Problems are collected, not raised: the report names
//! all of them, each with the object it concerns.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use async_compression::tokio::bufread::ZstdDecoder;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};

use super::store::{self, StoreError};
use super::{keys, DumpId, Manifest, SegmentEntry, TableEntry};
use crate::bridge::{Bridge, ObjectInfo};
use crate::copy::binary::FormatError;
use crate::copy::rows::RowSplitter;
use crate::copy::CopyFormat;
use crate::progress::Progress;
use crate::segment::{Checksum, ChecksumHasher};

/// Bytes read from a segment at a time.
const CHUNK_BYTES: usize = 256 * 1024;

/// One thing wrong with a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object key (or `manifest` for the manifest's own sums).
    pub object: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.message)
    }
}

/// What a verification read and found.
#[derive(Debug)]
pub struct Report {
    pub manifest: Manifest,
    /// Segments read to the end.
    pub segments: u64,
    /// Rows counted in them.
    pub rows: u64,
    /// Their uncompressed bytes.
    pub raw_bytes: u64,
    /// Empty for a sound dump.
    pub problems: Vec<Problem>,
}

/// Reads the dump `id` whole, `jobs` segments at a time; for an
/// incremental dump, its whole chain (every dump a restore of it reads).
///
/// # Errors
/// Only when there is nothing to check: no such complete dump, a manifest
/// that cannot be read (or decrypted), or a bridge that cannot list it.
/// Everything else is a [`Problem`] in the report.
pub async fn verify(
    bridge: Arc<dyn Bridge>,
    id: &DumpId,
    jobs: usize,
    progress: &Progress,
) -> Result<Report, StoreError> {
    let manifest = store::read_manifest(bridge.as_ref(), id)
        .await?
        .ok_or_else(|| StoreError::UnknownDump { store: bridge.describe(), id: id.to_string() })?;
    let chain = match store::chain(bridge.as_ref(), &manifest).await {
        Ok(chain) => chain,
        Err(e @ StoreError::BrokenChain { .. }) => {
            return Ok(Report {
                manifest,
                segments: 0,
                rows: 0,
                raw_bytes: 0,
                problems: vec![problem("chain", &e.to_string())],
            })
        }
        Err(e) => return Err(e),
    };
    let ids: Vec<DumpId> = chain.iter().map(|m| m.id.clone()).collect();
    let lock = super::locks::ReadLock::take(bridge.clone(), &ids, "verify").await?;
    let mut report = Report { manifest, segments: 0, rows: 0, raw_bytes: 0, problems: Vec::new() };
    for link in &chain {
        match verify_one(bridge.clone(), link, jobs, progress).await {
            Ok(one) => {
                report.segments += one.segments;
                report.rows += one.rows;
                report.raw_bytes += one.raw_bytes;
                report.problems.extend(one.problems);
            }
            Err(e) => {
                lock.release().await;
                return Err(e);
            }
        }
    }
    lock.release().await;
    Ok(report)
}

/// The change records of an incremental dump, checked like a table's rows.
fn changes_as_table(changes: &super::ChangeSet) -> TableEntry {
    let column = |name: &str| crate::catalog::ColumnInfo {
        name: name.into(),
        type_name: "bytea".into(),
        type_oid: 17,
        not_null: false,
        unique: false,
    };
    TableEntry {
        schema: String::new(),
        name: "changes".into(),
        columns: ["op", "table", "old", "new"].into_iter().map(column).collect(),
        format: CopyFormat::Binary,
        rows: changes.count,
        segments: changes.segments.clone(),
    }
}

/// One dump of a chain.
async fn verify_one(
    bridge: Arc<dyn Bridge>,
    manifest: &Manifest,
    jobs: usize,
    progress: &Progress,
) -> Result<Report, StoreError> {
    let id = &manifest.id;
    let manifest = manifest.clone();
    let stored: HashMap<String, u64> =
        bridge.list(&keys::dump_dir(id)).await?.into_iter().map(|ObjectInfo { key, size }| (key, size)).collect();
    let mut problems = check_manifest(&manifest);
    for database in &manifest.databases {
        problems.extend(check_schema(bridge.as_ref(), &database.schema_key, &database.tables).await);
    }

    let changes: Vec<TableEntry> =
        manifest.databases.iter().filter_map(|d| d.changes.as_ref()).map(changes_as_table).collect();
    let mut segments = Vec::new();
    for table in manifest.databases.iter().flat_map(|d| &d.tables).chain(&changes) {
        for segment in &table.segments {
            match stored.get(&segment.key) {
                None => problems.push(problem(&segment.key, "missing from the bridge")),
                Some(&size) if size != segment.stored_bytes => problems.push(problem(
                    &segment.key,
                    &format!("{size} bytes in the bridge, the manifest says {}", segment.stored_bytes),
                )),
                Some(_) => {}
            }
            if stored.contains_key(&segment.key) {
                segments.push((Arc::new(table.clone()), segment.clone()));
            }
        }
    }
    let checks = segments.into_iter().map(|(table, segment)| {
        let (bridge, progress) = (bridge.clone(), progress.clone());
        // A task each, so decompression runs on every core.
        tokio::spawn(async move { check_segment(bridge.as_ref(), &table, &segment, &progress).await })
    });
    let mut results = futures::stream::iter(checks).buffer_unordered(jobs.max(1));
    let (mut read, mut rows, mut raw_bytes) = (0, 0, 0);
    while let Some(result) = results.next().await {
        match result {
            Ok(Ok((facts, found))) => {
                read += 1;
                rows += facts.rows;
                raw_bytes += facts.raw_bytes;
                problems.extend(found);
            }
            Ok(Err(found)) => problems.push(found),
            Err(e) => problems.push(problem("verify", &format!("a check stopped: {e}"))),
        }
    }
    problems.sort_by(|a, b| a.object.cmp(&b.object));
    Ok(Report { manifest, segments: read, rows, raw_bytes, problems })
}

fn problem(object: &str, message: &str) -> Problem {
    Problem { object: object.to_string(), message: message.to_string() }
}

/// The manifest against itself: sums, and keys that stay inside the dump.
fn check_manifest(manifest: &Manifest) -> Vec<Problem> {
    let mut problems = Vec::new();
    let dir = keys::dump_dir(&manifest.id);
    // An incremental dump's schema is its base's.
    let schema_dir = manifest.replication.as_ref().map_or_else(|| dir.clone(), |r| keys::dump_dir(&r.base));
    let mut seen = HashSet::new();
    for database in &manifest.databases {
        if !database.schema_key.starts_with(&schema_dir) {
            problems.push(problem(&database.schema_key, &format!("outside the dump's folder {schema_dir}")));
        }
        for table in &database.tables {
            let sum: u64 = table.segments.iter().map(|s| s.rows).sum();
            if sum != table.rows {
                let name = format!("{}/{}.{}", database.name, table.schema, table.name);
                problems.push(problem(&name, &format!("{} rows, its segments hold {sum}", table.rows)));
            }
            for segment in &table.segments {
                if !segment.key.starts_with(&dir) {
                    problems.push(problem(&segment.key, &format!("outside the dump's folder {dir}")));
                }
                if !seen.insert(segment.key.as_str()) {
                    problems.push(problem(&segment.key, "listed twice in the manifest"));
                }
            }
        }
    }
    let totals = Manifest::compute_totals(&manifest.databases, 0);
    let sums = [
        ("tables", manifest.totals.tables, totals.tables),
        ("rows", manifest.totals.rows, totals.rows),
        ("raw_bytes", manifest.totals.raw_bytes, totals.raw_bytes),
    ];
    for (name, stated, counted) in sums {
        if stated != counted {
            problems.push(problem("manifest", &format!("totals.{name} is {stated}, its tables add up to {counted}")));
        }
    }
    problems
}

/// The schema file parses, and knows every table the manifest lists.
async fn check_schema(bridge: &dyn Bridge, key: &str, tables: &[TableEntry]) -> Vec<Problem> {
    let schema = match store::read_schema(bridge, key).await {
        Ok(schema) => schema,
        Err(e) => return vec![problem(key, &format!("unreadable schema: {e}"))],
    };
    let known: HashSet<(&str, &str)> = schema.tables.iter().map(|t| (t.schema.as_str(), t.name.as_str())).collect();
    tables
        .iter()
        .filter(|t| !known.contains(&(t.schema.as_str(), t.name.as_str())))
        .map(|t| problem(key, &format!("has no table {}.{}, which the manifest lists", t.schema, t.name)))
        .collect()
}

/// What reading a segment to its end found.
#[derive(Debug, PartialEq, Eq)]
struct SegmentFacts {
    rows: u64,
    raw_bytes: u64,
    checksum: Checksum,
    /// Why the COPY data does not parse, if it does not.
    malformed: Option<FormatError>,
}

/// Reads one segment and compares it with its manifest entry: the facts,
/// and the problems (several can go together); `Err` when it cannot be
/// read to the end.
async fn check_segment(
    bridge: &dyn Bridge,
    table: &TableEntry,
    segment: &SegmentEntry,
    progress: &Progress,
) -> Result<(SegmentFacts, Vec<Problem>), Problem> {
    let fail = |message: String| problem(&segment.key, &message);
    let reader = bridge.open(&segment.key).await.map_err(|e| fail(e.to_string()))?;
    let mut task = progress.table(&format!("{}.{}", table.schema, table.name), segment.raw_bytes);
    let facts = read_segment(reader, table.format, table.columns.len(), |n| task.add_bytes(n)).await.map_err(fail)?;
    task.finish(facts.rows);
    let mut found = Vec::new();
    if let Some(e) = &facts.malformed {
        found.push(fail(format!("malformed COPY data: {e}")));
    } else if facts.rows != segment.rows {
        found.push(fail(format!("{} rows, the manifest says {}", facts.rows, segment.rows)));
    }
    if facts.raw_bytes != segment.raw_bytes {
        found.push(fail(format!("{} bytes uncompressed, the manifest says {}", facts.raw_bytes, segment.raw_bytes)));
    }
    if facts.checksum != segment.checksum {
        found.push(fail(format!("checksum mismatch (manifest {}, data {})", segment.checksum, facts.checksum)));
    }
    Ok((facts, found))
}

/// Decompresses a segment, hashing every byte and counting its rows.
/// Malformed COPY data stops the row count, not the checksum.
async fn read_segment(
    reader: impl AsyncRead + Unpin,
    format: CopyFormat,
    fields: usize,
    mut on_bytes: impl FnMut(u64),
) -> Result<SegmentFacts, String> {
    let mut decoder = ZstdDecoder::new(BufReader::with_capacity(CHUNK_BYTES, reader));
    let mut splitter = RowSplitter::new(format, fields);
    let mut hasher = ChecksumHasher::new();
    let mut buffer = vec![0; CHUNK_BYTES];
    let (mut rows, mut raw_bytes, mut malformed) = (0, 0, None);
    loop {
        let read = decoder.read(&mut buffer).await.map_err(|e| format!("cannot read or decompress: {e}"))?;
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        hasher.update(chunk);
        raw_bytes += read as u64;
        on_bytes(read as u64);
        if malformed.is_none() {
            let fed = splitter.feed::<FormatError>(chunk, |_| {
                rows += 1;
                Ok(())
            });
            malformed = fed.err();
        }
    }
    if malformed.is_none() {
        malformed = splitter.finish().err();
    }
    Ok(SegmentFacts { rows, raw_bytes, checksum: hasher.finish(), malformed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::binary;

    fn segment(rows: &[&[u8]]) -> Vec<u8> {
        let mut raw = binary::HEADER.to_vec();
        for value in rows {
            binary::put_field_count(&mut raw, 1);
            binary::put_field(&mut raw, Some(value));
        }
        raw.extend_from_slice(binary::TRAILER);
        raw
    }

    async fn facts(raw: &[u8]) -> Result<SegmentFacts, String> {
        let compressed = zstd::encode_all(raw, 1).unwrap();
        read_segment(&compressed[..], CopyFormat::Binary, 1, |_| {}).await
    }

    #[test]
    fn the_manifest_must_add_up_and_stay_inside_its_dump() {
        let manifest = Manifest::from_json(
            br#"{"format": "replibyte-dump", "format_version": 1, "id": "20261126T030000Z-ab12",
            "created_at": "2026-11-26T03:00:00Z", "finished_at": "2026-11-26T03:04:10Z",
            "replibyte_version": "0.1.0", "source_server_version": "15.18", "transformers_fingerprint": null,
            "databases": [{"name": "app", "schema_key": "20261126T030000Z-ab12/app/schema.json", "tables": [
              {"schema": "public", "name": "t", "columns": [], "format": "binary", "rows": 5, "segments": [
                {"key": "20261126T030000Z-ab12/app/data/public.t/000-000000.bin.zst", "rows": 3,
                 "raw_bytes": 10, "stored_bytes": 5, "checksum": "xxh3-64:0000000000000001"},
                {"key": "20200101T000000Z-0000/app/x", "rows": 3,
                 "raw_bytes": 10, "stored_bytes": 5, "checksum": "xxh3-64:0000000000000002"}]}]}],
            "totals": {"tables": 1, "rows": 7, "raw_bytes": 20, "stored_bytes": 10}}"#,
        )
        .unwrap();
        let problems: Vec<String> = check_manifest(&manifest).iter().map(Problem::to_string).collect();
        assert_eq!(
            problems,
            [
                "app/public.t: 5 rows, its segments hold 6",
                "20200101T000000Z-0000/app/x: outside the dump's folder 20261126T030000Z-ab12/",
                "manifest: totals.rows is 7, its tables add up to 5",
            ]
        );
    }

    #[tokio::test]
    async fn a_sound_segment_gives_its_rows_size_and_checksum() {
        let raw = segment(&[b"a", b"bc", b""]);
        let got = facts(&raw).await.unwrap();
        let expected =
            SegmentFacts { rows: 3, raw_bytes: raw.len() as u64, checksum: Checksum::of(&raw), malformed: None };
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn malformed_copy_data_is_named_and_still_hashed() {
        let mut raw = segment(&[b"a", b"b"]);
        raw.truncate(raw.len() - 2);
        let got = facts(&raw).await.unwrap();
        assert_eq!(got.malformed, Some(FormatError::Truncated));
        assert_eq!(got.checksum, Checksum::of(&raw));
        let mut wrong_count = segment(&[b"a"]);
        wrong_count[20] = 2;
        assert!(matches!(facts(&wrong_count).await.unwrap().malformed, Some(FormatError::FieldCount(2, 1))));
    }

    #[tokio::test]
    async fn a_cut_compressed_stream_is_an_error() {
        let compressed = zstd::encode_all(&segment(&[&b"abc"[..]; 50])[..], 1).unwrap();
        let compressed = &compressed[..compressed.len() / 2];
        let err = read_segment(compressed, CopyFormat::Binary, 1, |_| {}).await.unwrap_err();
        assert!(err.starts_with("cannot read or decompress"), "{err}");
    }
}
