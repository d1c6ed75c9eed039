//! Answers the control port's statements, over the simple query protocol
//! (psql) and the extended one (drivers' prepared statements, Grafana):
//! the calls that start a run, and SQL over the agent's state.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::{stream, Sink};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeResponse, DescribeStatementResponse, FieldFormat, FieldInfo,
    QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{NoopQueryParser, StoredStatement};
use pgwire::api::{ClientInfo, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::messages::PgWireBackendMessage;

use super::query::{self, Command};
use super::sql::{self, Answer, Column, ColumnType, Parameter, Snapshot, SqlError, Value};
use crate::agent::runner::Runner;
use crate::agent::state::{AgentState, RunKind};
use crate::bridge::Bridge;
use crate::format::store;

/// What the control port reads and drives.
pub struct ControlHandler {
    pub state: Arc<AgentState>,
    pub runner: Arc<Runner>,
    pub bridge: Arc<dyn Bridge>,
    pub parser: Arc<NoopQueryParser>,
}

#[async_trait]
impl SimpleQueryHandler for ControlHandler {
    async fn do_query<'a, C>(&self, _client: &mut C, sql: &str) -> PgWireResult<Vec<Response<'a>>>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Ok(vec![self.respond(sql, Vec::new(), &Format::UnifiedText).await?])
    }
}

#[async_trait]
impl ExtendedQueryHandler for ControlHandler {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<NoopQueryParser> {
        self.parser.clone()
    }

    async fn do_query<'a, C>(
        &self,
        _client: &mut C,
        portal: &Portal<String>,
        _max_rows: usize,
    ) -> PgWireResult<Response<'a>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let parameters = parameters(portal)?;
        self.respond(&portal.statement.statement, parameters, &portal.result_column_format).await
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        statement: &StoredStatement<String>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if query::command(&statement.statement).is_some() {
            return Ok(DescribeStatementResponse::no_data());
        }
        let (answer, count) = self.select(&statement.statement, Vec::new()).await?;
        // Parameters the client did not type are text: SQLite compares
        // them with a column by the column's type (`rows > '10'` is a
        // number comparison).
        let types = (0..count)
            .map(|i| match statement.parameter_types.get(i) {
                Some(t) if *t != Type::UNKNOWN => t.clone(),
                _ => Type::TEXT,
            })
            .collect();
        Ok(DescribeStatementResponse::new(types, fields(&answer.columns, &Format::UnifiedText)))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<String>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if query::command(&portal.statement.statement).is_some() {
            return Ok(DescribePortalResponse::no_data());
        }
        let (answer, _) = self.select(&portal.statement.statement, parameters(portal)?).await?;
        Ok(DescribePortalResponse::new(fields(&answer.columns, &portal.result_column_format)))
    }
}

impl ControlHandler {
    /// A command's effect or a statement's rows.
    async fn respond(
        &self,
        sql: &str,
        parameters: Vec<Option<Parameter>>,
        format: &Format,
    ) -> PgWireResult<Response<'static>> {
        match query::command(sql) {
            Some(Command::Empty) => Ok(Response::EmptyQuery),
            Some(Command::DumpNow) => self.start(RunKind::Dump),
            Some(Command::RestoreNow) => self.start(RunKind::Restore),
            None => {
                let (answer, _) = self.select(sql, parameters).await?;
                rows(answer, format)
            }
        }
    }

    /// Runs `sql` over the agent's state; also returns how many parameters
    /// it takes.
    async fn select(&self, sql: &str, parameters: Vec<Option<Parameter>>) -> PgWireResult<(Answer, usize)> {
        let text = sql.to_string();
        let needs = blocking(move || sql::needs(&text)).await?;
        let dumps = if needs.dumps {
            store::list(self.bridge.as_ref()).await.map_err(|e| user_error("58000", e.to_string()))?
        } else {
            Vec::new()
        };
        let snapshot = Snapshot {
            now: Utc::now(),
            dumps,
            runs: self.state.runs(),
            status: self.state.status(),
            tables: self.state.tables(),
        };
        let text = sql.to_string();
        let answer = blocking(move || sql::answer(&text, &snapshot, &parameters)).await?;
        Ok((answer, needs.parameters))
    }

    fn start(&self, kind: RunKind) -> PgWireResult<Response<'static>> {
        self.runner.start(kind).map_err(|e| user_error("55006", e.to_string()))?;
        Ok(Response::Execution(Tag::new("CALL")))
    }
}

/// Runs SQLite work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, SqlError> + Send + 'static) -> PgWireResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| user_error("XX000", format!("the query engine failed: {e}")))?
        .map_err(|e| user_error(e.code(), e.to_string()))
}

/// The parameters of a bound statement, as SQLite values: binary ones
/// decoded by their declared type, text ones read as their type says.
fn parameters(portal: &Portal<String>) -> PgWireResult<Vec<Option<Parameter>>> {
    (0..portal.parameter_len())
        .map(|i| {
            let declared = portal.statement.parameter_types.get(i).cloned().unwrap_or(Type::UNKNOWN);
            let Some(bytes) = &portal.parameters[i] else { return Ok(None) };
            let value = if portal.parameter_format.is_binary(i) {
                binary_parameter(portal, i, &declared)?
            } else {
                text_parameter(&String::from_utf8_lossy(bytes), &declared)
            };
            Ok(Some(value))
        })
        .collect()
}

fn binary_parameter(portal: &Portal<String>, i: usize, declared: &Type) -> PgWireResult<Parameter> {
    let value = match *declared {
        Type::INT2 => portal.parameter::<i16>(i, declared)?.map(|v| Parameter::Integer(v.into())),
        Type::INT4 => portal.parameter::<i32>(i, declared)?.map(|v| Parameter::Integer(v.into())),
        Type::INT8 => portal.parameter::<i64>(i, declared)?.map(Parameter::Integer),
        Type::FLOAT4 => portal.parameter::<f32>(i, declared)?.map(|v| Parameter::Real(v.into())),
        Type::FLOAT8 => portal.parameter::<f64>(i, declared)?.map(Parameter::Real),
        Type::BOOL => portal.parameter::<bool>(i, declared)?.map(|v| Parameter::Integer(v.into())),
        Type::TIMESTAMPTZ => {
            portal.parameter::<DateTime<Utc>>(i, declared)?.map(|at| Parameter::Text(sql::timestamp(at)))
        }
        Type::TIMESTAMP => {
            portal.parameter::<NaiveDateTime>(i, declared)?.map(|at| Parameter::Text(sql::timestamp(at.and_utc())))
        }
        _ => portal.parameter::<String>(i, &Type::TEXT)?.map(Parameter::Text),
    };
    Ok(value.unwrap_or(Parameter::Null))
}

fn text_parameter(text: &str, declared: &Type) -> Parameter {
    let number = match *declared {
        Type::INT2 | Type::INT4 | Type::INT8 => text.parse().ok().map(Parameter::Integer),
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => text.parse().ok().map(Parameter::Real),
        Type::BOOL => match text {
            "t" | "true" | "on" | "1" | "yes" => Some(Parameter::Integer(1)),
            "f" | "false" | "off" | "0" | "no" => Some(Parameter::Integer(0)),
            _ => None,
        },
        _ => None,
    };
    number.unwrap_or_else(|| Parameter::Text(text.to_string()))
}

/// The row description of `columns`.
fn fields(columns: &[Column], format: &Format) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| FieldInfo::new(column.name.clone(), None, None, pg_type(column.kind), format.format_for(i)))
        .collect()
}

fn pg_type(kind: ColumnType) -> Type {
    match kind {
        ColumnType::Int8 => Type::INT8,
        ColumnType::Float8 => Type::FLOAT8,
        ColumnType::Bool => Type::BOOL,
        ColumnType::Text => Type::TEXT,
        ColumnType::Timestamptz => Type::TIMESTAMPTZ,
        ColumnType::Bytea => Type::BYTEA,
    }
}

/// The rows of `answer`, encoded as `format` asks.
fn rows(answer: Answer, format: &Format) -> PgWireResult<Response<'static>> {
    let schema = Arc::new(fields(&answer.columns, format));
    let rows: Vec<PgWireResult<DataRow>> = answer
        .rows
        .into_iter()
        .map(|row| {
            let mut encoder = DataRowEncoder::new(schema.clone());
            for (i, value) in row.into_iter().enumerate() {
                let (kind, format) = (schema[i].datatype().clone(), schema[i].format());
                encode(&mut encoder, value, &kind, format)?;
            }
            encoder.finish()
        })
        .collect();
    Ok(Response::Query(QueryResponse::new(schema, stream::iter(rows))))
}

fn encode(encoder: &mut DataRowEncoder, value: Value, kind: &Type, format: FieldFormat) -> PgWireResult<()> {
    match value {
        Value::Null => encoder.encode_field_with_type_and_format(&None::<i64>, kind, format),
        Value::Int(v) => encoder.encode_field_with_type_and_format(&v, kind, format),
        Value::Float(v) => encoder.encode_field_with_type_and_format(&v, kind, format),
        Value::Bool(v) => encoder.encode_field_with_type_and_format(&v, kind, format),
        Value::Text(v) => encoder.encode_field_with_type_and_format(&v, kind, format),
        Value::Time(v) => encoder.encode_field_with_type_and_format(&v, kind, format),
        Value::Bytes(v) => encoder.encode_field_with_type_and_format(&v, kind, format),
    }
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_string(), code.to_string(), message)))
}
