//! One part of a table (the whole table, or a range of its pages) on its
//! journey: COPY OUT → rows → (transform) → segments → bridge objects.

use std::sync::Arc;

use futures::StreamExt;
use tokio_postgres::Client;

use super::error::RowError;
use super::parts::Part;
use super::upload::Upload;
use super::DumpError;
use crate::bridge::Bridge;
use crate::catalog::{large_objects, TableData};
use crate::copy::rows::RowSplitter;
use crate::copy::statement;
use crate::format::{keys, DumpId, SegmentEntry};
use crate::pg::ident::quote_qualified;
use crate::progress::Progress;
use crate::segment::{SegmentOptions, Segmenter};
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
        lock_or_stop(client, table).await?;
        statement::copy_out(&table.schema, &table.name, &columns, table.format, filter.as_deref())
    };
    let mut task = context.progress.table_part(&name, part.number, part.of, part.estimated_bytes.max(0) as u64);

    let stream = client.copy_out(&sql).await.map_err(|e| DumpError::table(&name, crate::pg::error_message(&e)))?;
    futures::pin_mut!(stream);
    let mut splitter = RowSplitter::new(table.format, columns.len());
    let mut segmenter = Segmenter::new(table.format, context.segment);
    let (database, number) = (context.database.as_str(), part.number);
    let key = |n: usize| keys::segment(&context.id, database, &table.schema, &table.name, number, n);
    let mut upload = Upload::new(context.bridge.as_ref(), key);
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
        upload.abort().await;
        return Err(e);
    }
    let segments = upload.into_segments();
    task.finish(segments.iter().map(|s| s.rows).sum());
    Ok(segments)
}

/// Takes the table's ACCESS SHARE lock without waiting, as pg_dump's
/// workers do. The coordinator holds that lock from the start; a session
/// that asks for ACCESS EXCLUSIVE meanwhile (ALTER TABLE, TRUNCATE, DROP)
/// queues behind it, and a worker's COPY would queue behind that request:
/// three sessions waiting for each other through the client, a deadlock
/// PostgreSQL cannot see. Failing the dump ends it.
async fn lock_or_stop(client: &Client, table: &TableData) -> Result<(), DumpError> {
    let sql = format!("LOCK TABLE {} IN ACCESS SHARE MODE NOWAIT", quote_qualified(&table.schema, &table.name));
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => Err(DumpError::table(
            &table.display_name(),
            "another session asked for an exclusive lock on it (ALTER TABLE, TRUNCATE, DROP, VACUUM FULL, …) \
             while the dump was running; the dump stops rather than wait for it forever (the dump's own lock \
             holds that session back): run the dump again once it is done",
        )),
        Err(e) => Err(DumpError::table(&table.display_name(), crate::pg::error_message(&e))),
    }
}
