//! The destination database's lifecycle: a fresh database beside the
//! target, and the swap that replaces the target with it.

use std::time::Duration;

use tokio_postgres::Client;
use tracing::{info, warn};

use super::{RestoreError, DUMP_ID_SETTING};
use crate::catalog::model::{DatabaseInfo, DATABASE_NAME_PLACEHOLDER};
use crate::catalog::ServerVersion;
use crate::config::ConnectionUri;
use crate::format::DumpId;
use crate::pg::{self, error_message, ident::quote_ident, ident::quote_literal};

/// Longest database name PostgreSQL keeps (NAMEDATALEN - 1).
const MAX_NAME_BYTES: usize = 63;

/// A connection to a database other than the target, from which databases
/// are created, renamed and dropped.
pub struct Maintenance {
    client: Client,
}

/// The database being restored into; swapped in or discarded.
pub struct Fresh {
    name: String,
}

impl Fresh {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies the source's database settings, and records the dump id.
    ///
    /// # Errors
    /// A setting the destination refuses.
    pub async fn apply_settings(&self, client: &Client, info: &DatabaseInfo, id: &DumpId) -> Result<(), RestoreError> {
        let quoted = quote_ident(&self.name);
        for setting in &info.settings {
            let sql = setting.replace(DATABASE_NAME_PLACEHOLDER, &quoted);
            if let Err(e) = client.batch_execute(&sql).await {
                warn!("database setting not applied ({sql}): {}", error_message(&e));
            }
        }
        let sql = format!("ALTER DATABASE {quoted} SET {DUMP_ID_SETTING} = {}", quote_literal(id.as_str()));
        client.batch_execute(&sql).await.map_err(|e| RestoreError::query("recording the dump id", &e))
    }
}

/// `{target}_rb_{tag}_{6 hex}`, the target cut (at a character boundary) so
/// the whole fits in 63 bytes.
fn sibling_name(target: &str, tag: &str) -> String {
    let suffix = format!("_rb_{tag}_{:06x}", rand::random::<u32>() & 0xff_ffff);
    format!("{}{suffix}", sibling_prefix(target, suffix.len()))
}

fn sibling_prefix(target: &str, suffix_len: usize) -> &str {
    let mut end = target.len().min(MAX_NAME_BYTES - suffix_len);
    while !target.is_char_boundary(end) {
        end -= 1;
    }
    &target[..end]
}

/// Whether `name` is a database an interrupted restore of `target` left.
fn is_leftover(target: &str, name: &str) -> bool {
    let prefix = sibling_prefix(target, "_rb_new_000000".len());
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let Some(hex) = rest.strip_prefix("_rb_new_").or_else(|| rest.strip_prefix("_rb_old_")) else {
        return false;
    };
    hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Maintenance {
    /// Connects to the destination server's `postgres` database (or
    /// `template1` when `postgres` is the target or missing).
    ///
    /// # Errors
    /// When neither can be reached.
    pub async fn connect(destination: &ConnectionUri, target: &str) -> Result<Self, RestoreError> {
        let candidates: &[&str] = if target == "postgres" { &["template1"] } else { &["postgres", "template1"] };
        let mut last = None;
        for database in candidates {
            match pg::connect(&destination.with_database(database), "replibyte restore").await {
                Ok(client) => return Ok(Maintenance { client }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one candidate").into())
    }

    /// The destination server's version.
    ///
    /// # Errors
    /// A failing query.
    pub async fn server_version(&self) -> Result<ServerVersion, RestoreError> {
        ServerVersion::of(&self.client).await.map_err(|e| RestoreError::query("reading the destination's version", &e))
    }

    /// Drops what interrupted restores of `target` left, then creates a
    /// fresh database with the source's encoding and locale.
    ///
    /// # Errors
    /// When the database cannot be created (e.g. the role lacks CREATEDB).
    pub async fn create_fresh(&self, target: &str, info: &DatabaseInfo) -> Result<Fresh, RestoreError> {
        self.drop_leftovers(target).await?;
        let name = sibling_name(target, "new");
        let quoted = quote_ident(&name);
        let mut sql = format!(
            "CREATE DATABASE {quoted} WITH TEMPLATE = template0 ENCODING = {} LC_COLLATE = {} LC_CTYPE = {}",
            quote_literal(&info.encoding),
            quote_literal(&info.lc_collate),
            quote_literal(&info.lc_ctype)
        );
        sql.push_str(&locale_provider_clause(info));
        if let Err(e) = self.client.batch_execute(&sql).await {
            // A locale the destination lacks: keep the encoding, use the
            // server's default locale, and say so.
            let fallback = format!(
                "CREATE DATABASE {quoted} WITH TEMPLATE = template0 ENCODING = {}",
                quote_literal(&info.encoding)
            );
            self.client
                .batch_execute(&fallback)
                .await
                .map_err(|_| RestoreError::query(format!("creating database {name}"), &e))?;
            warn!(
                "database {target}: the source's locale ({} / {}) is not available on the destination ({}); using the server's default locale",
                info.lc_collate,
                info.lc_ctype,
                error_message(&e)
            );
        }
        Ok(Fresh { name })
    }

    async fn drop_leftovers(&self, target: &str) -> Result<(), RestoreError> {
        let rows = self
            .client
            .query("SELECT datname FROM pg_catalog.pg_database", &[])
            .await
            .map_err(|e| RestoreError::query("listing databases", &e))?;
        for name in rows.iter().map(|r| r.get::<_, String>(0)).filter(|n| is_leftover(target, n)) {
            // No FORCE: a database in use may belong to a restore running
            // right now.
            match self.client.batch_execute(&format!("DROP DATABASE {}", quote_ident(&name))).await {
                Ok(()) => info!(database = %name, "dropped the leftover of an interrupted restore"),
                Err(e) => {
                    warn!(database = %name, "leftover of an earlier restore not dropped: {}", error_message(&e))
                }
            }
        }
        Ok(())
    }

    /// Replaces `target` by the fresh database: sessions on the target are
    /// ended, both renames happen in one transaction, the old database is
    /// dropped.
    ///
    /// # Errors
    /// When the renames fail (the target then stays as it was).
    pub async fn swap(&self, fresh: Fresh, target: &str) -> Result<(), RestoreError> {
        let fresh_name = quote_ident(&fresh.name);
        let target_name = quote_ident(target);
        let exists = self
            .client
            .query_opt("SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1", &[&target])
            .await
            .map_err(|e| RestoreError::query("looking up the target database", &e))?
            .is_some();
        if !exists {
            let sql = format!("ALTER DATABASE {fresh_name} RENAME TO {target_name}");
            return self
                .client
                .batch_execute(&sql)
                .await
                .map_err(|e| RestoreError::query(format!("renaming {} to {target}", fresh.name), &e));
        }
        let old = sibling_name(target, "old");
        let sql = format!(
            "BEGIN; ALTER DATABASE {target_name} RENAME TO {}; ALTER DATABASE {fresh_name} RENAME TO {target_name}; COMMIT;",
            quote_ident(&old)
        );
        let mut attempt = 0;
        loop {
            // Our own load connections may still be closing.
            self.terminate_sessions(&fresh.name).await?;
            self.terminate_sessions(target).await?;
            match self.client.batch_execute(&sql).await {
                Ok(()) => break,
                Err(e) => {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    attempt += 1;
                    // A client reconnected between the termination and the
                    // rename: try again, a few times.
                    if attempt >= 10 || e.code() != Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) {
                        self.discard(fresh).await;
                        return Err(RestoreError::query(format!("swapping the restored database in as {target}"), &e));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if let Err(e) = self.client.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&old))).await {
            warn!(database = %old, "the replaced database could not be dropped: {}", error_message(&e));
        }
        Ok(())
    }

    async fn terminate_sessions(&self, database: &str) -> Result<(), RestoreError> {
        self.client
            .query(
                "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                &[&database],
            )
            .await
            .map_err(|e| RestoreError::query(format!("ending the sessions connected to {database}"), &e))?;
        Ok(())
    }

    /// Drops a fresh database that will not be swapped in.
    pub async fn discard(&self, fresh: Fresh) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&fresh.name));
        if let Err(e) = self.client.batch_execute(&sql).await {
            warn!(database = %fresh.name, "could not drop the unfinished restore: {}", error_message(&e));
        }
    }
}

/// The `LOCALE_PROVIDER` part of `CREATE DATABASE` for a source database
/// that does not use libc (ICU from 15, its rules from 16, builtin from 17).
/// An older destination refuses it, and the database falls back to the
/// server's default locale, with a warning.
fn locale_provider_clause(info: &DatabaseInfo) -> String {
    let literal = |value: &Option<String>| quote_literal(value.as_deref().unwrap_or(""));
    match info.locale_provider.as_str() {
        "icu" => {
            let mut clause = format!(" LOCALE_PROVIDER = icu ICU_LOCALE = {}", literal(&info.icu_locale));
            if info.icu_rules.is_some() {
                clause.push_str(&format!(" ICU_RULES = {}", literal(&info.icu_rules)));
            }
            clause
        }
        "builtin" => format!(" LOCALE_PROVIDER = builtin BUILTIN_LOCALE = {}", literal(&info.builtin_locale)),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_names_fit_and_are_recognised() {
        let long = "é".repeat(40); // 80 bytes
        let name = sibling_name(&long, "new");
        assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
        assert!(is_leftover(&long, &name));
        assert!(is_leftover("app", &sibling_name("app", "old")));
        assert!(!is_leftover("app", "app"));
        assert!(!is_leftover("app", "app_rb_new_zzzzzz"));
        assert!(!is_leftover("app", "application_rb_new_000000"));
    }

    #[test]
    fn locale_providers_become_create_database_options() {
        let mut info = DatabaseInfo::example();
        assert_eq!(locale_provider_clause(&info), "");
        info.locale_provider = "icu".into();
        info.icu_locale = Some("en-US".into());
        assert_eq!(locale_provider_clause(&info), " LOCALE_PROVIDER = icu ICU_LOCALE = 'en-US'");
        info.icu_rules = Some("&a < g".into());
        assert!(locale_provider_clause(&info).ends_with(" ICU_RULES = '&a < g'"));
        info.locale_provider = "builtin".into();
        info.builtin_locale = Some("C.UTF-8".into());
        assert_eq!(locale_provider_clause(&info), " LOCALE_PROVIDER = builtin BUILTIN_LOCALE = 'C.UTF-8'");
    }
}
