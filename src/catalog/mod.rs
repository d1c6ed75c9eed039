//! Catalog: reads a database's structure from `pg_catalog` into the schema
//! model ([`model`]), with the SQL that recreates every object.
//!
//! The reader runs inside the dump's snapshot transaction with an empty
//! `search_path`, as pg_dump does: then `pg_get_*def` and `format_type`
//! qualify every name, and the SQL means the same thing on any destination.
//!
//! One module per family of objects adds them to the [`graph::Graph`];
//! `pg_depend` then orders them.

mod acl;
mod comments;
mod constraints;
mod database;
mod foreign;
pub mod globals;
pub mod graph;
pub mod large_objects;
pub mod model;
mod namespaces;
mod publications;
mod query;
mod relations;
mod routines;
mod rules;
pub mod scope;
mod types;
pub mod version;
mod views;

use thiserror::Error;
use tokio_postgres::Client;

use graph::Graph;
pub use model::{ColumnInfo, DatabaseSchema, DdlObject, ObjectKind, Phase, TableData};
pub use version::ServerVersion;

/// A failure to read the catalog.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("reading {what} from the source catalog: {message}")]
    Query { what: &'static str, message: String },
    #[error("{message}")]
    Unsupported { message: String },
}

impl CatalogError {
    pub fn query(what: &'static str, error: &tokio_postgres::Error) -> Self {
        CatalogError::Query { what, message: crate::pg::error_message(error) }
    }
}

/// What the reader found that it cannot reproduce, for the user to see.
pub type Warnings = Vec<String>;

/// Reads the whole structure of the database `client` is connected to.
///
/// The caller provides the transaction (and its snapshot); the reader only
/// runs queries.
///
/// # Errors
/// A catalog query that fails.
pub async fn read(client: &Client) -> Result<(DatabaseSchema, Warnings), CatalogError> {
    let version = ServerVersion::of(client).await.map_err(|e| CatalogError::query("the server version", &e))?;
    version.check_source()?;
    let mut graph = Graph::default();
    let mut warnings = Warnings::new();
    if version.at_least(version::NEWEST_TESTED_MAJOR + 1) {
        warnings.push(format!(
            "the source runs PostgreSQL {version}, newer than the newest major replibyte was tested with ({})",
            version::NEWEST_TESTED_MAJOR
        ));
    }
    let database = database::read(client, version).await?;
    namespaces::read(client, &mut graph).await?;
    types::read(client, version, &mut graph, &mut warnings).await?;
    routines::read(client, version, &mut graph).await?;
    foreign::read(client, &mut graph, &mut warnings).await?;
    let mut tables = relations::read(client, version, &mut graph).await?;
    tables.extend(large_objects::read(client, &mut graph).await?);
    constraints::read(client, version, &mut graph).await?;
    rules::read(client, &mut graph).await?;
    publications::read(client, version, &mut graph).await?;
    comments::read(client, &mut graph).await?;
    acl::read(client, &mut graph).await?;
    query::type_aliases(client, version, &mut graph).await?;
    query::warn_unsupported(client, &mut warnings).await?;
    let depend_rows = query::dependencies(client).await?;
    let (objects, cycle_warnings) = graph.finish(&depend_rows);
    warnings.extend(cycle_warnings);
    Ok((DatabaseSchema { database, objects, tables }, warnings))
}
