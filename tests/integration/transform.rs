//! Transformers end to end, on the shop fixture: what is configured
//! changes, nothing else does, nothing original reaches the bridge, a
//! secret makes it repeatable, and a wrong config is refused before any
//! row moves.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::compare::{assert_identical, differences};
use super::harness::*;

const SECRET: &str = "tf-secret-7c1d";

/// The customers transformers, plus the same email and first-name on a
/// second table, and the json edit on orders' copy of the address.
fn transformers(secret: Option<&str>) -> String {
    let secret = secret.map(|s| format!("  secret: {s}\n")).unwrap_or_default();
    let address = "transformer: json\n          options:\n            replace: {street: random, city: random, zip: random, geo: random}";
    format!(
        "{secret}  transformers:
    - database: public
      table: customers
      columns:
        - name: first_name
          transformer: first-name
        - name: last_name
          transformer: last-name
        - name: email
          transformer: email
        - name: phone
          transformer: phone-number
        - name: birth_date
          transformer: random-date
        - name: address
          {address}
    - schema: public
      table: newsletter
      columns:
        - name: email
          transformer: email
        - name: first_name
          transformer: first-name
    - schema: public
      table: orders
      columns:
        - name: shipping_address
          {address}
"
    )
}

/// The shop fixture with a `newsletter` table holding some customers'
/// emails and first names again, so a value present in two tables can be
/// followed.
async fn shop(name: &str) {
    load_fixture(name, "sample.sql").await;
    let client = server().connect(name).await;
    client
        .batch_execute(
            "CREATE TABLE public.newsletter (id serial PRIMARY KEY, email text NOT NULL, first_name text); \
             INSERT INTO public.newsletter (email, first_name) \
               SELECT email, first_name FROM public.customers WHERE id % 3 = 0 ORDER BY id;",
        )
        .await
        .unwrap();
}

/// `id -> row as text` of one query, for comparing databases.
async fn rows(database: &str, sql: &str) -> HashMap<i32, Vec<Option<String>>> {
    let client = server().connect(database).await;
    client.batch_execute("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'").await.unwrap();
    let mut out = HashMap::new();
    for row in client.query(sql, &[]).await.unwrap() {
        let values = (1..row.len()).map(|i| row.get::<_, Option<String>>(i)).collect();
        out.insert(row.get::<_, i32>(0), values);
    }
    out
}

const CUSTOMERS: &str = "SELECT id, first_name, last_name, email, phone, birth_date::text, address::text, \
                         created_at::text FROM public.customers";

/// Every byte the bridge stores, segments decompressed.
fn bridge_bytes(bridge: &Path) -> Vec<u8> {
    let (all, segments) = stored_bytes(bridge);
    assert!(segments >= 5, "expected the shop's segments in {}", bridge.display());
    all
}

/// A text value as a binary COPY field: its length, then its bytes. Short
/// names are searched this way, so "Kim" inside "Kimberly" is no false
/// alarm.
fn field(value: &str) -> Vec<u8> {
    let mut out = (value.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(value.as_bytes());
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn transformed_columns_change_nothing_else_does_and_nothing_leaks() {
    let source = unique_name("tf_src");
    let target = unique_name("tf_dst");
    shop(&source).await;
    let ws = Workspace::new();
    let config = ws.config(&source, &target, &transformers(Some(SECRET)));
    run_ok(&config, &["check"]);
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);

    // The restore built every index, the unique one on the fake emails too.
    let dst = server().connect(&target).await;
    let valid: bool = dst
        .query_one("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.customers_email_key'::regclass", &[])
        .await
        .unwrap()
        .get(0);
    assert!(valid);

    // Schema and every table without transformed columns: identical.
    let diffs = differences(&source, &target).await;
    let transformed = ["r public.customers:", "r public.newsletter:", "r public.orders:"];
    let unexpected: Vec<&String> = diffs.iter().filter(|d| !transformed.iter().any(|t| d.starts_with(t))).collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");

    let before = rows(&source, CUSTOMERS).await;
    let after = rows(&target, CUSTOMERS).await;
    assert_eq!(before.len(), 2000);
    assert_eq!(before.keys().collect::<HashSet<_>>(), after.keys().collect::<HashSet<_>>());
    let mut changed = [0usize; 6];
    let mut not_null = [0usize; 6];
    for (id, old) in &before {
        let new = &after[id];
        for c in 0..6 {
            assert_eq!(old[c].is_none(), new[c].is_none(), "NULL stays NULL, and only NULL: id {id} column {c}");
            if old[c].is_some() {
                not_null[c] += 1;
                changed[c] += usize::from(old[c] != new[c]);
            }
        }
        assert_eq!(old[6], new[6], "created_at is not transformed");
        let email = new[2].as_deref().unwrap();
        assert!(email.contains('@') && [".com", ".net", ".org"].iter().any(|d| email.ends_with(d)), "{email}");
    }
    assert_eq!(changed[2], not_null[2], "every email changed");
    for (c, name) in [(0, "first_name"), (1, "last_name"), (3, "phone"), (4, "birth_date"), (5, "address")] {
        assert!(changed[c] * 100 >= not_null[c] * 99, "{name}: only {} of {} changed", changed[c], not_null[c]);
    }

    // The JSON keeps its shape: edited members change, the others stay.
    let client = server().connect(&target).await;
    let shape: i64 = client
        .query_one(
            "SELECT count(*) FROM public.customers WHERE address IS NOT NULL AND (address->>'country' IS NULL \
             OR jsonb_typeof(address->'geo'->'lat') <> 'number' OR jsonb_typeof(address->'delivery_notes') <> 'array')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(shape, 0);

    // Values present in two tables map to the same fake in both: joins on
    // the transformed columns find the same pairs as in the source.
    let join = "SELECT count(*) FROM public.newsletter n JOIN public.customers c \
                ON c.email = n.email AND c.first_name = n.first_name";
    let shipping = "SELECT count(*) FROM public.orders o JOIN public.customers c ON c.id = o.customer_id \
                    WHERE o.shipping_address = c.address";
    for sql in [join, shipping] {
        let src: i64 = server().connect(&source).await.query_one(sql, &[]).await.unwrap().get(0);
        let dst: i64 = client.query_one(sql, &[]).await.unwrap().get(0);
        assert!(src > 500, "{sql}: {src}");
        assert_eq!(src, dst, "{sql}");
    }
    let other_columns = "SELECT id, customer_id::text, status::text, invoice_number::text, ordered_at::text, note \
                         FROM public.orders";
    assert_eq!(rows(&source, other_columns).await, rows(&target, other_columns).await);

    // The leak test: no original value of a transformed column anywhere in
    // what the bridge stores.
    let stored = bridge_bytes(&ws.bridge_path());
    let fakes: HashSet<String> = after.values().flat_map(|r| [r[0].clone(), r[1].clone()]).flatten().collect();
    let src = server().connect(&source).await;
    let mut needles = Vec::new();
    let sql = "SELECT email, phone, address->>'street', address->>'city' FROM public.customers";
    for row in src.query(sql, &[]).await.unwrap() {
        for i in 0..4 {
            if let Some(value) = row.get::<_, Option<String>>(i) {
                needles.push(if i < 2 { value.into_bytes() } else { format!("\"{value}\"").into_bytes() });
            }
        }
    }
    let sql = "SELECT first_name FROM public.customers UNION SELECT last_name FROM public.customers";
    for row in src.query(sql, &[]).await.unwrap() {
        let value: String = row.get(0);
        // A fake can be another row's original ("Emma" for "Alice"): only
        // names that no fake took are evidence.
        if !fakes.contains(&value) {
            needles.push(field(&value));
        }
    }
    // The search itself must be able to fail: untransformed values are there.
    for untouched in [b"gift wrap, please".to_vec(), field("Deluxe Backpack")] {
        assert!(!found(&stored, &[untouched]).is_empty(), "the leak search finds nothing at all");
    }
    let leaked = found(&stored, &needles);
    assert!(leaked.is_empty(), "original values found in the bridge: {leaked:?}");
    let searched = needles.len();
    assert!(searched > 5000, "searched only {searched} values");

    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_makes_dumps_repeatable_and_another_secret_changes_them() {
    let source = unique_name("tf_det_src");
    let (first, again, other) = (unique_name("tf_det_a"), unique_name("tf_det_b"), unique_name("tf_det_c"));
    shop(&source).await;
    for (target, secret) in [(&first, SECRET), (&again, SECRET), (&other, "another-secret")] {
        let ws = Workspace::new();
        let config = ws.config(&source, target, &transformers(Some(secret)));
        let dump_id = stdout(&run_ok(&config, &["dump"]));
        run_ok(&config, &["restore"]);
        let manifest = std::fs::read_to_string(ws.bridge_path().join(&dump_id).join("manifest.json")).unwrap();
        let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        let fingerprint = manifest["transformers_fingerprint"].as_str().unwrap();
        assert!(fingerprint.starts_with("blake3:"), "{fingerprint}");
        assert!(!manifest.to_string().contains(secret), "the secret reached the manifest");
    }
    assert_identical(&first, &again).await;
    let (a, c) = (rows(&first, CUSTOMERS).await, rows(&other, CUSTOMERS).await);
    let same_email = a.iter().filter(|(id, r)| r[2] == c[*id][2]).count();
    assert_eq!(same_email, 0, "another secret gives other emails");

    for name in [&source, &first, &again, &other] {
        drop_database(name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_config_is_refused_with_its_lines_before_any_row_moves() {
    let source = unique_name("tf_chk_src");
    shop(&source).await;
    let client = server().connect(&source).await;
    client
        .batch_execute(
            "CREATE TABLE public.codes (id int PRIMARY KEY, code varchar(8) NOT NULL, small int2, \
               label text CHECK (label LIKE 'L-%')); \
             INSERT INTO public.codes SELECT g, 'c' || g, g, 'L-' || g FROM generate_series(1, 20) g; \
             CREATE TABLE public.acl (id int, grants aclitem, note text); \
             CREATE TABLE public.events (id int, at date, who text) PARTITION BY RANGE (at); \
             CREATE TABLE public.events_2020 PARTITION OF public.events FOR VALUES FROM ('2020-01-01') TO ('2021-01-01'); \
             CREATE TABLE public.events_2021 PARTITION OF public.events FOR VALUES FROM ('2021-01-01') TO ('2022-01-01'); \
             INSERT INTO public.events SELECT g, date '2020-06-01' + g * 30, 'who ' || g FROM generate_series(1, 12) g;",
        )
        .await
        .unwrap();
    let ws = Workspace::new();
    let bad = "  transformers:
    - database: public
      table: customers
      columns:
        - name: first_name
          transformer: frist-name
        - name: emial
          transformer: email
        - name: email
          transformer: first-name
        - name: birth_date
          transformer: email
        - name: last_name
          transformer: 'null'
    - database: public
      table: codes
      columns:
        - name: code
          transformer: email
        - name: small
          transformer: random-int
          options:
            max: 100000
        - name: label
          transformer: redacted
    - database: public
      table: custmers
      columns:
        - name: x
          transformer: transient
    - database: public
      table: acl
      columns:
        - name: note
          transformer: redacted
";
    let config = ws.config(&source, "unused", bad);
    let out = replibyte(&config, &["check"]).output().unwrap();
    assert!(!out.status.success());
    let report = stdout(&out);
    let file = config.display().to_string();
    let expected = [
        (8, "unknown transformer `frist-name`; did you mean `first-name`?"),
        (9, "column public.customers.emial does not exist (or is generated); did you mean `email`?"),
        (12, "is under a unique index or primary key, but transformer `first-name` cannot keep its values unique"),
        (14, "is of type date, which transformer `email` cannot write; it accepts text, varchar, bpchar"),
        (16, "is NOT NULL, but transformer `null` can write NULL"),
        (21, "is character varying(8) (at most 8 characters), but transformer `email` writes up to"),
        (25, "max 100000 is out of range for int2"),
        (27, "transformer `redacted` breaks CHECK constraint codes_label_check"),
        (29, "table public.custmers does not exist in the source; did you mean `public.customers`?"),
        (34, "is copied in text format"),
    ];
    for (line, message) in expected {
        let wanted = format!("{file}:{line}: ");
        assert!(
            report.lines().any(|l| l.starts_with(&wanted) && l.contains(message)),
            "expected {wanted}…{message} in:\n{report}"
        );
    }
    let problems = report.lines().filter(|l| l.starts_with(&format!("{file}:"))).count();
    assert_eq!(problems, expected.len(), "{report}");
    assert!(report.contains("public.customers"), "check also estimates the scope:\n{report}");
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{} transformer problem(s)", expected.len())), "{err}");

    // A dump with the same config stops before storing anything.
    let out = replibyte(&config, &["dump"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("transformers: 10 problems: "), "{}", stderr(&out));
    assert!(files_under(&ws.bridge_path()).iter().all(|p| !p.to_string_lossy().ends_with(".zst")));

    // A partitioned table's transformers apply to every partition.
    let target = unique_name("tf_chk_dst");
    let good = "  transformers:
    - database: public
      table: events
      columns:
        - name: who
          transformer: hash
          options: {length: 16}
";
    let config = ws.config(&source, &target, good);
    assert!(stdout(&run_ok(&config, &["check"])).contains("OK"));
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    let whos = rows(&target, "SELECT id, who FROM public.events").await;
    assert_eq!(whos.len(), 12);
    assert!(whos.values().all(|r| r[0].as_ref().is_some_and(|w| w.len() == 16 && !w.starts_with("who"))));

    drop_database(&source).await;
    drop_database(&target).await;
}

#[test]
fn transformer_list_needs_no_config() {
    let output =
        std::process::Command::new(env!("CARGO_BIN_EXE_replibyte")).args(["transformer", "list"]).output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for name in [
        "random-date",
        "first-name",
        "email",
        "credit-card",
        "keep-first-char",
        "redacted",
        "transient",
        "json",
        "dictionary",
    ] {
        assert!(text.contains(&format!("\n{name}\n")) || text.starts_with(&format!("{name}\n")), "{name} missing");
    }
}
