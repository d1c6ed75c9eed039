//! Tables (with their columns, defaults, identity, partitioning and
//! inheritance), sequences, views and materialized views.

use std::collections::{HashMap, HashSet};

use tokio_postgres::{Client, Row};

use super::graph::{class, Graph};
use super::model::{ColumnInfo, ObjectKind, Phase, TableData};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::version::ServerVersion;
use super::CatalogError;
use crate::copy::CopyFormat;
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};

pub async fn read(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<Vec<TableData>, CatalogError> {
    let columns = columns(client, version).await?;
    let identities = identity_sequences(client).await?;
    let checks = check_constraints(client).await?;
    let binary = binary_traits(client, version).await?;
    let unique = unique_columns(client).await?;
    let tables = tables(client, version, graph, &columns, &identities, &checks, &binary, &unique).await?;
    super::views::read(client, graph).await?;
    defaults(graph, &columns);
    sequences(client, graph, &identities).await?;
    Ok(tables)
}

/// A column as the catalog describes it.
struct Column {
    name: String,
    type_name: String,
    type_oid: u32,
    /// Under a validated NOT NULL, declared with the table.
    not_null: bool,
    /// 18+: the column's not-null constraint, which has a name.
    not_null_constraint: Option<NotNullConstraint>,
    identity: u8,
    /// `STORED` or `VIRTUAL` (18+) for a generated column.
    generated: Option<&'static str>,
    local: bool,
    collation: Option<String>,
    statistics: Option<i32>,
    storage: Option<char>,
    compression: Option<&'static str>,
    default: Option<(u32, String)>,
    options: Vec<String>,
    inherited_not_null: bool,
    /// A foreign table column's options.
    fdw_options: Vec<String>,
}

/// A not-null constraint as 18 records it in `pg_constraint`.
struct NotNullConstraint {
    oid: u32,
    name: String,
    /// `NOT NULL col [NO INHERIT] [NOT VALID]`, as `pg_get_constraintdef` prints it.
    definition: String,
    validated: bool,
    no_inherit: bool,
    local: bool,
}

impl NotNullConstraint {
    /// Whether `name` is the one PostgreSQL 18 gives a constraint declared
    /// without a name (`SET NOT NULL`, or `NOT NULL` in CREATE TABLE).
    fn has_default_name(&self, table: &str, column: &str) -> bool {
        self.name == format!("{table}_{column}_not_null")
    }
}

/// Columns of every user relation, by relation OID, in attnum order.
async fn columns(client: &Client, version: ServerVersion) -> Result<HashMap<u32, Vec<Column>>, CatalogError> {
    // Per-column compression arrived in 14. In 18, not-null constraints got
    // pg_constraint rows: a name, NOT VALID and NO INHERIT; a parent's then
    // reaches its children only under the same name.
    let compression = if version.at_least(14) { "a.attcompression" } else { "NULL::\"char\"" };
    let (not_null, inherited_not_null, not_null_join) = if version.at_least(18) {
        (
            "nn.oid, nn.conname::text, pg_catalog.pg_get_constraintdef(nn.oid), nn.convalidated, nn.connoinherit, nn.conislocal",
            "EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_attribute pa \
                       ON pa.attrelid = i.inhparent AND pa.attname = a.attname \
                     JOIN pg_catalog.pg_constraint pn ON pn.conrelid = pa.attrelid AND pn.contype = 'n' AND pn.conkey[1] = pa.attnum \
                     WHERE i.inhrelid = a.attrelid AND pn.convalidated AND NOT pn.connoinherit AND pn.conname = nn.conname)",
            "LEFT JOIN pg_catalog.pg_constraint nn ON nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum",
        )
    } else {
        (
            "NULL::pg_catalog.oid, NULL::text, NULL::text, NULL::bool, NULL::bool, NULL::bool",
            "EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_attribute pa \
                       ON pa.attrelid = i.inhparent AND pa.attname = a.attname \
                     WHERE i.inhrelid = a.attrelid AND pa.attnotnull)",
            "",
        )
    };
    let sql = format!(
        "SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.atttypid, a.attnotnull, \
                a.attidentity, a.attgenerated, a.attislocal, \
                CASE WHEN a.attcollation <> t.typcollation THEN \
                  (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                   FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
                   WHERE co.oid = a.attcollation) END, \
                NULLIF(a.attstattarget, -1)::int4, \
                CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END, {compression}, \
                d.oid, pg_catalog.pg_get_expr(d.adbin, d.adrelid), coalesce(a.attoptions, '{{}}'), \
                {inherited_not_null}, coalesce(a.attfdwoptions, '{{}}'), {not_null} \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         {not_null_join} \
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {USER_SCHEMA} AND {} \
         ORDER BY a.attrelid, a.attnum",
        not_in_extension(class::PG_CLASS, "c.oid")
    );
    let mut out: HashMap<u32, Vec<Column>> = HashMap::new();
    for row in rows(client, "columns", &sql).await? {
        let storage: Option<i8> = row.get(10);
        let compression: Option<i8> = row.get(11);
        let default_oid: Option<u32> = row.get(12);
        let not_null_constraint = row.get::<_, Option<u32>>(17).map(|oid| NotNullConstraint {
            oid,
            name: row.get(18),
            definition: row.get(19),
            validated: row.get(20),
            no_inherit: row.get(21),
            local: row.get(22),
        });
        let column = Column {
            name: row.get(1),
            type_name: row.get(2),
            type_oid: row.get(3),
            not_null: row.get::<_, bool>(4) && not_null_constraint.as_ref().is_none_or(|c| c.validated),
            not_null_constraint,
            identity: row.get::<_, i8>(5) as u8,
            generated: match row.get::<_, i8>(6) as u8 {
                b's' => Some("STORED"),
                b'v' => Some("VIRTUAL"),
                _ => None,
            },
            local: row.get(7),
            collation: row.get(8),
            statistics: row.get(9),
            storage: storage.map(|s| s as u8 as char),
            compression: match compression.unwrap_or(0) as u8 {
                b'p' => Some("pglz"),
                b'l' => Some("lz4"),
                _ => None,
            },
            default: default_oid.zip(row.get::<_, Option<String>>(13)),
            options: row.get(14),
            inherited_not_null: row.get(15),
            fdw_options: row.get(16),
        };
        out.entry(row.get(0)).or_default().push(column);
    }
    Ok(out)
}

/// The sequence behind an identity column.
struct IdentitySequence {
    sequence_oid: u32,
    name: String,
    options: String,
    unlogged: bool,
}

/// Identity sequences by (table OID, column number).
async fn identity_sequences(client: &Client) -> Result<HashMap<(u32, i16), IdentitySequence>, CatalogError> {
    let sql = format!(
        "SELECT d.refobjid, d.refobjsubid::int2, s.seqrelid, {SEQUENCE_COLUMNS} \
         FROM pg_catalog.pg_depend d \
         JOIN pg_catalog.pg_sequence s ON s.seqrelid = d.objid \
         JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE d.classid = {pg_class} AND d.refclassid = {pg_class} AND d.deptype = 'i'",
        pg_class = class::PG_CLASS
    );
    let mut out = HashMap::new();
    for row in rows(client, "identity sequences", &sql).await? {
        let sequence = SequenceRow::from_row(&row, 3);
        out.insert(
            (row.get(0), row.get(1)),
            IdentitySequence {
                sequence_oid: row.get(2),
                name: sequence.qualified.clone(),
                options: sequence.options(false),
                unlogged: sequence.unlogged,
            },
        );
    }
    Ok(out)
}

/// The pg_sequence columns [`SequenceRow::from_row`] reads, in order.
const SEQUENCE_COLUMNS: &str =
    "n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, \
                                s.seqmax, s.seqmin, s.seqcache, s.seqcycle, c.relpersistence";

struct SequenceRow {
    qualified: String,
    type_name: String,
    start: i64,
    increment: i64,
    max: i64,
    min: i64,
    cache: i64,
    cycle: bool,
    unlogged: bool,
}

impl SequenceRow {
    fn from_row(row: &Row, at: usize) -> Self {
        SequenceRow {
            qualified: quote_qualified(row.get(at), row.get(at + 1)),
            type_name: row.get(at + 2),
            start: row.get(at + 3),
            increment: row.get(at + 4),
            max: row.get(at + 5),
            min: row.get(at + 6),
            cache: row.get(at + 7),
            cycle: row.get(at + 8),
            unlogged: row.get::<_, i8>(at + 9) as u8 == b'u',
        }
    }

    /// The options every sequence states explicitly (no server defaults).
    fn options(&self, with_type: bool) -> String {
        let mut out = String::new();
        if with_type {
            out.push_str(&format!("AS {} ", self.type_name));
        }
        out.push_str(&format!(
            "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
            self.start,
            self.increment,
            self.min,
            self.max,
            self.cache,
            if self.cycle { " CYCLE" } else { " NO CYCLE" }
        ));
        out
    }
}

/// A CHECK constraint of a table.
struct Check {
    oid: u32,
    name: String,
    definition: String,
    validated: bool,
    local: bool,
}

/// CHECK constraints, by table OID.
async fn check_constraints(client: &Client) -> Result<HashMap<u32, Vec<Check>>, CatalogError> {
    let sql = "SELECT c.conrelid, c.oid, c.conname, pg_catalog.pg_get_constraintdef(c.oid), c.convalidated, c.conislocal \
               FROM pg_catalog.pg_constraint c WHERE c.contype = 'c' AND c.conrelid <> 0 ORDER BY c.conrelid, c.conname";
    let mut out: HashMap<u32, Vec<_>> = HashMap::new();
    for row in rows(client, "check constraints", sql).await? {
        let check = Check {
            oid: row.get(1),
            name: row.get(2),
            definition: row.get(3),
            validated: row.get(4),
            local: row.get(5),
        };
        out.entry(row.get(0)).or_default().push(check);
    }
    Ok(out)
}

/// What binary COPY makes of the column types in use.
#[derive(Default)]
struct BinaryTraits {
    /// Types whose values cannot travel in binary COPY: the type, or a
    /// type it is built from (array element, domain base, composite field,
    /// range subtype), has no send/receive function.
    unsupported: HashSet<u32>,
    /// Types whose binary values name the OID of a type that is not built
    /// in (an array's element, a composite's field): the destination's
    /// types have other OIDs, which PostgreSQL 13 refuses on input
    /// ("wrong element type"); 14 and newer ignore them.
    names_user_types: HashSet<u32>,
}

/// Only the columns of user tables (OID 16384 and up) are followed: the
/// system catalogs' 1,500-odd columns made this query take 0.3 s, most of
/// a delta dump's time.
async fn binary_traits(client: &Client, version: ServerVersion) -> Result<BinaryTraits, CatalogError> {
    let multirange = if version.at_least(14) {
        "UNION ALL SELECT g.rngtypid FROM pg_catalog.pg_range g WHERE g.rngmultitypid = t.oid"
    } else {
        ""
    };
    let sql = format!(
        "WITH RECURSIVE reach(root, typ) AS ( \
                 SELECT DISTINCT a.atttypid, a.atttypid FROM pg_catalog.pg_attribute a \
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r' AND c.oid >= 16384 \
               UNION \
                 SELECT r.root, x.sub FROM reach r JOIN pg_catalog.pg_type t ON t.oid = r.typ, \
                 LATERAL (SELECT t.typbasetype WHERE t.typbasetype <> 0 \
                          UNION ALL SELECT t.typelem WHERE t.typelem <> 0 \
                          UNION ALL SELECT a2.atttypid FROM pg_catalog.pg_attribute a2 \
                            WHERE t.typrelid <> 0 AND a2.attrelid = t.typrelid AND a2.attnum > 0 AND NOT a2.attisdropped \
                          UNION ALL SELECT g.rngsubtype FROM pg_catalog.pg_range g WHERE g.rngtypid = t.oid \
                          {multirange}) x(sub) \
               ) \
               SELECT r.root, pg_catalog.bool_or(t.typsend = 0 OR t.typreceive = 0), \
                      pg_catalog.bool_or((t.typlen = -1 AND t.typelem >= 16384) OR (t.typtype = 'c' AND EXISTS ( \
                        SELECT 1 FROM pg_catalog.pg_attribute f WHERE f.attrelid = t.typrelid AND f.attnum > 0 \
                          AND NOT f.attisdropped AND f.atttypid >= 16384))) \
               FROM reach r JOIN pg_catalog.pg_type t ON t.oid = r.typ GROUP BY r.root"
    );
    let mut traits = BinaryTraits::default();
    for row in rows(client, "binary I/O of column types", &sql).await? {
        let root: u32 = row.get(0);
        if row.get::<_, bool>(1) {
            traits.unsupported.insert(root);
        }
        if row.get::<_, bool>(2) {
            traits.names_user_types.insert(root);
        }
    }
    Ok(traits)
}

/// Columns under a unique index or primary key, as (table OID, column
/// name): key columns, and the columns an expression index reads (and, in
/// that case, its predicate's: erring on the side of "unique" only asks
/// more of transformers). Transformers must keep their values unique.
async fn unique_columns(client: &Client) -> Result<HashSet<(u32, String)>, CatalogError> {
    let sql = "SELECT DISTINCT i.indrelid, a.attname::text FROM pg_catalog.pg_index i \
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped \
               WHERE i.indisunique AND (a.attnum = ANY ((i.indkey::pg_catalog.int2[])[0:i.indnkeyatts - 1]) \
                 OR (i.indexprs IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                       WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = i.indexrelid \
                         AND d.refobjid = i.indrelid AND d.refobjsubid = a.attnum)))";
    Ok(rows(client, "unique columns", sql).await?.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[allow(clippy::too_many_arguments)]
async fn tables(
    client: &Client,
    version: ServerVersion,
    graph: &mut Graph,
    columns: &HashMap<u32, Vec<Column>>,
    identities: &HashMap<(u32, i16), IdentitySequence>,
    checks: &HashMap<u32, Vec<Check>>,
    binary: &BinaryTraits,
    unique: &HashSet<(u32, String)>,
) -> Result<Vec<TableData>, CatalogError> {
    let sql = format!(
        "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence, c.relispartition, \
                CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END, \
                CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END, \
                (SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pc.relname) \
                   FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent \
                   JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
                   WHERE i.inhrelid = c.oid AND c.relispartition), \
                coalesce((SELECT pg_catalog.array_agg(pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pc.relname) ORDER BY i.inhseqno) \
                   FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent \
                   JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
                   WHERE i.inhrelid = c.oid AND NOT c.relispartition), '{{}}'), \
                coalesce(c.reloptions, '{{}}'), coalesce(tc.reloptions, '{{}}'), \
                c.relrowsecurity, c.relforcerowsecurity, c.relreplident, \
                CASE WHEN am.amname <> 'heap' THEN am.amname END, \
                pg_catalog.pg_table_size(c.oid), \
                CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END, \
                (SELECT pg_catalog.quote_ident(s.srvname) FROM pg_catalog.pg_foreign_table ft \
                   JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = c.oid), \
                coalesce((SELECT ft.ftoptions FROM pg_catalog.pg_foreign_table ft WHERE ft.ftrelid = c.oid), '{{}}') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid \
         LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
         WHERE c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_CLASS, "c.oid")
    );
    let no_columns = Vec::new();
    let mut data = Vec::new();
    for row in rows(client, "tables", &sql).await? {
        let oid: u32 = row.get(0);
        let schema: String = row.get(1);
        let table: String = row.get(2);
        let name = quote_qualified(&schema, &table);
        let kind = row.get::<_, i8>(3) as u8;
        let is_partition: bool = row.get(5);
        let cols = columns.get(&oid).unwrap_or(&no_columns);
        let table_checks = checks.get(&oid).map(Vec::as_slice).unwrap_or(&[]);

        // Columns and CHECK constraints printed in CREATE TABLE: the local
        // ones, or all of them for a partition, which is created on its own
        // and attached afterwards (as pg_dump does, keeping its column order).
        let typed_as: Option<String> = row.get(17);
        let server: Option<String> = row.get(18);
        let alter = if server.is_some() { "ALTER FOREIGN TABLE" } else { "ALTER TABLE" };
        let unlogged_table = row.get::<_, i8>(4) as u8 == b'u';
        let mut items = Vec::new();
        let mut after = Vec::new();
        // The oldest major that can create the table as it is.
        let mut requires = None;
        for (attnum, column) in cols.iter().enumerate() {
            let attnum = attnum as i16 + 1;
            let printed = column.local || is_partition;
            let col = quote_ident(&column.name);
            if typed_as.is_some() {
                // A typed table's columns come from its type; only their
                // options are written.
                if column.not_null {
                    items.push(format!("{col} WITH OPTIONS{}", not_null_clause(column)));
                }
            } else if printed {
                // A NOT NULL a parent gives is not declared again (an 18
                // destination would record it as the child's own), unless it
                // was the child's own in an 18 source; partitions declare
                // theirs, being created on their own and attached.
                let declare_not_null = column.not_null
                    && (is_partition
                        || !column.inherited_not_null
                        || column.not_null_constraint.as_ref().is_some_and(|c| c.local));
                let identity = identities.get(&(oid, attnum));
                items.push(column_definition(column, identity, declare_not_null, server.is_some()));
                if let Some(sequence) = identity.filter(|s| s.unlogged != unlogged_table) {
                    after.push(identity_persistence(sequence));
                    if sequence.unlogged {
                        requires = requires.max(Some(15));
                    }
                }
            } else if column.not_null && !column.inherited_not_null {
                // An inherited column with a not-null of its own: a table
                // constraint keeps an 18 name that SET NOT NULL would not give.
                match &column.not_null_constraint {
                    Some(c) if c.no_inherit || !c.has_default_name(&table, &column.name) => {
                        items.push(format!("CONSTRAINT {} {}", quote_ident(&c.name), c.definition));
                        requires = requires.max(Some(18));
                    }
                    _ => after.push(format!("{alter} ONLY {name} ALTER COLUMN {col} SET NOT NULL;")),
                }
            }
            let no_inherit = column.not_null_constraint.as_ref().is_some_and(|c| c.no_inherit);
            if column.generated == Some("VIRTUAL") || no_inherit {
                requires = requires.max(Some(18));
            }
            if column.compression.is_some() {
                requires = requires.max(Some(14));
            }
            if let Some(target) = column.statistics {
                after.push(format!("{alter} ONLY {name} ALTER COLUMN {col} SET STATISTICS {target};"));
            }
            if let Some(storage) = column.storage {
                let storage = match storage {
                    'p' => "PLAIN",
                    'e' => "EXTERNAL",
                    'm' => "MAIN",
                    _ => "EXTENDED",
                };
                after.push(format!("{alter} ONLY {name} ALTER COLUMN {col} SET STORAGE {storage};"));
            }
            if let Some(method) = column.compression {
                after.push(compression_statement(&format!("{alter} ONLY {name} ALTER COLUMN {col}"), method));
            }
            if !column.options.is_empty() {
                after.push(format!("{alter} ONLY {name} ALTER COLUMN {col} SET ({});", options_list(&column.options)));
            }
        }
        for check in table_checks.iter().filter(|c| c.validated && (c.local || is_partition)) {
            items.push(format!("CONSTRAINT {} {}", quote_ident(&check.name), check.definition));
        }

        let unlogged = if unlogged_table { "UNLOGGED " } else { "" };
        let foreign = if server.is_some() { "FOREIGN " } else { "" };
        let mut sql = format!("CREATE {unlogged}{foreign}TABLE {name}");
        if let Some(type_name) = &typed_as {
            sql.push_str(&format!(" OF {type_name}"));
        }
        if !items.is_empty() {
            sql.push_str(&format!(" (\n    {}\n)", items.join(",\n    ")));
        } else if typed_as.is_none() {
            sql.push_str(" ()");
        }
        let inherits: Vec<String> = row.get(9);
        if !inherits.is_empty() {
            sql.push_str(&format!("\nINHERITS ({})", inherits.join(", ")));
        }
        if let Some(key) = row.get::<_, Option<String>>(6) {
            sql.push_str(&format!("\nPARTITION BY {key}"));
        }
        if let Some(am) = row.get::<_, Option<String>>(15) {
            sql.push_str(&format!("\nUSING {}", quote_ident(&am)));
        }
        if let Some(server) = &server {
            sql.push_str(&format!("\nSERVER {server}{}", super::foreign::fdw_options(&row.get::<_, Vec<String>>(19))));
        }
        let mut options: Vec<String> = row.get(10);
        options.extend(row.get::<_, Vec<String>>(11).iter().map(|o| format!("toast.{o}")));
        if !options.is_empty() {
            sql.push_str(&format!("\nWITH ({})", options_list(&options)));
        }
        sql.push(';');
        if let (Some(parent), Some(bound)) = (row.get::<_, Option<String>>(8), row.get::<_, Option<String>>(7)) {
            sql.push_str(&format!("\nALTER TABLE ONLY {parent} ATTACH PARTITION {name} {bound};"));
        }
        for statement in after {
            sql.push('\n');
            sql.push_str(&statement);
        }
        if row.get::<_, bool>(13) {
            sql.push_str(&format!("\nALTER TABLE {name} FORCE ROW LEVEL SECURITY;"));
        }
        match if server.is_some() { b'd' } else { row.get::<_, i8>(14) as u8 } {
            b'f' => sql.push_str(&format!("\nALTER TABLE ONLY {name} REPLICA IDENTITY FULL;")),
            b'n' => sql.push_str(&format!("\nALTER TABLE ONLY {name} REPLICA IDENTITY NOTHING;")),
            _ => {}
        }

        let object_kind = if server.is_some() { ObjectKind::ForeignTable } else { ObjectKind::Table };
        let index = graph.add((class::PG_CLASS, oid), object_kind, name.clone(), Phase::PreData, sql);
        if row.get::<_, bool>(12) {
            // After the rows: COPY FROM refuses a table whose row security
            // applies to the loading role (as FORCE makes it for the owner).
            let sql = format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;");
            graph.add_dependent((class::PG_CLASS, oid), "rls", ObjectKind::Policy, name.clone(), Phase::PostData, sql);
        }
        if let Some(major) = requires {
            graph.requires_major(index, major);
        }
        for check in table_checks.iter().filter(|c| c.validated) {
            graph.alias((class::PG_CONSTRAINT, check.oid), index);
        }
        // 18's not-null constraints: the valid ones come with the table; a
        // NOT VALID one, which the rows may violate, is added after them.
        for constraint in cols.iter().filter_map(|c| c.not_null_constraint.as_ref()) {
            if constraint.validated {
                graph.alias((class::PG_CONSTRAINT, constraint.oid), index);
            } else if constraint.local {
                let cname = quote_ident(&constraint.name);
                let sql = format!("ALTER TABLE {name} ADD CONSTRAINT {cname} {};", constraint.definition);
                let display = format!("{cname} on {name}");
                let added = graph.add(
                    (class::PG_CONSTRAINT, constraint.oid),
                    ObjectKind::Constraint,
                    display,
                    Phase::PostData,
                    sql,
                );
                graph.requires_major(added, 18);
            }
        }
        for (attnum, _) in cols.iter().enumerate() {
            if let Some(identity) = identities.get(&(oid, attnum as i16 + 1)) {
                graph.alias((class::PG_CLASS, identity.sequence_oid), index);
            }
        }
        for column in cols.iter().filter(|c| c.generated.is_some()) {
            if let Some((attrdef, _)) = &column.default {
                graph.alias((class::PG_ATTRDEF, *attrdef), index);
            }
        }

        if kind == b'r' {
            let copied: Vec<&Column> = cols.iter().filter(|c| c.generated.is_none()).collect();
            let names_user_types = copied.iter().any(|c| binary.names_user_types.contains(&c.type_oid));
            // A 13 source's rows restore into 13 too: text, where binary
            // would name type OIDs 13 refuses. From 14 on binary stays, and
            // the table cannot go back to 13.
            let format = if copied.iter().any(|c| binary.unsupported.contains(&c.type_oid))
                || (names_user_types && !version.at_least(14))
            {
                CopyFormat::Text
            } else {
                if names_user_types {
                    graph.requires_major(index, 14);
                }
                CopyFormat::Binary
            };
            data.push(TableData {
                schema,
                name: table,
                columns: copied
                    .iter()
                    .map(|c| ColumnInfo {
                        name: c.name.clone(),
                        type_name: c.type_name.clone(),
                        type_oid: c.type_oid,
                        not_null: c.not_null,
                        unique: unique.contains(&(oid, c.name.clone())),
                    })
                    .collect(),
                format,
                estimated_bytes: row.get(16),
            });
        }
    }
    data.sort_by(|a, b| {
        b.estimated_bytes.cmp(&a.estimated_bytes).then_with(|| a.display_name().cmp(&b.display_name()))
    });
    Ok(data)
}

/// One column of a CREATE TABLE.
fn column_definition(
    column: &Column,
    identity: Option<&IdentitySequence>,
    declare_not_null: bool,
    foreign: bool,
) -> String {
    let mut out = format!("{} {}", quote_ident(&column.name), column.type_name);
    if foreign {
        out.push_str(&super::foreign::fdw_options(&column.fdw_options));
    }
    if let Some(collation) = &column.collation {
        out.push_str(&format!(" COLLATE {collation}"));
    }
    if let (Some(kind), Some((_, expression))) = (column.generated, &column.default) {
        out.push_str(&format!(" GENERATED ALWAYS AS ({expression}) {kind}"));
    }
    if let Some(identity) = identity {
        let when = if column.identity == b'a' { "ALWAYS" } else { "BY DEFAULT" };
        out.push_str(&format!(" GENERATED {when} AS IDENTITY (SEQUENCE NAME {} {})", identity.name, identity.options));
    }
    if declare_not_null {
        out.push_str(&not_null_clause(column));
    }
    out
}

/// `{alter_column} SET COMPRESSION {method};`. lz4 is a build option of the
/// server: where it is missing the column keeps the default method, with a
/// warning, rather than failing the restore.
fn compression_statement(alter_column: &str, method: &str) -> String {
    let statement = format!("{alter_column} SET COMPRESSION {method}");
    if method != "lz4" {
        return format!("{statement};");
    }
    let warning = quote_literal(&format!("{alter_column}: this server has no lz4, the default compression is kept"))
        .replace('%', "%%");
    format!(
        "DO $rb$ BEGIN EXECUTE {}; EXCEPTION WHEN feature_not_supported THEN RAISE WARNING {warning}; END $rb$;",
        quote_literal(&statement)
    )
}

/// The identity sequence's persistence when it is not its table's (the
/// default from 15 on). A logged sequence of an unlogged table, which is
/// all 13 and 14 know, is set only where the default differs: 13 and 14
/// know no `SET LOGGED` for sequences.
fn identity_persistence(sequence: &IdentitySequence) -> String {
    if sequence.unlogged {
        return format!("ALTER SEQUENCE {} SET UNLOGGED;", sequence.name);
    }
    let statement = quote_literal(&format!("ALTER SEQUENCE {} SET LOGGED", sequence.name));
    format!(
        "DO $rb$ BEGIN IF pg_catalog.current_setting('server_version_num')::int4 >= 150000 THEN EXECUTE {statement}; END IF; END $rb$;"
    )
}

/// ` NOT NULL`, named when the source (18+) named it: older servers accept
/// the name and ignore it.
fn not_null_clause(column: &Column) -> String {
    match &column.not_null_constraint {
        Some(c) => {
            let no_inherit = if c.no_inherit { " NO INHERIT" } else { "" };
            format!(" CONSTRAINT {} NOT NULL{no_inherit}", quote_ident(&c.name))
        }
        None => " NOT NULL".to_string(),
    }
}

/// `name='value', …` from reloptions-style `name=value` entries.
pub(super) fn options_list(options: &[String]) -> String {
    options
        .iter()
        .map(|o| match o.split_once('=') {
            Some((key, value)) => format!("{key}={}", quote_literal(value)),
            None => o.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Column defaults, one object each: a default may call a function that
/// needs the table's row type, so it is set after both exist.
fn defaults(graph: &mut Graph, columns: &HashMap<u32, Vec<Column>>) {
    let mut relations: Vec<_> = columns.iter().collect();
    relations.sort_by_key(|(oid, _)| **oid);
    for (oid, cols) in relations {
        let Some(table) = graph.find((class::PG_CLASS, *oid)) else {
            continue;
        };
        let relation = graph.object(table);
        let (name, kind) = (relation.name.clone(), relation.kind);
        let alter = match kind {
            ObjectKind::View => "ALTER VIEW",
            ObjectKind::ForeignTable => "ALTER FOREIGN TABLE ONLY",
            _ => "ALTER TABLE ONLY",
        };
        for column in cols.iter().filter(|c| c.generated.is_none()) {
            if let Some((attrdef, expression)) = &column.default {
                let col = quote_ident(&column.name);
                let sql = format!("{alter} {name} ALTER COLUMN {col} SET DEFAULT {expression};");
                let index = graph.add(
                    (class::PG_ATTRDEF, *attrdef),
                    ObjectKind::Default,
                    format!("{name}.{col}"),
                    Phase::PreData,
                    sql,
                );
                graph.depend(index, (class::PG_CLASS, *oid));
            }
        }
    }
}

async fn sequences(
    client: &Client,
    graph: &mut Graph,
    identities: &HashMap<(u32, i16), IdentitySequence>,
) -> Result<(), CatalogError> {
    let identity_oids: HashSet<u32> = identities.values().map(|i| i.sequence_oid).collect();
    let sql = format!(
        "SELECT c.oid, {SEQUENCE_COLUMNS}, \
                (SELECT pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname) || '.' || pg_catalog.quote_ident(a.attname) \
                   FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
                   JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace \
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                   WHERE d.classid = {pg_class} AND d.objid = c.oid AND d.refclassid = {pg_class} AND d.deptype = 'a') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_CLASS, "c.oid"),
        pg_class = class::PG_CLASS
    );
    let mut all = Vec::new();
    for row in rows(client, "sequences", &sql).await? {
        let oid: u32 = row.get(0);
        let sequence = SequenceRow::from_row(&row, 1);
        if !identity_oids.contains(&oid) {
            let unlogged = if sequence.unlogged { "UNLOGGED " } else { "" };
            let mut sql = format!("CREATE {unlogged}SEQUENCE {} {};", sequence.qualified, sequence.options(true));
            if let Some(column) = row.get::<_, Option<String>>(11) {
                sql.push_str(&format!("\nALTER SEQUENCE {} OWNED BY {column};", sequence.qualified));
            }
            let index = graph.add(
                (class::PG_CLASS, oid),
                ObjectKind::Sequence,
                sequence.qualified.clone(),
                Phase::PreData,
                sql,
            );
            if sequence.unlogged {
                graph.requires_major(index, 15);
            }
        }
        all.push((oid, sequence.qualified));
    }
    // Current values, read in batches of one UNION ALL query.
    for batch in all.chunks(200) {
        let sql = batch
            .iter()
            .map(|(oid, name)| format!("SELECT {oid}::pg_catalog.oid, last_value, is_called FROM {name}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in rows(client, "sequence values", &sql).await? {
            let oid: u32 = row.get(0);
            let Some((_, name)) = batch.iter().find(|(o, _)| *o == oid) else {
                continue;
            };
            let sql = format!(
                "SELECT pg_catalog.setval({}, {}, {});",
                quote_literal(name),
                row.get::<_, i64>(1),
                row.get::<_, bool>(2)
            );
            graph.add_dependent(
                (class::PG_CLASS, oid),
                "value",
                ObjectKind::SequenceValue,
                name.clone(),
                Phase::Data,
                sql,
            );
        }
    }
    Ok(())
}
