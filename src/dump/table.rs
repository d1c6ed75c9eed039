//! One part of a table (the whole table, or a range of its pages) on its
//! journey: COPY OUT → rows → (transform) → segments → bridge objects.

use std::sync::Arc;

use futures::StreamExt;
use tokio_postgres::Client;

use super::error::RowError;
use super::parts::Part;
use super::DumpError;
use crate::bridge::{Bridge, ObjectWriter};
use crate::catalog::{large_objects, TableData};
use crate::copy::rows::RowSplitter;
use crate::copy::statement;
use crate::format::{keys, DumpId, SegmentEntry};
use crate::progress::Progress;
use crate::segment::{Event, SegmentOptions, Segmenter};
use crate::transform::{Plans, TablePlan};

/// What every table of a dump shares.
#[derive(Clone)]
pub struct Context {
    pub bridge: Arc<dyn Bridge>,
    pub id: DumpId,
    pub database: String,
    pub segment: SegmentOptions,
    pub progress: Progress,
    /// How the tables with transformed columns are rewritten.
    pub plans: Plans,
}

/// Dumps one part of `table` with `client`, which is inside the dump's
/// snapshot; returns the part's segments.
///
/// # Errors
/// A failing COPY, a malformed stream, or a failing bridge; the segment being
/// written is aborted.
pub async fn dump(
    client: &Client,
    table: &TableData,
    part: &Part,
    context: &Context,
) -> Result<Vec<SegmentEntry>, DumpError> {
    let name = table.display_name();
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let filter = part.filter();
    let sql = if large_objects::is_large_objects(&table.schema, &table.name) {
        format!("COPY ({}) TO STDOUT (FORMAT binary)", large_objects::copy_out_query())
    } else {
        statement::copy_out(&table.schema, &table.name, &columns, table.format, filter.as_deref())
    };
    let label = if part.of > 1 { format!("{name} [{}/{}]", part.number + 1, part.of) } else { name.clone() };
    let mut task = context.progress.table(&label, part.estimated_bytes.max(0) as u64);

    let stream = client.copy_out(&sql).await.map_err(|e| DumpError::table(&name, crate::pg::error_message(&e)))?;
    futures::pin_mut!(stream);
    let mut splitter = RowSplitter::new(table.format, columns.len());
    let mut segmenter = Segmenter::new(table.format, context.segment);
    let mut upload = Upload { context, table, part: part.number, writer: None, segments: Vec::new() };
    let plan = context.plans.get(table);
    let mut rewriter = plan.as_deref().map(TablePlan::rewriter);

    let result: Result<(), DumpError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| DumpError::table(&name, crate::pg::error_message(&e)))?;
            task.add_bytes(chunk.len() as u64);
            splitter
                .feed::<RowError>(&chunk, |row| match rewriter.as_mut() {
                    Some(rewriter) => segmenter.write_row(|batch| rewriter.rewrite(row, batch).map_err(RowError::from)),
                    None => segmenter.push_row(row).map_err(RowError::from),
                })
                .map_err(|e| DumpError::table(&name, e))?;
            upload.handle(&mut segmenter).await?;
        }
        splitter.finish().map_err(|e| DumpError::table(&name, e))?;
        segmenter.finish().map_err(|e| DumpError::table(&name, e))?;
        upload.handle(&mut segmenter).await
    }
    .await;
    if let Err(e) = result {
        if let Some((_, writer)) = upload.writer.take() {
            writer.abort().await;
        }
        return Err(e);
    }
    task.finish(upload.segments.iter().map(|s| s.rows).sum());
    Ok(upload.segments)
}

/// Moves a part's segment events into bridge objects.
struct Upload<'a> {
    context: &'a Context,
    table: &'a TableData,
    part: usize,
    writer: Option<(String, Box<dyn ObjectWriter>)>,
    segments: Vec<SegmentEntry>,
}

impl Upload<'_> {
    async fn handle(&mut self, segmenter: &mut Segmenter) -> Result<(), DumpError> {
        for event in segmenter.drain() {
            match event {
                Event::Data(bytes) => {
                    if self.writer.is_none() {
                        let key = keys::segment(
                            &self.context.id,
                            &self.context.database,
                            &self.table.schema,
                            &self.table.name,
                            self.part,
                            self.segments.len(),
                        );
                        let writer = self.context.bridge.create(&key).await?;
                        self.writer = Some((key, writer));
                    }
                    let (_, writer) = self.writer.as_mut().expect("opened above");
                    writer.write(bytes).await?;
                }
                Event::End(stats) => {
                    let (key, writer) = self.writer.take().expect("a segment ends after its data");
                    let stored_bytes = writer.finish().await?;
                    self.segments.push(SegmentEntry {
                        key,
                        rows: stats.rows,
                        raw_bytes: stats.raw_bytes,
                        stored_bytes,
                        checksum: stats.checksum,
                    });
                }
            }
        }
        Ok(())
    }
}
