//! Functions, procedures, aggregates, operators and casts.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::version::ServerVersion;
use super::CatalogError;
use crate::pg::ident::quote_literal;

pub async fn read(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    functions(client, version, graph).await?;
    aggregates(client, graph).await?;
    operators(client, graph).await?;
    casts(client, graph).await
}

async fn functions(client: &Client, version: ServerVersion, graph: &mut Graph) -> Result<(), CatalogError> {
    // SQL-standard bodies (`BEGIN ATOMIC`, `RETURN`) arrived in 14.
    let standard_body = if version.at_least(14) { "p.prosqlbody IS NOT NULL" } else { "false" };
    let sql = format!(
        "SELECT p.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) \
                || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')', \
                pg_catalog.pg_get_functiondef(p.oid), {standard_body} \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prokind IN ('f', 'p', 'w') AND {USER_SCHEMA} AND {} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = {pg_proc} AND d.objid = p.oid AND d.deptype = 'i')",
        not_in_extension(class::PG_PROC, "p.oid"),
        pg_proc = class::PG_PROC
    );
    for row in rows(client, "functions", &sql).await? {
        let definition: String = row.get(2);
        let sql = format!("{};", definition.trim_end());
        let index = graph.add((class::PG_PROC, row.get(0)), ObjectKind::Function, row.get(1), Phase::PreData, sql);
        if row.get::<_, bool>(3) {
            graph.requires_major(index, 14);
        }
    }
    Ok(())
}

async fn aggregates(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    // regproc/regoperator print qualified names under the empty search_path.
    let sql = format!(
        "SELECT p.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname), \
                pg_catalog.pg_get_function_arguments(p.oid), \
                a.aggtransfn::pg_catalog.regproc::text, pg_catalog.format_type(a.aggtranstype, NULL), \
                NULLIF(a.aggtransspace, 0), NULLIF(a.aggfinalfn, 0)::pg_catalog.regproc::text, a.aggfinalextra, a.aggfinalmodify, \
                NULLIF(a.aggcombinefn, 0)::pg_catalog.regproc::text, NULLIF(a.aggserialfn, 0)::pg_catalog.regproc::text, \
                NULLIF(a.aggdeserialfn, 0)::pg_catalog.regproc::text, a.agginitval, \
                NULLIF(a.aggmtransfn, 0)::pg_catalog.regproc::text, NULLIF(a.aggminvtransfn, 0)::pg_catalog.regproc::text, \
                CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END, \
                NULLIF(a.aggmtransspace, 0), NULLIF(a.aggmfinalfn, 0)::pg_catalog.regproc::text, a.aggmfinalextra, a.aggmfinalmodify, \
                a.aggminitval, \
                CASE WHEN a.aggsortop <> 0 THEN (SELECT 'OPERATOR(' || pg_catalog.quote_ident(opn.nspname) || '.' || o.oprname || ')' \
                     FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace opn ON opn.oid = o.oprnamespace WHERE o.oid = a.aggsortop) END, \
                p.proparallel, a.aggkind \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid \
         WHERE p.prokind = 'a' AND {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_PROC, "p.oid")
    );
    for row in rows(client, "aggregates", &sql).await? {
        let name: String = row.get(1);
        // An aggregate over no argument is written `(*)`: `()` is a syntax
        // error in CREATE AGGREGATE.
        let args: String = row.get(2);
        let args = if args.is_empty() { "*".to_string() } else { args };
        let mut options =
            vec![format!("SFUNC = {}", row.get::<_, String>(3)), format!("STYPE = {}", row.get::<_, String>(4))];
        let mut push = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                options.push(format!("{key} = {v}"));
            }
        };
        push("SSPACE", row.get::<_, Option<i32>>(5).map(|v| v.to_string()));
        push("FINALFUNC", row.get(6));
        push("FINALFUNC_MODIFY", Some(modify(row.get(8)).to_string()));
        push("COMBINEFUNC", row.get(9));
        push("SERIALFUNC", row.get(10));
        push("DESERIALFUNC", row.get(11));
        push("INITCOND", row.get::<_, Option<String>>(12).map(|v| quote_literal(&v)));
        push("MSFUNC", row.get(13));
        push("MINVFUNC", row.get(14));
        push("MSTYPE", row.get(15));
        push("MSSPACE", row.get::<_, Option<i32>>(16).map(|v| v.to_string()));
        push("MFINALFUNC", row.get(17));
        let has_moving = row.get::<_, Option<String>>(13).is_some();
        if has_moving {
            push("MFINALFUNC_MODIFY", Some(modify(row.get(19)).to_string()));
        }
        push("MINITCOND", row.get::<_, Option<String>>(20).map(|v| quote_literal(&v)));
        push("SORTOP", row.get(21));
        push("PARALLEL", Some(parallel(row.get(22)).to_string()));
        if row.get::<_, bool>(7) {
            options.push("FINALFUNC_EXTRA".to_string());
        }
        if row.get::<_, bool>(18) {
            options.push("MFINALFUNC_EXTRA".to_string());
        }
        if row.get::<_, i8>(23) as u8 == b'h' {
            options.push("HYPOTHETICAL".to_string());
        }
        let signature = format!("{name}({args})");
        let sql = format!("CREATE AGGREGATE {signature} (\n    {}\n);", options.join(",\n    "));
        graph.add((class::PG_PROC, row.get(0)), ObjectKind::Aggregate, signature, Phase::PreData, sql);
    }
    Ok(())
}

fn modify(code: i8) -> &'static str {
    match code as u8 {
        b's' => "SHAREABLE",
        b'w' => "READ_WRITE",
        _ => "READ_ONLY",
    }
}

fn parallel(code: i8) -> &'static str {
    match code as u8 {
        b's' => "SAFE",
        b'r' => "RESTRICTED",
        _ => "UNSAFE",
    }
}

async fn operators(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT o.oid, pg_catalog.quote_ident(n.nspname) || '.' || o.oprname, o.oprcode::pg_catalog.regproc::text, \
                CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END, \
                CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END, \
                (SELECT 'OPERATOR(' || pg_catalog.quote_ident(cn.nspname) || '.' || c.oprname || ')' FROM pg_catalog.pg_operator c \
                   JOIN pg_catalog.pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprcom), \
                (SELECT 'OPERATOR(' || pg_catalog.quote_ident(cn.nspname) || '.' || c.oprname || ')' FROM pg_catalog.pg_operator c \
                   JOIN pg_catalog.pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprnegate), \
                NULLIF(o.oprrest, 0)::pg_catalog.regproc::text, NULLIF(o.oprjoin, 0)::pg_catalog.regproc::text, \
                o.oprcanhash, o.oprcanmerge \
         FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_OPERATOR, "o.oid")
    );
    for row in rows(client, "operators", &sql).await? {
        let name: String = row.get(1);
        let mut options = vec![format!("FUNCTION = {}", row.get::<_, String>(2))];
        let optional =
            [(3, "LEFTARG"), (4, "RIGHTARG"), (5, "COMMUTATOR"), (6, "NEGATOR"), (7, "RESTRICT"), (8, "JOIN")];
        for (column, key) in optional {
            if let Some(value) = row.get::<_, Option<String>>(column) {
                options.push(format!("{key} = {value}"));
            }
        }
        if row.get::<_, bool>(9) {
            options.push("HASHES".to_string());
        }
        if row.get::<_, bool>(10) {
            options.push("MERGES".to_string());
        }
        let display = format!(
            "{name}({}, {})",
            row.get::<_, Option<String>>(3).unwrap_or_else(|| "NONE".into()),
            row.get::<_, Option<String>>(4).unwrap_or_else(|| "NONE".into())
        );
        let sql = format!("CREATE OPERATOR {name} (\n    {}\n);", options.join(",\n    "));
        graph.add((class::PG_OPERATOR, row.get(0)), ObjectKind::Operator, display, Phase::PreData, sql);
    }
    Ok(())
}

async fn casts(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT c.oid, pg_catalog.format_type(c.castsource, NULL), pg_catalog.format_type(c.casttarget, NULL), \
                c.castmethod, CASE WHEN c.castfunc <> 0 THEN c.castfunc::pg_catalog.regprocedure::text END, c.castcontext \
         FROM pg_catalog.pg_cast c WHERE c.oid >= 16384 AND {} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = {pg_cast} AND d.objid = c.oid AND d.deptype = 'i')",
        not_in_extension(class::PG_CAST, "c.oid"),
        pg_cast = class::PG_CAST
    );
    for row in rows(client, "casts", &sql).await? {
        let name = format!("({} AS {})", row.get::<_, String>(1), row.get::<_, String>(2));
        let method = match (row.get::<_, i8>(3) as u8, row.get::<_, Option<String>>(4)) {
            (b'f', Some(function)) => format!("WITH FUNCTION {function}"),
            (b'i', _) => "WITH INOUT".to_string(),
            _ => "WITHOUT FUNCTION".to_string(),
        };
        let context = match row.get::<_, i8>(5) as u8 {
            b'a' => " AS ASSIGNMENT",
            b'i' => " AS IMPLICIT",
            _ => "",
        };
        let sql = format!("CREATE CAST {name} {method}{context};");
        graph.add((class::PG_CAST, row.get(0)), ObjectKind::Cast, name, Phase::PreData, sql);
    }
    Ok(())
}
