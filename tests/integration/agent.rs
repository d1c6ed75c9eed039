//! The agent: schedules, the control port, retries, retention, overlap and
//! a clean stop on SIGTERM.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::compare::assert_identical;
use super::harness::*;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running agent, stopped (SIGKILL) if a test fails before stopping it.
struct Agent {
    child: Option<Child>,
    port: u16,
    log: std::path::PathBuf,
}

impl Agent {
    fn start(config: &Path, port: u16, log: std::path::PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = replibyte(config, &["agent"]).stdout(Stdio::null()).stderr(file).spawn().unwrap();
        Agent { child: Some(child), port, log }
    }

    /// A connection to the control port, once it listens.
    async fn control(&self) -> Client {
        let start = Instant::now();
        loop {
            let dsn = format!("host=127.0.0.1 port={} user=operator dbname=replibyte", self.port);
            match tokio_postgres::connect(&dsn, NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    return client;
                }
                Err(e) => {
                    assert!(
                        start.elapsed() < Duration::from_secs(30),
                        "control port never answered: {e}\n{}",
                        self.log()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status, which must come within `limit`.
    fn terminate(&mut self, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                panic!("the agent did not stop within {limit:?} of SIGTERM\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Rows of a statement on the control port, as text.
async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let messages = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

/// A `timestamptz` in PostgreSQL's text form (`2026-12-01 08:00:00.123+00`).
fn timestamptz(text: &str) -> Option<DateTime<Utc>> {
    let full_offset = format!("{text}:00");
    DateTime::parse_from_str(&full_offset, "%Y-%m-%d %H:%M:%S%.f%:z").ok().map(|t| t.with_timezone(&Utc))
}

/// Asks the agent for a run of `kind` (`dump` or `restore`) now; returns the
/// moment before, for [`finished_run`].
async fn ask_now(client: &Client, kind: &str) -> DateTime<Utc> {
    let since = Utc::now();
    client.simple_query(&format!("CALL replibyte.{kind}_now()")).await.unwrap();
    since
}

/// Waits until the run of `kind` that started at or after `since` (the
/// moment before it was asked for) has finished, and returns it (columns:
/// kind, started_at, finished_at, status, error, dump_id, rows, bytes).
/// Runs are listed newest first; a request refused at the CALL is recorded
/// as skipped with its reason and is not a run. Asking by time, not for the
/// newest run: the run asked for is recorded once its task gets its turn,
/// a moment after the CALL returns.
async fn finished_run(
    agent: &Agent,
    client: &Client,
    kind: &str,
    since: DateTime<Utc>,
    limit: Duration,
) -> Vec<Option<String>> {
    let start = Instant::now();
    loop {
        let run = rows(client, "SELECT * FROM replibyte.runs").await.into_iter().find(|r| {
            let started = r[1].as_deref().and_then(timestamptz);
            let refused = r[3].as_deref() == Some("skipped") && r[4].is_some();
            r[0].as_deref() == Some(kind) && started.is_some_and(|t| t >= since) && !refused
        });
        if let Some(run) = run.filter(|r| r[3].as_deref() != Some("running")) {
            return run;
        }
        assert!(start.elapsed() < limit, "no {kind} run finished within {limit:?}\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn agent_config(
    ws: &Workspace,
    source: &str,
    target: &str,
    port: u16,
    source_extra: &str,
    dest_cron: &str,
) -> std::path::PathBuf {
    let s = server();
    let text = format!(
        "bind: 127.0.0.1\nport: {port}\nretry:\n  attempts: 2\n  backoff_seconds: 1\nsource:\n  connection_uri: {}\n{source_extra}bridge:\n  type: local\n  path: {}\ndestination:\n  connection_uri: {}\n  cron: \"{dest_cron}\"\n",
        s.uri(source),
        ws.bridge_path().display(),
        s.uri(target),
    );
    ws.write("agent.yaml", &text)
}

/// Every test schedules far away ("never" during the test) unless it tests
/// the schedule itself.
const NEVER: &str = "0 3 1 1 *";

#[tokio::test(flavor = "multi_thread")]
async fn on_schedule_the_agent_dumps_and_restores_and_stops_on_sigterm() {
    let source = unique_name("agent_cron_src");
    let target = unique_name("agent_cron_dst");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let port = free_port();
    let config = agent_config(&ws, &source, &target, port, "  cron: \"* * * * *\"\n", "* * * * *");
    let mut agent = Agent::start(&config, port, ws.dir.path().join("agent.log"));
    let control = agent.control().await;

    // pg_isready is the health check.
    let ready = std::process::Command::new(pg_tool("pg_isready"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .output()
        .unwrap();
    assert!(ready.status.success(), "pg_isready: {}", String::from_utf8_lossy(&ready.stdout));

    // Within two scheduled minutes: a dump, then a restore of it.
    let start = Instant::now();
    loop {
        let restored = rows(&control, "SELECT * FROM replibyte.runs")
            .await
            .into_iter()
            .any(|r| r[0].as_deref() == Some("restore") && r[3].as_deref() == Some("succeeded"));
        if restored {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(150), "no restore within 150 s\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let dumps = rows(&control, "SELECT * FROM replibyte.dumps").await;
    assert!(dumps.iter().any(|d| d[2].as_deref() == Some("complete")), "{dumps:?}");
    assert_identical(&source, &target).await;

    drop(control);
    let status = agent.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}\n{}", agent.log());
    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_control_port_runs_dumps_and_restores_now_with_retention_and_no_overlap() {
    let source = unique_name("agent_ctl_src");
    let target = unique_name("agent_ctl_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let port = free_port();
    let extra = format!("  cron: \"{NEVER}\"\n  retention:\n    keep_last: 1\n");
    let config = agent_config(&ws, &source, &target, port, &extra, NEVER);
    let agent = Agent::start(&config, port, ws.dir.path().join("agent.log"));
    let control = agent.control().await;

    let status = rows(&control, "SELECT * FROM replibyte.status").await;
    assert_eq!(status[0][0].as_deref(), Some("idle"));
    assert!(status[0][2].is_some(), "next dump time shown: {status:?}");

    let error = control.simple_query("DELETE FROM replibyte.dumps").await.unwrap_err();
    let message = error.as_db_error().map(|e| e.message().to_string()).unwrap_or_default();
    assert!(message.contains("read-only") && message.contains("replibyte.runs"), "{message}");

    // A second dump asked for while the first runs is refused and recorded.
    let since = ask_now(&control, "dump").await;
    let second = control.simple_query("CALL replibyte.dump_now()").await.unwrap_err();
    assert!(second.as_db_error().unwrap().message().contains("already running"), "{second}");
    let first = finished_run(&agent, &control, "dump", since, Duration::from_secs(120)).await;
    assert_eq!(first[3].as_deref(), Some("succeeded"), "{first:?}\n{}", agent.log());
    let runs = rows(&control, "SELECT * FROM replibyte.runs").await;
    assert!(runs.iter().any(|r| r[3].as_deref() == Some("skipped")), "{runs:?}");

    // Retention keeps only the newest dump.
    let since = ask_now(&control, "dump").await;
    let second = finished_run(&agent, &control, "dump", since, Duration::from_secs(120)).await;
    assert_ne!(first[5], second[5]);
    let dumps = rows(&control, "SELECT * FROM replibyte.dumps").await;
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    assert_eq!(dumps[0][0], second[5]);

    let since = ask_now(&control, "restore").await;
    let restore = finished_run(&agent, &control, "restore", since, Duration::from_secs(120)).await;
    assert_eq!(restore[3].as_deref(), Some("succeeded"), "{restore:?}\n{}", agent.log());
    assert_identical(&source, &target).await;
    // The same dump again: nothing to do.
    let since = ask_now(&control, "restore").await;
    let again = finished_run(&agent, &control, "restore", since, Duration::from_secs(60)).await;
    assert_eq!(again[3].as_deref(), Some("skipped"), "{again:?}");

    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_is_retried_recorded_and_later_runs_succeed() {
    let source = unique_name("agent_down_src");
    let target = unique_name("agent_down_dst");
    let ws = Workspace::new();
    let port = free_port();
    let config = agent_config(&ws, &source, &target, port, &format!("  cron: \"{NEVER}\"\n"), NEVER);
    let agent = Agent::start(&config, port, ws.dir.path().join("agent.log"));
    let control = agent.control().await;

    // The source database does not exist yet: both attempts fail.
    let since = ask_now(&control, "dump").await;
    let failed = finished_run(&agent, &control, "dump", since, Duration::from_secs(60)).await;
    assert_eq!(failed[3].as_deref(), Some("failed"), "{failed:?}");
    assert!(failed[4].as_deref().unwrap_or_default().contains("does not exist"), "{failed:?}");
    assert!(agent.log().contains("attempt 1 failed, retrying"), "{}", agent.log());

    load_fixture(&source, "sample.sql").await;
    let since = ask_now(&control, "dump").await;
    let succeeded = finished_run(&agent, &control, "dump", since, Duration::from_secs(60)).await;
    assert_eq!(succeeded[3].as_deref(), Some("succeeded"), "{succeeded:?}\n{}", agent.log());
    drop_database(&source).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_dump_leaves_no_complete_dump() {
    let source = unique_name("agent_term_src");
    let target = unique_name("agent_term_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let port = free_port();
    let extra = format!("  cron: \"{NEVER}\"\n  segment_size_mib: 1\n  jobs: 1\n");
    let config = agent_config(&ws, &source, &target, port, &extra, NEVER);
    let mut agent = Agent::start(&config, port, ws.dir.path().join("agent.log"));
    let control = agent.control().await;
    control.simple_query("CALL replibyte.dump_now()").await.unwrap();
    let bridge = ws.bridge_path();
    wait_for("segments of the running dump", || {
        files_under(&bridge).iter().filter(|p| p.to_string_lossy().ends_with(".bin.zst")).count() > 2
    });
    drop(control);
    let status = agent.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}\n{}", agent.log());

    let listed = stdout(&run_ok(&config, &["dump", "list", "--json"]));
    assert!(!listed.contains("\"complete\""), "a cancelled dump is listed as complete: {listed}");
    assert!(
        files_under(&bridge).iter().all(|p| !p.to_string_lossy().ends_with(".bin.zst")),
        "segments of the cancelled dump remain"
    );
    drop_database(&source).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_restore_leaves_the_destination_as_it_was() {
    let source = unique_name("agent_termr_src");
    let target = unique_name("agent_termr_dst");
    large_source(&source).await;
    let ws = Workspace::new();
    let port = free_port();
    let config = agent_config(&ws, &source, &target, port, &format!("  cron: \"{NEVER}\"\n  jobs: 1\n"), NEVER);
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    let client = server().connect(&source).await;
    client.batch_execute("UPDATE small SET label = 'changed' WHERE id = 1").await.unwrap();
    run_ok(&config, &["dump"]);
    client.batch_execute("UPDATE small SET label = 'row 1' WHERE id = 1").await.unwrap();

    let mut agent = Agent::start(&config, port, ws.dir.path().join("agent.log"));
    let control = agent.control().await;
    control.simple_query("CALL replibyte.restore_now()").await.unwrap();
    let admin = server().connect("postgres").await;
    let pattern = format!("{target}_rb_new_%");
    let start = Instant::now();
    while admin
        .query("SELECT 1 FROM pg_stat_activity WHERE datname LIKE $1 AND query LIKE 'COPY%'", &[&pattern])
        .await
        .unwrap()
        .is_empty()
    {
        assert!(start.elapsed() < Duration::from_secs(60), "the restore never started loading\n{}", agent.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(control);
    let status = agent.terminate(Duration::from_secs(15));
    assert!(status.success(), "exit status {status}\n{}", agent.log());

    assert_identical(&source, &target).await;
    let leftovers = admin.query("SELECT datname FROM pg_database WHERE datname LIKE $1", &[&pattern]).await.unwrap();
    assert!(leftovers.is_empty(), "the cancelled restore's database was not dropped");
    drop_database(&source).await;
    drop_database(&target).await;
}

#[test]
fn a_control_port_open_to_the_network_needs_a_password() {
    let ws = Workspace::new();
    let config = ws.write(
        "open.yaml",
        "bind: 0.0.0.0\nsource:\n  connection_uri: postgres://u@127.0.0.1:1/db\n  cron: \"0 3 * * *\"\n",
    );
    let out = replibyte(&config, &["agent"]).output().unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("control.password") && err.lines().count() == 1, "{err}");

    let nothing = ws.write("nothing.yaml", "source:\n  connection_uri: postgres://u@127.0.0.1:1/db\n");
    let out = replibyte(&nothing, &[]).output().unwrap();
    assert!(stderr(&out).contains("nothing to schedule"), "{}", stderr(&out));
}

/// Output of psql (the referee's) on the control port, unaligned, tuples
/// only; `Err` with its stderr when it fails.
fn psql(port: u16, sql: &str) -> Result<String, String> {
    let output = std::process::Command::new(pg_tool("psql"))
        .args([
            "-X",
            "-A",
            "-t",
            "-F",
            "|",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "operator",
            "-d",
            "replibyte",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).to_string())
    }
}

/// The body of `GET /metrics`.
fn scrape(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port answers");
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.") && head.contains(" 200 "), "{head}");
    body.to_string()
}

/// Prometheus text format: `# HELP`/`# TYPE` lines and samples
/// `name{label="value",…} number`; returns the samples by `name{labels}`.
fn parse_prometheus(text: &str) -> std::collections::HashMap<String, f64> {
    let sample =
        regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})?) (\S+)$"#).unwrap();
    let mut samples = std::collections::HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP ") || line.starts_with("# TYPE "), "not Prometheus text: {line}");
            continue;
        }
        let captures = sample.captures(line).unwrap_or_else(|| panic!("not a Prometheus sample: {line}"));
        let value: f64 = captures[4].parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        samples.insert(captures[1].to_string(), value);
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn the_control_port_answers_sql_from_psql_and_drivers_and_metrics_match_the_runs() {
    let source = unique_name("agent_sql_src");
    let target = unique_name("agent_sql_dst");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let (port, metrics_port) = (free_port(), free_port());
    let config = agent_config(&ws, &source, &target, port, &format!("  cron: \"{NEVER}\"\n"), NEVER);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("metrics:\n  port: {metrics_port}\n"));
    std::fs::write(&config, text).unwrap();
    let mut agent = Agent::start(&config, port, ws.dir.path().join("agent.log"));
    let control = agent.control().await;

    let since = ask_now(&control, "dump").await;
    let dump = finished_run(&agent, &control, "dump", since, Duration::from_secs(60)).await;
    assert_eq!(dump[3].as_deref(), Some("succeeded"), "{dump:?}\n{}", agent.log());
    let since = ask_now(&control, "restore").await;
    let restore = finished_run(&agent, &control, "restore", since, Duration::from_secs(60)).await;
    assert_eq!(restore[3].as_deref(), Some("succeeded"), "{restore:?}\n{}", agent.log());
    let dump_id = dump[5].clone().unwrap();

    // psql, simple protocol: filters, projections, aggregates, grouping,
    // ordering, limits, comparisons on timestamps.
    assert_eq!(psql(port, "SELECT count(*) FROM replibyte.dumps WHERE status = 'complete'"), Ok("1".into()));
    assert_eq!(psql(port, "SELECT id FROM replibyte.dumps WHERE status='complete'"), Ok(dump_id.clone()));
    assert_eq!(
        psql(port, "SELECT kind, count(*), sum(rows) > 0 FROM replibyte.runs GROUP BY kind ORDER BY kind DESC LIMIT 1"),
        Ok("restore|1|1".into())
    );
    assert_eq!(
        psql(
            port,
            "SELECT count(*) FROM replibyte.runs WHERE started_at > '2020-01-01T00:00:00Z' AND finished_at <= now()"
        ),
        Ok("2".into())
    );
    assert_eq!(psql(port, "SELECT count(*) FROM replibyte.runs WHERE started_at > now()"), Ok("0".into()));
    assert_eq!(psql(port, "SELECT state, running FROM replibyte.status"), Ok("idle|f".into()));
    // Per table, the dump's figures: its rows are the source's.
    let tables = psql(port, "SELECT name, rows FROM replibyte.tables WHERE run = 'dump' ORDER BY name").unwrap();
    let admin = server().connect(&source).await;
    assert!(tables.lines().count() >= 3, "{tables}");
    for line in tables.lines() {
        let (name, rows) = line.split_once('|').unwrap();
        let counted: i64 = admin.query_one(&format!("SELECT count(*) FROM {name}"), &[]).await.unwrap().get(0);
        assert_eq!(rows.parse::<i64>().unwrap(), counted, "{name}");
    }
    let restored = psql(port, "SELECT sum(rows) FROM replibyte.tables WHERE run = 'restore' AND dump_id = (SELECT max(id) FROM replibyte.dumps)");
    assert_eq!(restored.unwrap(), dump[6].clone().unwrap(), "restore's tables add up to the dump's rows");
    // Writes and DDL are refused, with what is understood.
    for write in ["DELETE FROM replibyte.dumps", "UPDATE replibyte.runs SET status = 'x'", "DROP TABLE replibyte.runs"]
    {
        let error = psql(port, write).unwrap_err();
        assert!(error.contains("read-only") && error.contains("replibyte.tables"), "{write}: {error}");
    }

    // A driver, extended protocol: prepared statements, typed columns and
    // parameters.
    let rows = control
        .query("SELECT id, created_at, size_bytes, complete FROM replibyte.dumps WHERE status = $1", &[&"complete"])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), dump_id);
    let created: DateTime<Utc> = rows[0].get(1);
    assert!(created <= Utc::now() && created > since - chrono::Duration::minutes(5), "{created}");
    assert!(rows[0].get::<_, i64>(2) > 0);
    assert!(rows[0].get::<_, bool>(3));
    let typed = control
        .prepare_typed(
            "SELECT count(*) FROM replibyte.runs WHERE rows >= $1 AND started_at > $2",
            &[tokio_postgres::types::Type::INT8, tokio_postgres::types::Type::TIMESTAMPTZ],
        )
        .await
        .unwrap();
    let old = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(control.query_one(&typed, &[&1i64, &old]).await.unwrap().get::<_, i64>(0), 2);
    assert_eq!(control.query_one(&typed, &[&i64::MAX, &old]).await.unwrap().get::<_, i64>(0), 0);
    let error = control.query("DELETE FROM replibyte.dumps WHERE id = $1", &[&dump_id]).await.unwrap_err();
    assert!(error.as_db_error().unwrap().message().contains("read-only"), "{error}");

    // /metrics: Prometheus text whose figures are replibyte.runs'.
    let metrics = parse_prometheus(&scrape(metrics_port));
    let by_status = psql(port, "SELECT kind, status, count(*) FROM replibyte.runs GROUP BY kind, status").unwrap();
    for line in by_status.lines() {
        let parts: Vec<&str> = line.split('|').collect();
        let key = format!("replibyte_runs_total{{kind=\"{}\",status=\"{}\"}}", parts[0], parts[1]);
        assert_eq!(metrics.get(&key).copied(), Some(parts[2].parse().unwrap()), "{key} in {metrics:?}");
    }
    assert_eq!(metrics.get("replibyte_runs_total{kind=\"dump\",status=\"failed\"}"), Some(&0.0));
    for (kind, run) in [("dump", &dump), ("restore", &restore)] {
        let gauge = |name: &str| metrics.get(&format!("{name}{{kind=\"{kind}\"}}")).copied();
        assert_eq!(gauge("replibyte_last_success_rows"), run[6].as_deref().map(|v| v.parse().unwrap()), "{kind}");
        assert_eq!(gauge("replibyte_last_success_bytes"), run[7].as_deref().map(|v| v.parse().unwrap()), "{kind}");
        let finished = timestamptz(run[2].as_deref().unwrap()).unwrap();
        let at = gauge("replibyte_last_success_timestamp_seconds").unwrap();
        assert!((at - finished.timestamp_millis() as f64 / 1000.0).abs() < 0.002, "{kind}: {at} vs {finished}");
        assert!(gauge("replibyte_last_success_duration_seconds").unwrap() > 0.0);
        assert_eq!(gauge("replibyte_runs_in_progress"), Some(0.0));
    }
    assert_eq!(metrics.get("replibyte_bridge_dumps"), Some(&1.0));
    let size = psql(port, "SELECT size_bytes FROM replibyte.dumps").unwrap();
    assert_eq!(metrics.get("replibyte_bridge_bytes").copied(), Some(size.parse().unwrap()));

    drop(control);
    let status = agent.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}\n{}", agent.log());
    drop_database(&source).await;
    drop_database(&target).await;
}
