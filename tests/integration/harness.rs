//! What the integration tests share: the test PostgreSQL server, scratch
//! databases, fixtures, running the `replibyte` binary, and comparing two
//! databases the way an independent referee would.
//!
//! The server comes from `PGHOST`/`PGPORT`/`PGUSER`/`PGPASSWORD`, which
//! `scripts/test.sh` sets after starting a throwaway cluster. Without them a
//! test fails (it never skips): a suite that silently tested nothing would
//! be worse than a red one.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

/// The test server's connection settings.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
}

pub fn server() -> Server {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the tests through scripts/test.sh, which starts the test PostgreSQL")
        })
    };
    Server {
        host: var("PGHOST"),
        port: var("PGPORT").parse().expect("PGPORT is a port number"),
        user: var("PGUSER"),
        password: var("PGPASSWORD"),
    }
}

/// The test server of PostgreSQL `major` (13 to 18), from
/// `REPLIBYTE_MAJOR_PORTS` (`13=25313 14=25314 …`, set by scripts/test.sh).
pub fn major_server(major: u32) -> Server {
    let ports = std::env::var("REPLIBYTE_MAJOR_PORTS")
        .unwrap_or_else(|_| panic!("REPLIBYTE_MAJOR_PORTS is not set: run the tests through scripts/test.sh"));
    let port = ports
        .split_whitespace()
        .filter_map(|entry| entry.split_once('='))
        .find(|(m, _)| m.parse() == Ok(major))
        .unwrap_or_else(|| panic!("no PostgreSQL {major} server in REPLIBYTE_MAJOR_PORTS ({ports})"))
        .1;
    Server { port: port.parse().expect("a port number"), ..server() }
}

/// The second test server (`REPLIBYTE_SECOND_PGPORT`), for copies from one
/// server to another.
pub fn second_server() -> Server {
    let port = std::env::var("REPLIBYTE_SECOND_PGPORT")
        .unwrap_or_else(|_| panic!("REPLIBYTE_SECOND_PGPORT is not set: run the tests through scripts/test.sh"));
    Server { port: port.parse().expect("a port number"), ..server() }
}

impl Server {
    pub fn uri(&self, database: &str) -> String {
        format!("postgres://{}:{}@{}:{}/{}", self.user, self.password, self.host, self.port, database)
    }

    pub async fn connect(&self, database: &str) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.uri(database), NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test server, database {database}: {e}"));
        tokio::spawn(connection);
        client
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Creates an empty database.
pub async fn create_database(name: &str) {
    server().create_database(name).await;
}

pub async fn drop_database(name: &str) {
    server().drop_database(name).await;
}

impl Server {
    /// Creates an empty database (dropping one of that name first).
    pub async fn create_database(&self, name: &str) {
        let admin = self.connect("postgres").await;
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0")).await.unwrap();
    }

    pub async fn drop_database(&self, name: &str) {
        let admin = self.connect("postgres").await;
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await.unwrap();
    }

    /// Runs psql on `database` with `args` (a script file, `-c` …),
    /// stopping at the first error; returns its output.
    pub fn psql(&self, database: &str, args: &[&std::ffi::OsStr]) -> Output {
        let output = Command::new(pg_tool("psql"))
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &self.host,
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
                "-d",
                database,
            ])
            .args(args)
            .env("PGPASSWORD", &self.password)
            .output()
            .expect("psql runs (the test suite uses it to load fixtures)");
        assert!(output.status.success(), "psql {args:?} on {database}: {}", String::from_utf8_lossy(&output.stderr));
        output
    }

    /// Creates the every-feature fixture's cluster-global roles if missing:
    /// a cluster that receives a copy of that fixture needs them, as it
    /// would for pg_dump's output (its grants and `aclitem` values name them).
    pub fn create_fixture_roles(&self) {
        self.psql("postgres", &[std::ffi::OsStr::new("-f"), fixture("fixture_roles.sql").as_os_str()]);
    }

    /// Creates a database and loads a fixture script into it.
    pub async fn load_fixture(&self, database: &str, fixture_name: &str) {
        self.create_database(database).await;
        self.psql(database, &[std::ffi::OsStr::new("-f"), fixture(fixture_name).as_os_str()]);
    }
}

/// The project's fixtures folder.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// Creates a database and loads a fixture script into it with psql (a
/// test-side tool only; fixtures use psql's statement-by-statement
/// execution, e.g. to use an enum value added earlier in the script).
pub async fn load_fixture(database: &str, fixture_name: &str) {
    server().load_fixture(database, fixture_name).await;
}

/// A PostgreSQL client program: the referee's (pg_dump and psql 18, which
/// read every supported major), else the test server's installation.
pub fn pg_tool(name: &str) -> String {
    match std::env::var("REPLIBYTE_REFEREE_BINDIR").or_else(|_| std::env::var("REPLIBYTE_PG_BINDIR")) {
        Ok(dir) => format!("{dir}/{name}"),
        Err(_) => name.to_string(),
    }
}

/// A scratch folder and config file for one run of replibyte.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Workspace { dir: tempfile::tempdir().unwrap() }
    }

    pub fn bridge_path(&self) -> PathBuf {
        self.dir.path().join("bridge")
    }

    /// Writes a config with a local bridge in this workspace.
    pub fn config(&self, source: &str, destination: &str, extra: &str) -> PathBuf {
        self.config_between(&server(), source, &server(), destination, extra)
    }

    /// A config copying between databases of two servers.
    pub fn config_between(&self, from: &Server, source: &str, to: &Server, destination: &str, extra: &str) -> PathBuf {
        let text = format!(
            "source:\n  connection_uri: {}\n{extra}bridge:\n  type: local\n  path: {}\ndestination:\n  connection_uri: {}\n",
            from.uri(source),
            self.bridge_path().display(),
            to.uri(destination),
        );
        self.write("replibyte.yaml", &text)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// The replibyte binary, with an empty PATH: it must not start any other
/// program (no pg_dump, no psql).
pub fn replibyte(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_replibyte"));
    command.arg("-c").arg(config).args(args).env("PATH", "").env_remove("RUST_LOG");
    command
}

/// Runs replibyte and returns its output, failing the test when it fails.
pub fn run_ok(config: &Path, args: &[&str]) -> Output {
    succeeded(replibyte(config, args).output().unwrap(), &format!("replibyte {args:?}"))
}

/// `output`, failing the test (naming `what`) when its run failed.
pub fn succeeded(output: Output, what: &str) -> Output {
    assert!(output.status.success(), "{what} failed: {}\n{}", output.status, stderr(&output));
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A source with one large table, so dumps and restores last long enough to
/// be killed halfway.
pub async fn large_source(name: &str) {
    create_database(name).await;
    let client = server().connect(name).await;
    client
        .batch_execute(
            "CREATE TABLE big (id bigint PRIMARY KEY, a text, b text); \
             INSERT INTO big SELECT g, md5(g::text), repeat(md5(g::text), 4) FROM generate_series(1, 1000000) g; \
             CREATE TABLE small (id int PRIMARY KEY, label text); \
             INSERT INTO small SELECT g, 'row ' || g FROM generate_series(1, 100) g;",
        )
        .await
        .unwrap();
}

pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The run failed, its last line is the one error line, naming `expected`,
/// there was no panic, and `secret` appears nowhere.
pub fn assert_fails_with(output: &Output, expected: &str, secret: &str) {
    let err = stderr(output);
    assert!(!output.status.success(), "expected a failure, got success; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("replibyte: error: ") && last.contains(expected), "expected {expected:?} in: {err}");
    let errors = err.lines().filter(|l| l.starts_with("replibyte: error: ")).count();
    assert_eq!(errors, 1, "expected one error line, got: {err}");
    assert!(!err.contains(secret), "secret shown: {err}");
}

/// As [`assert_fails_with`], and that error is the only line on stderr.
pub fn assert_one_clear_line(output: &Output, expected: &str, secret: &str) {
    assert_fails_with(output, expected, secret);
    let err = stderr(output);
    assert_eq!(err.lines().filter(|l| !l.trim().is_empty()).count(), 1, "expected one line on stderr, got: {err}");
}

/// Every file below `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every byte stored in a local bridge, segments decompressed, and how
/// many segments there were: what a search for leaked values reads.
pub fn stored_bytes(bridge: &Path) -> (Vec<u8>, usize) {
    let mut all = Vec::new();
    let mut segments = 0;
    for path in files_under(bridge) {
        let bytes = std::fs::read(&path).unwrap();
        if path.to_string_lossy().ends_with(".bin.zst") {
            all.extend(zstd::decode_all(&bytes[..]).unwrap());
            segments += 1;
        } else {
            all.extend(bytes);
        }
        all.push(0);
    }
    (all, segments)
}

/// The needles found in `haystack`, in one pass (a regex of escaped
/// literals, searched by Aho-Corasick).
pub fn found(haystack: &[u8], needles: &[Vec<u8>]) -> Vec<String> {
    let literal = |needle: &Vec<u8>| {
        needle
            .iter()
            .map(|b| if b.is_ascii_alphanumeric() { (*b as char).to_string() } else { format!("\\x{b:02x}") })
            .collect::<String>()
    };
    let pattern = format!("(?-u:{})", needles.iter().map(literal).collect::<Vec<_>>().join("|"));
    let regex = regex::bytes::RegexBuilder::new(&pattern).size_limit(1 << 30).build().unwrap();
    regex.find_iter(haystack).map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned()).collect()
}
