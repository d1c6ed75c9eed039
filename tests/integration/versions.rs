//! Every supported major as a source, restored into itself and into 18,
//! against the referee: pg_dump 18 (which reads every major). The
//! every-feature fixture loads on each major what that major supports.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use super::compare::differences_between;
use super::harness::*;

/// Round trip on the source's own server, then into 18 compared with what
/// `pg_dump` 18 piped into `psql` 18 makes of the same source (18 names
/// NOT NULL constraints and canonicalizes ICU locales, so the upgrade
/// path's referee is pg_dump's upgrade, not the old source).
async fn round_trips_and_upgrades(major: u32) {
    let source_server = major_server(major);
    let newest = major_server(18);
    let source = unique_name(&format!("v{major}_src"));
    let copy = unique_name(&format!("v{major}_dst"));
    source_server.load_fixture(&source, "every_feature.sql").await;
    let ws = Workspace::new();

    let config = ws.config_between(&source_server, &source, &source_server, &copy, "");
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore", "latest"]);
    let diffs = differences_between(&source_server, &source, &source_server, &copy).await;
    assert!(diffs.is_empty(), "PostgreSQL {major}: the copy differs:\n{}", diffs.join("\n"));

    if major < 18 {
        let upgraded = unique_name(&format!("v{major}_up"));
        let referee = unique_name(&format!("v{major}_ref"));
        // Whichever test reaches 18 first: its cluster may not have loaded
        // the fixture yet.
        newest.create_fixture_roles();
        let config = ws.config_between(&source_server, &source, &newest, &upgraded, "");
        run_ok(&config, &["restore", "latest"]);
        pg_dump_upgrade(&source_server, &source, &newest, &referee).await;
        let diffs: Vec<String> = differences_between(&newest, &referee, &newest, &upgraded)
            .await
            .into_iter()
            .filter(|d| !pg_dump_cannot_restore(d))
            .collect();
        assert!(diffs.is_empty(), "PostgreSQL {major} -> 18 differs from pg_dump's upgrade:\n{}", diffs.join("\n"));
        newest.drop_database(&upgraded).await;
        newest.drop_database(&referee).await;
    }
    source_server.drop_database(&source).await;
    source_server.drop_database(&copy).await;
}

/// `pg_dump` 18 of the source, piped into `psql` 18 on `to`. Not stopped
/// at errors: its known failures are the one [`pg_dump_cannot_restore`]
/// takes out of the comparison, and `SET COMPRESSION lz4` where the 18
/// test server, built without lz4, keeps the default (as replibyte does).
async fn pg_dump_upgrade(from: &Server, source: &str, to: &Server, referee: &str) {
    to.create_database(referee).await;
    let mut dump = Command::new(pg_tool("pg_dump"))
        .args(["-h", &from.host, "-p", &from.port.to_string(), "-U", &from.user, "-d", source])
        .env("PGPASSWORD", &from.password)
        .stdout(Stdio::piped())
        .spawn()
        .expect("pg_dump runs");
    let restore = Command::new(pg_tool("psql"))
        .args(["-X", "-q", "-h", &to.host, "-p", &to.port.to_string(), "-U", &to.user, "-d", referee])
        .env("PGPASSWORD", &to.password)
        .stdin(dump.stdout.take().unwrap())
        .output()
        .expect("psql runs");
    assert!(dump.wait().unwrap().success(), "pg_dump of {source} failed");
    let errors: Vec<String> = String::from_utf8_lossy(&restore.stderr)
        .lines()
        .filter(|l| {
            l.contains("ERROR:") && !pg_dump_cannot_restore(l) && !l.contains("compression method lz4 not supported")
        })
        .map(str::to_string)
        .collect();
    assert!(errors.is_empty(), "pg_dump | psql into 18 failed: {errors:?}");
}

/// PostgreSQL 17 and 18 refuse to attach a partition's exclusion-constraint
/// index to its parent's ("index definitions do not match"), the statement
/// pg_dump writes for them; replibyte adds such a constraint to the whole
/// tree at once. Only those attachments, missing in pg_dump's copy, are
/// not counted as differences.
fn pg_dump_cannot_restore(difference: &str) -> bool {
    difference.contains("ALTER INDEX parts.bookings_no_overlap ATTACH PARTITION")
        || difference.contains("cannot attach index")
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_13_round_trips_and_upgrades_to_18() {
    round_trips_and_upgrades(13).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_14_round_trips_and_upgrades_to_18() {
    round_trips_and_upgrades(14).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_15_round_trips_and_upgrades_to_18() {
    round_trips_and_upgrades(15).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_16_round_trips_and_upgrades_to_18() {
    round_trips_and_upgrades(16).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_17_round_trips_and_upgrades_to_18() {
    round_trips_and_upgrades(17).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_18_round_trips() {
    round_trips_and_upgrades(18).await;
}

/// A virtual generated column (18) cannot be created by 16: the restore
/// stops with one line naming it and the major it needs, before anything on
/// the destination changes (its database keeps its rows, no database is
/// created beside it).
#[tokio::test(flavor = "multi_thread")]
async fn an_object_an_older_major_cannot_create_stops_before_the_destination_changes() {
    let (newest, older) = (major_server(18), major_server(16));
    let source = unique_name("v18_virtual");
    let target = unique_name("v16_kept");
    newest.create_database(&source).await;
    newest.psql(
        &source,
        &[
            OsStr::new("-c"),
            OsStr::new(
                "CREATE TABLE t (a int, twice int GENERATED ALWAYS AS (a * 2) VIRTUAL); INSERT INTO t VALUES (1)",
            ),
        ],
    );
    older.create_database(&target).await;
    older.psql(&target, &[OsStr::new("-c"), OsStr::new("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")]);

    let ws = Workspace::new();
    let config = ws.config_between(&newest, &source, &older, &target, "");
    run_ok(&config, &["dump"]);
    let output = replibyte(&config, &["restore", "latest"]).output().unwrap();
    assert_fails_with(&output, "table \"public\".\"t\"", &older.password);
    assert!(stderr(&output).contains("needs PostgreSQL 18 or newer, the destination runs 16."), "{}", stderr(&output));

    let client = older.connect(&target).await;
    let kept: i32 = client.query_one("SELECT x FROM kept", &[]).await.unwrap().get(0);
    assert_eq!(kept, 42, "the destination is unchanged");
    let admin = older.connect("postgres").await;
    let beside = admin
        .query("SELECT datname FROM pg_database WHERE datname LIKE $1", &[&format!("{target}_rb_%")])
        .await
        .unwrap();
    assert!(beside.is_empty(), "a database was created beside the target: {beside:?}");
    newest.drop_database(&source).await;
    older.drop_database(&target).await;
}
