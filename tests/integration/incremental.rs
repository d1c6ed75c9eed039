//! Incremental dumps: a base, then deltas of what changed, restored in
//! place onto a destination holding an earlier dump of the chain or whole
//! into a fresh one, always equal to a fresh full dump of the same source
//! state with the same config and secret.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::compare::assert_identical;
use super::harness::*;

/// Transformed columns (with a secret: the same fakes in base and deltas).
const TRANSFORMERS: &str = "  secret: incremental-secret\n";

fn sql(database: &str, statements: &str) {
    server().psql(database, &[OsStr::new("-c"), OsStr::new(statements)]);
}

/// `(id, kind, parent)` of every complete dump, newest first.
fn dumps(config: &Path) -> Vec<(String, String, Option<String>)> {
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&run_ok(config, &["dump", "list", "--json"]))).expect("dump list --json is JSON");
    listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "complete")
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["parent"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// A fresh full dump of `source` with `extra` (no incremental), restored
/// into a new database whose name is returned: the referee's reference.
fn fresh_full_copy(source: &str, extra: &str) -> String {
    let reference = unique_name("inc_full");
    let ws = Workspace::new();
    let config = ws.config(source, &reference, extra);
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    reference
}

/// The slot's position, as the source reports it.
async fn slot_position(source: &str, slot: &str) -> Option<String> {
    let client = server().connect(source).await;
    let row = client
        .query_opt("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
        .await
        .unwrap();
    row.map(|r| r.get(0))
}

async fn drop_slot(source: &str, config: &Path) {
    run_ok(config, &["dump", "drop-slot"]);
    drop_database(source).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_feature_base_and_deltas_restore_like_a_full_dump() {
    let source = unique_name("inc_ef_src");
    let in_place = unique_name("inc_ef_dst");
    load_fixture(&source, "every_feature.sql").await;
    // What incremental dumps need, as `check` lists it: keyless tables get
    // a replica identity; unlogged ones and types without binary I/O keep
    // their structure only.
    sql(
        &source,
        "DO $$ DECLARE t regclass; BEGIN \
           FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND c.relreplident = 'd' AND n.nspname IN ('fx', 'inh', 'parts') \
               AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) \
           LOOP EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', t); END LOOP; END $$",
    );
    let scope = "  skip_data: [fx.scratch_unlogged, fx.no_binary_*]\n";
    let transformers = format!(
        "{TRANSFORMERS}{scope}  transformers:\n    - schema: fx\n      table: employees\n      columns:\n        - name: first_name\n          transformer: first-name\n        - name: last_name\n          transformer: last-name\n"
    );
    let ws = Workspace::new();
    let config = ws.config(&source, &in_place, &format!("  incremental: true\n{transformers}"));

    let base = stdout(&run_ok(&config, &["dump"]));
    assert_eq!(dumps(&config), vec![(base.clone(), "full".into(), None)]);
    run_ok(&config, &["restore"]);

    // Inserts, updates of transformed and other columns, updates leaving
    // TOASTed values untouched, deletes, a truncation, a partitioned table.
    sql(
        &source,
        "INSERT INTO fx.employees (first_name, last_name, email, salary) VALUES ('Grace', 'Hopper', 'grace@example.org', 7000), ('Alan', 'Turing', 'alan@example.org', 6500); \
         UPDATE fx.employees SET last_name = last_name || 'son', salary = salary + 1 WHERE id IN (SELECT id FROM fx.employees ORDER BY id LIMIT 2); \
         UPDATE fx.big_values SET label = label || ' (relabelled)' WHERE id IN (3, 4, 6); \
         DELETE FROM fx.big_series WHERE id % 10 = 0; \
         UPDATE fx.big_series SET val = val + 1, label = 'changed' WHERE id % 7 = 0; \
         TRUNCATE fx.readings; \
         UPDATE parts.orders_by_region SET amount = amount * 2; \
         UPDATE fx.projects SET title = title || ' II' WHERE project_no = 1; \
         INSERT INTO fx.audit_log (tbl, op, row_id) SELECT 'delta', 'test', g FROM generate_series(1, 3) g;",
    );
    let first_delta = stdout(&run_ok(&config, &["dump"]));
    let listed = dumps(&config);
    assert_eq!(listed[0], (first_delta.clone(), "incremental".into(), Some(base.clone())));
    let applied = run_ok(&config, &["restore", "--jobs", "2", "-v"]);
    let log = stderr(&applied);
    assert!(log.contains("applying changes in place"), "{log}");
    // With two connections, the second reads ahead of the updates and
    // deletes (by single and multi-column keys) without an error.
    assert!(!log.contains("read-ahead stopped"), "{log}");
    let read_ahead = log.lines().find(|l| l.contains("rows read ahead")).unwrap_or_else(|| panic!("{log}"));
    assert!(!read_ahead.contains("rows=0"), "{read_ahead}");
    let verified = stdout(&run_ok(&config, &["dump", "verify", &first_delta]));
    assert!(verified.contains(": OK"), "{verified}");

    let reference = fresh_full_copy(&source, &transformers);
    assert_identical(&reference, &in_place).await;

    // A killed delta is taken again, whole, by the next run: the slot
    // moves on only once a delta is stored.
    sql(&source, "UPDATE fx.big_series SET flag = NOT coalesce(flag, false)");
    sql(
        &source,
        "UPDATE fx.big_series SET flag = NOT flag; UPDATE fx.employees SET first_name = 'Edsger' WHERE id = 100",
    );
    let slot = format!("replibyte_{}", source.to_lowercase());
    let before = slot_position(&source, &slot).await;
    let mut child = replibyte(&config, &["dump"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut log = child.stderr.take().unwrap();
    let started = Instant::now();
    let mut seen = String::new();
    while !seen.contains("delta started") {
        let mut buffer = [0u8; 4096];
        let n = std::io::Read::read(&mut log, &mut buffer).unwrap();
        assert!(n > 0 && started.elapsed() < Duration::from_secs(60), "the delta did not start: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dumps(&config).len(), 2, "a killed delta is never listed");
    assert_eq!(slot_position(&source, &slot).await, before, "a killed delta does not move the slot");
    let second_delta = stdout(&run_ok(&config, &["dump"]));
    assert_eq!(dumps(&config)[0], (second_delta, "incremental".into(), Some(first_delta.clone())));

    // Onto a destination holding the chain's first delta (in place), and
    // into an empty one (base and every delta).
    run_ok(&config, &["restore"]);
    let reference_after = fresh_full_copy(&source, &transformers);
    assert_identical(&reference_after, &in_place).await;
    let whole = unique_name("inc_ef_whole");
    let whole_ws = Workspace::new();
    let whole_config = whole_ws.write(
        "whole.yaml",
        &std::fs::read_to_string(&config).unwrap().replace(&format!("/{in_place}\n"), &format!("/{whole}\n")),
    );
    let restored = run_ok(&whole_config, &["restore"]);
    assert!(!stderr(&restored).contains("in place"), "{}", stderr(&restored));
    assert_identical(&reference_after, &whole).await;

    // Retention keeps chains whole; a dump another applies to is not deleted.
    run_ok(&config, &["dump", "prune", "--keep-last", "1"]);
    assert_eq!(dumps(&config).len(), 3, "the kept delta's parents are kept");
    let output = replibyte(&config, &["dump", "delete", &base]).output().unwrap();
    assert_fails_with(&output, "applies to it", &server().password);

    drop_slot(&source, &config).await;
    for db in [&in_place, &reference, &reference_after, &whole] {
        drop_database(db).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pagila_partitioned_payments_follow_in_deltas() {
    let source = unique_name("inc_pagila_src");
    let target = unique_name("inc_pagila_dst");
    create_database(&source).await;
    for file in ["pagila/schema.sql", "pagila/data.sql"] {
        server().psql(&source, &[OsStr::new("-f"), fixture(file).as_os_str()]);
    }
    let transformers = format!(
        "{TRANSFORMERS}  transformers:\n    - schema: public\n      table: customer\n      columns:\n        - name: email\n          transformer: email\n        - name: last_name\n          transformer: last-name\n"
    );
    let ws = Workspace::new();
    let config = ws.config(&source, &target, &format!("  incremental: true\n{transformers}"));
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    sql(
        &source,
        "UPDATE public.customer SET email = lower(email), last_name = upper(last_name), active = 0 WHERE customer_id <= 40; \
         INSERT INTO public.payment (customer_id, staff_id, rental_id, amount, payment_date) \
           SELECT customer_id, staff_id, rental_id, amount + 1, payment_date + interval '1 day' FROM public.payment WHERE payment_id % 50 = 0; \
         DELETE FROM public.payment WHERE payment_id % 97 = 0; \
         UPDATE public.payment SET amount = amount + 0.5 WHERE payment_id % 13 = 0;",
    );
    let delta = stdout(&run_ok(&config, &["dump"]));
    assert_eq!(dumps(&config)[0].1, "incremental", "{delta}");
    run_ok(&config, &["restore"]);
    let reference = fresh_full_copy(&source, &transformers);
    assert_identical(&reference, &target).await;
    drop_slot(&source, &config).await;
    drop_database(&target).await;
    drop_database(&reference).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_change_or_too_much_wal_starts_a_new_base() {
    let source = unique_name("inc_base_src");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let config = ws.config(&source, "unused", "  incremental: true\n");
    run_ok(&config, &["dump"]);
    sql(&source, "UPDATE public.products SET stock = stock + 1");
    run_ok(&config, &["dump"]);
    assert_eq!(dumps(&config)[0].1, "incremental");

    // Enough changes that the server is still decoding them when the
    // catalog shows the schema changed: that read of the slot is stopped,
    // or the new base could not drop the slot.
    sql(
        &source,
        "INSERT INTO public.products (sku, name, category, price) \
         SELECT 'bulk-' || g, 'bulk', 'bulk', 1 FROM generate_series(1, 200000) g",
    );
    sql(&source, "ALTER TABLE public.products ADD COLUMN color text");
    let output = run_ok(&config, &["dump"]);
    assert!(stderr(&output).contains("taking a new base: the schema changed"), "{}", stderr(&output));
    assert_eq!(dumps(&config)[0].1, "full");

    // A slot that holds back more WAL than allowed is dropped.
    let limited = ws.config(&source, "unused", "  incremental: true\n  max_retained_wal: 1kB\n");
    sql(&source, "UPDATE public.products SET stock = stock + 1");
    let output = run_ok(&limited, &["dump"]);
    let log = stderr(&output);
    assert!(log.contains("more than max_retained_wal") && log.contains("taking a new base"), "{log}");
    assert_eq!(dumps(&limited)[0].1, "full");
    drop_slot(&source, &limited).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_refused_by_the_privacy_guard_leaves_no_slot() {
    let source = unique_name("inc_guard_src");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let config = ws.config(&source, "unused", "  incremental: true\n  unmasked_pii: fail\n");
    let output = replibyte(&config, &["dump"]).output().unwrap();
    assert_fails_with(&output, "has no transformer", &server().password);
    let client = server().connect(&source).await;
    let slots: i64 = client
        .query_one("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 0, "the failed base's slot holds WAL back");
    drop_database(&source).await;
}

/// The prepared transactions replibyte left in `database`.
async fn prepared_in(database: &str) -> i64 {
    let client = server().connect("postgres").await;
    let sql = "SELECT count(*) FROM pg_prepared_xacts WHERE database = $1 AND gid LIKE 'replibyte:%'";
    client.query_one(sql, &[&database]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_applied_side_by_side_commit_together_or_not_at_all() {
    let source = unique_name("inc_par_src");
    let target = unique_name("inc_par_dst");
    create_database(&source).await;
    sql(
        &source,
        "CREATE TABLE people (id int PRIMARY KEY, email text UNIQUE NOT NULL, note text); \
         CREATE TABLE orders (id bigserial PRIMARY KEY, person int NOT NULL REFERENCES people, amount numeric); \
         CREATE TABLE events (id int PRIMARY KEY, kind text); \
         INSERT INTO people SELECT g, 'p' || g || '@example.com', repeat('x', g % 50) FROM generate_series(1, 2000) g; \
         INSERT INTO orders (person, amount) SELECT 1 + g % 2000, g FROM generate_series(1, 5000) g; \
         INSERT INTO events SELECT g, 'k' FROM generate_series(1, 1000) g;",
    );
    let transformers = format!(
        "{TRANSFORMERS}  transformers:\n    - schema: public\n      table: people\n      columns:\n        - name: email\n          transformer: email\n"
    );
    let ws = Workspace::new();
    let config = ws.config(&source, &target, &format!("  incremental: true\n{transformers}"));
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);

    // Three tables' changes on three connections, committed together.
    sql(
        &source,
        "UPDATE people SET email = 'new.' || id || '@example.com', note = 'n' WHERE id % 10 = 0; \
         INSERT INTO orders (person, amount) SELECT g, 1 FROM generate_series(1, 300) g; \
         DELETE FROM orders WHERE id % 7 = 0; \
         UPDATE events SET kind = 'changed' WHERE id % 3 = 0; \
         DELETE FROM events WHERE id > 900;",
    );
    let first = stdout(&run_ok(&config, &["dump"]));
    let log = stderr(&run_ok(&config, &["restore", "--jobs", "3", "-v"]));
    assert!(log.contains("connections=3"), "{log}");
    assert_identical(&fresh_full_copy(&source, &transformers), &target).await;
    assert_eq!(prepared_in(&target).await, 0);

    // A change the destination refuses on one connection: nothing of the
    // delta is committed on any, and nothing is left prepared.
    sql(&source, "UPDATE people SET note = 'second' WHERE id = 1; INSERT INTO events VALUES (5000, 'new')");
    sql(&target, "INSERT INTO events VALUES (5000, 'added in the destination')");
    run_ok(&config, &["dump"]);
    let refused = replibyte(&config, &["restore", "--jobs", "3"]).output().unwrap();
    assert_fails_with(&refused, "events", &server().password);
    let client = server().connect(&target).await;
    let note: String = client.query_one("SELECT note FROM people WHERE id = 1", &[]).await.unwrap().get(0);
    assert_ne!(note, "second", "the other connections' changes were rolled back");
    let held: String = client.query_one("SELECT current_setting('replibyte.dump_id')", &[]).await.unwrap().get(0);
    assert_eq!(held, first);
    assert_eq!(prepared_in(&target).await, 0);
    sql(&target, "DELETE FROM events WHERE id = 5000");
    let log = stderr(&run_ok(&config, &["restore", "--jobs", "3", "-v"]));
    assert!(log.contains("connections=3"), "{log}");

    // A TRUNCATE of tables on two connections: the delta goes on one.
    sql(
        &source,
        "INSERT INTO orders (person, amount) VALUES (1, 2); UPDATE events SET kind = 'again' WHERE id = 1; \
         TRUNCATE orders, events; INSERT INTO events VALUES (1, 'after');",
    );
    let last = stdout(&run_ok(&config, &["dump"]));
    let log = stderr(&run_ok(&config, &["restore", "--jobs", "3", "-v"]));
    assert!(log.contains("changes applied on one connection: a TRUNCATE"), "{log}");
    let reference = fresh_full_copy(&source, &transformers);
    assert_identical(&reference, &target).await;

    // Prepared transactions a stopped run left behind: committed if their
    // dump is the one the database holds (the decision was made), rolled
    // back otherwise.
    let client = server().connect(&target).await;
    let leave = |id: i32, dump: &str| {
        format!("BEGIN; INSERT INTO events VALUES ({id}, 'left'); PREPARE TRANSACTION 'replibyte:{dump}:1'")
    };
    client.batch_execute(&leave(-1, &last)).await.unwrap();
    client.batch_execute(&leave(-2, &first)).await.unwrap();
    let log = stderr(&run_ok(&config, &["restore"]));
    assert!(log.contains("COMMIT PREPARED") && log.contains("ROLLBACK PREPARED"), "{log}");
    assert_eq!(prepared_in(&target).await, 0);
    let left: Vec<i32> =
        client.query("SELECT id FROM events WHERE id < 0", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(left, vec![-1]);
    sql(&target, "DELETE FROM events WHERE id = -1");
    // They would keep a full restore from swapping the database out.
    client.batch_execute(&leave(-3, &first)).await.unwrap();
    run_ok(&config, &["restore", "--full"]);
    assert_eq!(prepared_in(&target).await, 0);
    assert_identical(&reference, &target).await;

    // A trigger that fires even while changes are applied (its writes may
    // be another connection's table): one connection. (Its creation takes
    // a new base; the delta after it is applied in place.)
    sql(
        &source,
        "CREATE FUNCTION count_event() RETURNS trigger LANGUAGE plpgsql AS \
           $$ BEGIN UPDATE public.people SET note = 'counted' WHERE id = 2; RETURN NEW; END $$; \
         CREATE TRIGGER counted AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION count_event(); \
         ALTER TABLE events ENABLE ALWAYS TRIGGER counted;",
    );
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    sql(&source, "UPDATE orders SET amount = 3; INSERT INTO events VALUES (2, 'fires')");
    run_ok(&config, &["dump"]);
    let log = stderr(&run_ok(&config, &["restore", "--jobs", "3", "-v"]));
    assert!(log.contains("changes applied on one connection: a trigger or rule"), "{log}");
    let after_trigger = fresh_full_copy(&source, &transformers);
    assert_identical(&after_trigger, &target).await;

    drop_slot(&source, &config).await;
    for db in [&target, &reference, &after_trigger] {
        drop_database(db).await;
    }
}
