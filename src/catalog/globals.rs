//! Globals: the roles of the source server and their memberships, so the
//! grants of a restored database find their roles. Never passwords.
//!
//! A restore creates the roles the destination lacks and leaves existing
//! roles alone. Superuser, replication and RLS-bypass powers are not given
//! on the destination (a warning names the roles that had them).

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::query::rows;
use super::version::ServerVersion;
use super::CatalogError;
use crate::pg::ident::{quote_ident, quote_literal};

/// The roles and memberships of a server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Globals {
    pub roles: Vec<Role>,
    pub memberships: Vec<Membership>,
}

/// A role, without its password.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Role {
    pub name: String,
    pub login: bool,
    pub inherit: bool,
    pub create_db: bool,
    pub create_role: bool,
    pub connection_limit: i32,
    pub valid_until: Option<String>,
    /// Powers not given on the destination.
    pub superuser: bool,
    pub replication: bool,
    pub bypass_rls: bool,
    /// `name=value` settings from `ALTER ROLE … SET`.
    pub settings: Vec<String>,
}

/// `role` granted to `member`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Membership {
    pub role: String,
    pub member: String,
    pub admin_option: bool,
    /// 16+: `INHERIT` when it differs from the member's own INHERIT
    /// attribute (the default a plain GRANT gives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherit_option: Option<bool>,
    /// 16+: `SET FALSE` (the default is TRUE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_option: Option<bool>,
}

/// Reads every role but the built-in `pg_*` ones.
///
/// # Errors
/// A failing query.
pub async fn read(client: &Client) -> Result<Globals, CatalogError> {
    let version = ServerVersion::of(client).await.map_err(|e| CatalogError::query("the server version", &e))?;
    let sql = "SELECT r.rolname, r.rolcanlogin, r.rolinherit, r.rolcreatedb, r.rolcreaterole, r.rolconnlimit, \
                      r.rolvaliduntil::text, r.rolsuper, r.rolreplication, r.rolbypassrls, \
                      coalesce((SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s \
                                WHERE s.setrole = r.oid AND s.setdatabase = 0), '{}') \
               FROM pg_catalog.pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY r.rolname";
    let roles = rows(client, "roles", sql)
        .await?
        .iter()
        .map(|r| Role {
            name: r.get(0),
            login: r.get(1),
            inherit: r.get(2),
            create_db: r.get(3),
            create_role: r.get(4),
            connection_limit: r.get(5),
            valid_until: r.get(6),
            superuser: r.get(7),
            replication: r.get(8),
            bypass_rls: r.get(9),
            settings: r.get(10),
        })
        .collect();
    // 16 gave memberships INHERIT and SET options; only values other than
    // what a plain GRANT gives are kept.
    let options = if version.at_least(16) {
        "NULLIF(a.inherit_option, m.rolinherit), NULLIF(a.set_option, true)"
    } else {
        "NULL::bool, NULL::bool"
    };
    let sql = format!(
        "SELECT DISTINCT g.rolname, m.rolname, a.admin_option, {options} FROM pg_catalog.pg_auth_members a \
         JOIN pg_catalog.pg_roles g ON g.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member \
         WHERE m.rolname !~ '^pg_' ORDER BY 1, 2"
    );
    let memberships = rows(client, "role memberships", &sql)
        .await?
        .iter()
        .map(|r| Membership {
            role: r.get(0),
            member: r.get(1),
            admin_option: r.get(2),
            inherit_option: r.get(3),
            set_option: r.get(4),
        })
        .collect();
    Ok(Globals { roles, memberships })
}

impl Role {
    /// `CREATE ROLE` with the role's attributes (and its settings).
    pub fn create_sql(&self) -> String {
        let flag = |on: bool, name: &str| if on { name.to_string() } else { format!("NO{name}") };
        let name = quote_ident(&self.name);
        let mut sql = format!(
            "CREATE ROLE {name} WITH {} {} {} {} CONNECTION LIMIT {}",
            flag(self.login, "LOGIN"),
            flag(self.inherit, "INHERIT"),
            flag(self.create_db, "CREATEDB"),
            flag(self.create_role, "CREATEROLE"),
            self.connection_limit
        );
        if let Some(until) = &self.valid_until {
            sql.push_str(&format!(" VALID UNTIL {}", quote_literal(until)));
        }
        sql.push(';');
        for setting in &self.settings {
            if let Some((key, value)) = setting.split_once('=') {
                sql.push_str(&format!("\nALTER ROLE {name} SET {key} = {};", quote_literal(value)));
            }
        }
        sql
    }

    /// Whether the role had powers a restore does not give.
    pub fn is_privileged(&self) -> bool {
        self.superuser || self.replication || self.bypass_rls
    }
}

impl Membership {
    pub fn grant_sql(&self) -> String {
        let mut options = Vec::new();
        if self.admin_option {
            options.push("ADMIN OPTION".to_string());
        }
        if let Some(inherit) = self.inherit_option {
            options.push(format!("INHERIT {}", if inherit { "TRUE" } else { "FALSE" }));
        }
        if let Some(set) = self.set_option {
            options.push(format!("SET {}", if set { "TRUE" } else { "FALSE" }));
        }
        let with = if options.is_empty() { String::new() } else { format!(" WITH {}", options.join(", ")) };
        format!("GRANT {} TO {}{with};", quote_ident(&self.role), quote_ident(&self.member))
    }

    /// The oldest major that can grant the membership as it was (INHERIT
    /// and SET options need 16).
    pub fn requires_major(&self) -> Option<u32> {
        (self.inherit_option.is_some() || self.set_option.is_some()).then_some(16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_created_without_passwords_or_superpowers() {
        let role = Role {
            name: "app reader".into(),
            login: true,
            inherit: true,
            create_db: false,
            create_role: false,
            connection_limit: 5,
            valid_until: None,
            superuser: true,
            replication: false,
            bypass_rls: false,
            settings: vec!["work_mem=64MB".into()],
        };
        let sql = role.create_sql();
        assert_eq!(
            sql,
            "CREATE ROLE \"app reader\" WITH LOGIN INHERIT NOCREATEDB NOCREATEROLE CONNECTION LIMIT 5;\n\
             ALTER ROLE \"app reader\" SET work_mem = '64MB';"
        );
        assert!(!sql.contains("SUPERUSER") && !sql.contains("PASSWORD"));
        assert!(role.is_privileged());
        let mut m = Membership {
            role: "app".into(),
            member: "app reader".into(),
            admin_option: true,
            inherit_option: None,
            set_option: None,
        };
        assert_eq!(m.grant_sql(), "GRANT \"app\" TO \"app reader\" WITH ADMIN OPTION;");
        assert_eq!(m.requires_major(), None);
        m.inherit_option = Some(false);
        m.set_option = Some(false);
        assert_eq!(m.grant_sql(), "GRANT \"app\" TO \"app reader\" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE;");
        assert_eq!(m.requires_major(), Some(16));
    }
}
