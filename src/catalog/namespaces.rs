//! Schemas and extensions.

use tokio_postgres::Client;

use super::graph::{class, Graph};
use super::model::{ObjectKind, Phase};
use super::query::{not_in_extension, rows, USER_SCHEMA};
use super::CatalogError;
use crate::pg::ident::quote_ident;

pub async fn read(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    schemas(client, graph).await?;
    extensions(client, graph).await
}

/// The OID `public` has in every database initdb makes.
pub const ORIGINAL_PUBLIC_OID: u32 = 2200;

async fn schemas(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = format!(
        "SELECT n.oid, n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMA} AND {}",
        not_in_extension(class::PG_NAMESPACE, "n.oid")
    );
    for row in rows(client, "schemas", &sql).await? {
        let oid: u32 = row.get(0);
        let name: String = row.get(1);
        let owner: String = row.get(2);
        let sql = match name.as_str() {
            "public" if oid == ORIGINAL_PUBLIC_OID => {
                // Every new database has this `public`, with a comment and
                // privileges that depend on the destination's major (PUBLIC
                // may create in it before 15). Both are cleared, then the
                // source's comment and grants are applied (see acl.rs); a
                // change of owner goes to the restoring role, as for every
                // object.
                // Only its owner may (before 15 the bootstrap superuser): a
                // restoring role that is not leaves it as it is, with a warning.
                let change_owner =
                    if owner == "pg_database_owner" { "" } else { " ALTER SCHEMA public OWNER TO CURRENT_USER;" };
                format!(
                    "DO $rb$ BEGIN \
                     IF pg_catalog.pg_has_role((SELECT nspowner FROM pg_catalog.pg_namespace WHERE nspname = 'public'), 'USAGE') THEN \
                     COMMENT ON SCHEMA public IS NULL; REVOKE ALL ON SCHEMA public FROM PUBLIC;{change_owner} \
                     ELSE RAISE WARNING 'schema public belongs to another role: its comment, privileges and owner are left as they are'; \
                     END IF; END $rb$;"
                )
            }
            // A `public` dropped and created again in the source: no
            // built-in comment or privileges, so none on the destination.
            "public" => "DROP SCHEMA public;\nCREATE SCHEMA public;".to_string(),
            _ => format!("CREATE SCHEMA {};", quote_ident(&name)),
        };
        graph.add((class::PG_NAMESPACE, oid), ObjectKind::Schema, name, Phase::PreData, sql);
    }
    Ok(())
}

async fn extensions(client: &Client, graph: &mut Graph) -> Result<(), CatalogError> {
    let sql = "SELECT x.oid, x.extname, n.nspname FROM pg_catalog.pg_extension x \
               JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace";
    for row in rows(client, "extensions", sql).await? {
        let name: String = row.get(1);
        let schema: String = row.get(2);
        // No VERSION: the destination installs its own default version, as
        // pg_dump does. IF NOT EXISTS because plpgsql is always there.
        let sql =
            format!("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {};", quote_ident(&name), quote_ident(&schema));
        graph.add((class::PG_EXTENSION, row.get(0)), ObjectKind::Extension, name, Phase::PreData, sql);
    }
    // Every object an extension created stands for the extension: a column
    // of type hstore needs `CREATE EXTENSION hstore`.
    let members = "SELECT classid, objid, refobjid FROM pg_catalog.pg_depend WHERE deptype = 'e' AND refclassid = 3079";
    for row in rows(client, "extension members", members).await? {
        graph.alias_key((row.get(0), row.get(1)), (class::PG_EXTENSION, row.get(2)));
    }
    Ok(())
}
