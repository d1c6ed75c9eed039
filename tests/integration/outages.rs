//! Servers that fail under a run: a source restarting during a dump, a
//! destination restarting during a restore, a local bridge whose disk
//! fills. Each run ends complete or cleanly failed, never half done. The
//! restarted servers are clusters of these tests' own (scripts/pg.sh on
//! ports no other test uses), so restarting them disturbs no other test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::compare::differences_between;
use super::harness::*;

/// A cluster of one test's own on `port`, restarted at will.
struct OwnCluster {
    port: u16,
}

impl OwnCluster {
    fn start(port: u16) -> (OwnCluster, Server) {
        let cluster = OwnCluster { port };
        cluster.script("start");
        (cluster, Server { port, ..server() })
    }

    /// A fast restart: every session is ended, as a crash-restart or a
    /// failover would.
    fn restart(&self) {
        self.script("restart");
    }

    fn script(&self, command: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh");
        let out = Command::new("bash").arg(script).args([command, &self.port.to_string()]).output().unwrap();
        assert!(out.status.success(), "scripts/pg.sh {command}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg.sh");
        let _ = Command::new("bash").arg(script).args(["stop", &self.port.to_string()]).output();
    }
}

/// Waits until `server` runs a COPY of the big table.
async fn copying_big(server: &Server) {
    let admin = server.connect("postgres").await;
    let started = Instant::now();
    loop {
        let sql = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY %big%'";
        let copying: i64 = admin.query_one(sql, &[]).await.unwrap().get(0);
        if copying > 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no COPY of the big table started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn big_source(server: &Server, name: &str) {
    server.create_database(name).await;
    server
        .connect(name)
        .await
        .batch_execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, a text, b text); \
             INSERT INTO big SELECT g, md5(g::text), repeat(md5(g::text), 4) FROM generate_series(1, 1000000) g;",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_restarting_mid_dump_fails_it_cleanly_and_the_next_dump_works() {
    let (cluster, own) = OwnCluster::start(25341);
    let source = unique_name("restart_src");
    big_source(&own, &source).await;
    let ws = Workspace::new();
    let config = ws.config_between(&own, &source, &server(), "unused", "");
    let dump = replibyte(&config, &["dump", "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    copying_big(&own).await;
    cluster.restart();
    let out = dump.wait_with_output().unwrap();
    assert_fails_with(&out, "", &own.password);
    let listed = stdout(&run_ok(&config, &["dump", "list", "--json"]));
    assert!(!listed.contains("\"complete\""), "a failed dump is never listed as complete: {listed}");
    run_ok(&config, &["dump"]);
    assert!(stdout(&run_ok(&config, &["dump", "list", "--json"])).contains("\"complete\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_restarting_mid_restore_keeps_the_old_database_whole() {
    let (cluster, own) = OwnCluster::start(25342);
    let source = unique_name("restart_dump");
    let target = unique_name("restart_target");
    large_source(&source).await;
    own.create_database(&target).await;
    own.connect(&target).await.batch_execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)").await.unwrap();
    let ws = Workspace::new();
    let config = ws.config_between(&server(), &source, &own, &target, "");
    run_ok(&config, &["dump"]);
    let restore = replibyte(&config, &["restore", "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    copying_big(&own).await;
    cluster.restart();
    let out = restore.wait_with_output().unwrap();
    assert_fails_with(&out, "", &own.password);
    let kept: i32 = own.connect(&target).await.query_one("SELECT x FROM kept", &[]).await.unwrap().get(0);
    assert_eq!(kept, 7, "the destination is the old database");
    // The next restore cleans up and completes.
    run_ok(&config, &["restore"]);
    let diffs = differences_between(&server(), &source, &own, &target).await;
    assert!(diffs.is_empty(), "the copy is whole: {diffs:?}");
    drop_database(&source).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_the_dump_with_one_line_and_leaves_nothing() {
    let source = unique_name("full_disk");
    large_source(&source).await;
    let ws = Workspace::new();
    let disk = ws.dir.path().join("small-disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(&disk).status().unwrap();
    assert!(mounted.success(), "mounting a 4 MiB tmpfs (the tests run as root)");
    let text = format!(
        "source:\n  connection_uri: {}\nbridge:\n  type: local\n  path: {}\n",
        server().uri(&source),
        disk.join("bridge").display()
    );
    let config = ws.write("full.yaml", &text);
    let out = replibyte(&config, &["dump", "--jobs", "1"]).output().unwrap();
    let left = files_under(&disk.join("bridge"));
    let _ = Command::new("umount").arg(&disk).status();
    assert_fails_with(&out, "No space left on device", &server().password);
    assert!(left.iter().all(|p| p.ends_with("index.json")), "partial objects left: {left:?}");
    drop_database(&source).await;
}
