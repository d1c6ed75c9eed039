//! What can go wrong during a restore.

use thiserror::Error;

use crate::bridge::BridgeError;
use crate::catalog::ServerVersion;
use crate::format::store::StoreError;
use crate::pg::{error_message, ConnectError};

#[derive(Debug, Error)]
pub enum RestoreError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("{what}: {message}")]
    Query { what: String, message: String },
    #[error("creating {kind} {name}: {message}")]
    Object { kind: String, name: String, message: String },
    #[error("table {table}, segment {key}: {message}")]
    Segment { table: String, key: String, message: String },
    #[error("a restore worker stopped: {0}")]
    Worker(String),
    #[error("the restore was cancelled; the destination is unchanged")]
    Cancelled,
    #[error("{what} needs PostgreSQL {major} or newer, the destination runs {destination}: restore into PostgreSQL {major} or newer; nothing was changed")]
    TooOld { what: String, major: u32, destination: ServerVersion },
}

impl RestoreError {
    pub fn query(what: impl Into<String>, error: &tokio_postgres::Error) -> Self {
        RestoreError::Query { what: what.into(), message: error_message(error) }
    }
}
