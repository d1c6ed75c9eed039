//! Dump and restore give back the same database.

use super::compare::{assert_identical, differences};
use super::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn every_feature_round_trips_identically() {
    let source = unique_name("rt_src");
    let target = unique_name("rt_dst");
    load_fixture(&source, "every_feature.sql").await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "");

    let dump_id = stdout(&run_ok(&config, &["dump"]));
    a_key_to_a_partitioned_table_waits_for_every_partition_key(&ws);
    let restored_id = stdout(&run_ok(&config, &["restore", "latest"]));
    assert_eq!(dump_id, restored_id, "restore latest restores the dump just made");
    assert_identical(&source, &target).await;

    // Restoring again replaces the destination, with nothing left beside it.
    run_ok(&config, &["restore", &dump_id]);
    assert_identical(&source, &target).await;
    let admin = server().connect("postgres").await;
    let leftovers = admin
        .query("SELECT datname FROM pg_database WHERE datname LIKE $1", &[&format!("{target}_rb_%")])
        .await
        .unwrap();
    assert!(leftovers.is_empty(), "databases left beside the target: {leftovers:?}");

    drop_database(&source).await;
    drop_database(&target).await;
}

/// A foreign key referencing a partitioned table can only be added once the
/// parent's unique index is valid, which it is once every partition's key
/// is attached: the restore must not run it after the parent's key alone
/// (a race a parallel restore loses now and then). The key of a
/// sub-partitioned partition joins its parent's only once its own
/// partitions' keys have joined it: attaches on two levels of one tree in
/// concurrent transactions leave the root's key invalid for good.
fn a_key_to_a_partitioned_table_waits_for_every_partition_key(ws: &Workspace) {
    let path = files_under(&ws.bridge_path()).into_iter().find(|p| p.ends_with("schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let objects = schema["objects"].as_array().unwrap();
    let name = |o: &serde_json::Value| o["name"].as_str().unwrap().to_string();
    // measurements, its partitions and the partitions of measurements_2024.
    let partition_keys: Vec<&serde_json::Value> = objects
        .iter()
        .filter(|o| o["kind"] == "constraint" && name(o).starts_with("\"measurements") && name(o).contains("_pkey\""))
        .map(|o| &o["id"])
        .collect();
    assert_eq!(partition_keys.len(), 7, "{partition_keys:?}");
    let fk =
        objects.iter().find(|o| o["kind"] == "foreign-key" && name(o).starts_with("\"measurement_notes_fk\"")).unwrap();
    let depends = fk["depends_on"].as_array().unwrap();
    for key in partition_keys {
        assert!(depends.contains(key), "{} waits for {key}: {depends:?}", name(fk));
    }
    let id_of = |wanted: &str| &objects.iter().find(|o| name(o) == wanted).unwrap()["id"];
    let attach = objects
        .iter()
        .find(|o| name(o) == "attach \"parts\".\"measurements_2024_pkey\" to parts.measurements_pkey")
        .expect("the sub-partitioned partition's key is attached by an object of its own");
    assert!(depends.contains(&attach["id"]), "{} waits for {}: {depends:?}", name(fk), name(attach));
    let attach_after = attach["depends_on"].as_array().unwrap();
    for partition in ["eu", "rest"] {
        let key =
            id_of(&format!("\"measurements_2024_{partition}_pkey\" on \"parts\".\"measurements_2024_{partition}\""));
        assert!(attach_after.contains(key), "{} waits for {key}: {attach_after:?}", name(attach));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_referee_sees_a_changed_row() {
    // The comparison itself must be able to fail.
    let a = unique_name("ref_a");
    let b = unique_name("ref_b");
    load_fixture(&a, "sample.sql").await;
    load_fixture(&b, "sample.sql").await;
    assert_identical(&a, &b).await;
    let client = server().connect(&b).await;
    client.batch_execute("UPDATE public.customers SET first_name = first_name || 'x' WHERE id = 7").await.unwrap();
    let diffs = differences(&a, &b).await;
    assert!(diffs.iter().any(|d| d.contains("public.customers")), "{diffs:?}");
    client.batch_execute("CREATE INDEX extra ON public.customers (phone)").await.unwrap();
    let diffs = differences(&a, &b).await;
    assert!(diffs.iter().any(|d| d.starts_with("schema:")), "{diffs:?}");
    drop(client);
    drop_database(&a).await;
    drop_database(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_read_in_page_ranges_by_several_workers_round_trips() {
    let source = unique_name("split_src");
    let target = unique_name("split_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "  split_table_mib: 8\n  segment_size_mib: 4\n");
    run_ok(&config, &["dump", "--jobs", "3"]);
    // The large table was read as several parts, each with its own segments.
    let manifest = std::fs::read_dir(ws.bridge_path())
        .unwrap()
        .flatten()
        .map(|e| e.path().join("manifest.json"))
        .find(|p| p.exists())
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    let big = manifest["databases"][0]["tables"].as_array().unwrap().iter().find(|t| t["name"] == "big").unwrap();
    let parts: std::collections::BTreeSet<String> = big["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().rsplit('/').next().unwrap()[..3].to_string())
        .collect();
    assert!(parts.len() >= 3, "expected several parts, got {parts:?}");
    assert_eq!(big["rows"], 1_000_000);

    run_ok(&config, &["restore", "--jobs", "2"]);
    assert_identical(&source, &target).await;
    drop_database(&source).await;
    drop_database(&target).await;
}
