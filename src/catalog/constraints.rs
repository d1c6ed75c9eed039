//! Post-data objects of tables: primary keys, unique, exclusion and foreign
//! key constraints, indexes and extended statistics.
//!
//! Partitioned tables follow pg_dump: the parent's index or constraint is
//! created `ON ONLY` the parent, each partition's own one is created with its
//! own name, then attached. Foreign keys and triggers that PostgreSQL clones
//! onto partitions are not dumped again.

use tokio_postgres::Client;

use super::graph::{class, Graph, ObjKey};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::version::ServerVersion;
use super::CatalogError;
use crate::pg::ident::{quote_ident, quote_literal, quote_qualified};

pub async fn read(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    constraints(client, version, graph).await?;
    indexes(client, version, graph).await?;
    statistics(client, version, graph).await
}

/// `NULLS NOT DISTINCT` of the index `x` (15+), as SQL.
fn nulls_not_distinct(version: ServerVersion) -> &'static str {
    if version.at_least(15) {
        "coalesce(x.indnullsnotdistinct, false)"
    } else {
        "false"
    }
}

/// `ALTER INDEX parent ATTACH PARTITION child;`
fn attach_statement(parent: &str, child: &str) -> String {
    format!("ALTER INDEX {parent} ATTACH PARTITION {child};")
}

/// Ends `sql` with the statement attaching the index `child` to `parent`,
/// if it has one — unless `child` is the index of a partitioned table
/// (`partitioned`): then `parent` is returned, for
/// [`attach_when_complete`].
fn attach_now(sql: &mut String, parent: Option<String>, child: &str, partitioned: bool) -> Option<String> {
    let parent = parent?;
    if partitioned {
        return Some(parent);
    }
    sql.push('\n');
    sql.push_str(&attach_statement(&parent, child));
    None
}

/// Attaches `child`, the index (OID `child_oid`) of a partitioned table
/// created by the object keyed `owner`, to `parent` in an object of its own
/// (of the owner's kind) that waits until every index of the table's
/// partitions (`partitions`) is attached to `child`.
///
/// Attaching the last missing index under an index validates it, and, if it
/// is itself attached, its parent in turn; an attach to that parent in
/// another transaction at the same time does not see it, nor it that
/// attach, and the parent's index stays invalid for good (on every major
/// from 13 to 18; a foreign key to the table then fails: "no unique
/// constraint matching given keys"). Attached bottom-up, an index of a
/// partitioned table is complete before it joins its parent, and attaches
/// to one parent are serialized by PostgreSQL's lock on it.
fn attach_when_complete(
    graph: &mut Graph,
    owner: ObjKey,
    parent: &str,
    child: &str,
    child_oid: u32,
    partitions: &[u32],
) {
    let Some(kind) = graph.find(owner).map(|index| graph.object(index).kind) else { return };
    let sql = attach_statement(parent, child);
    let name = format!("attach {child} to {parent}");
    let Some(attach) = graph.add_dependent(owner, "attach", kind, name, Phase::PostData, sql) else { return };
    graph.alias((class::PG_INHERITS, child_oid), attach);
    for &partition in partitions {
        graph.depend(attach, (class::PG_CLASS, partition));
        graph.depend(attach, (class::PG_INHERITS, partition));
    }
}

/// Statements an index carries beyond its definition.
fn index_extras(table: &str, index: &str, clustered: bool, replica_identity: bool) -> String {
    let mut out = String::new();
    if clustered {
        out.push_str(&format!("\nALTER TABLE {table} CLUSTER ON {index};"));
    }
    if replica_identity {
        out.push_str(&format!("\nALTER TABLE ONLY {table} REPLICA IDENTITY USING INDEX {index};"));
    }
    out
}

/// The qualified name of the index `index_oid` is attached to, if any.
const PARENT_INDEX: &str = "(SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pc.relname) \
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent \
    JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = INDEX_OID)";

/// The OIDs of the indexes attached to `INDEX_OID`.
const PARTITION_INDEXES: &str =
    "coalesce((SELECT pg_catalog.array_agg(i.inhrelid) FROM pg_catalog.pg_inherits i WHERE i.inhparent = INDEX_OID), '{}')";

async fn constraints(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // 18: temporal keys (`WITHOUT OVERLAPS`, `PERIOD`) and NOT ENFORCED.
    let (period, enforced) =
        if version.at_least(18) { ("con.conperiod", "con.conenforced") } else { ("false", "true") };
    // 15: `ON DELETE SET NULL (columns)`.
    let set_columns = if version.at_least(15) { "con.confdelsetcols IS NOT NULL" } else { "false" };
    let sql = format!(
        "SELECT con.oid, con.conname, con.contype, n.nspname, c.relname, c.relkind, pg_catalog.pg_get_constraintdef(con.oid), \
                con.conparentid, con.conindid, ic.relname, {parent}, \
                coalesce(x.indisclustered, false), coalesce(x.indisreplident, false), con.conislocal, \
                coalesce(ic.reloptions, '{{}}'), con.condeferrable, pg_catalog.pg_get_indexdef(ic.oid), con.conrelid, \
                CASE WHEN con.contype = 'f' THEN coalesce((SELECT pg_catalog.array_agg(t.relid::pg_catalog.oid) \
                     FROM pg_catalog.pg_partition_tree(con.conindid) t WHERE t.relid <> con.conindid::pg_catalog.regclass), '{{}}') \
                     ELSE '{{}}' END, \
                {period}, {enforced}, {nulls_not_distinct} OR {set_columns}, \
                (SELECT pc.conname::text FROM pg_catalog.pg_constraint pc WHERE pc.oid = con.conparentid), \
                (SELECT pc.conrelid::pg_catalog.regclass::text FROM pg_catalog.pg_constraint pc WHERE pc.oid = con.conparentid), \
                {partitions} \
         FROM pg_catalog.pg_constraint con \
         JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_class ic ON ic.oid = con.conindid AND con.contype IN ('p', 'u', 'x') \
         LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = ic.oid \
         WHERE con.contype IN ('p', 'u', 'x', 'f', 'c') AND {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_CLASS, "c.oid"),
        parent = PARENT_INDEX.replace("INDEX_OID", "ic.oid"),
        partitions = PARTITION_INDEXES.replace("INDEX_OID", "ic.oid"),
        nulls_not_distinct = nulls_not_distinct(version),
    );
    for row in rows(client, "constraints", &sql).await? {
        let oid: u32 = row.get(0);
        let conname: String = row.get(1);
        let contype = row.get::<_, i8>(2) as u8;
        let schema: String = row.get(3);
        let table = quote_qualified(&schema, row.get(4));
        let partitioned = row.get::<_, i8>(5) as u8 == b'p';
        let definition = with_index_options(row.get(6), contype, &row.get::<_, Vec<String>>(14));
        let cloned = row.get::<_, u32>(7) != 0;
        let display = format!("{} on {table}", quote_ident(&conname));
        // `ALTER TABLE [ONLY] table ADD CONSTRAINT name definition[ NOT VALID]`.
        let add_as = |only: &str, not_valid: &str| {
            format!("ALTER TABLE {only}{table} ADD CONSTRAINT {} {definition}{not_valid};", quote_ident(&conname))
        };
        let add = |only: &str| add_as(only, "");
        let period: bool = row.get(19);
        let enforced: bool = row.get(20);
        let requires = if period || !enforced {
            Some(18)
        } else if row.get::<_, bool>(21) {
            Some(15)
        } else {
            None
        };
        let added = match contype {
            b'c' => {
                // Validated CHECKs are part of CREATE TABLE; NOT VALID and
                // NOT ENFORCED ones are added after the rows, as they were
                // in the source. Inherited ones come with the parent's.
                if (definition.ends_with("NOT VALID") || !enforced) && row.get::<_, bool>(13) {
                    Some(graph.add(
                        (class::PG_CONSTRAINT, oid),
                        ObjectKind::Constraint,
                        display,
                        Phase::PostData,
                        add(""),
                    ))
                } else {
                    None
                }
            }
            b'f' => {
                if cloned {
                    continue;
                }
                // On a partitioned table the key must reach every partition,
                // and PostgreSQL 15 cannot add it NOT VALID there. Otherwise
                // it is added NOT VALID (a catalog change), then validated on
                // its own: VALIDATE CONSTRAINT scans the rows under a lock
                // that lets the table's indexes build beside it, where ADD
                // CONSTRAINT would hold them off for the whole scan.
                let key = (class::PG_CONSTRAINT, oid);
                let split = !partitioned && enforced && !definition.ends_with("NOT VALID");
                let sql = match (split, partitioned) {
                    (true, _) => add_as("ONLY ", " NOT VALID"),
                    (false, true) => add(""),
                    (false, false) => add("ONLY "),
                };
                let added = graph.add(key, ObjectKind::ForeignKey, display.clone(), Phase::PostData, sql);
                // A key referencing a partitioned table needs its unique
                // index valid, which it is once every partition's index is
                // attached: the key waits for all of them, not only for the
                // parent's.
                for index in row.get::<_, Vec<u32>>(18) {
                    graph.depend(added, (class::PG_CLASS, index));
                    graph.depend(added, (class::PG_INHERITS, index));
                }
                if split {
                    let validate = format!("ALTER TABLE ONLY {table} VALIDATE CONSTRAINT {};", quote_ident(&conname));
                    if let Some(validation) =
                        graph.add_dependent(key, "validate", ObjectKind::Validation, display, Phase::PostData, validate)
                    {
                        graph.depend(validation, (class::PG_CLASS, row.get(17)));
                        if let Some(major) = requires {
                            graph.requires_major(validation, major);
                        }
                    }
                }
                Some(added)
            }
            b'x' if partitioned && row.get::<_, Option<String>>(10).is_none() => {
                // An exclusion constraint of a partitioned table (17+) is
                // added to the whole tree at once: PostgreSQL (17, 18)
                // refuses to attach a partition's exclusion index to the
                // parent's ("index definitions do not match"), which also
                // breaks pg_dump's output.
                let index =
                    graph.add((class::PG_CONSTRAINT, oid), ObjectKind::Constraint, display, Phase::PostData, add(""));
                graph.alias((class::PG_CLASS, row.get(8)), index);
                graph.requires_major(index, 17);
                None
            }
            b'x' if row.get::<_, Option<String>>(10).is_some() => {
                // A partition's share of the above: created by it, under a
                // name PostgreSQL chose; given back the source's name.
                let (parent_name, parent_table): (Option<String>, Option<String>) = (row.get(22), row.get(23));
                let (Some(parent_name), Some(parent_table)) = (parent_name, parent_table) else { continue };
                let sql = rename_cloned_constraint(&table, &conname, &parent_table, &parent_name);
                let index =
                    graph.add((class::PG_CONSTRAINT, oid), ObjectKind::Constraint, display, Phase::PostData, sql);
                graph.depend(index, (class::PG_CONSTRAINT, row.get(7)));
                graph.alias((class::PG_CLASS, row.get(8)), index);
                None
            }
            _ => {
                let index_name = quote_qualified(&schema, row.get(9));
                let parent_index: Option<String> = row.get(10);
                let deferrable: bool = row.get(15);
                // A key's index built on its own first: CREATE INDEX takes a
                // lock that lets the table's other indexes build beside it,
                // where ADD CONSTRAINT would lock them out. Then the
                // constraint adopts it, which only touches the catalog.
                // Not for what USING INDEX refuses or renames: exclusion
                // constraints, partitioned tables and their partitions,
                // deferrable keys, an index named apart from its key.
                let adopt = contype != b'x'
                    && !period
                    && !partitioned
                    && parent_index.is_none()
                    && !deferrable
                    && row.get::<_, Option<&str>>(9) == Some(conname.as_str());
                let mut sql = if adopt {
                    // The index is an object of its own, after the table's
                    // rows; the constraint (which foreign keys wait for)
                    // comes after it.
                    let index_oid: u32 = row.get(8);
                    let build = graph.add(
                        (class::PG_INDEX, index_oid),
                        ObjectKind::Index,
                        format!("index {} on {table}", quote_ident(&conname)),
                        Phase::PostData,
                        format!("{};", row.get::<_, String>(16)),
                    );
                    graph.depend(build, (class::PG_CLASS, row.get(17)));
                    let kind = if contype == b'p' { "PRIMARY KEY" } else { "UNIQUE" };
                    let name = quote_ident(&conname);
                    format!("ALTER TABLE ONLY {table} ADD CONSTRAINT {name} {kind} USING INDEX {name};")
                } else {
                    add("ONLY ")
                };
                let attach_later = attach_now(&mut sql, parent_index, &index_name, partitioned);
                sql.push_str(&index_extras(&table, &quote_ident(row.get(9)), row.get(11), row.get(12)));
                let index =
                    graph.add((class::PG_CONSTRAINT, oid), ObjectKind::Constraint, display, Phase::PostData, sql);
                if let Some(parent) = attach_later {
                    let partitions: Vec<u32> = row.get(24);
                    attach_when_complete(
                        graph,
                        (class::PG_CONSTRAINT, oid),
                        &parent,
                        &index_name,
                        row.get(8),
                        &partitions,
                    );
                }
                if adopt {
                    graph.depend(index, (class::PG_INDEX, row.get(8)));
                    if let (Some(major), Some(build)) = (requires, graph.find((class::PG_INDEX, row.get(8)))) {
                        graph.requires_major(build, major);
                    }
                }
                graph.alias((class::PG_CLASS, row.get(8)), index);
                Some(index)
            }
        };
        if let (Some(index), Some(major)) = (added, requires) {
            graph.requires_major(index, major);
        }
    }
    Ok(())
}

/// A DO block that renames the constraint PostgreSQL cloned onto the
/// partition `table` from `parent_table`'s `parent_name` to `name`.
fn rename_cloned_constraint(table: &str, name: &str, parent_table: &str, parent_name: &str) -> String {
    let (table_literal, name_literal) = (quote_literal(table), quote_literal(name));
    format!(
        "DO $rb$ DECLARE cloned pg_catalog.text; BEGIN \
         SELECT c.conname INTO cloned FROM pg_catalog.pg_constraint c \
         WHERE c.conrelid = {table_literal}::pg_catalog.regclass AND c.conparentid = (SELECT p.oid FROM pg_catalog.pg_constraint p \
         WHERE p.conrelid = {}::pg_catalog.regclass AND p.conname = {}); \
         IF cloned <> {name_literal} THEN \
         EXECUTE pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', {table_literal}, cloned, {name_literal}); \
         END IF; END $rb$;",
        quote_literal(parent_table),
        quote_literal(parent_name),
    )
}

/// `pg_get_constraintdef` leaves out the storage parameters of the index
/// behind a key; they go right after the column lists, before any
/// `WHERE` (exclusion) or `DEFERRABLE`.
fn with_index_options(definition: String, contype: u8, options: &[String]) -> String {
    if options.is_empty() {
        return definition;
    }
    let with = format!(" WITH ({})", super::relations::options_list(options));
    let mut cut = definition.len();
    let mut markers = vec![" DEFERRABLE", " INITIALLY "];
    if contype == b'x' {
        markers.push(" WHERE (");
    }
    for marker in markers {
        if let Some(at) = definition.find(marker) {
            cut = cut.min(at);
        }
    }
    format!("{}{with}{}", &definition[..cut], &definition[cut..])
}

async fn indexes(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT x.indexrelid, n.nspname, ic.relname, pg_catalog.pg_get_indexdef(x.indexrelid), {parent}, \
                x.indisclustered, x.indisreplident, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), \
                coalesce((SELECT pg_catalog.array_agg(a.attnum || ' ' || a.attstattarget ORDER BY a.attnum) \
                          FROM pg_catalog.pg_attribute a WHERE a.attrelid = x.indexrelid AND a.attstattarget > 0), '{{}}'), \
                {nulls_not_distinct}, ic.relkind = 'I', {partitions} \
         FROM pg_catalog.pg_index x \
         JOIN pg_catalog.pg_class ic ON ic.oid = x.indexrelid \
         JOIN pg_catalog.pg_class c ON c.oid = x.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND {USER_SCHEMA} AND {} \
           AND (x.indisvalid OR ic.relkind = 'I') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con \
                           WHERE con.conrelid = x.indrelid AND con.conindid = x.indexrelid AND con.contype IN ('p', 'u', 'x'))",
        not_in_extension(class::PG_CLASS, "c.oid"),
        parent = PARENT_INDEX.replace("INDEX_OID", "x.indexrelid"),
        partitions = PARTITION_INDEXES.replace("INDEX_OID", "x.indexrelid"),
        nulls_not_distinct = nulls_not_distinct(version),
    );
    for row in rows(client, "indexes", &sql).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let definition: String = row.get(3);
        let table: String = row.get(7);
        let mut sql = format!("{definition};");
        let attach_later = attach_now(&mut sql, row.get(4), &name, row.get(10));
        sql.push_str(&index_extras(&table, &quote_ident(row.get(2)), row.get(5), row.get(6)));
        for entry in row.get::<_, Vec<String>>(8) {
            if let Some((column, target)) = entry.split_once(' ') {
                sql.push_str(&format!("\nALTER INDEX {name} ALTER COLUMN {column} SET STATISTICS {target};"));
            }
        }
        let key = (class::PG_CLASS, row.get(0));
        let index = graph.add(key, ObjectKind::Index, name.clone(), Phase::PostData, sql);
        if row.get::<_, bool>(9) {
            graph.requires_major(index, 15);
        }
        if let Some(parent) = attach_later {
            attach_when_complete(graph, key, &parent, &name, key.1, &row.get::<_, Vec<u32>>(11));
        }
    }
    Ok(())
}

async fn statistics(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // Statistics on expressions arrived in 14.
    let expressions = if version.at_least(14) { "s.stxexprs IS NOT NULL" } else { "false" };
    let sql = format!(
        "SELECT s.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(s.stxname), \
                pg_catalog.pg_get_statisticsobjdef(s.oid), NULLIF(s.stxstattarget, -1)::int4, {expressions} \
         FROM pg_catalog.pg_statistic_ext s JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_STATISTIC_EXT, "s.oid")
    );
    for row in rows(client, "extended statistics", &sql).await? {
        let name: String = row.get(1);
        let mut sql = format!("{};", row.get::<_, String>(2));
        if let Some(target) = row.get::<_, Option<i32>>(3) {
            sql.push_str(&format!("\nALTER STATISTICS {name} SET STATISTICS {target};"));
        }
        let index =
            graph.add((class::PG_STATISTIC_EXT, row.get(0)), ObjectKind::Statistics, name, Phase::PostData, sql);
        if row.get::<_, bool>(4) {
            graph.requires_major(index, 14);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_options_go_before_deferrability_and_predicates() {
        let options = vec!["fillfactor=80".to_string()];
        assert_eq!(with_index_options("UNIQUE (c)".into(), b'u', &options), "UNIQUE (c) WITH (fillfactor='80')");
        assert_eq!(
            with_index_options("PRIMARY KEY (a) INCLUDE (b) DEFERRABLE INITIALLY DEFERRED".into(), b'p', &options),
            "PRIMARY KEY (a) INCLUDE (b) WITH (fillfactor='80') DEFERRABLE INITIALLY DEFERRED"
        );
        assert_eq!(
            with_index_options("EXCLUDE USING gist (r WITH &&) WHERE ((x > 0))".into(), b'x', &options),
            "EXCLUDE USING gist (r WITH &&) WITH (fillfactor='80') WHERE ((x > 0))"
        );
        assert_eq!(with_index_options("UNIQUE (c)".into(), b'u', &[]), "UNIQUE (c)");
    }
}
