//! A dump while the source takes a steady write load (pgbench, 4 clients):
//! the copy is exactly the snapshot the dump read — pgbench's own
//! invariant holds in it and every foreign key validates — and no writer
//! ever waits on a lock the dump holds.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::*;

fn pgbench(database: &str, args: &[&str]) -> Command {
    let s = server();
    let mut command = Command::new(pg_tool("pgbench"));
    command
        .args(["-h", &s.host, "-p", &s.port.to_string(), "-U", &s.user])
        .args(args)
        .arg(database)
        .env("PGPASSWORD", &s.password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The four sums pgbench keeps equal: accounts, tellers, branches, history.
async fn balances(database: &str) -> [i64; 4] {
    let client = server().connect(database).await;
    let row = client
        .query_one(
            "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts)::int8, \
                    (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers)::int8, \
                    (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches)::int8, \
                    (SELECT coalesce(sum(delta), 0) FROM pgbench_history)::int8",
            &[],
        )
        .await
        .unwrap();
    [row.get(0), row.get(1), row.get(2), row.get(3)]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_under_write_load_restores_the_snapshot_it_read_and_blocks_no_writer() {
    let source = unique_name("load_src");
    let target = unique_name("load_dst");
    create_database(&source).await;
    let init = pgbench(&source, &["-i", "-s", "4", "--foreign-keys", "-q"]).output().unwrap();
    assert!(init.status.success(), "pgbench -i: {}", String::from_utf8_lossy(&init.stderr));

    let writers = pgbench(&source, &["-c", "4", "-j", "2", "-T", "12"]).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let ws = Workspace::new();
    let config = ws.config(&source, &target, "");
    let mut dump = replibyte(&config, &["dump", "--jobs", "2"]).stderr(Stdio::null()).spawn().unwrap();
    // While the dump runs: is a writer waiting on a lock a dump session holds?
    let admin = server().connect("postgres").await;
    let started = Instant::now();
    let mut blocked = Vec::new();
    while dump.try_wait().unwrap().is_none() {
        let rows = admin
            .query(
                "SELECT w.pid FROM pg_stat_activity w, LATERAL unnest(pg_blocking_pids(w.pid)) b(pid) \
                 JOIN pg_stat_activity h ON h.pid = b.pid \
                 WHERE w.application_name = 'pgbench' AND h.application_name LIKE 'replibyte%'",
                &[],
            )
            .await
            .unwrap();
        blocked.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
        assert!(started.elapsed() < Duration::from_secs(120), "the dump took too long");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dump.wait().unwrap().success(), "the dump failed");
    assert!(blocked.is_empty(), "writers waited on the dump: {blocked:?}");
    let load = writers.wait_with_output().unwrap();
    assert!(load.status.success(), "pgbench: {}", String::from_utf8_lossy(&load.stderr));
    assert!(String::from_utf8_lossy(&load.stdout).contains("tps"), "pgbench ran");

    run_ok(&config, &["restore"]);
    let [accounts, tellers, branches, history] = balances(&target).await;
    assert!(history != 0, "the dump saw some of the load");
    assert_eq!((accounts, tellers, branches), (history, history, history), "pgbench's invariant in the copy");
    let client = server().connect(&target).await;
    let keys: i64 = client
        .query_one("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated", &[])
        .await
        .unwrap()
        .get(0);
    assert!(keys >= 3, "pgbench's foreign keys are created and validated ({keys})");
    drop(client);
    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ddl_queued_behind_the_dump_stops_it_instead_of_a_hidden_deadlock() {
    let source = unique_name("ddl_src");
    large_source(&source).await;
    let ws = Workspace::new();
    let config = ws.config(&source, "unused", "  jobs: 1\n  unmasked_pii: ignore\n");
    // One worker, largest table first: `small` is copied after `big`.
    let dump =
        replibyte(&config, &["dump", "--jobs", "1"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // (stderr is small: read once the dump has ended.)
    let admin = server().connect("postgres").await;
    let started = Instant::now();
    loop {
        let copying: i64 = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"public\".\"big\"%'", &[])
            .await
            .unwrap()
            .get(0);
        if copying > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the dump never copied big");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // TRUNCATE waits for the dump's lock; the worker's turn at `small`
    // would wait for the TRUNCATE.
    let ddl = server().connect(&source).await;
    let truncate = tokio::spawn(async move { ddl.batch_execute("TRUNCATE small").await });
    let mut dump = dump;
    let waited = Instant::now();
    while dump.try_wait().unwrap().is_none() {
        if waited.elapsed() > Duration::from_secs(60) {
            let _ = dump.kill();
            panic!("the dump and the TRUNCATE wait for each other: a deadlock");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = dump.wait_with_output().unwrap();
    assert!(!output.status.success(), "the dump succeeded over a pending TRUNCATE");
    let message = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(message.contains("public.small") && message.contains("exclusive lock"), "{message}");
    tokio::time::timeout(Duration::from_secs(10), truncate).await.expect("TRUNCATE went through").unwrap().unwrap();
    let listed = stdout(&run_ok(&config, &["dump", "list", "--json"]));
    assert!(!listed.contains("\"complete\""), "a failed dump is listed: {listed}");
    drop_database(&source).await;
}
