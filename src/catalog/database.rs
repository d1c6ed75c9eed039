//! The database itself: encoding, locale and `ALTER DATABASE … SET` settings.

use tokio_postgres::Client;

use super::model::{DatabaseInfo, DATABASE_NAME_PLACEHOLDER};
use super::query::rows;
use super::version::ServerVersion;
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

pub async fn read(client: &Client, version: ServerVersion) -> Result<DatabaseInfo, CatalogError> {
    // The database's locale provider arrived in 15 (before: libc only); the
    // ICU locale column was renamed in 17, when the builtin provider came.
    let locale = if version.at_least(17) {
        "CASE d.datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END, d.datlocale, d.daticurules"
    } else if version.at_least(16) {
        "CASE d.datlocprovider WHEN 'i' THEN 'icu' ELSE 'libc' END, d.daticulocale, d.daticurules"
    } else if version.at_least(15) {
        "CASE d.datlocprovider WHEN 'i' THEN 'icu' ELSE 'libc' END, d.daticulocale, NULL::text"
    } else {
        "'libc', NULL::text, NULL::text"
    };
    let sql = format!(
        "SELECT d.datname, pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, {locale}, \
                coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s \
                          WHERE s.setdatabase = d.oid AND s.setrole = 0), '{{}}') \
         FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()"
    );
    let row = rows(client, "the database", &sql).await?.into_iter().next().ok_or(CatalogError::Query {
        what: "the database",
        message: "current database not found in pg_database".to_string(),
    })?;
    let provider: String = row.get(4);
    let locale: Option<String> = row.get(5);
    let settings: Vec<String> = row.get(7);
    Ok(DatabaseInfo {
        name: row.get(0),
        encoding: row.get(1),
        lc_collate: row.get(2),
        lc_ctype: row.get(3),
        icu_locale: locale.clone().filter(|_| provider == "icu"),
        builtin_locale: locale.filter(|_| provider == "builtin"),
        icu_rules: row.get(6),
        locale_provider: provider,
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
