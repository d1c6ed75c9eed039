//! The database itself: encoding, locale and `ALTER DATABASE … SET` settings.

use tokio_postgres::Client;

use super::model::{DatabaseInfo, DATABASE_NAME_PLACEHOLDER};
use super::query::rows;
use super::CatalogError;
use crate::pg::ident::quote_literal;

/// Settings whose value is a list that PostgreSQL keeps already quoted
/// (`GUC_LIST_QUOTE`): they are written back as is, not as one string.
const LIST_SETTINGS: &[&str] = &[
    "search_path",
    "temp_tablespaces",
    "session_preload_libraries",
    "shared_preload_libraries",
    "local_preload_libraries",
];

pub async fn read(client: &Client) -> Result<DatabaseInfo, CatalogError> {
    let sql = "SELECT d.datname, pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, \
                      CASE d.datlocprovider WHEN 'i' THEN 'icu' ELSE 'libc' END, d.daticulocale, \
                      coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s \
                                WHERE s.setdatabase = d.oid AND s.setrole = 0), '{}') \
               FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()";
    let row = rows(client, "the database", sql).await?.into_iter().next().ok_or(CatalogError::Query {
        what: "the database",
        message: "current database not found in pg_database".to_string(),
    })?;
    let settings: Vec<String> = row.get(6);
    Ok(DatabaseInfo {
        name: row.get(0),
        encoding: row.get(1),
        lc_collate: row.get(2),
        lc_ctype: row.get(3),
        locale_provider: row.get(4),
        icu_locale: row.get(5),
        settings: settings.iter().filter_map(|s| setting_sql(s)).collect(),
    })
}

/// `ALTER DATABASE {{database}} SET name = value;` from a `name=value` entry.
fn setting_sql(entry: &str) -> Option<String> {
    let (name, value) = entry.split_once('=')?;
    let value = if LIST_SETTINGS.contains(&name) { value.to_string() } else { quote_literal(value) };
    Some(format!("ALTER DATABASE {DATABASE_NAME_PLACEHOLDER} SET {name} = {value};"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_settings_keep_their_quoting() {
        assert_eq!(setting_sql("work_mem=64MB").unwrap(), "ALTER DATABASE {{database}} SET work_mem = '64MB';");
        assert_eq!(
            setting_sql("search_path=\"$user\", public").unwrap(),
            "ALTER DATABASE {{database}} SET search_path = \"$user\", public;"
        );
    }
}
