//! What happens when things go wrong: bad input gets one clear line and a
//! non-zero exit; a failed or killed dump is never restorable; a failed or
//! killed restore leaves the destination as it was.

use std::path::Path;
use std::time::{Duration, Instant};

use super::compare::assert_identical;
use super::harness::*;

#[test]
fn bad_input_is_one_clear_line_each() {
    let ws = Workspace::new();
    let s = server();

    let unknown_key = ws.write("unknown.yaml", "source:\n  connection_uri: postgres://h/db\n  colour: blue\n");
    let out = replibyte(&unknown_key, &["dump"]).output().unwrap();
    assert_one_clear_line(&out, "unknown field `colour`", "\u{0}");
    assert!(stderr(&out).contains("unknown.yaml") && stderr(&out).contains("line 3"), "{}", stderr(&out));

    let unset = ws.write("unset.yaml", "source:\n  connection_uri: $REPLIBYTE_TEST_SURELY_UNSET\n");
    let out = replibyte(&unset, &["dump"]).output().unwrap();
    assert_one_clear_line(&out, "environment variable REPLIBYTE_TEST_SURELY_UNSET is not set", "\u{0}");

    let password = "not-the-password-4242";
    let unreachable = ws.write(
        "unreachable.yaml",
        &format!("source:\n  connection_uri: postgres://postgres:{password}@127.0.0.1:1/app\nbridge:\n  type: local\n  path: {}\n", ws.bridge_path().display()),
    );
    let out = replibyte(&unreachable, &["dump"]).output().unwrap();
    assert_one_clear_line(&out, "cannot connect to PostgreSQL at 127.0.0.1:1", password);

    let wrong_password = ws.write(
        "wrong.yaml",
        &format!(
            "source:\n  connection_uri: postgres://{}:{password}@{}:{}/postgres\nbridge:\n  type: local\n  path: {}\n",
            s.user,
            s.host,
            s.port,
            ws.bridge_path().display()
        ),
    );
    let out = replibyte(&wrong_password, &["dump"]).output().unwrap();
    assert_one_clear_line(&out, "password authentication failed", password);

    let config = ws.config("postgres", "nowhere", "");
    let out = replibyte(&config, &["restore", "20200101T000000Z-0000"]).output().unwrap();
    assert_one_clear_line(&out, "no complete dump 20200101T000000Z-0000", &s.password);
    let out = replibyte(&config, &["restore", "yesterday"]).output().unwrap();
    assert!(!out.status.success() && stderr(&out).contains("not a dump id"), "{}", stderr(&out));
    let out = replibyte(&config, &["restore", "latest"]).output().unwrap();
    assert_one_clear_line(&out, "holds no complete dump yet", &s.password);
}

/// Every segment file in a bridge folder.
fn segments(bridge: &Path) -> Vec<std::path::PathBuf> {
    files_under(bridge).into_iter().filter(|p| p.to_string_lossy().ends_with(".bin.zst")).collect()
}

async fn leftovers(target: &str) -> Vec<String> {
    let admin = server().connect("postgres").await;
    let rows = admin
        .query("SELECT datname FROM pg_database WHERE datname LIKE $1", &[&format!("{target}_rb_%")])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupted_segment_fails_the_restore_and_leaves_the_destination_alone() {
    let source = unique_name("corrupt_src");
    let target = unique_name("corrupt_dst");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "");
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);

    // Same size, valid zstd, one byte of content changed: only replibyte's
    // own checksum can tell.
    let segment = segments(&ws.bridge_path()).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut raw = zstd::decode_all(std::fs::File::open(&segment).unwrap()).unwrap();
    let middle = raw.len() / 2;
    raw[middle] ^= 0x01;
    std::fs::write(&segment, zstd::encode_all(&raw[..], 1).unwrap()).unwrap();
    let out = replibyte(&config, &["restore"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("checksum mismatch"), "{}", stderr(&out));
    assert_identical(&source, &target).await;
    assert!(leftovers(&target).await.is_empty());

    // Bytes damaged in storage: zstd's own frame check stops it.
    let mut stored = std::fs::read(&segment).unwrap();
    let len = stored.len();
    stored[len / 2] ^= 0xff;
    std::fs::write(&segment, stored).unwrap();
    let out = replibyte(&config, &["restore"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("corrupted"), "{}", stderr(&out));
    assert_identical(&source, &target).await;

    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_dump_is_never_complete_and_latest_skips_it() {
    let source = unique_name("killdump_src");
    let target = unique_name("killdump_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "  segment_size_mib: 1\n");
    let first = stdout(&run_ok(&config, &["dump", "--jobs", "1"]));
    let before = segments(&ws.bridge_path()).len();

    let mut child = replibyte(&config, &["dump", "--jobs", "1"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    wait_for("the second dump to store segments", || segments(&ws.bridge_path()).len() > before + 3);
    child.kill().unwrap();
    child.wait().unwrap();

    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&run_ok(&config, &["dump", "list", "--json"]))).unwrap();
    let dumps = listed.as_array().unwrap();
    assert_eq!(dumps.len(), 2, "{listed}");
    let complete: Vec<&str> =
        dumps.iter().filter(|d| d["status"] == "complete").map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(complete, vec![first.as_str()], "{listed}");

    assert_eq!(stdout(&run_ok(&config, &["restore", "latest"])), first);
    assert_identical(&source, &target).await;
    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_restore_leaves_the_destination_untouched() {
    let source = unique_name("killrestore_src");
    let target = unique_name("killrestore_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "");
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    // The source moves on; the next dump carries the change.
    let client = server().connect(&source).await;
    client.batch_execute("UPDATE small SET label = 'changed' WHERE id = 1").await.unwrap();
    run_ok(&config, &["dump"]);
    client.batch_execute("UPDATE small SET label = 'row 1' WHERE id = 1").await.unwrap();

    let mut child =
        replibyte(&config, &["restore", "--jobs", "1"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let admin = server().connect("postgres").await;
    let pattern = format!("{target}_rb_new_%");
    let start = Instant::now();
    loop {
        let copying = admin
            .query("SELECT 1 FROM pg_stat_activity WHERE datname LIKE $1 AND query LIKE 'COPY%'", &[&pattern])
            .await
            .unwrap();
        if !copying.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the restore never started loading rows");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The destination is the first restore, unchanged (the source is back
    // to the state it was dumped in the first time).
    assert_identical(&source, &target).await;
    assert_eq!(leftovers(&target).await.len(), 1, "the killed restore's database is left beside the target");

    // The next restore cleans it up and succeeds.
    run_ok(&config, &["restore"]);
    assert!(leftovers(&target).await.is_empty());
    let label: String =
        server().connect(&target).await.query_one("SELECT label FROM small WHERE id = 1", &[]).await.unwrap().get(0);
    assert_eq!(label, "changed");

    drop(client);
    drop_database(&source).await;
    drop_database(&target).await;
}
