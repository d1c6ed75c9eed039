//! One table's journey: COPY OUT → rows → segments → bridge objects.

use std::sync::Arc;

use futures::StreamExt;
use tokio_postgres::Client;

use super::error::RowError;
use super::DumpError;
use crate::bridge::{Bridge, ObjectWriter};
use crate::catalog::TableData;
use crate::copy::rows::RowSplitter;
use crate::copy::statement;
use crate::format::{keys, DumpId, SegmentEntry, TableEntry};
use crate::progress::Progress;
use crate::segment::{Event, SegmentOptions, Segmenter};

/// What every table of a dump shares.
pub struct Context {
    pub bridge: Arc<dyn Bridge>,
    pub id: DumpId,
    pub database: String,
    pub segment: SegmentOptions,
    pub progress: Progress,
}

/// Dumps one table with `client`, which is inside the dump's snapshot.
///
/// # Errors
/// A failing COPY, a malformed stream, or a failing bridge; the segment being
/// written is aborted.
pub async fn dump(client: &Client, table: &TableData, context: &Context) -> Result<TableEntry, DumpError> {
    let name = table.display_name();
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    let sql = statement::copy_out(&table.schema, &table.name, &columns, table.format);
    let mut task = context.progress.table(&name, table.estimated_bytes.max(0) as u64);

    let stream = client.copy_out(&sql).await.map_err(|e| DumpError::table(&name, crate::pg::error_message(&e)))?;
    futures::pin_mut!(stream);
    let mut splitter = RowSplitter::new(table.format, columns.len());
    let mut segmenter = Segmenter::new(table.format, context.segment);
    let mut upload = Upload { context, table, writer: None, segments: Vec::new() };

    let result: Result<(), DumpError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| DumpError::table(&name, crate::pg::error_message(&e)))?;
            task.add_bytes(chunk.len() as u64);
            splitter
                .feed::<RowError>(&chunk, |row| segmenter.push_row(row).map_err(RowError::from))
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
    let rows = upload.segments.iter().map(|s| s.rows).sum();
    task.finish(rows);
    Ok(TableEntry {
        schema: table.schema.clone(),
        name: table.name.clone(),
        columns: table.columns.clone(),
        format: table.format,
        rows,
        segments: upload.segments,
    })
}

/// Moves a table's segment events into bridge objects.
struct Upload<'a> {
    context: &'a Context,
    table: &'a TableData,
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
