-- The benchmark database: PII-heavy customers, orders with a foreign key,
-- narrow measurements, and one table much larger than the rest.
-- psql -v scale=1 (about 1 GB of table data per unit of scale).
-- Deterministic: no random(), values derive from the row number.
\set ON_ERROR_STOP 1
SET synchronous_commit = off;
SELECT 2000000 * :scale AS customers, 3000000 * :scale AS orders,
       2000000 * :scale AS measurements, 3500000 * :scale AS events \gset

CREATE TABLE customers (
    id          bigint PRIMARY KEY,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL UNIQUE,
    phone       text,
    birth_date  date,
    address     jsonb,
    created_at  timestamptz NOT NULL
);
INSERT INTO customers
SELECT g,
       (ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth',
              'William','Barbara','Richard','Susan','Joseph','Jessica','Thomas','Sarah','Charles','Karen'])[1 + g % 20],
       (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez',
              'Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas','Taylor','Moore','Jackson','Martin'])[1 + (g / 20) % 20],
       'customer.' || g || '@example.com',
       '+1-555-' || lpad((g % 10000000)::text, 7, '0'),
       date '1950-01-01' + (g % 20000),
       jsonb_build_object('street', (g % 9999) || ' Main Street', 'city',
                          (ARRAY['Springfield','Riverside','Franklin','Greenville','Bristol'])[1 + g % 5],
                          'zip', lpad((g % 99999)::text, 5, '0'), 'geo', jsonb_build_array(g % 90, g % 180)),
       timestamptz '2020-01-01 00:00:00+00' + g * interval '17 seconds'
FROM generate_series(1, :customers) g;

CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers,
    amount      numeric(12, 2) NOT NULL,
    status      text NOT NULL,
    ordered_at  timestamptz NOT NULL
);
INSERT INTO orders
SELECT g, 1 + (g::bigint * 7919) % :customers, ((g % 100000) / 100.0)::numeric(12, 2),
       (ARRAY['new','paid','shipped','delivered','returned'])[1 + g % 5],
       timestamptz '2021-01-01 00:00:00+00' + g * interval '11 seconds'
FROM generate_series(1, :orders) g;
CREATE INDEX orders_customer_id ON orders (customer_id);

CREATE TABLE measurements (
    id      bigint PRIMARY KEY,
    sensor  integer NOT NULL,
    value   double precision NOT NULL
);
INSERT INTO measurements SELECT g, g % 1000, (g % 100003) * 0.25 FROM generate_series(1, :measurements) g;

CREATE TABLE events (
    id          bigint PRIMARY KEY,
    kind        text NOT NULL,
    payload     text NOT NULL,
    created_at  timestamptz NOT NULL
);
INSERT INTO events
SELECT g, (ARRAY['click','view','purchase','signup','logout'])[1 + g % 5],
       'session=' || md5(g::text) || ';agent=Mozilla/5.0 (X11; Linux x86_64);path=/products/' || (g % 5000),
       timestamptz '2022-01-01 00:00:00+00' + g * interval '3 seconds'
FROM generate_series(1, :events) g;

VACUUM ANALYZE;
