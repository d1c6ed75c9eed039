//! Triggers, rules and row-level security policies.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::CatalogError;
use crate::pg::ident::quote_ident;

pub async fn read(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    triggers(client, graph).await?;
    rules(client, graph).await?;
    policies(client, graph).await?;
    event_triggers(client, graph).await
}

/// `FROM … c JOIN … n` for the user tables and views a row belongs to.
fn on_user_relation(alias: &str, column: &str) -> String {
    format!(
        "JOIN pg_catalog.pg_class c ON c.oid = {alias}.{column} \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_CLASS, "c.oid")
    )
}

/// How `ALTER TABLE … {ENABLE|DISABLE} …` restores a non-default state.
fn enabled_state(code: u8) -> Option<&'static str> {
    match code {
        b'D' => Some("DISABLE"),
        b'R' => Some("ENABLE REPLICA"),
        b'A' => Some("ENABLE ALWAYS"),
        _ => None,
    }
}

async fn triggers(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    // Internal triggers implement foreign keys; triggers with a parent were
    // cloned onto a partition and come back with the parent's.
    let sql = format!(
        "SELECT t.oid, t.tgname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), \
                pg_catalog.pg_get_triggerdef(t.oid, false), t.tgenabled \
         FROM pg_catalog.pg_trigger t {} AND NOT t.tgisinternal AND t.tgparentid = 0",
        on_user_relation("t", "tgrelid")
    );
    for row in rows(client, "triggers", &sql).await? {
        let trigger = quote_ident(row.get(1));
        let table: String = row.get(2);
        let mut sql = format!("{};", row.get::<_, String>(3));
        if let Some(state) = enabled_state(row.get::<_, i8>(4) as u8) {
            sql.push_str(&format!("\nALTER TABLE {table} {state} TRIGGER {trigger};"));
        }
        graph.add(
            (class::PG_TRIGGER, row.get(0)),
            ObjectKind::Trigger,
            format!("{trigger} on {table}"),
            Phase::PostData,
            sql,
        );
    }
    Ok(())
}

async fn rules(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT r.oid, r.rulename, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), \
                pg_catalog.pg_get_ruledef(r.oid), r.ev_enabled \
         FROM pg_catalog.pg_rewrite r {} AND r.rulename <> '_RETURN'",
        on_user_relation("r", "ev_class")
    );
    for row in rows(client, "rules", &sql).await? {
        let rule = quote_ident(row.get(1));
        let table: String = row.get(2);
        let mut sql: String = row.get(3);
        if let Some(state) = enabled_state(row.get::<_, i8>(4) as u8) {
            sql.push_str(&format!("\nALTER TABLE {table} {state} RULE {rule};"));
        }
        graph.add(
            (class::PG_REWRITE, row.get(0)),
            ObjectKind::Rule,
            format!("{rule} on {table}"),
            Phase::PostData,
            sql,
        );
    }
    Ok(())
}

async fn policies(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT p.oid, p.polname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), \
                p.polcmd, p.polpermissive, \
                coalesce((SELECT pg_catalog.array_agg(r.rolname ORDER BY r.rolname) FROM pg_catalog.pg_roles r \
                          WHERE r.oid = ANY (p.polroles)), '{{}}'), \
                0 = ANY (p.polroles), \
                pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) \
         FROM pg_catalog.pg_policy p {}",
        on_user_relation("p", "polrelid")
    );
    for row in rows(client, "policies", &sql).await? {
        let policy = quote_ident(row.get(1));
        let table: String = row.get(2);
        let command = match row.get::<_, i8>(3) as u8 {
            b'r' => "SELECT",
            b'a' => "INSERT",
            b'w' => "UPDATE",
            b'd' => "DELETE",
            _ => "ALL",
        };
        let permissive = if row.get::<_, bool>(4) { "PERMISSIVE" } else { "RESTRICTIVE" };
        let roles: Vec<String> = row.get(5);
        let mut to: Vec<String> = roles.iter().map(|r| quote_ident(r)).collect();
        if row.get::<_, bool>(6) {
            to.insert(0, "PUBLIC".to_string());
        }
        let mut sql = format!("CREATE POLICY {policy} ON {table} AS {permissive} FOR {command} TO {}", to.join(", "));
        if let Some(using) = row.get::<_, Option<String>>(7) {
            sql.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = row.get::<_, Option<String>>(8) {
            sql.push_str(&format!(" WITH CHECK ({check})"));
        }
        sql.push(';');
        let index = graph.add(
            (class::PG_POLICY, row.get(0)),
            ObjectKind::Policy,
            format!("{policy} on {table}"),
            Phase::PostData,
            sql,
        );
        graph.object_mut(index).requires_roles = roles;
    }
    Ok(())
}

/// Event triggers fire on DDL, so they are created last of all, after the
/// materialized views are refreshed.
async fn event_triggers(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT e.oid, e.evtname, e.evtevent, e.evtfoid::pg_catalog.regproc::text, coalesce(e.evttags, '{{}}'), e.evtenabled \
         FROM pg_catalog.pg_event_trigger e WHERE {}",
        not_in_extension(class::PG_EVENT_TRIGGER, "e.oid")
    );
    for row in rows(client, "event triggers", &sql).await? {
        let name = quote_ident(row.get(1));
        let tags: Vec<String> = row.get(4);
        let when = if tags.is_empty() {
            String::new()
        } else {
            let tags: Vec<String> = tags.iter().map(|t| crate::pg::ident::quote_literal(t)).collect();
            format!(" WHEN TAG IN ({})", tags.join(", "))
        };
        let mut sql = format!(
            "CREATE EVENT TRIGGER {name} ON {}{when} EXECUTE FUNCTION {}();",
            row.get::<_, String>(2),
            row.get::<_, String>(3)
        );
        if let Some(state) = enabled_state(row.get::<_, i8>(5) as u8) {
            sql.push_str(&format!("\nALTER EVENT TRIGGER {name} {state};"));
        }
        graph.add((class::PG_EVENT_TRIGGER, row.get(0)), ObjectKind::EventTrigger, name, Phase::Refresh, sql);
    }
    Ok(())
}
