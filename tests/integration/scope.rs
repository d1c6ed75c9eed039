//! What a dump carries: several databases, roles, chosen tables.

use super::compare::{assert_identical, differences_between};
use super::harness::*;

#[tokio::test(flavor = "multi_thread")]
async fn several_databases_and_their_roles_move_to_another_server() {
    let first = unique_name("multi_a");
    let second = unique_name("multi_b");
    load_fixture(&first, "every_feature.sql").await;
    load_fixture(&second, "sample.sql").await;
    let (here, there) = (server(), second_server());
    let admin_there = there.connect("postgres").await;
    // The fixture's roles must come from the dump, not from an earlier run.
    let _ = admin_there.batch_execute("DROP ROLE IF EXISTS replibyte_fixture_reader, replibyte_fixture_writer").await;
    let ws = Workspace::new();
    let config = ws.write(
        "multi.yaml",
        &format!(
            "source:\n  connection_uri: {}\n  databases: [{first}, {second}]\n  globals: true\nbridge:\n  type: local\n  path: {}\ndestination:\n  connection_uri: {}\n",
            here.uri("postgres"),
            ws.bridge_path().display(),
            there.uri("postgres"),
        ),
    );
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    // The fixture's grants name its roles: identical schemas prove the
    // roles were created on the second server.
    for db in [&first, &second] {
        let diffs = differences_between(&here, db, &there, db).await;
        assert!(diffs.is_empty(), "{db} differs on the second server:\n{}", diffs.join("\n"));
    }
    for db in [&first, &second] {
        drop_database(db).await;
        admin_there.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_can_be_restored_under_another_name() {
    let source = unique_name("renamed_src");
    let target = unique_name("renamed_dst");
    load_fixture(&source, "sample.sql").await;
    let ws = Workspace::new();
    let s = server();
    let config = ws.write(
        "rename.yaml",
        &format!(
            "source:\n  connection_uri: {}\n  databases: [{source}]\nbridge:\n  type: local\n  path: {}\ndestination:\n  connection_uri: {}\n  database_names: {{{source}: {target}}}\n",
            s.uri("postgres"),
            ws.bridge_path().display(),
            s.uri("postgres"),
        ),
    );
    run_ok(&config, &["dump"]);
    run_ok(&config, &["restore"]);
    assert_identical(&source, &target).await;
    drop_database(&source).await;
    drop_database(&target).await;
}

/// `(tables, views, foreign keys)` of `database`'s public schema, sorted.
async fn shape(database: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let client = server().connect(database).await;
    let names = |sql: &'static str| {
        let client = &client;
        async move { client.query(sql, &[]).await.unwrap().iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>() }
    };
    (
        names("SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1").await,
        names("SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'v' ORDER BY 1").await,
        names("SELECT conname::text FROM pg_constraint WHERE contype = 'f' ORDER BY 1").await,
    )
}

async fn count(database: &str, table: &str) -> i64 {
    server()
        .connect(database)
        .await
        .query_one(&format!("SELECT count(*) FROM public.{table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_skip_and_skip_data_choose_exactly_their_tables_and_rows() {
    let source = unique_name("scope_src");
    load_fixture(&source, "sample.sql").await;
    let scoped = |extra: &str, target: &str| {
        let ws = Workspace::new();
        let config = ws.config(&source, target, extra);
        run_ok(&config, &["dump"]);
        run_ok(&config, &["restore"]);
        ws
    };

    // `check` lists what a dump would carry, with estimates.
    let ws = Workspace::new();
    let config = ws.config(&source, "never", "  only_tables: [public.orders, public.cust*]\n");
    let report = stdout(&run_ok(&config, &["check"]));
    assert!(report.contains("public.orders") && report.contains("public.customers"), "{report}");
    assert!(!report.contains("public.products") && report.contains("2 tables, about"), "{report}");

    let only = unique_name("scope_only");
    let _ws = scoped("  only_tables: [public.orders, public.cust*]\n", &only);
    let (tables, views, keys) = shape(&only).await;
    assert_eq!(tables, vec!["customers", "orders"]);
    assert!(views.is_empty(), "{views:?}");
    assert_eq!(keys, vec!["orders_customer_id_fkey"]);
    assert_eq!(count(&only, "orders").await, count(&source, "orders").await);

    let skip = unique_name("scope_skip");
    let _ws = scoped("  skip_tables: [public.order_items]\n", &skip);
    let (tables, views, keys) = shape(&skip).await;
    assert_eq!(tables, vec!["customers", "orders", "products"]);
    assert_eq!(views, vec!["customer_order_stats"], "views on order_items go with it");
    assert_eq!(keys, vec!["orders_customer_id_fkey"]);

    let no_rows = unique_name("scope_nodata");
    let _ws = scoped("  skip_data: [public.order_items, public.orders]\n", &no_rows);
    let (tables, _, keys) = shape(&no_rows).await;
    assert_eq!(tables, vec!["customers", "order_items", "orders", "products"]);
    assert_eq!(keys.len(), 3);
    assert_eq!(count(&no_rows, "orders").await, 0);
    assert_eq!(count(&no_rows, "order_items").await, 0);
    assert_eq!(count(&no_rows, "customers").await, count(&source, "customers").await);

    // Leaving the rows of a referenced table behind would break a key.
    let ws = Workspace::new();
    let config = ws.config(&source, "never", "  skip_data: [public.customers]\n");
    let out = replibyte(&config, &["dump"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("add \"public\".\"orders\" to skip_data"), "{}", stderr(&out));

    for db in [&source, &only, &skip, &no_rows] {
        drop_database(db).await;
    }
}
