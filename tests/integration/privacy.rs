//! The privacy guard: `scan` finds personal data from the values (and
//! nothing in harmless columns with personal-sounding names), a dump with
//! `unmasked_pii: fail` refuses what has no transformer, `scan --suggest`
//! fixes that, and foreign keys keep matching under transformed keys.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;

use super::harness::*;

/// What the privacy fixture hides, and where: `(table, column, path, category)`.
const SENSITIVE: &[(&str, &str, &str, &str)] = &[
    ("accounts", "contact", "", "email"),
    ("accounts", "reach", "", "phone"),
    ("accounts", "display", "", "person-name"),
    ("accounts", "d1", "", "date-of-birth"),
    ("accounts", "location", "", "postal-address"),
    ("accounts", "tax_ref", "", "national-id"),
    ("accounts", "pay_ref", "", "payment-card"),
    ("accounts", "bank_ref", "", "iban"),
    ("accounts", "last_seen_from", "", "ip-address"),
    ("accounts", "remarks", "", "free-text"),
    ("accounts", "profile", "contact.mail", "email"),
    ("accounts", "profile", "contact.cell", "phone"),
    ("events", "origin", "", "ip-address"),
];

fn findings(config: &std::path::Path) -> BTreeSet<(String, String, String, String)> {
    let output = run_ok(config, &["scan", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("scan --json is JSON");
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["schema"], "crm");
            assert!(f["evidence"].as_str().unwrap().contains(" sampled "), "{f}");
            assert!(f["transformer"].is_string() && f["confidence"].is_string() && f["transformed"].is_boolean());
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("table"), text("column"), text("path"), text("category"))
        })
        .collect()
}

/// A few of the fixture's original values, to search for where they must
/// not be.
async fn originals(database: &str) -> Vec<String> {
    let client = server().connect(database).await;
    let row = client
        .query_one(
            "SELECT contact, reach, display, tax_ref, pay_ref, bank_ref, last_seen_from, location, \
                    profile #>> '{contact,cell}', remarks FROM crm.accounts WHERE id = 10",
            &[],
        )
        .await
        .unwrap();
    (0..10).map(|i| row.get::<_, String>(i)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_finds_every_sensitive_column_and_no_harmless_one() {
    let source = unique_name("privacy_scan");
    load_fixture(&source, "privacy.sql").await;
    let ws = Workspace::new();
    let config = ws.config(&source, "unused", "");
    let expected: BTreeSet<(String, String, String, String)> =
        SENSITIVE.iter().map(|(t, c, p, k)| (t.to_string(), c.to_string(), p.to_string(), k.to_string())).collect();
    assert_eq!(findings(&config), expected);
    // People read a table; no value is ever shown.
    let output = run_ok(&config, &["scan"]);
    let shown = format!("{}{}", stdout(&output), stderr(&output));
    assert!(shown.contains("crm.accounts.tax_ref") && shown.contains("social security numbers"), "{shown}");
    for value in originals(&source).await {
        assert!(!shown.contains(&value), "scan shows a value: {value}");
    }
    drop_database(&source).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unmasked_columns_stop_the_dump_and_the_suggestion_fixes_it() {
    let source = unique_name("privacy_fail");
    load_fixture(&source, "privacy.sql").await;
    let ws = Workspace::new();
    let strict = ws.config(&source, "unused", "  unmasked_pii: fail\n");
    let output = replibyte(&strict, &["dump"]).output().unwrap();
    assert_fails_with(&output, "has no transformer", &server().password);
    assert!(stderr(&output).contains("crm.accounts.") && stderr(&output).contains("more: `replibyte scan` lists them"));
    assert!(files_under(&ws.bridge_path()).iter().all(|p| !p.ends_with("manifest.json")), "nothing stored");

    let suggestion = String::from_utf8(run_ok(&strict, &["scan", "--suggest"]).stdout).unwrap();
    let fixed = ws.config(&source, "unused", &format!("  unmasked_pii: fail\n  secret: privacy-secret\n{suggestion}"));
    run_ok(&fixed, &["dump"]);
    let (stored, _) = stored_bytes(&ws.bridge_path());
    let needles: Vec<Vec<u8>> = originals(&source).await.into_iter().map(String::into_bytes).collect();
    assert_eq!(found(&stored, &needles), Vec::<String>::new(), "original values in the bridge");

    // A column added since the last dump is scanned like the others.
    server().psql(
        &source,
        &[OsStr::new("-c"), OsStr::new("ALTER TABLE crm.accounts ADD COLUMN spare text; UPDATE crm.accounts SET spare = 'alt' || id || '@mail.example.com'")],
    );
    let output = replibyte(&fixed, &["dump"]).output().unwrap();
    assert_fails_with(&output, "column crm.accounts.spare looks like email", &server().password);
    drop_database(&source).await;
}

async fn pagila(name: &str) {
    create_database(name).await;
    for file in ["pagila/schema.sql", "pagila/data.sql"] {
        server().psql(name, &[OsStr::new("-f"), fixture(file).as_os_str()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_transformed_on_one_side_only_is_refused() {
    let source = unique_name("privacy_fk");
    pagila(&source).await;
    let ws = Workspace::new();
    let extra = "  secret: s\n  transformers:\n    - schema: public\n      table: customer\n      columns:\n        - name: customer_id\n          transformer: pseudonym\n";
    let config = ws.config(&source, "unused", extra);
    let output = replibyte(&config, &["check"]).output().unwrap();
    let report = stdout(&output);
    assert!(!output.status.success());
    assert!(
        report.contains("public.rental.customer_id references public.customer.customer_id")
            && report.contains("follow_references: true"),
        "{report}"
    );
    drop_database(&source).await;
}

/// Customers, pseudonymized, each with its rentals and payments.
async fn rentals_by_email(database: &str) -> BTreeMap<String, (i64, i64)> {
    let client = server().connect(database).await;
    let rows = client
        .query(
            "SELECT c.email, (SELECT count(*) FROM public.rental r WHERE r.customer_id = c.customer_id), \
                    (SELECT count(*) FROM public.payment p WHERE p.customer_id = c.customer_id) FROM public.customer c",
            &[],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pseudonymized_customer_ids_are_followed_by_rentals_and_payments() {
    let source = unique_name("privacy_pseudo_src");
    let target = unique_name("privacy_pseudo_dst");
    pagila(&source).await;
    let ws = Workspace::new();
    let extra = "  secret: s\n  transformers:\n    - schema: public\n      table: customer\n      columns:\n        - name: customer_id\n          transformer: pseudonym\n          follow_references: true\n";
    let config = ws.config(&source, &target, extra);
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    let client = server().connect(&target).await;
    let unvalidated: i64 = client
        .query_one("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unvalidated, 0, "every foreign key is created and validated");
    let same: i64 = client
        .query_one("SELECT count(*) FROM public.customer WHERE customer_id IN (SELECT generate_series(1, 1000))", &[])
        .await
        .unwrap()
        .get(0);
    assert!(same < 10, "customer ids are pseudonyms ({same} kept their id)");
    let before = rentals_by_email(&source).await;
    assert_eq!(before.len(), 599);
    assert_eq!(rentals_by_email(&target).await, before, "each customer keeps its rentals and payments");
    drop(client);
    drop_database(&source).await;
    drop_database(&target).await;
}
