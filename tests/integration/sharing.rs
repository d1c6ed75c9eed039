//! One bridge, several users: two dumps written at once both complete and
//! are listed; a dump being restored is not deleted or pruned from under
//! the restore.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::harness::*;

fn complete(config: &std::path::Path) -> Vec<String> {
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&run_ok(config, &["dump", "list", "--json"]))).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "complete")
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_dumps_written_at_once_both_complete_and_are_listed() {
    let (a, b) = (unique_name("share_a"), unique_name("share_b"));
    load_fixture(&a, "sample.sql").await;
    load_fixture(&b, "sample.sql").await;
    let ws = Workspace::new();
    let config_a = ws.config(&a, "unused", "");
    let config_b = ws
        .write("b.yaml", &std::fs::read_to_string(&config_a).unwrap().replace(&format!("/{a}\n"), &format!("/{b}\n")));
    let first = replibyte(&config_a, &["dump"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let second = replibyte(&config_b, &["dump"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert!(first.status.success() && second.status.success());
    let ids = [stdout(&first), stdout(&second)];
    let listed = complete(&config_a);
    assert!(ids.iter().all(|id| listed.contains(id)), "{ids:?} not all in {listed:?}");
    let index = std::fs::read_to_string(ws.bridge_path().join("index.json")).unwrap();
    assert!(ids.iter().all(|id| index.contains(id.as_str())), "the index lists both: {index}");
    drop_database(&a).await;
    drop_database(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_being_restored_is_neither_deleted_nor_pruned() {
    let source = unique_name("lock_src");
    let target = unique_name("lock_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "  segment_size_mib: 8\n");
    let read = stdout(&run_ok(&config, &["dump"]));
    let newer = stdout(&run_ok(&config, &["dump"]));

    let restore = replibyte(&config, &["restore", &read, "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    let admin = server().connect("postgres").await;
    let started = Instant::now();
    loop {
        let loading: i64 = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"public\".\"big\"%'", &[])
            .await
            .unwrap()
            .get(0);
        if loading > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the restore never loaded the big table");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = replibyte(&config, &["dump", "delete", &read]).output().unwrap();
    assert_fails_with(&output, "is being read by a restore", &server().password);
    let pruned = run_ok(&config, &["dump", "prune", "--keep-last", "1"]);
    assert!(stderr(&pruned).contains("not deleted: it is being read by a restore"), "{}", stderr(&pruned));
    assert_eq!(complete(&config), vec![newer.clone(), read.clone()], "both kept");

    let out = restore.wait_with_output().unwrap();
    assert!(out.status.success(), "the restore finished despite the delete: {}", stderr(&out));
    // Once free, the next prune deletes it.
    run_ok(&config, &["dump", "prune", "--keep-last", "1"]);
    assert_eq!(complete(&config), vec![newer]);
    drop_database(&source).await;
    drop_database(&target).await;
}
