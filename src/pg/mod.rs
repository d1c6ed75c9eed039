//! Talking to PostgreSQL: connections (over TLS as the URI asks, see
//! [`tls`]), session settings, quoting, errors.

pub mod ident;
pub mod tls;

use thiserror::Error;
use tokio_postgres::Client;

use crate::config::ConnectionUri;

/// A connection that could not be made.
#[derive(Debug, Error)]
#[error("cannot connect to PostgreSQL at {server}, database {database:?}: {message}")]
pub struct ConnectError {
    pub server: String,
    pub database: String,
    pub message: String,
}

/// Settings every replibyte session runs with, so that what it reads and
/// writes does not depend on the server's or the role's defaults.
///
/// `search_path = ''` makes the catalog functions qualify every name (as
/// pg_dump does); `row_security = off` makes a dump fail rather than
/// silently miss rows a policy hides; `check_function_bodies = off` lets
/// functions be created before the tables their bodies read. `jit = off`
/// (as pg_dump sets it): the catalog queries' estimates cross the JIT
/// threshold, and compiling them cost a delta dump 45 ms of its 0.25 s.
/// Replibyte's own statements (COPY, DDL, lookups by key) do not gain from
/// JIT; a materialized view refreshed at restore runs its query without it.
const SESSION_SETTINGS: &str = "SET search_path = ''; \
    SET jit = off; \
    SET client_encoding = 'UTF8'; \
    SET standard_conforming_strings = on; \
    SET DateStyle = 'ISO, YMD'; \
    SET IntervalStyle = 'postgres'; \
    SET extra_float_digits = 3; \
    SET statement_timeout = 0; \
    SET lock_timeout = 0; \
    SET idle_in_transaction_session_timeout = 0; \
    SET row_security = off; \
    SET check_function_bodies = off; \
    SET client_min_messages = warning";

/// Opens a connection with replibyte's session settings, over TLS as the
/// URI's `sslmode` asks.
///
/// # Errors
/// When the server cannot be reached, fails the TLS checks or refuses the
/// login; the message names the server and database, never the password.
pub async fn connect(uri: &ConnectionUri, application_name: &str) -> Result<Client, ConnectError> {
    let mut config = uri.config().clone();
    config.application_name(application_name);
    let fail = |message: String| ConnectError {
        server: uri.server(),
        database: uri.database().unwrap_or_default().to_string(),
        message,
    };
    let tls = tls::connector(uri.tls()).map_err(|e| fail(e.to_string()))?;
    let (client, connection) = config.connect(tls).await.map_err(|e| fail(error_message(&e)))?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; an error here is
        // also reported to whoever uses the client.
        let _ = connection.await;
    });
    client.batch_execute(SESSION_SETTINGS).await.map_err(|e| fail(error_message(&e)))?;
    Ok(client)
}

/// One line describing a PostgreSQL error: the server's message with its
/// detail and hint, or the client-side cause.
pub fn error_message(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut out = db.message().to_string();
        if let Some(detail) = db.detail() {
            out.push_str(" (");
            out.push_str(detail);
            out.push(')');
        }
        if let Some(hint) = db.hint() {
            out.push_str("; hint: ");
            out.push_str(hint);
        }
        return out.replace('\n', " ");
    }
    let mut out = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.replace('\n', " ")
}
