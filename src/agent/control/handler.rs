//! Answers the control port's statements from the agent's state.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{stream, Sink};
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::{ClientInfo, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use super::query::{self, Statement};
use crate::agent::runner::Runner;
use crate::agent::state::{AgentState, RunKind};
use crate::bridge::Bridge;
use crate::format::store;

/// What the control port reads and drives.
pub struct ControlHandler {
    pub state: Arc<AgentState>,
    pub runner: Arc<Runner>,
    pub bridge: Arc<dyn Bridge>,
}

/// A cell of a result row: text or a number.
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
}

#[async_trait]
impl SimpleQueryHandler for ControlHandler {
    async fn do_query<'a, C>(&self, _client: &mut C, sql: &str) -> PgWireResult<Vec<Response<'a>>>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement = query::parse(sql).map_err(|message| user_error("42601", message))?;
        let response = match statement {
            Statement::Empty => Response::EmptyQuery,
            Statement::Dumps => self.dumps().await?,
            Statement::Runs => self.runs(),
            Statement::Status => self.status(),
            Statement::DumpNow => self.start(RunKind::Dump)?,
            Statement::RestoreNow => self.start(RunKind::Restore)?,
        };
        Ok(vec![response])
    }
}

impl ControlHandler {
    async fn dumps(&self) -> PgWireResult<Response<'static>> {
        let dumps = store::list(self.bridge.as_ref()).await.map_err(|e| user_error("58000", e.to_string()))?;
        let rows = dumps
            .into_iter()
            .map(|d| {
                vec![
                    Cell::Text(Some(d.id.to_string())),
                    Cell::Text(Some(d.created_at.to_rfc3339())),
                    Cell::Text(Some(d.status)),
                    Cell::Int(Some(d.size_bytes as i64)),
                    Cell::Int(Some(d.tables as i64)),
                    Cell::Int(Some(d.rows as i64)),
                ]
            })
            .collect();
        table(
            &[
                ("id", false),
                ("created_at", false),
                ("status", false),
                ("size_bytes", true),
                ("tables", true),
                ("rows", true),
            ],
            rows,
        )
    }

    fn runs(&self) -> Response<'static> {
        let rows = self
            .state
            .runs()
            .into_iter()
            .map(|r| {
                vec![
                    Cell::Text(Some(r.kind.label().to_string())),
                    Cell::Text(Some(r.started_at.to_rfc3339())),
                    Cell::Text(r.finished_at.map(|t| t.to_rfc3339())),
                    Cell::Text(Some(r.status.to_string())),
                    Cell::Text(r.error),
                    Cell::Text(r.dump_id),
                    Cell::Int(Some(r.rows as i64)),
                    Cell::Int(Some(r.bytes as i64)),
                ]
            })
            .collect();
        let columns = [
            ("kind", false),
            ("started_at", false),
            ("finished_at", false),
            ("status", false),
            ("error", false),
            ("dump_id", false),
            ("rows", true),
            ("bytes", true),
        ];
        table(&columns, rows).unwrap_or(Response::EmptyQuery)
    }

    fn status(&self) -> Response<'static> {
        let status = self.state.status();
        let time = |t: Option<chrono::DateTime<chrono::Utc>>| Cell::Text(t.map(|t| t.to_rfc3339()));
        let row = vec![
            Cell::Text(Some(if status.current.is_some() { "running" } else { "idle" }.to_string())),
            Cell::Text(status.current.map(|r| r.kind.label().to_string())),
            time(status.next_dump),
            time(status.next_restore),
            Cell::Text(status.last_dump.as_ref().map(|r| r.status.to_string())),
            Cell::Text(status.last_dump.and_then(|r| r.dump_id)),
            Cell::Text(status.last_restore.as_ref().map(|r| r.status.to_string())),
            Cell::Text(status.last_restore.and_then(|r| r.dump_id)),
            Cell::Text(Some(env!("CARGO_PKG_VERSION").to_string())),
        ];
        let columns = [
            ("state", false),
            ("current_run", false),
            ("next_dump_at", false),
            ("next_restore_at", false),
            ("last_dump_status", false),
            ("last_dump_id", false),
            ("last_restore_status", false),
            ("last_restored_dump_id", false),
            ("version", false),
        ];
        table(&columns, vec![row]).unwrap_or(Response::EmptyQuery)
    }

    fn start(&self, kind: RunKind) -> PgWireResult<Response<'static>> {
        self.runner.start(kind).map_err(|e| user_error("55006", e.to_string()))?;
        Ok(Response::Execution(Tag::new("CALL")))
    }
}

/// A result set of text and bigint columns.
fn table(columns: &[(&str, bool)], rows: Vec<Vec<Cell>>) -> PgWireResult<Response<'static>> {
    let fields: Vec<FieldInfo> = columns
        .iter()
        .map(|(name, numeric)| {
            let kind = if *numeric { Type::INT8 } else { Type::TEXT };
            FieldInfo::new((*name).to_string(), None, None, kind, FieldFormat::Text)
        })
        .collect();
    let schema = Arc::new(fields);
    let encoded: Vec<PgWireResult<_>> = rows
        .into_iter()
        .map(|row| {
            let mut encoder = DataRowEncoder::new(schema.clone());
            for cell in row {
                match cell {
                    Cell::Text(value) => encoder.encode_field(&value)?,
                    Cell::Int(value) => encoder.encode_field(&value)?,
                }
            }
            encoder.finish()
        })
        .collect();
    Ok(Response::Query(QueryResponse::new(schema, stream::iter(encoded))))
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_string(), code.to_string(), message)))
}
