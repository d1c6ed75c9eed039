//! The schema model: what a dump records about one database's structure.
//!
//! Plain data, serialized as `schema.json` in a dump. Objects are stored in
//! dependency order; a restore runs the pre-data objects, loads the rows,
//! then runs the data, post-data and refresh objects, in that order.

use serde::{Deserialize, Serialize};

use crate::copy::CopyFormat;

/// The structure of one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSchema {
    pub database: DatabaseInfo,
    /// Every object, in an order that respects dependencies.
    pub objects: Vec<DdlObject>,
    /// Tables whose rows are copied, largest first.
    pub tables: Vec<TableData>,
}

/// Properties of the database itself, used to create its copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseInfo {
    pub name: String,
    pub encoding: String,
    pub lc_collate: String,
    pub lc_ctype: String,
    /// `libc`, `icu` (15+) or `builtin` (17+).
    pub locale_provider: String,
    pub icu_locale: Option<String>,
    /// `ICU_RULES` (16+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icu_rules: Option<String>,
    /// `BUILTIN_LOCALE` (17+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin_locale: Option<String>,
    /// `ALTER DATABASE … SET` statements, written with a placeholder for
    /// the database name (see [`DATABASE_NAME_PLACEHOLDER`]).
    pub settings: Vec<String>,
}

#[cfg(test)]
impl DatabaseInfo {
    /// A plain UTF-8 database, for tests.
    pub fn example() -> Self {
        DatabaseInfo {
            name: "example".into(),
            encoding: "UTF8".into(),
            lc_collate: "C".into(),
            lc_ctype: "C".into(),
            locale_provider: "libc".into(),
            icu_locale: None,
            icu_rules: None,
            builtin_locale: None,
            settings: Vec::new(),
        }
    }
}

/// Stands for the destination database's (quoted) name in
/// [`DatabaseInfo::settings`]: the restore runs them against a database
/// whose final name it chooses.
pub const DATABASE_NAME_PLACEHOLDER: &str = "{{database}}";

/// When an object is created relative to the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before any row: schemas, types, functions, tables.
    PreData,
    /// Right after the rows: sequence values.
    Data,
    /// After the rows: indexes, constraints, triggers, rules, policies, grants.
    PostData,
    /// Last: materialized views that were populated in the source.
    Refresh,
}

/// What kind of object a [`DdlObject`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    Schema,
    Extension,
    Collation,
    Type,
    TextSearch,
    Function,
    Aggregate,
    Operator,
    Cast,
    ForeignServer,
    Table,
    ForeignTable,
    Sequence,
    /// Every large object, created empty (their bytes are rows).
    LargeObjects,
    Default,
    View,
    MaterializedView,
    SequenceValue,
    Index,
    Constraint,
    ForeignKey,
    /// `VALIDATE CONSTRAINT` of a foreign key added `NOT VALID`: the scan of
    /// its rows, apart from the catalog change.
    Validation,
    Trigger,
    Rule,
    Policy,
    Statistics,
    Publication,
    Grant,
    DefaultPrivileges,
    Refresh,
    EventTrigger,
}

impl ObjectKind {
    /// The kind as written in `schema.json` and in messages.
    pub fn label(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    /// Tie-breaker between objects that do not depend on each other, in the
    /// spirit of pg_dump's `dbObjectTypePriority`: lower first.
    pub fn priority(self) -> u8 {
        self as u8
    }
}

/// One object of the schema: the SQL that recreates it, and what it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DdlObject {
    /// Unique within the dump.
    pub id: String,
    pub kind: ObjectKind,
    /// A readable name for messages, e.g. `public.users`.
    pub name: String,
    pub phase: Phase,
    /// One or more statements, each ending with `;`.
    pub sql: String,
    /// Ids of the objects that must exist first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Roles the statements name (grants, policies): when one is missing on
    /// the destination, the object is skipped with a warning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_roles: Vec<String>,
    /// The oldest PostgreSQL major that can create the object (absent: any
    /// supported one). A restore into an older server stops before it
    /// changes anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_major: Option<u32>,
}

/// A table whose rows are copied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableData {
    pub schema: String,
    pub name: String,
    /// The copied columns, in COPY order (stored generated columns are left
    /// out: the destination computes them).
    pub columns: Vec<ColumnInfo>,
    pub format: CopyFormat,
    /// Size on disk in the source, for scheduling largest first.
    pub estimated_bytes: i64,
}

impl TableData {
    /// `schema.table` for messages.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A copied column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnInfo {
    pub name: String,
    /// As `format_type` prints it, e.g. `character varying(20)`.
    pub type_name: String,
    /// The type's OID in the source (meaningful for built-in types only).
    pub type_oid: u32,
    pub not_null: bool,
    /// Under a unique index or primary key in the source: transformed
    /// values must stay unique for the destination's index to build.
    #[serde(default)]
    pub unique: bool,
}
