//! User-defined types (enums, domains, composites, ranges), collations and
//! text search configurations and dictionaries.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::version::ServerVersion;
use super::{CatalogError, Warnings};
use crate::pg::ident::{quote_literal, quote_qualified};

pub async fn read(
    client: &Client,
    version: ServerVersion,
    graph: &mut Graph,
    warnings: &mut Warnings,
) -> Result<(), CatalogError> {
    collations(client, version, graph).await?;
    enums(client, graph).await?;
    domains(client, graph).await?;
    composites(client, graph).await?;
    ranges(client, version, graph).await?;
    text_search(client, graph).await?;
    base_types(client, warnings).await
}

/// `FROM pg_type t JOIN pg_namespace n {join}` restricted to user types
/// whose `typtype` is one of `typtypes`.
fn user_types(typtypes: &str, join: &str) -> String {
    format!(
        "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace {join} \
         WHERE t.typtype IN ({typtypes}) AND {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_TYPE, "t.oid")
    )
}

async fn collations(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // Before 15 an ICU collation keeps its locale in collcollate; 15 gave
    // it a column of its own, renamed in 17 (when builtin collations came);
    // 16 added tailoring rules.
    let locale_and_rules = if version.at_least(17) {
        "c.colllocale, c.collicurules"
    } else if version.at_least(16) {
        "c.colliculocale, c.collicurules"
    } else if version.at_least(15) {
        "c.colliculocale, NULL::text"
    } else {
        "NULL::text, NULL::text"
    };
    let sql = format!(
        "SELECT c.oid, n.nspname, c.collname, c.collprovider, c.collisdeterministic, c.collcollate, c.collctype, {locale_and_rules} \
         FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_COLLATION, "c.oid")
    );
    for row in rows(client, "collations", &sql).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let (provider, needs) = match row.get::<_, i8>(3) as u8 {
            b'i' => ("icu", None),
            b'b' => ("builtin", Some(17)),
            _ => ("libc", None),
        };
        let mut options = vec![format!("provider = {provider}")];
        if !row.get::<_, bool>(4) {
            options.push("deterministic = false".to_string());
        }
        let collate: Option<String> = row.get(5);
        let ctype: Option<String> = row.get(6);
        let locale: Option<String> = row.get(7);
        match (locale, collate, ctype) {
            (Some(locale), _, _) => options.push(format!("locale = {}", quote_literal(&locale))),
            (None, Some(a), Some(b)) if a == b => options.push(format!("locale = {}", quote_literal(&a))),
            (None, a, b) => {
                options.extend(a.map(|a| format!("lc_collate = {}", quote_literal(&a))));
                options.extend(b.map(|b| format!("lc_ctype = {}", quote_literal(&b))));
            }
        }
        let rules: Option<String> = row.get(8);
        if let Some(rules) = &rules {
            options.push(format!("rules = {}", quote_literal(rules)));
        }
        let sql = format!("CREATE COLLATION {name} ({});", options.join(", "));
        let index = graph.add((class::PG_COLLATION, row.get(0)), ObjectKind::Collation, name, Phase::PreData, sql);
        if let Some(major) = needs.or(rules.map(|_| 16)) {
            graph.requires_major(index, major);
        }
    }
    Ok(())
}

async fn enums(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT t.oid, n.nspname, t.typname, \
                coalesce((SELECT pg_catalog.array_agg(e.enumlabel ORDER BY e.enumsortorder) \
                          FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '{{}}') {}",
        user_types("'e'", "")
    );
    for row in rows(client, "enum types", &sql).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let labels: Vec<String> = row.get(3);
        let labels: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
        let sql = format!("CREATE TYPE {name} AS ENUM ({});", labels.join(", "));
        graph.add((class::PG_TYPE, row.get(0)), ObjectKind::Type, name, Phase::PreData, sql);
    }
    Ok(())
}

async fn domains(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT t.oid, n.nspname, t.typname, pg_catalog.format_type(t.typbasetype, t.typtypmod), \
                CASE WHEN t.typcollation <> 0 AND t.typcollation <> b.typcollation THEN \
                  (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                   FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
                   WHERE co.oid = t.typcollation) END, \
                pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typnotnull, \
                coalesce((SELECT pg_catalog.array_agg(pg_catalog.quote_ident(c.conname) || ' ' || pg_catalog.pg_get_constraintdef(c.oid) ORDER BY c.conname) \
                          FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' AND c.convalidated), '{{}}'), \
                coalesce((SELECT pg_catalog.array_agg(c.oid ORDER BY c.conname) \
                          FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' AND NOT c.convalidated), '{{}}'), \
                coalesce((SELECT pg_catalog.array_agg(pg_catalog.quote_ident(c.conname) || ' ' || pg_catalog.pg_get_constraintdef(c.oid) ORDER BY c.conname) \
                          FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c' AND NOT c.convalidated), '{{}}'), \
                coalesce((SELECT pg_catalog.array_agg(c.oid) FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.convalidated), '{{}}') \
         {}",
        user_types("'d'", "JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype")
    );
    for row in rows(client, "domains", &sql).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let mut sql = format!("CREATE DOMAIN {name} AS {}", row.get::<_, String>(3));
        if let Some(collation) = row.get::<_, Option<String>>(4) {
            sql.push_str(&format!(" COLLATE {collation}"));
        }
        if let Some(default) = row.get::<_, Option<String>>(5) {
            sql.push_str(&format!(" DEFAULT {default}"));
        }
        if row.get::<_, bool>(6) {
            sql.push_str(" NOT NULL");
        }
        for check in row.get::<_, Vec<String>>(7) {
            sql.push_str(&format!("\n    CONSTRAINT {check}"));
        }
        sql.push(';');
        let index = graph.add((class::PG_TYPE, row.get(0)), ObjectKind::Type, name.clone(), Phase::PreData, sql);
        for constraint in row.get::<_, Vec<u32>>(10) {
            graph.alias((class::PG_CONSTRAINT, constraint), index);
        }
        // NOT VALID checks cannot be declared in CREATE DOMAIN, and the rows
        // may violate them: they are added after the rows.
        let not_valid: Vec<u32> = row.get(8);
        for (constraint, check) in not_valid.into_iter().zip(row.get::<_, Vec<String>>(9)) {
            let sql = format!("ALTER DOMAIN {name} ADD CONSTRAINT {check};");
            graph.add(
                (class::PG_CONSTRAINT, constraint),
                ObjectKind::Constraint,
                format!("{check} on {name}"),
                Phase::PostData,
                sql,
            );
        }
    }
    Ok(())
}

async fn composites(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT t.oid, n.nspname, t.typname, t.typrelid, \
                coalesce((SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) \
                     || CASE WHEN a.attcollation <> at.typcollation THEN \
                          (SELECT ' COLLATE ' || pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                           FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
                           WHERE co.oid = a.attcollation) ELSE '' END ORDER BY a.attnum) \
                  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid \
                  WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '{{}}') \
         {} AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c'",
        user_types("'c'", "")
    );
    for row in rows(client, "composite types", &sql).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let fields: Vec<String> = row.get(4);
        let sql = format!("CREATE TYPE {name} AS (\n    {}\n);", fields.join(",\n    "));
        let index = graph.add((class::PG_TYPE, row.get(0)), ObjectKind::Type, name, Phase::PreData, sql);
        // Its pg_class row (which comments on fields point to).
        graph.alias((class::PG_CLASS, row.get(3)), index);
    }
    Ok(())
}

async fn ranges(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // Ranges have multiranges from 14 on; the multirange's name is written
    // only when it is not the one PostgreSQL would choose, so that the type
    // can be created on 13 too when it is.
    let multirange = if version.at_least(14) {
        "CASE WHEN mt.typnamespace <> t.typnamespace OR mt.typname <> CASE WHEN pg_catalog.strpos(t.typname, 'range') > 0 \
                THEN pg_catalog.overlay(t.typname::text, 'multirange', pg_catalog.strpos(t.typname, 'range'), 5) \
                ELSE t.typname || '_multirange' END \
              THEN pg_catalog.format_type(r.rngmultitypid, NULL) END"
    } else {
        "NULL::text"
    };
    let multirange_join =
        if version.at_least(14) { "JOIN pg_catalog.pg_type mt ON mt.oid = r.rngmultitypid" } else { "" };
    let sql = format!(
        "SELECT t.oid, n.nspname, t.typname, pg_catalog.format_type(r.rngsubtype, NULL), \
                CASE WHEN NOT opc.opcdefault THEN pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) END, \
                CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN \
                  (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                   FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
                   WHERE co.oid = r.rngcollation) END, \
                CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::text END, \
                CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::text END, \
                {multirange} \
         FROM pg_catalog.pg_range r JOIN pg_catalog.pg_type t ON t.oid = r.rngtypid {multirange_join} \
         JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc \
         JOIN pg_catalog.pg_namespace opn ON opn.oid = opc.opcnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_TYPE, "t.oid")
    );
    for row in rows(client, "range types", &sql).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let mut options = vec![format!("subtype = {}", row.get::<_, String>(3))];
        let optional = [
            (4, "subtype_opclass"),
            (5, "collation"),
            (6, "canonical"),
            (7, "subtype_diff"),
            (8, "multirange_type_name"),
        ];
        for (column, option) in optional {
            if let Some(value) = row.get::<_, Option<String>>(column) {
                options.push(format!("{option} = {value}"));
            }
        }
        let named_multirange = row.get::<_, Option<String>>(8).is_some();
        let sql = format!("CREATE TYPE {name} AS RANGE (\n    {}\n);", options.join(",\n    "));
        let index = graph.add((class::PG_TYPE, row.get(0)), ObjectKind::Type, name, Phase::PreData, sql);
        if named_multirange {
            graph.requires_major(index, 14);
        }
    }
    Ok(())
}

async fn text_search(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let dictionaries = format!(
        "SELECT d.oid, n.nspname, d.dictname, \
                pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(tt.tmplname), d.dictinitoption \
         FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace \
         JOIN pg_catalog.pg_ts_template tt ON tt.oid = d.dicttemplate \
         JOIN pg_catalog.pg_namespace tn ON tn.oid = tt.tmplnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_TS_DICT, "d.oid")
    );
    for row in rows(client, "text search dictionaries", &dictionaries).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let mut options = format!("TEMPLATE = {}", row.get::<_, String>(3));
        if let Some(init) = row.get::<_, Option<String>>(4) {
            options.push_str(", ");
            options.push_str(&init);
        }
        let sql = format!("CREATE TEXT SEARCH DICTIONARY {name} ({options});");
        graph.add((class::PG_TS_DICT, row.get(0)), ObjectKind::TextSearch, name, Phase::PreData, sql);
    }

    let configs = format!(
        "SELECT c.oid, n.nspname, c.cfgname, pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.prsname), \
                coalesce((SELECT pg_catalog.array_agg(tt.alias || ' WITH ' || m.dicts ORDER BY tt.tokid) \
                   FROM pg_catalog.ts_token_type(c.cfgparser) tt \
                   JOIN (SELECT mm.maptokentype, pg_catalog.string_agg(pg_catalog.quote_ident(dn.nspname) || '.' || pg_catalog.quote_ident(dd.dictname), ', ' ORDER BY mm.mapseqno) AS dicts \
                         FROM pg_catalog.pg_ts_config_map mm JOIN pg_catalog.pg_ts_dict dd ON dd.oid = mm.mapdict \
                         JOIN pg_catalog.pg_namespace dn ON dn.oid = dd.dictnamespace \
                         WHERE mm.mapcfg = c.oid GROUP BY mm.maptokentype) m ON m.maptokentype = tt.tokid), '{{}}') \
         FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace \
         JOIN pg_catalog.pg_ts_parser p ON p.oid = c.cfgparser JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_TS_CONFIG, "c.oid")
    );
    for row in rows(client, "text search configurations", &configs).await? {
        let name = quote_qualified(row.get(1), row.get(2));
        let mut sql = format!("CREATE TEXT SEARCH CONFIGURATION {name} (PARSER = {});", row.get::<_, String>(3));
        for mapping in row.get::<_, Vec<String>>(4) {
            sql.push_str(&format!("\nALTER TEXT SEARCH CONFIGURATION {name} ADD MAPPING FOR {mapping};"));
        }
        graph.add((class::PG_TS_CONFIG, row.get(0)), ObjectKind::TextSearch, name, Phase::PreData, sql);
    }
    Ok(())
}

/// Base and shell types need C code replibyte cannot carry.
async fn base_types(client: &Client, warnings: &mut Warnings) -> Result<(), CatalogError> {
    // Arrays of base types are base types too; they go with their element.
    let sql = format!("SELECT n.nspname || '.' || t.typname {} AND t.typarray <> 0", user_types("'b', 'p'", ""));
    for row in rows(client, "base types", &sql).await? {
        let name: String = row.get(0);
        warnings.push(format!("not copied: base type {name} (needs C code; install it on the destination first)"));
    }
    Ok(())
}
