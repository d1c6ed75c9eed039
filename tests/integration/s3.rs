//! The S3 bridge against a real S3 endpoint (SeaweedFS, started by
//! scripts/test.sh), and the bridge contract that the local and the S3
//! bridge both keep.
//!
//! The endpoint comes from `REPLIBYTE_S3_*`, which `scripts/s3.sh` prints.
//! Without them a test fails, it never skips. Every test works under a
//! prefix of its own in the shared bucket; the test that stops the store
//! mid-dump starts a store of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use bytes::Bytes;
use replibyte::bridge::{self, Bridge, BridgeError, LocalBridge, S3Bridge, S3Settings};
use replibyte::config::{BridgeConfig, Config};
use tokio::io::AsyncReadExt;

use super::compare::assert_identical;
use super::harness::*;

/// Bigger than the S3 bridge's part size (5 MiB): such objects go up as
/// multipart uploads.
const MULTIPART_BYTES: usize = 12 * 1024 * 1024 + 12_345;

/// The test S3 endpoint.
#[derive(Clone)]
struct S3 {
    endpoint: String,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
    region: String,
    /// How long requests are retried: short, so that a store meant to be
    /// unreachable fails the test's run quickly.
    retry_seconds: u64,
}

fn s3() -> S3 {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests through scripts/test.sh, which starts the test S3 endpoint")
        })
    };
    S3 {
        endpoint: var("REPLIBYTE_S3_ENDPOINT"),
        bucket: var("REPLIBYTE_S3_BUCKET"),
        access_key_id: var("REPLIBYTE_S3_ACCESS_KEY_ID"),
        secret_access_key: var("REPLIBYTE_S3_SECRET_ACCESS_KEY"),
        region: var("REPLIBYTE_S3_REGION"),
        retry_seconds: 3,
    }
}

impl S3 {
    /// The `bridge:` section of a config for this endpoint under `prefix`.
    fn bridge_yaml(&self, prefix: &str) -> String {
        format!(
            "bridge:\n  type: s3\n  bucket: {}\n  prefix: {prefix}\n  region: {}\n  endpoint: {}\n  access_key_id: {}\n  secret_access_key: {}\n  retry_seconds: {}\n",
            self.bucket, self.region, self.endpoint, self.access_key_id, self.secret_access_key, self.retry_seconds
        )
    }

    fn bridge_config(&self, prefix: &str) -> BridgeConfig {
        Config::parse(&self.bridge_yaml(prefix), Path::new("test.yaml")).expect("the test config parses").bridge
    }

    /// The S3 bridge itself (the config's `bridge::open` gives the same,
    /// behind `dyn Bridge`).
    async fn bridge(&self, prefix: &str) -> S3Bridge {
        let settings = S3Settings::try_from(&self.bridge_config(prefix)).unwrap();
        S3Bridge::connect(settings).await.unwrap_or_else(|e| panic!("cannot open the test S3 bridge: {e}"))
    }

    /// Removes everything under `prefix`, as a test's last step.
    async fn clear(&self, prefix: &str) {
        self.bridge(prefix).await.delete_prefix("").await.unwrap();
    }

    /// A plain SDK client, to look at the bucket independently of the bridge.
    fn client(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(self.region.clone()))
            .credentials_provider(Credentials::new(&self.access_key_id, &self.secret_access_key, None, None, "test"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Keys of the unfinished multipart uploads under `prefix`.
    async fn uploads(&self, prefix: &str) -> Vec<String> {
        let listed = self.client().list_multipart_uploads().bucket(&self.bucket).prefix(prefix).send().await.unwrap();
        listed.uploads().iter().filter_map(|u| u.key().map(str::to_string)).collect()
    }

    /// Keys of the objects under `prefix`.
    async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.client().list_objects_v2().bucket(&self.bucket).prefix(prefix).send().await.unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
    }
}

/// A prefix (folder) no other test uses.
fn unique_prefix(name: &str) -> String {
    format!("{}/", unique_name(name))
}

// ---------------------------------------------------------------- contract

/// Bytes that differ along the object, so a misplaced part shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 13)) as u8).collect()
}

async fn read_all(bridge: &dyn Bridge, key: &str) -> Vec<u8> {
    let mut out = Vec::new();
    bridge.open(key).await.unwrap().read_to_end(&mut out).await.unwrap();
    out
}

/// Writes `body` through a streaming writer, in uneven chunks.
async fn write_streamed(bridge: &dyn Bridge, key: &str, body: &[u8]) -> u64 {
    let mut writer = bridge.create(key).await.unwrap();
    for chunk in body.chunks(1_000_003) {
        writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    writer.finish().await.unwrap()
}

/// What every bridge must do, whatever stores its objects.
async fn keeps_the_contract(bridge: &dyn Bridge) {
    let store = bridge.describe();

    bridge.put("d1/a.json", Bytes::from_static(b"first")).await.unwrap();
    bridge.put("d1/a.json", Bytes::from_static(b"{\"a\":1}")).await.unwrap();
    assert_eq!(&bridge.get("d1/a.json").await.unwrap()[..], b"{\"a\":1}", "{store}: put replaces");

    assert!(matches!(bridge.get("d1/missing").await, Err(BridgeError::NotFound { .. })), "{store}: get missing");
    assert!(matches!(bridge.open("d1/missing").await, Err(BridgeError::NotFound { .. })), "{store}: open missing");

    assert_eq!(write_streamed(bridge, "d1/x/small.bin", b"tiny").await, 4);
    assert_eq!(read_all(bridge, "d1/x/small.bin").await, b"tiny");
    assert_eq!(write_streamed(bridge, "d1/x/empty.bin", b"").await, 0);
    assert_eq!(read_all(bridge, "d1/x/empty.bin").await, b"");

    // Exactly one part, one byte more, and several parts with a short last
    // one: each read back identical.
    for len in [5 * 1024 * 1024, 5 * 1024 * 1024 + 1, MULTIPART_BYTES] {
        let body = pattern(len);
        let key = format!("d2/big-{len}.bin");
        assert_eq!(write_streamed(bridge, &key, &body).await, len as u64);
        assert!(read_all(bridge, &key).await == body, "{store}: {key} read back differs");
    }

    let mut writer = bridge.create("d1/aborted.bin").await.unwrap();
    writer.write(Bytes::from(pattern(MULTIPART_BYTES))).await.unwrap();
    writer.abort().await;
    assert!(bridge.list("d1/aborted").await.unwrap().is_empty(), "{store}: an aborted object left something");
    assert!(matches!(bridge.get("d1/aborted.bin").await, Err(BridgeError::NotFound { .. })));

    let listed: Vec<(String, u64)> = bridge.list("d1/").await.unwrap().into_iter().map(|o| (o.key, o.size)).collect();
    let expected = [("d1/a.json", 7), ("d1/x/empty.bin", 0), ("d1/x/small.bin", 4)];
    assert_eq!(listed, expected.map(|(k, s)| (k.to_string(), s)), "{store}: list, in key order");
    assert_eq!(bridge.list("d1/x/s").await.unwrap().len(), 1, "{store}: a prefix need not be a folder");
    assert_eq!(bridge.list_dirs("").await.unwrap(), ["d1", "d2"], "{store}: list_dirs");
    assert_eq!(bridge.list_dirs("d1/").await.unwrap(), ["x"], "{store}: list_dirs below a folder");

    bridge.delete("d1/a.json").await.unwrap();
    bridge.delete("d1/a.json").await.unwrap();
    assert!(matches!(bridge.get("d1/a.json").await, Err(BridgeError::NotFound { .. })), "{store}: delete");

    bridge.delete_prefix("d2/").await.unwrap();
    assert!(bridge.list("d2/").await.unwrap().is_empty(), "{store}: delete_prefix");
    assert_eq!(bridge.list_dirs("").await.unwrap(), ["d1"], "{store}: a deleted folder is gone from list_dirs");
    assert_eq!(bridge.list("").await.unwrap().len(), 2, "{store}: delete_prefix took only its prefix");
    bridge.delete_prefix("").await.unwrap();
    assert!(bridge.list("").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_bridge_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    keeps_the_contract(&LocalBridge::new(dir.path().join("bridge")).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_s3_bridge_keeps_the_contract_and_leaves_no_upload() {
    let s3 = s3();
    let prefix = unique_prefix("contract");
    let bridge = bridge::open(&s3.bridge_config(&prefix)).await.unwrap();
    keeps_the_contract(bridge.as_ref()).await;
    assert!(s3.keys(&prefix).await.is_empty());
    assert!(s3.uploads(&prefix).await.is_empty(), "unfinished uploads left: {:?}", s3.uploads(&prefix).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn abandoned_uploads_are_aborted() {
    let s3 = s3();
    let prefix = unique_prefix("abandoned");
    let bridge = s3.bridge(&prefix).await;

    // Dropped unfinished: aborted in the background.
    let mut writer = bridge.create("dropped.bin").await.unwrap();
    writer.write(Bytes::from(pattern(MULTIPART_BYTES))).await.unwrap();
    assert_eq!(s3.uploads(&prefix).await.len(), 1, "a multipart upload is under way");
    drop(writer);
    wait_for_uploads(&s3, &prefix, "the dropped writer's upload to be aborted", |n| n == 0).await;

    // Never finished nor dropped, as when the process is killed: too young
    // for the sweep at open, taken by a sweep of any age.
    let mut writer = bridge.create("killed.bin").await.unwrap();
    writer.write(Bytes::from(pattern(MULTIPART_BYTES))).await.unwrap();
    std::mem::forget(writer);
    drop(s3.bridge(&prefix).await);
    assert_eq!(s3.uploads(&prefix).await.len(), 1, "the sweep at open took a young upload");
    assert_eq!(bridge.abort_uploads("", Duration::ZERO).await.unwrap(), Some(1));
    assert!(s3.uploads(&prefix).await.is_empty());
    assert!(s3.keys(&prefix).await.is_empty());
}

async fn wait_for_uploads(s3: &S3, prefix: &str, what: &str, wanted: impl Fn(usize) -> bool) {
    let start = Instant::now();
    while !wanted(s3.uploads(prefix).await.len()) {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// -------------------------------------------------------------- end to end

/// A config from `source` to `destination` through `bridge_yaml`.
fn config(ws: &Workspace, source: &str, destination: &str, bridge_yaml: &str) -> PathBuf {
    let s = server();
    let text = format!(
        "source:\n  connection_uri: {}\n{bridge_yaml}destination:\n  connection_uri: {}\n",
        s.uri(source),
        s.uri(destination)
    );
    ws.write("replibyte.yaml", &text)
}

fn listed(config: &Path) -> Vec<serde_json::Value> {
    let out = run_ok(config, &["dump", "list", "--json"]);
    serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap().as_array().unwrap().clone()
}

fn complete_ids(dumps: &[serde_json::Value]) -> Vec<String> {
    dumps.iter().filter(|d| d["status"] == "complete").map(|d| d["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_feature_round_trips_through_s3() {
    let s3 = s3();
    let source = unique_name("s3rt_src");
    let target = unique_name("s3rt_dst");
    load_fixture(&source, "every_feature.sql").await;
    let ws = Workspace::new();
    let prefix = unique_prefix("roundtrip");
    let config = config(&ws, &source, &target, &s3.bridge_yaml(&prefix));

    let id = stdout(&run_ok(&config, &["dump"]));
    assert_eq!(stdout(&run_ok(&config, &["restore", "latest"])), id);
    assert_identical(&source, &target).await;
    assert_eq!(complete_ids(&listed(&config)), [id.as_str()]);
    assert!(s3.keys(&prefix).await.iter().any(|k| k == &format!("{prefix}{id}/manifest.json")));

    run_ok(&config, &["dump", "delete", &id]);
    assert!(listed(&config).is_empty(), "the deleted dump is still listed");
    assert_eq!(s3.keys(&prefix).await, [format!("{prefix}index.json")], "only the index remains");
    assert!(s3.uploads(&prefix).await.is_empty());
    s3.clear(&prefix).await;
    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_dumps_finishing_at_once_are_both_listed() {
    let s3 = s3();
    let source = unique_name("s3two_src");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let prefix = unique_prefix("two");
    let config = config(&ws, &source, "unused", &s3.bridge_yaml(&prefix));

    let dumps: Vec<_> = (0..2)
        .map(|_| replibyte(&config, &["dump"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let mut ids: Vec<String> = dumps
        .into_iter()
        .map(|dump| {
            let out = dump.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            stdout(&out)
        })
        .collect();
    ids.sort_by(|a, b| b.cmp(a));
    // Whichever index write came last, listing trusts the manifests.
    assert_eq!(complete_ids(&listed(&config)), ids);
    s3.clear(&prefix).await;
    drop_database(&source).await;
}

#[test]
fn wrong_settings_are_one_clear_line_each_without_the_secret() {
    let s3 = s3();
    let ws = Workspace::new();
    let prefix = unique_prefix("wrong");
    let wrong_secret = "s3-wrong-8f2e1d";
    let cases = [
        (S3 { secret_access_key: wrong_secret.into(), ..s3.clone() }, "the secret access key does not match"),
        (S3 { access_key_id: "nobody-we-know".into(), ..s3.clone() }, "does not know this access key id"),
        (S3 { bucket: "no-such-bucket-here".into(), ..s3.clone() }, "bucket no-such-bucket-here does not exist"),
        (S3 { endpoint: "http://127.0.0.1:1".into(), ..s3.clone() }, "cannot reach http://127.0.0.1:1"),
    ];
    for (n, (wrong, expected)) in cases.iter().enumerate() {
        let text = format!("source:\n  connection_uri: {}\n{}", server().uri("postgres"), wrong.bridge_yaml(&prefix));
        let config = ws.write(&format!("wrong-{n}.yaml"), &text);
        for args in [&["dump"][..], &["dump", "list"]] {
            let out = replibyte(&config, args).output().unwrap();
            assert_fails_with(&out, expected, wrong_secret);
            assert_eq!(stderr(&out).lines().count(), 1, "one line: {}", stderr(&out));
            assert!(!stderr(&out).contains(&s3.secret_access_key), "secret shown: {}", stderr(&out));
        }
    }
}

/// A store of this test's own, on its own port, so that stopping it
/// disturbs no other test.
struct OwnStore {
    port: u16,
}

impl OwnStore {
    fn start(port: u16) -> (OwnStore, S3) {
        let store = OwnStore { port };
        store.restart();
        (store, S3 { endpoint: format!("http://127.0.0.1:{port}"), ..s3() })
    }

    /// Kills the server at once, as a crash or a power cut would.
    fn kill(&self) {
        let pid = std::fs::read_to_string(format!("/tmp/replibyte-s3-{}/pid", self.port)).unwrap();
        let status = Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(status.success());
    }

    /// Starts the server, again on the data it left if it ran before.
    fn restart(&self) {
        let out = self.script("start");
        assert!(out.status.success(), "scripts/s3.sh start: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn script(&self, command: &str) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/s3.sh");
        Command::new("bash").arg(script).args([command, &self.port.to_string()]).output().expect("scripts/s3.sh runs")
    }
}

impl Drop for OwnStore {
    fn drop(&mut self) {
        let _ = self.script("stop");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_stopped_mid_dump_leaves_no_complete_dump_and_no_upload_behind() {
    let (store, s3) = OwnStore::start(48353);
    let source = unique_name("s3kill_src");
    create_database(&source).await;
    // Segments of several parts each: multipart uploads are under way most
    // of the time.
    server()
        .connect(&source)
        .await
        .batch_execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, a text, b text); \
             INSERT INTO big SELECT g, md5(g::text), repeat(md5(g::text), 4) FROM generate_series(1, 1000000) g;",
        )
        .await
        .unwrap();
    let ws = Workspace::new();
    let prefix = unique_prefix("killed");
    let config = config(&ws, &source, "unused", &s3.bridge_yaml(&prefix));

    let dump = replibyte(&config, &["dump", "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_uploads(&s3, &prefix, "a multipart upload", |n| n > 0).await;
    store.kill();
    let out = dump.wait_with_output().unwrap();
    assert_fails_with(&out, "cannot reach", &s3.secret_access_key);

    store.restart();
    let dumps = listed(&config);
    assert!(complete_ids(&dumps).is_empty(), "{dumps:?}");
    assert_eq!(dumps.len(), 1, "the failed dump is listed as incomplete: {dumps:?}");
    assert!(!s3.uploads(&prefix).await.is_empty(), "the dead store kept the unfinished upload");

    // Deleting the incomplete dump takes its unfinished uploads too.
    run_ok(&config, &["dump", "delete", dumps[0]["id"].as_str().unwrap()]);
    assert!(listed(&config).is_empty());
    assert!(s3.uploads(&prefix).await.is_empty(), "unfinished uploads left: {:?}", s3.uploads(&prefix).await);
    assert!(s3.keys(&prefix).await.iter().all(|k| k.ends_with("index.json")), "{:?}", s3.keys(&prefix).await);
    drop_database(&source).await;
}

/// A store down for five seconds in the middle of a dump and of a restore
/// is ridden out: requests are retried until it is back, an interrupted
/// download resumes where it stopped, and both runs complete.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_down_for_five_seconds_is_ridden_out_by_a_dump_and_a_restore() {
    let (store, mut s3) = OwnStore::start(48373);
    s3.retry_seconds = 60;
    let source = unique_name("s3outage_src");
    let target = unique_name("s3outage_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let prefix = unique_prefix("outage");
    let config = config(&ws, &source, &target, &s3.bridge_yaml(&prefix));

    let dump = replibyte(&config, &["dump", "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_uploads(&s3, &prefix, "a multipart upload", |n| n > 0).await;
    store.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    store.restart();
    let out = dump.wait_with_output().unwrap();
    assert!(out.status.success(), "the dump did not ride out the outage: {}", stderr(&out));
    assert_eq!(complete_ids(&listed(&config)).len(), 1);

    let restore = replibyte(&config, &["restore", "--jobs", "1"]).stderr(Stdio::piped()).spawn().unwrap();
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
    store.kill();
    tokio::time::sleep(Duration::from_secs(5)).await;
    store.restart();
    let out = restore.wait_with_output().unwrap();
    assert!(out.status.success(), "the restore did not ride out the outage: {}", stderr(&out));
    assert_identical(&source, &target).await;
    s3.clear(&prefix).await;
    drop_database(&source).await;
    drop_database(&target).await;
}
