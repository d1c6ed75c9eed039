//! Security: TLS to PostgreSQL (against a TLS cluster of the test's own,
//! with certificates made here), encrypted dumps, `dump verify`, and
//! secrets that never show in output, logs, the bridge or the control port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use replibyte::bridge::{Bridge, S3Bridge, S3Settings};
use replibyte::config::{Config, ConnectionUri};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::compare::assert_identical;
use super::harness::*;

/// Secrets of these tests, unusual so that a search for them means
/// something. (The test server's password and the S3 secret key come from
/// scripts/pg.sh and scripts/s3.sh, unusual for the same reason.)
const PASSPHRASE: &str = "correct-horse-battery-3f7d1a";
const TRANSFORMER_SECRET: &str = "transformer-secret-9b2e44";
const TLS_PASSWORD: &str = "tls-pw-61d0c8";

// -------------------------------------------------------------------- TLS

/// A certificate authority made for one test.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        Ca(CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap())
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// A certificate (PEM) and its key, for a server's host names or, with
    /// the user as common name, for a client.
    fn issue(&self, common_name: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        (params.signed_by(&key, &self.0).unwrap().pem(), key.serialize_pem())
    }
}

/// Whether this process runs as root, which cannot run PostgreSQL itself.
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// A command run as the cluster's owner (`postgres` when we are root), as
/// scripts/pg.sh does.
fn as_owner(program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", program]);
        command
    } else {
        Command::new(program)
    }
}

fn run_checked(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(output.status.success(), "{what}: {}{}", stderr(&output), String::from_utf8_lossy(&output.stdout));
}

/// A throwaway PostgreSQL cluster on loopback that speaks TLS only: its
/// certificate names `localhost` and is signed by the test's CA, plain text
/// connections are refused, and the role `certuser` logs in with a client
/// certificate. Stopped when dropped.
struct TlsCluster {
    dir: tempfile::TempDir,
    bindir: String,
    port: u16,
}

impl TlsCluster {
    fn start(ca: &Ca) -> Self {
        let bindir = std::env::var("REPLIBYTE_PG_BINDIR")
            .expect("REPLIBYTE_PG_BINDIR is not set: run the tests through scripts/test.sh (scripts/pg.sh sets it)");
        let dir = tempfile::Builder::new().prefix("replibyte-tls-").tempdir_in("/tmp").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{TLS_PASSWORD}\n")).unwrap();
        let chown = || {
            if is_root() {
                run_checked(Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()), "chown");
            }
        };
        chown();
        run_checked(
            as_owner(&format!("{bindir}/initdb"))
                .args(["-D"])
                .arg(&data)
                .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        );
        let (cert, key) = ca.issue("localhost", &["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
        std::fs::write(data.join("server.crt"), cert).unwrap();
        std::fs::write(data.join("server.key"), key).unwrap();
        std::fs::write(data.join("ca.crt"), ca.pem()).unwrap();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\n\
             max_connections = 40\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'ca.crt'\n",
            dir.path().display()
        );
        let mut postgresql_conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
        std::io::Write::write_all(&mut postgresql_conf, conf.as_bytes()).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all certuser 127.0.0.1/32 cert\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        chown();
        std::fs::set_permissions(data.join("server.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        run_checked(
            as_owner(&format!("{bindir}/pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("server.log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        TlsCluster { dir, bindir, port }
    }

    /// A connection URI; `user` may carry `:password`.
    fn uri(&self, user: &str, host: &str, database: &str, params: &str) -> String {
        format!("postgres://{user}@{host}:{}/{database}?{params}", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = as_owner(&format!("{}/pg_ctl", self.bindir))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// A connection through replibyte's own `pg::connect`; the error as the
/// user would read it.
async fn connect(uri: &str) -> Result<Client, String> {
    let uri = ConnectionUri::parse(uri)?;
    replibyte::pg::connect(&uri, "replibyte security test").await.map_err(|e| e.to_string())
}

async fn uses_tls(client: &Client) -> bool {
    let sql = "SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()";
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_checks_the_server_as_sslmode_says() {
    let ca = Ca::new("replibyte test CA");
    let cluster = TlsCluster::start(&ca);
    let ws = Workspace::new();
    let ca_file = ws.write("ca.pem", &ca.pem());
    let other_ca_file = ws.write("other-ca.pem", &Ca::new("some other CA").pem());
    let (cert, key) = ca.issue("certuser", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let (cert_file, key_file) = (ws.write("client.crt", &cert), ws.write("client.key", &key));
    let trust = |file: &Path| format!("sslrootcert={}", file.display());
    let user = format!("postgres:{TLS_PASSWORD}");
    let uri = |host: &str, params: &str| cluster.uri(&user, host, "postgres", params);

    // verify-full: a certificate the CA signed, for the host connected to.
    let admin = connect(&uri("localhost", &format!("sslmode=verify-full&{}", trust(&ca_file)))).await.unwrap();
    assert!(uses_tls(&admin).await);
    admin.batch_execute("CREATE ROLE certuser LOGIN").await.unwrap();

    // Weaker modes accept what verify-full accepts, and more; with
    // channel_binding=require, SCRAM proves the login went to the server
    // at the other end of the TLS session, even unverified.
    for params in [
        "sslmode=require".to_string(),
        "sslmode=require&channel_binding=require".to_string(),
        "sslmode=prefer".to_string(),
        format!("sslmode=verify-ca&{}", trust(&ca_file)),
        format!("sslmode=require&{}", trust(&ca_file)),
    ] {
        let client = connect(&uri("127.0.0.1", &params)).await.unwrap_or_else(|e| panic!("{params}: {e}"));
        assert!(uses_tls(&client).await, "{params}");
    }

    // The certificate names localhost, not 127.0.0.1.
    let err = connect(&uri("127.0.0.1", &format!("sslmode=verify-full&{}", trust(&ca_file)))).await.err().unwrap();
    assert!(err.contains("not valid for host \"127.0.0.1\"") && err.contains("sslmode=verify-ca"), "{err}");
    assert!(!err.contains(TLS_PASSWORD), "{err}");

    // Another CA: refused by every mode that checks the chain.
    for mode in ["verify-full", "verify-ca", "require"] {
        let params = format!("sslmode={mode}&{}", trust(&other_ca_file));
        let err = connect(&uri("localhost", &params)).await.err().unwrap();
        let expected = format!("not signed by a CA in sslrootcert {}", other_ca_file.display());
        assert!(err.contains(&expected), "{mode}: {err}");
    }

    // The server refuses plain text.
    let err = connect(&uri("localhost", "sslmode=disable")).await.err().unwrap();
    assert!(err.contains("no encryption"), "{err}");

    // A client certificate logs in as its common name, without a password.
    let with_cert = format!(
        "sslmode=verify-full&{}&sslcert={}&sslkey={}",
        trust(&ca_file),
        cert_file.display(),
        key_file.display()
    );
    let client = connect(&cluster.uri("certuser", "localhost", "postgres", &with_cert)).await.unwrap();
    let role: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(role, "certuser");
    let params = format!("sslmode=verify-full&{}", trust(&ca_file));
    let err = connect(&cluster.uri("certuser", "localhost", "postgres", &params)).await.err().unwrap();
    assert!(err.contains("certificate"), "{err}");

    // The binary over TLS only: every connection of a dump and a restore.
    admin.batch_execute("CREATE DATABASE tls_source").await.unwrap();
    let source = connect(&cluster.uri(&user, "localhost", "tls_source", &params)).await.unwrap();
    source
        .batch_execute("CREATE TABLE public.t (id int PRIMARY KEY, v text); INSERT INTO public.t SELECT g, md5(g::text) FROM generate_series(1, 5000) g")
        .await
        .unwrap();
    let config = ws.write(
        "tls.yaml",
        &format!(
            "source:\n  connection_uri: {}\nbridge:\n  type: local\n  path: {}\ndestination:\n  connection_uri: {}\n",
            cluster.uri(&user, "localhost", "tls_source", &params),
            ws.bridge_path().display(),
            cluster.uri(&user, "localhost", "tls_target", &params),
        ),
    );
    let dumped = run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    let target = connect(&cluster.uri(&user, "localhost", "tls_target", &params)).await.unwrap();
    let rows: i64 = target.query_one("SELECT count(*) FROM public.t", &[]).await.unwrap().get(0);
    assert_eq!(rows, 5000);
    assert!(!stderr(&dumped).contains(TLS_PASSWORD));

    // verify-full without sslrootcert falls back to libpq's default file,
    // and says what to do when it is missing.
    let no_root = ws.write(
        "no-root.yaml",
        &format!(
            "source:\n  connection_uri: {}\nbridge:\n  type: local\n  path: {}\n",
            cluster.uri(&user, "localhost", "tls_source", "sslmode=verify-full"),
            ws.bridge_path().display()
        ),
    );
    let out = replibyte(&no_root, &["dump"]).env("HOME", ws.dir.path()).output().unwrap();
    assert_fails_with(&out, "sslmode=verify-full needs the CA certificate", TLS_PASSWORD);
    let postgresql = ws.dir.path().join(".postgresql");
    std::fs::create_dir_all(&postgresql).unwrap();
    std::fs::copy(&ca_file, postgresql.join("root.crt")).unwrap();
    let out = replibyte(&no_root, &["dump"]).env("HOME", ws.dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn prefer_falls_back_to_plain_text_and_require_does_not() {
    // The shared test server has no TLS.
    let s = server();
    let uri = |mode: &str| format!("{}?sslmode={mode}", s.uri("postgres"));
    let client = connect(&uri("prefer")).await.unwrap();
    assert!(!uses_tls(&client).await);
    let err = connect(&uri("require")).await.err().unwrap();
    assert!(err.contains("server does not support TLS") && !err.contains(&s.password), "{err}");
}

// ------------------------------------------------------------- encryption

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files_under(dir)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Values of the sample fixture that must not be readable in an encrypted
/// bridge: customers' emails and names, and a comment of the schema.
async fn known_plaintext(database: &str) -> Vec<String> {
    let client = server().connect(database).await;
    let rows =
        client.query("SELECT email, last_name || ', ' || first_name FROM customers LIMIT 50", &[]).await.unwrap();
    let mut values: Vec<String> = rows.iter().flat_map(|r| [r.get(0), r.get(1)]).collect();
    values.push("personal data: obfuscate me".to_string());
    values
}

/// A config with a local bridge in `ws` (encrypted when `encryption` is
/// not empty) and the transformer secret set.
fn config_with(ws: &Workspace, name: &str, source: &str, target: &str, encryption: &str) -> PathBuf {
    let s = server();
    ws.write(
        name,
        &format!(
            "source:\n  connection_uri: {}\n  secret: $REPLIBYTE_TEST_SECRET\nbridge:\n  type: local\n  path: {}\n{encryption}destination:\n  connection_uri: {}\n",
            s.uri(source),
            ws.bridge_path().display(),
            s.uri(target)
        ),
    )
}

const ENCRYPTED: &str = "  encryption:\n    passphrase: $REPLIBYTE_TEST_PASSPHRASE\n";

/// replibyte with the test's secrets in its environment.
fn with_secrets(config: &Path, args: &[&str], passphrase: &str) -> Output {
    replibyte(config, args)
        .env("REPLIBYTE_TEST_PASSPHRASE", passphrase)
        .env("REPLIBYTE_TEST_SECRET", TRANSFORMER_SECRET)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encrypted_dump_shows_nothing_and_restores_identically() {
    let source = unique_name("enc_src");
    let target = unique_name("enc_dst");
    load_fixture(&source, "sample.sql").await;
    let known = known_plaintext(&source).await;

    // The search works: an unencrypted dump shows these values.
    let plain_ws = Workspace::new();
    let plain = config_with(&plain_ws, "plain.yaml", &source, &target, "");
    succeeded(with_secrets(&plain, &["dump"], PASSPHRASE), "plain dump");
    let plain_files = files(&plain_ws.bridge_path());
    assert!(known.iter().any(|v| plain_files.iter().any(|(_, bytes)| contains(bytes, v))), "the search finds nothing");

    let ws = Workspace::new();
    let config = config_with(&ws, "encrypted.yaml", &source, &target, ENCRYPTED);
    let id = stdout(&succeeded(with_secrets(&config, &["dump"], PASSPHRASE), "encrypted dump"));
    let stored = files(&ws.bridge_path());
    assert!(stored.len() >= 6, "{stored:?}");
    for (path, bytes) in &stored {
        assert!(bytes.starts_with(b"age-encryption.org/v1\n"), "{} is not an age file", path.display());
        for value in known.iter().map(String::as_str).chain([PASSPHRASE, TRANSFORMER_SECRET, &server().password]) {
            assert!(!contains(bytes, value), "{} shows {value:?}", path.display());
        }
    }

    // Listing works and shows no data; verify and restore read it all.
    let listed = succeeded(with_secrets(&config, &["dump", "list", "--json"], PASSPHRASE), "dump list");
    let listed_text = stdout(&listed);
    assert!(listed_text.contains(&id) && listed_text.contains("\"complete\""), "{listed_text}");
    assert!(!known.iter().any(|v| listed_text.contains(v.as_str())), "{listed_text}");
    let verified = succeeded(with_secrets(&config, &["dump", "verify", &id], PASSPHRASE), "dump verify");
    assert!(stdout(&verified).contains(&format!("{id}: OK (4 segments")), "{}", stdout(&verified));
    succeeded(with_secrets(&config, &["restore", &id], PASSPHRASE), "restore");
    assert_identical(&source, &target).await;

    // A wrong passphrase is one clear line, whatever the command.
    for args in [&["dump", "list"][..], &["dump", "verify", &id], &["restore", &id], &["dump"]] {
        let out = with_secrets(&config, args, "not-the-passphrase-1e2f");
        assert_fails_with(&out, "wrong encryption passphrase", "not-the-passphrase-1e2f");
    }
    // So is the bridge used without its encryption.
    let unencrypted = config_with(&ws, "unencrypted.yaml", &source, &target, "");
    assert_fails_with(&with_secrets(&unencrypted, &["dump", "list"], PASSPHRASE), "set bridge.encryption", PASSPHRASE);
    // And an unencrypted bridge left as it is when encryption is turned on.
    let mixed = config_with(&plain_ws, "mixed.yaml", &source, &target, ENCRYPTED);
    assert_fails_with(
        &with_secrets(&mixed, &["dump"], PASSPHRASE),
        "holds dumps written without encryption",
        PASSPHRASE,
    );

    drop_database(&source).await;
    drop_database(&target).await;
}

// ----------------------------------------------------------------- verify

#[tokio::test(flavor = "multi_thread")]
async fn dump_verify_reports_every_problem_and_changes_nothing() {
    let source = unique_name("verify_src");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let config = ws.config(&source, "unused", "");
    let id = stdout(&run_ok(&config, &["dump"]));
    let sound = run_ok(&config, &["dump", "verify", &id]);
    assert!(stdout(&sound).contains(&format!("{id}: OK (4 segments")), "{}", stdout(&sound));

    let mut segments: Vec<PathBuf> =
        files_under(&ws.bridge_path()).into_iter().filter(|p| p.to_string_lossy().ends_with(".bin.zst")).collect();
    segments.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let [missing, cut, .., changed] = &segments[..] else { panic!("expected 4 segments: {segments:?}") };
    // Valid zstd, one byte of content changed: only the checksum can tell.
    let mut raw = zstd::decode_all(std::fs::File::open(changed).unwrap()).unwrap();
    let middle = raw.len() / 2;
    raw[middle] ^= 0x01;
    std::fs::write(changed, zstd::encode_all(&raw[..], 1).unwrap()).unwrap();
    let bytes = std::fs::read(cut).unwrap();
    std::fs::write(cut, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(missing).unwrap();
    let schema = files_under(&ws.bridge_path()).into_iter().find(|p| p.ends_with("schema.json")).unwrap();
    std::fs::write(&schema, b"{\"objects\": 42}").unwrap();

    let before = files(&ws.bridge_path());
    let out = replibyte(&config, &["dump", "verify", &id]).output().unwrap();
    assert_fails_with(&out, &format!("dump {id} has 6 problem(s), listed on stdout"), &server().password);
    let report = stdout(&out);
    let key = |path: &Path| path.strip_prefix(ws.bridge_path()).unwrap().display().to_string();
    for (path, expected) in [
        (changed, "checksum mismatch"),
        (changed, "bytes in the bridge, the manifest says"),
        (cut, "cannot read or decompress"),
        (cut, "bytes in the bridge, the manifest says"),
        (missing, "missing from the bridge"),
        (&schema, "unreadable schema"),
    ] {
        let line = format!("{}: ", key(path));
        assert!(report.lines().any(|l| l.starts_with(&line) && l.contains(expected)), "{line}{expected} in:\n{report}");
    }
    assert_eq!(files(&ws.bridge_path()), before, "verify changed the bridge");
    drop_database(&source).await;
}

// ---------------------------------------------------------------- secrets

/// Rows of a statement on the control port, as one string.
async fn control_rows(client: &Client, sql: &str) -> String {
    let messages = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = String::new();
    for message in &messages {
        if let SimpleQueryMessage::Row(row) = message {
            for i in 0..row.len() {
                out.push_str(row.get(i).unwrap_or("NULL"));
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_show_in_output_logs_the_bridge_or_the_control_port() {
    let source = unique_name("secret_src");
    let target = unique_name("secret_dst");
    load_fixture(&source, "sample.sql").await;
    let s = server();
    let s3_var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/test.sh"));
    let s3_secret = s3_var("REPLIBYTE_S3_SECRET_ACCESS_KEY");
    let prefix = format!("{}/", unique_name("secrets"));
    let s3_bridge = format!(
        "bridge:\n  type: s3\n  bucket: {}\n  prefix: {prefix}\n  region: {}\n  endpoint: {}\n  access_key_id: {}\n  secret_access_key: $REPLIBYTE_TEST_S3_SECRET\n",
        s3_var("REPLIBYTE_S3_BUCKET"),
        s3_var("REPLIBYTE_S3_REGION"),
        s3_var("REPLIBYTE_S3_ENDPOINT"),
        s3_var("REPLIBYTE_S3_ACCESS_KEY_ID"),
    );
    let transformers = "  transformers:\n    - schema: public\n      table: customers\n      columns:\n        - name: email\n          transformer: email\n";
    let ws = Workspace::new();
    let config = ws.write(
        "secrets.yaml",
        &format!(
            "source:\n  connection_uri: {}\n  secret: $REPLIBYTE_TEST_SECRET\n{transformers}{s3_bridge}  encryption:\n    passphrase: $REPLIBYTE_TEST_PASSPHRASE\ndestination:\n  connection_uri: {}\n",
            s.uri(&source),
            s.uri(&target)
        ),
    );
    let secrets = [PASSPHRASE, TRANSFORMER_SECRET, s.password.as_str(), s3_secret.as_str()];
    let run = |args: &[&str]| {
        replibyte(&config, args)
            .env("REPLIBYTE_TEST_PASSPHRASE", PASSPHRASE)
            .env("REPLIBYTE_TEST_SECRET", TRANSFORMER_SECRET)
            .env("REPLIBYTE_TEST_S3_SECRET", &s3_secret)
            .output()
            .unwrap()
    };

    // Debug output of the whole config.
    std::env::set_var("REPLIBYTE_TEST_PASSPHRASE", PASSPHRASE);
    std::env::set_var("REPLIBYTE_TEST_SECRET", TRANSFORMER_SECRET);
    std::env::set_var("REPLIBYTE_TEST_S3_SECRET", &s3_secret);
    let parsed = Config::load(&config).unwrap();
    let debug = format!("{parsed:?}");
    for secret in secrets {
        assert!(!debug.contains(secret), "Debug shows {secret:?}: {debug}");
    }

    // Every command, with the most verbose logs, in both log formats.
    let id = stdout(&succeeded(run(&["-vv", "dump"]), "dump"));
    let mut outputs = Vec::new();
    for args in [
        &["-vv", "dump", "list"][..],
        &["-vv", "--log-format", "json", "dump", "list", "--json"],
        &["-vv", "dump", "verify", &id],
        &["-vv", "--log-format", "json", "restore", &id],
        &["-vv", "check"],
    ] {
        outputs.push((args.join(" "), succeeded(run(args), &args.join(" "))));
    }
    let wrong_password = ws.write(
        "wrong.yaml",
        &format!(
            "source:\n  connection_uri: {}\nbridge:\n  type: local\n  path: {}\n",
            s.uri(&source).replace(&s.password, "wrong-pw-0a1b"),
            ws.bridge_path().display()
        ),
    );
    outputs.push(("wrong password".into(), replibyte(&wrong_password, &["-vv", "dump"]).output().unwrap()));
    for (what, output) in &outputs {
        for text in [stdout(output), stderr(output)] {
            for secret in secrets.iter().chain(&["wrong-pw-0a1b"]) {
                assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
            }
        }
    }

    // The bridge's objects, read raw and decrypted (the manifest among them).
    let raw_yaml = s3_bridge.replace("$REPLIBYTE_TEST_S3_SECRET", &s3_secret);
    let raw_config = Config::parse(&raw_yaml, Path::new("raw.yaml")).unwrap();
    let raw = S3Bridge::connect(S3Settings::try_from(&raw_config.bridge).unwrap()).await.unwrap();
    let decrypted = replibyte::bridge::open(&parsed.bridge).await.unwrap();
    let objects = raw.list("").await.unwrap();
    assert!(objects.iter().any(|o| o.key.ends_with("manifest.json")), "{objects:?}");
    for object in objects.iter().filter(|o| o.key != replibyte::bridge::encrypted::KEY_OBJECT) {
        let plaintext = decrypted.get(&object.key).await.unwrap();
        for bytes in [raw.get(&object.key).await.unwrap(), plaintext] {
            for secret in secrets {
                assert!(!contains(&bytes, secret), "{} shows {secret:?}", object.key);
            }
        }
    }

    // The control port: dumps, runs (with a failed run's error) and status.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let agent_config = ws.write(
        "agent.yaml",
        &format!(
            "port: {port}\nretry:\n  attempts: 1\nsource:\n  connection_uri: {}\n  cron: \"0 3 1 1 *\"\n  secret: $REPLIBYTE_TEST_SECRET\n{s3_bridge}  encryption:\n    passphrase: $REPLIBYTE_TEST_PASSPHRASE\n",
            s.uri(&source).replace(&s.password, "wrong-pw-0a1b")
        ),
    );
    let log = std::fs::File::create(ws.dir.path().join("agent.log")).unwrap();
    let mut agent = replibyte(&agent_config, &["-vv", "agent"])
        .env("REPLIBYTE_TEST_PASSPHRASE", PASSPHRASE)
        .env("REPLIBYTE_TEST_SECRET", TRANSFORMER_SECRET)
        .env("REPLIBYTE_TEST_S3_SECRET", &s3_secret)
        .stderr(log)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let control = loop {
        let dsn = format!("host=127.0.0.1 port={port} user=operator dbname=replibyte");
        match tokio_postgres::connect(&dsn, NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                break client;
            }
            Err(e) => {
                assert!(start.elapsed() < Duration::from_secs(30), "control port never answered: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    control.simple_query("CALL replibyte.dump_now()").await.unwrap();
    let mut answers = String::new();
    let start = Instant::now();
    while !answers.contains("failed") {
        assert!(start.elapsed() < Duration::from_secs(60), "the dump run never failed: {answers}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        answers = control_rows(&control, "SELECT * FROM replibyte.runs").await;
    }
    assert!(answers.contains("password authentication failed"), "{answers}");
    answers.push_str(&control_rows(&control, "SELECT * FROM replibyte.dumps").await);
    answers.push_str(&control_rows(&control, "SELECT * FROM replibyte.status").await);
    assert!(answers.contains(&id), "{answers}");
    let _ = agent.kill();
    let _ = agent.wait();
    let agent_log = std::fs::read_to_string(ws.dir.path().join("agent.log")).unwrap();
    for secret in secrets.iter().chain(&["wrong-pw-0a1b"]) {
        assert!(!answers.contains(secret), "the control port shows {secret:?}:\n{answers}");
        assert!(!agent_log.contains(secret), "the agent's log shows {secret:?}");
    }

    raw.delete_prefix("").await.unwrap();
    drop_database(&source).await;
    drop_database(&target).await;
}
