-- The incremental benchmark's changes: about 1 % of the rows of the
-- generated database (scale 1), in three transactions.
\set ON_ERROR_STOP 1
-- 20,000 customers updated, transformed columns included.
UPDATE customers SET email = 'changed.' || id || '@example.com', phone = '+1-555-0000000', last_name = last_name || '-Smith'
WHERE id % 100 = 7;
-- 30,000 orders inserted.
INSERT INTO orders (id, customer_id, amount, status, ordered_at)
SELECT 10000000 + g, 1 + (g * 7919) % 2000000, (g % 1000) / 10.0, 'new', timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
FROM generate_series(1, 30000) g;
-- 10,000 deleted.
DELETE FROM orders WHERE id % 300 = 11;
