//! Foreign servers and user mappings. (Foreign tables are read with the
//! other relations; foreign data wrappers come from extensions.)

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows};
use super::{CatalogError, Warnings};
use crate::pg::ident::{quote_ident, quote_literal};

/// `OPTIONS (key 'value', …)` from `key=value` entries, or nothing.
pub fn fdw_options(options: &[String]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let list: Vec<String> = options
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(key, value)| format!("{} {}", quote_ident(key), quote_literal(value)))
        .collect();
    format!(" OPTIONS ({})", list.join(", "))
}

pub async fn read(client: &Client, graph: &mut Graph, warnings: &mut Warnings) -> Result<(), CatalogError> {
    let servers = format!(
        "SELECT s.oid, s.srvname, w.fdwname, s.srvtype, s.srvversion, coalesce(s.srvoptions, '{{}}') \
         FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw \
         WHERE {}",
        not_in_extension(class::PG_FOREIGN_SERVER, "s.oid")
    );
    for row in rows(client, "foreign servers", &servers).await? {
        let name = quote_ident(row.get(1));
        let mut sql = format!("CREATE SERVER {name}");
        if let Some(kind) = row.get::<_, Option<String>>(3) {
            sql.push_str(&format!(" TYPE {}", quote_literal(&kind)));
        }
        if let Some(version) = row.get::<_, Option<String>>(4) {
            sql.push_str(&format!(" VERSION {}", quote_literal(&version)));
        }
        sql.push_str(&format!(
            " FOREIGN DATA WRAPPER {}{};",
            quote_ident(row.get(2)),
            fdw_options(&row.get::<_, Vec<String>>(5))
        ));
        graph.add((class::PG_FOREIGN_SERVER, row.get(0)), ObjectKind::ForeignServer, name, Phase::PreData, sql);
    }

    // Passwords in user mappings are credentials of the source's
    // environment: they are not carried into the bridge.
    let mappings = "SELECT m.umid, m.srvid, m.usename, coalesce(m.umoptions, '{}') FROM pg_catalog.pg_user_mappings m";
    for row in rows(client, "user mappings", mappings).await? {
        let server: u32 = row.get(1);
        let Some(server_index) = graph.find((class::PG_FOREIGN_SERVER, server)) else { continue };
        let server_name = graph.object(server_index).name.clone();
        let user: String = row.get(2);
        let options: Vec<String> = row.get(3);
        let (secret, kept): (Vec<String>, Vec<String>) = options.into_iter().partition(|o| o.starts_with("password="));
        if !secret.is_empty() {
            warnings.push(format!("user mapping for {user} on server {server_name}: its password is not copied (set it on the destination)"));
        }
        let role = if user == "public" { "PUBLIC".to_string() } else { quote_ident(&user) };
        let sql = format!("CREATE USER MAPPING FOR {role} SERVER {server_name}{};", fdw_options(&kept));
        let index = graph.add(
            (class::PG_USER_MAPPING, row.get(0)),
            ObjectKind::ForeignServer,
            format!("user mapping for {user} on {server_name}"),
            Phase::PreData,
            sql,
        );
        graph.depend(index, (class::PG_FOREIGN_SERVER, server));
        if user != "public" {
            graph.object_mut(index).requires_roles.push(user);
        }
    }
    Ok(())
}
