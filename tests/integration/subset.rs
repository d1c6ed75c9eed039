//! Subsets: some rows, and every row they need; foreign keys still hold.

use super::harness::*;

/// Restores with `subset` (YAML lines under `source:`) and returns the
/// destination's name.
async fn restore_subset(source: &str, subset: &str) -> String {
    let target = unique_name("subset_dst");
    let ws = Workspace::new();
    let config = ws.config(source, &target, subset);
    run_ok(&config, &["dump"]);
    // The restore creates every foreign key as it was: it fails if one does
    // not hold.
    run_ok(&config, &["restore"]);
    target
}

async fn scalar(database: &str, sql: &str) -> i64 {
    server().connect(database).await.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenth_of_the_customers_with_their_orders_keeps_every_key_valid() {
    let source = unique_name("subset_shop");
    load_fixture(&source, "sample.sql").await;
    let target = restore_subset(
        &source,
        "  subset:\n    - table: public.customers\n      percent: 10\n      follow_children: true\n",
    )
    .await;
    let customers = scalar(&target, "SELECT count(*) FROM customers").await;
    assert!((120..=280).contains(&customers), "about 10% of 2000 customers, got {customers}");
    let orders = scalar(&target, "SELECT count(*) FROM orders").await;
    let expected =
        scalar(&target, "SELECT count(*) FROM orders o WHERE o.customer_id IN (SELECT id FROM customers)").await;
    assert_eq!(orders, expected);
    assert!(orders > 0, "the chosen customers' orders are followed");
    let in_source: i64 = {
        let ids: Vec<i32> = server()
            .connect(&target)
            .await
            .query("SELECT id FROM customers", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        server()
            .connect(&source)
            .await
            .query_one("SELECT count(*) FROM orders WHERE customer_id = ANY($1)", &[&ids])
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(orders, in_source, "every order of a chosen customer is there");
    // Products are not reached: copied whole.
    assert_eq!(
        scalar(&target, "SELECT count(*) FROM products").await,
        scalar(&source, "SELECT count(*) FROM products").await
    );
    assert_eq!(scalar(&target, "SELECT count(*) FROM pg_constraint WHERE contype = 'f'").await, 3);
    drop_database(&source).await;
    drop_database(&target).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn self_references_cycles_and_composite_keys_are_closed() {
    let source = unique_name("subset_graph");
    create_database(&source).await;
    server()
        .connect(&source)
        .await
        .batch_execute(
            "CREATE TABLE employees (id int PRIMARY KEY, manager_id int REFERENCES employees); \
             INSERT INTO employees SELECT g, CASE WHEN g > 1 THEN g / 2 END FROM generate_series(1, 1000) g; \
             CREATE TABLE a (id int PRIMARY KEY, b_id int); \
             CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a); \
             ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b; \
             INSERT INTO a SELECT g, NULL FROM generate_series(1, 100) g; \
             INSERT INTO b SELECT g, 101 - g FROM generate_series(1, 100) g; \
             UPDATE a SET b_id = (id % 100) + 1; \
             CREATE TABLE region (country text, code int, PRIMARY KEY (country, code)); \
             CREATE TABLE shop (id int PRIMARY KEY, country text, code int, FOREIGN KEY (country, code) REFERENCES region); \
             INSERT INTO region SELECT c, n FROM unnest(ARRAY['fr', 'de']) c, generate_series(1, 50) n; \
             INSERT INTO shop SELECT g, CASE WHEN g % 2 = 0 THEN 'fr' ELSE 'de' END, g % 50 + 1 FROM generate_series(1, 200) g;",
        )
        .await
        .unwrap();
    let target = restore_subset(
        &source,
        "  subset_unreached: empty\n  subset:\n    - table: public.employees\n      where: id = 1000\n    - table: public.a\n      where: id = 1\n    - table: public.shop\n      limit: 3\n",
    )
    .await;
    // Employee 1000 and its chain of managers: 1000, 500, 250, 125, 62, 31, 15, 7, 3, 1.
    assert_eq!(scalar(&target, "SELECT count(*) FROM employees").await, 10);
    // a 1 -> b 2 -> a 99 -> b 100 -> a 1: the cycle closes on four rows.
    assert_eq!(scalar(&target, "SELECT count(*) FROM a").await + scalar(&target, "SELECT count(*) FROM b").await, 4);
    // Three shops and the regions their composite keys point to.
    assert_eq!(scalar(&target, "SELECT count(*) FROM shop").await, 3);
    assert_eq!(scalar(&target, "SELECT count(*) FROM region").await, 3);
    drop_database(&source).await;
    drop_database(&target).await;
}

#[test]
fn a_subset_entry_chooses_rows_one_way() {
    let ws = Workspace::new();
    let config =
        ws.config("postgres", "nowhere", "  subset:\n    - table: public.t\n      percent: 10\n      limit: 5\n");
    let out = replibyte(&config, &["dump"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("give exactly one of where, percent, limit"), "{}", stderr(&out));
}
