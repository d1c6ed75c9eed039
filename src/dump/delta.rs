//! A delta: the changes committed on the source since the chain's previous
//! dump, read from the slot, transformed like the base's rows, stored as
//! segments of change records. The slot moves on only once the manifest
//! is stored, so a delta that fails or is killed is taken again, whole,
//! by the next run.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use tokio_postgres::{Client, CopyOutStream};
use tracing::info;

use super::upload::Upload;
use super::{chain, read_schema, DumpError, DumpOptions};
use crate::bridge::Bridge;
use crate::catalog::{DatabaseSchema, ObjectKind, TableData};
use crate::changes::pgoutput::{self, Message, OldRow, RelationColumn, Value};
use crate::changes::record::Change;
use crate::changes::rows::RowRewriter;
use crate::changes::slot;
use crate::changes::snapshot::Snapshot;
use crate::copy::rows::RowSplitter;
use crate::copy::{binary, CopyFormat};
use crate::format::{
    self, keys, ChangeSet, ChangeTable, DatabaseEntry, DumpId, DumpKind, Manifest, Replication, SequenceValue,
};
use crate::progress::Progress;
use crate::segment::Segmenter;
use crate::transform::{Plans, Rewriter};

/// What a delta run came to.
pub enum Outcome {
    /// The delta, ready to be committed; the slot moves on once it is
    /// ([`advance_slot`]).
    Stored(Box<Manifest>),
    /// The chain cannot go on; a new base is needed, for this reason.
    NeedsBase(String),
}

/// Takes the delta after `parent`. Nothing is stored for good here: the
/// caller commits the manifest; the slot is advanced right after.
///
/// The slot's changes are read on `reader`, a second connection: the
/// server decodes them there (the whole range, before the first row comes
/// back) while `client` reads the catalog to see whether the schema
/// changed and plans the transformers (a fifth of a delta's time when it
/// came before the peek, on one connection).
///
/// # Errors
/// A failing query, segment or bridge.
#[allow(clippy::too_many_arguments)]
pub async fn dump(
    client: &Client,
    reader: &Client,
    id: &DumpId,
    bridge: Arc<dyn Bridge>,
    options: &DumpOptions,
    progress: &Progress,
    parent: &Manifest,
    slot_name: &str,
) -> Result<Outcome, DumpError> {
    let replication = parent.replication.clone().expect("a chain's dump has its place in the WAL");
    match slot::state(client, slot_name).await? {
        None => return Ok(Outcome::NeedsBase(format!("replication slot {slot_name} is gone"))),
        Some(state) if state.retained_bytes > options.max_retained_wal as i64 => {
            slot::drop(client, slot_name).await?;
            return Ok(Outcome::NeedsBase(format!(
                "replication slot {slot_name} held back {} of WAL, more than max_retained_wal ({}): it was dropped",
                bytesize::ByteSize(state.retained_bytes.max(0) as u64),
                bytesize::ByteSize(options.max_retained_wal)
            )));
        }
        Some(state) => match state.confirmed_flush {
            Some(at) if at == replication.end_lsn => {}
            // The previous delta was stored but the slot not moved on (a
            // run killed in between): catch up.
            Some(at) if at < replication.end_lsn => slot::advance(client, slot_name, replication.end_lsn).await?,
            at => {
                return Ok(Outcome::NeedsBase(format!(
                    "replication slot {slot_name} stands at {}, the chain's last dump ends at {}",
                    at.map(|l| l.to_string()).unwrap_or_default(),
                    replication.end_lsn
                )))
            }
        },
    }
    // The end of the range comes before the catalog is read: a schema
    // change committed in the range is then seen by both the relation
    // messages and the catalog.
    let upto = slot::flushed_lsn(client).await?;
    let peek = slot::peek_copy(slot_name, upto);
    // The server answers the peek only once it has decoded every change
    // (the COPY's first message waits for its first rows): the catalog is
    // read meanwhile, without waiting for that answer.
    let mut opening = Box::pin(reader.copy_out(&peek));
    let mut opened = None;
    let base_fingerprint = replication.schema_fingerprint.clone();
    let mut catalog = std::pin::pin!(async move {
        let schema = read_schema_now(client, options).await?;
        if chain::schema_fingerprint(&schema) != base_fingerprint {
            return Ok(None);
        }
        let plans = options.rules.plan(client, &schema.tables).await?;
        Ok::<_, DumpError>(Some((schema, plans)))
    });
    let checked = loop {
        tokio::select! {
            checked = &mut catalog => break checked?,
            stream = &mut opening, if opened.is_none() => opened = Some(stream),
        }
    };
    let Some((schema, plans)) = checked else {
        // Dropped first: the connection then discards what the peek sends.
        drop((opening, opened));
        slot::stop_reading(client, reader, slot_name).await?;
        return Ok(Outcome::NeedsBase("the schema changed since the chain's base".to_string()));
    };
    let stream = match opened {
        Some(stream) => stream,
        None => opening.await,
    }
    .map_err(|e| DumpError::query("reading the replication slot", &e))?;
    let seen_by_base = match (&parent.kind, &replication.base_snapshot) {
        (DumpKind::Full, Some(text)) => {
            Some(Snapshot::parse(text).map_err(|message| DumpError::Incremental { message })?)
        }
        _ => None,
    };
    let database = parent.databases.first().map(|d| d.name.clone()).unwrap_or_default();
    info!(dump = %id, parent = %parent.id, from = %replication.end_lsn, to = %upto, "delta started");

    let changes = ChangeReader::new(&schema, plans, seen_by_base);
    let read = changes.run(stream, bridge.as_ref(), id, &database, options, progress).await?;
    let (tables, count, segments) = match read {
        Ok(read) => read,
        Err(reason) => {
            slot::stop_reading(client, reader, slot_name).await?;
            return Ok(Outcome::NeedsBase(reason));
        }
    };
    let sequences = sequence_values(client, &schema).await?;
    let changes = ChangeSet { tables, count, segments, sequences };
    let schema_key = parent.databases.first().map(|d| d.schema_key.clone()).unwrap_or_default();
    let databases = vec![DatabaseEntry { name: database, schema_key, tables: Vec::new(), changes: Some(changes) }];
    let mut manifest = super::new_manifest(id, options, parent.source_server_version.clone(), databases, 0);
    manifest.kind = DumpKind::Incremental;
    manifest.format_version = format::INCREMENTAL_FORMAT_VERSION;
    manifest.parent = Some(parent.id.clone());
    manifest.replication = Some(Replication {
        start_lsn: replication.end_lsn,
        end_lsn: upto,
        base_snapshot: None,
        chain_length: replication.chain_length + 1,
        ..replication
    });
    Ok(Outcome::Stored(Box::new(manifest)))
}

/// The source's schema, read in one snapshot.
async fn read_schema_now(client: &Client, options: &DumpOptions) -> Result<DatabaseSchema, DumpError> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .map_err(|e| DumpError::query("starting the catalog transaction", &e))?;
    let schema = read_schema(client, options).await?;
    client.batch_execute("COMMIT").await.map_err(|e| DumpError::query("ending the catalog transaction", &e))?;
    Ok(schema)
}

/// Moves the slot past what the committed delta `manifest` holds.
///
/// # Errors
/// A failing statement: the delta stays stored; the next run catches up.
pub async fn advance_slot(client: &Client, manifest: &Manifest) -> Result<(), DumpError> {
    if let (DumpKind::Incremental, Some(replication)) = (manifest.kind, &manifest.replication) {
        slot::advance(client, &replication.slot, replication.end_lsn).await?;
    }
    Ok(())
}

/// A table as the relation messages describe it.
struct Relation {
    /// Position in the delta's table list.
    index: u32,
    /// Position in the schema's table list, for its transformers.
    table: usize,
}

/// Reads the slot's messages into change records.
struct ChangeReader<'a> {
    schema: &'a DatabaseSchema,
    plans: Plans,
    seen_by_base: Option<Snapshot>,
    by_name: HashMap<(String, String), usize>,
    relations: HashMap<u32, Relation>,
    tables: Vec<ChangeTable>,
}

/// Tables, change count and segments of a delta; or why a base is needed.
type Read = Result<(Vec<ChangeTable>, u64, Vec<format::SegmentEntry>), String>;

impl<'a> ChangeReader<'a> {
    fn new(schema: &'a DatabaseSchema, plans: Plans, seen_by_base: Option<Snapshot>) -> Self {
        let by_name = schema.tables.iter().enumerate().map(|(i, t)| ((t.schema.clone(), t.name.clone()), i)).collect();
        ChangeReader { schema, plans, seen_by_base, by_name, relations: HashMap::new(), tables: Vec::new() }
    }

    /// Reads the changes `stream` (the slot's peek) carries.
    async fn run(
        mut self,
        stream: CopyOutStream,
        bridge: &dyn Bridge,
        id: &DumpId,
        database: &str,
        options: &DumpOptions,
        progress: &Progress,
    ) -> Result<Read, DumpError> {
        futures::pin_mut!(stream);
        let mut task = progress.table("changes", 0);
        let mut splitter = RowSplitter::new(CopyFormat::Binary, 1);
        let mut segmenter = Segmenter::new(CopyFormat::Binary, options.segment);
        let key = |n: usize| keys::changes(id, database, n);
        let mut upload = Upload::new(bridge, key);
        let plans = self.plans.clone();
        let mut rewriters: HashMap<usize, Option<Arc<crate::transform::TablePlan>>> = HashMap::new();
        let mut rows = RowRewriter::default();
        let (mut old, mut new) = (Vec::new(), Vec::new());
        let mut skipping = false;
        let mut count = 0u64;
        let mut needs_base: Option<String> = None;
        let result: Result<(), DumpError> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| DumpError::query("reading the replication slot", &e))?;
                task.add_bytes(chunk.len() as u64);
                let mut messages = Vec::new();
                splitter
                    .feed::<crate::copy::binary::FormatError>(&chunk, |row| {
                        messages.push(binary::fields(row).next().flatten().unwrap_or_default().to_vec());
                        Ok(())
                    })
                    .map_err(|e| DumpError::Incremental { message: format!("reading the slot: {e}") })?;
                for data in messages {
                    let message = pgoutput::decode(&data)
                        .map_err(|e| DumpError::Incremental { message: format!("reading the slot: {e}") })?;
                    let change = match message {
                        Message::Begin { xid } => {
                            skipping = self.seen_by_base.as_ref().is_some_and(|s| s.saw(xid));
                            continue;
                        }
                        Message::Commit | Message::Other => continue,
                        Message::Relation { id, schema, name, full_identity, columns } => {
                            if let Err(reason) = self.relation(id, schema, name, full_identity, &columns) {
                                needs_base = Some(reason);
                                return Ok(());
                            }
                            continue;
                        }
                        _ if skipping => continue,
                        message => message,
                    };
                    let encoded = self.encode(change, &plans, &mut rewriters, &mut rows, &mut old, &mut new)?;
                    let Some(change) = encoded else { continue };
                    segmenter
                        .write_row::<std::io::Error>(|batch| {
                            change.encode(batch);
                            Ok(())
                        })
                        .map_err(|e| DumpError::table("changes", format!("compression: {e}")))?;
                    count += 1;
                    upload.handle(&mut segmenter).await?;
                }
            }
            splitter.finish().map_err(|e| DumpError::Incremental { message: format!("reading the slot: {e}") })?;
            segmenter.finish().map_err(|e| DumpError::table("changes", format!("compression: {e}")))?;
            upload.handle(&mut segmenter).await
        }
        .await;
        if let Err(e) = result {
            upload.abort().await;
            return Err(e);
        }
        if let Some(reason) = needs_base {
            upload.abort().await;
            return Ok(Err(reason));
        }
        task.finish(count);
        Ok(Ok((self.tables, count, upload.into_segments())))
    }

    /// Registers a relation; an error names why the chain cannot go on.
    fn relation(
        &mut self,
        id: u32,
        schema: String,
        name: String,
        full_identity: bool,
        columns: &[RelationColumn],
    ) -> Result<(), String> {
        let Some(&table) = self.by_name.get(&(schema.clone(), name.clone())) else {
            return Ok(()); // not in the dump's scope
        };
        let known: Vec<&str> = self.schema.tables[table].columns.iter().map(|c| c.name.as_str()).collect();
        let sent: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        if known != sent {
            return Err(format!("the columns of {schema}.{name} changed since the chain's base"));
        }
        let change_table = ChangeTable {
            schema,
            name,
            columns: sent.iter().map(|c| c.to_string()).collect(),
            key: columns.iter().filter(|c| c.key || full_identity).map(|c| c.name.clone()).collect(),
            full_identity,
        };
        let index = match self.tables.iter().position(|t| *t == change_table) {
            Some(i) => i,
            None => {
                self.tables.push(change_table);
                self.tables.len() - 1
            }
        };
        self.relations.insert(id, Relation { index: index as u32, table });
        Ok(())
    }

    /// The record of a row change (none for a table outside the scope).
    #[allow(clippy::too_many_arguments)]
    fn encode<'b>(
        &self,
        message: Message<'_>,
        plans: &Plans,
        rewriters: &mut HashMap<usize, Option<Arc<crate::transform::TablePlan>>>,
        rows: &mut RowRewriter,
        old: &'b mut Vec<u8>,
        new: &'b mut Vec<u8>,
    ) -> Result<Option<Change<'b>>, DumpError> {
        old.clear();
        new.clear();
        let mut rewrite = |relation: &Relation, values: &[Value<'_>], out: &mut Vec<u8>| -> Result<(), DumpError> {
            let table: &TableData = &self.schema.tables[relation.table];
            let plan = rewriters.entry(relation.table).or_insert_with(|| plans.get(table)).clone();
            let mut rewriter = plan.as_deref().map(|p| p.rewriter());
            rows.rewrite(values, rewriter.as_mut().map(|r: &mut Rewriter<'_>| r), out)
                .map_err(|e| DumpError::table(&table.display_name(), e))
        };
        Ok(match message {
            Message::Insert { relation, new: values } => {
                let Some(relation) = self.relations.get(&relation) else { return Ok(None) };
                rewrite(relation, &values, new)?;
                Some(Change::Insert { table: relation.index, new })
            }
            Message::Update { relation, old_kind, old: old_values, new: values } => {
                let Some(relation) = self.relations.get(&relation) else { return Ok(None) };
                if old_kind != OldRow::None {
                    rewrite(relation, &old_values, old)?;
                }
                rewrite(relation, &values, new)?;
                let old = (old_kind != OldRow::None).then_some(&old[..]);
                Some(Change::Update { table: relation.index, old, new })
            }
            Message::Delete { relation, old: old_values, .. } => {
                let Some(relation) = self.relations.get(&relation) else { return Ok(None) };
                rewrite(relation, &old_values, old)?;
                Some(Change::Delete { table: relation.index, old })
            }
            Message::Truncate { relations, cascade, restart_identity } => {
                let tables: Vec<u32> =
                    relations.iter().filter_map(|r| self.relations.get(r)).map(|r| r.index).collect();
                (!tables.is_empty()).then_some(Change::Truncate { tables, cascade, restart_identity })
            }
            _ => None,
        })
    }
}

/// Every dumped sequence's value now.
async fn sequence_values(client: &Client, schema: &DatabaseSchema) -> Result<Vec<SequenceValue>, DumpError> {
    let names: Vec<&str> =
        schema.objects.iter().filter(|o| o.kind == ObjectKind::SequenceValue).map(|o| o.name.as_str()).collect();
    let mut out = Vec::with_capacity(names.len());
    for batch in names.chunks(200) {
        let sql = batch
            .iter()
            .enumerate()
            .map(|(i, name)| format!("SELECT {i}, last_value, is_called FROM {name}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in client.query(&sql, &[]).await.map_err(|e| DumpError::query("reading sequence values", &e))? {
            let i: i32 = row.get(0);
            out.push(SequenceValue {
                name: batch[i as usize].to_string(),
                last_value: row.get(1),
                is_called: row.get(2),
            });
        }
    }
    Ok(out)
}
