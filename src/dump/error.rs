//! What can go wrong during a dump.

use thiserror::Error;

use crate::bridge::BridgeError;
use crate::catalog::CatalogError;
use crate::copy::binary::FormatError;
use crate::format::store::StoreError;
use crate::pg::{error_message, ConnectError};
use crate::transform::{RewriteError, RulesError};

#[derive(Debug, Error)]
pub enum DumpError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Transform(#[from] RulesError),
    #[error("{what}: {message}")]
    Query { what: String, message: String },
    #[error("source.{message}")]
    Scope { message: String },
    #[error("table {table}: {message}")]
    Table { table: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bridge(#[from] BridgeError),
    #[error("a dump worker stopped: {0}")]
    Worker(String),
    #[error("the dump was cancelled; it is not listed as complete")]
    Cancelled,
    #[error("source.incremental: {message}")]
    Incremental { message: String },
    #[error("source.incremental: {0}")]
    Slot(#[from] crate::changes::slot::SlotError),
    #[error("source.unmasked_pii is fail: {message}")]
    UnmaskedPii { message: String },
}

impl DumpError {
    pub fn query(what: &str, error: &tokio_postgres::Error) -> Self {
        DumpError::Query { what: what.to_string(), message: error_message(error) }
    }

    pub fn table(table: &str, message: impl std::fmt::Display) -> Self {
        DumpError::Table { table: table.to_string(), message: message.to_string() }
    }
}

/// A row-level failure inside a table's pipeline, before the table's name
/// is attached.
#[derive(Debug, Error)]
pub enum RowError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("compression: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Transform(#[from] RewriteError),
}
