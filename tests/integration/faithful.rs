//! Schemas real applications have, where a restore used to differ from its
//! source (or pg_dump's output fails): each is copied and compared with
//! the referee.

use std::ffi::OsStr;

use super::compare::{assert_identical, differences};
use super::harness::*;

/// Copies `sql` loaded into a fresh database, with `extra` config lines;
/// returns the source's and the copy's names.
async fn copy_of(prefix: &str, sql: &str, extra: &str) -> (String, String) {
    let source = unique_name(&format!("{prefix}_src"));
    let target = unique_name(&format!("{prefix}_dst"));
    create_database(&source).await;
    server().psql(&source, &[OsStr::new("-c"), OsStr::new(sql)]);
    let ws = Workspace::new();
    let config = ws.config(&source, &target, extra);
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore", "latest"]);
    (source, target)
}

async fn drop_both((source, target): (String, String)) {
    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aggregate_over_no_argument_keeps_its_star() {
    let sql = "CREATE AGGREGATE public.rows_seen(*) (SFUNC = pg_catalog.int8inc, STYPE = int8, INITCOND = '0'); \
               COMMENT ON AGGREGATE public.rows_seen(*) IS 'counts rows'; \
               REVOKE ALL ON FUNCTION public.rows_seen() FROM PUBLIC; \
               CREATE TABLE public.t (a int); INSERT INTO public.t VALUES (1), (2); \
               CREATE VIEW public.counted AS SELECT public.rows_seen(*) AS n FROM public.t;";
    let pair = copy_of("agg_star", sql, "").await;
    assert_identical(&pair.0, &pair.1).await;
    let client = server().connect(&pair.1).await;
    let n: i64 = client.query_one("SELECT n FROM public.counted", &[]).await.unwrap().get(0);
    assert_eq!(n, 2);
    drop(client);
    drop_both(pair).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_schema_dropped_and_created_again_comes_back_as_it_was() {
    // No comment, no privilege for PUBLIC, another owner: not the public
    // schema every new database starts with.
    let sql =
        "DO $$ BEGIN CREATE ROLE replibyte_public_owner NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
               DROP SCHEMA public; CREATE SCHEMA public AUTHORIZATION replibyte_public_owner; \
               GRANT USAGE ON SCHEMA public TO replibyte_public_owner; \
               CREATE TABLE public.t (a int); INSERT INTO public.t VALUES (1);";
    let pair = copy_of("public_again", sql, "").await;
    assert_identical(&pair.0, &pair.1).await;
    let client = server().connect(&pair.1).await;
    let row = client
        .query_one(
            "SELECT pg_catalog.has_schema_privilege('public', 'public', 'USAGE'), \
                    pg_catalog.obj_description('public'::regnamespace, 'pg_namespace') IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert!(!row.get::<_, bool>(0), "PUBLIC has no USAGE on the copy's public schema");
    assert!(row.get::<_, bool>(1), "the copy's public schema has no comment");
    drop(client);
    drop_both(pair).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn views_that_read_themselves_are_created_in_two_steps() {
    // PostgreSQL accepts both; pg_dump's output of either fails.
    let sql = "CREATE TABLE public.t (a int, b text COLLATE \"C\"); INSERT INTO public.t VALUES (1, 'x'); \
               CREATE VIEW public.v AS TABLE public.t; \
               CREATE OR REPLACE VIEW public.v AS TABLE public.v; \
               CREATE VIEW public.w1 AS SELECT a FROM public.t; \
               CREATE VIEW public.w2 AS SELECT a FROM public.w1; \
               CREATE OR REPLACE VIEW public.w1 AS SELECT a FROM public.w2; \
               CREATE VIEW public.reader AS SELECT b FROM public.v; \
               COMMENT ON VIEW public.v IS 'reads itself';";
    let pair = copy_of("self_view", sql, "").await;
    assert_identical(&pair.0, &pair.1).await;
    drop_both(pair).await;
}

/// Large objects: an empty one, a small one with a comment and a grant,
/// one spanning several chunks and segments; the same OIDs, bytes, grants
/// and comments on the copy.
const LARGE_OBJECTS: &str = "DO $$ BEGIN CREATE ROLE replibyte_lo_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
    SELECT pg_catalog.lo_create(424242); \
    SELECT pg_catalog.lo_from_bytea(424243, 'small object'::bytea); \
    COMMENT ON LARGE OBJECT 424243 IS 'a comment'; \
    GRANT SELECT ON LARGE OBJECT 424243 TO replibyte_lo_reader; \
    SELECT pg_catalog.lo_from_bytea(424244, (SELECT pg_catalog.string_agg(pg_catalog.decode(pg_catalog.md5(g::text), 'hex'), '') \
        FROM pg_catalog.generate_series(1, 200000) g)); \
    CREATE TABLE public.documents (id int PRIMARY KEY, body oid); INSERT INTO public.documents VALUES (1, 424244);";

#[tokio::test(flavor = "multi_thread")]
async fn large_objects_are_copied_with_their_grants_and_comments() {
    let pair = copy_of("lobs", LARGE_OBJECTS, "  segment_size_mib: 1\n").await;
    assert_identical(&pair.0, &pair.1).await;
    let client = server().connect(&pair.1).await;
    let row = client
        .query_one(
            "SELECT pg_catalog.length(pg_catalog.lo_get(424244)), pg_catalog.length(pg_catalog.lo_get(424242)), \
                    pg_catalog.obj_description(424243, 'pg_largeobject'), \
                    (SELECT m.lomacl::text FROM pg_catalog.pg_largeobject_metadata m WHERE m.oid = 424243) \
                      LIKE '%replibyte_lo_reader=r/%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 3_200_000);
    assert_eq!(row.get::<_, i32>(1), 0);
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("a comment"));
    assert!(row.get::<_, bool>(3));
    drop(client);
    drop_both(pair).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_data_can_leave_large_objects_out() {
    let pair = copy_of("lobs_skip", LARGE_OBJECTS, "  skip_data: [pg_catalog.pg_largeobject]\n").await;
    let diffs = differences(&pair.0, &pair.1).await;
    assert!(diffs.iter().any(|d| d.starts_with("large objects")), "{diffs:?}");
    let client = server().connect(&pair.1).await;
    let count: i64 =
        client.query_one("SELECT count(*) FROM pg_catalog.pg_largeobject_metadata", &[]).await.unwrap().get(0);
    assert_eq!(count, 0);
    drop(client);
    drop_both(pair).await;
}
