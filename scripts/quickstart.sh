#!/usr/bin/env bash
# A newcomer's first command: builds replibyte, starts a throwaway
# PostgreSQL, loads the sample shop database from fixtures/, dumps it to a
# local bridge with its personal columns replaced by fakes, restores it
# into a second database, and shows the same rows on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "building replibyte"
replibyte=$(scripts/release.sh)

step "starting a throwaway PostgreSQL (scripts/pg.sh)"
eval "$(scripts/pg.sh start)"
psql=("$REPLIBYTE_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
echo "PostgreSQL on $PGHOST:$PGPORT"

step "loading the sample shop database (fixtures/sample.sql) as quickstart_source"
"$REPLIBYTE_PG_BINDIR/dropdb" --if-exists --force quickstart_source
"$REPLIBYTE_PG_BINDIR/createdb" quickstart_source
"${psql[@]}" -d quickstart_source -f fixtures/sample.sql

work=$(dirname "$(dirname "$replibyte")")/quickstart
mkdir -p "$work"
# The personal columns get realistic fakes (docs/TRANSFORMERS.md); the
# secret makes them the same on every run, and the same value the same
# fake everywhere (an email in two tables stays one email).
cat > "$work/replibyte.yaml" <<YAML
source:
  connection_uri: postgres://$PGUSER:\${PGPASSWORD}@$PGHOST:$PGPORT/quickstart_source
  secret: quickstart-secret-change-me
  transformers:
    - schema: public
      table: customers
      columns:
        - {name: first_name, transformer: first-name}
        - {name: last_name, transformer: last-name}
        - {name: email, transformer: email}
        - {name: phone, transformer: phone-number}
        - {name: birth_date, transformer: random-date}
        - name: address
          transformer: json
          options:
            replace: {street: random, zip: random, geo: random, delivery_notes: redacted}
    - schema: public
      table: orders
      columns:
        - name: shipping_address
          transformer: json
          options:
            replace: {street: random, zip: random, geo: random, delivery_notes: redacted}
bridge:
  type: local
  path: $work/bridge
destination:
  connection_uri: postgres://$PGUSER:\${PGPASSWORD}@$PGHOST:$PGPORT/quickstart_restored
YAML
echo "config: $work/replibyte.yaml"
cat "$work/replibyte.yaml"

step "replibyte dump"
"$replibyte" -c "$work/replibyte.yaml" dump

step "replibyte dump list"
"$replibyte" -c "$work/replibyte.yaml" dump list

step "replibyte restore latest"
"$replibyte" -c "$work/replibyte.yaml" restore latest

step "rows per table: source vs restored"
count_rows() {
  "${psql[@]}" -d "$1" -At -F ' ' -c "SELECT relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', nspname, relname), false, true, '')))[1]::text FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace WHERE relkind = 'r' AND nspname = 'public' ORDER BY relname"
}
paste <(count_rows quickstart_source) <(count_rows quickstart_restored) | awk 'BEGIN { printf "%-14s %10s %10s\n", "table", "source", "restored" } { printf "%-14s %10s %10s\n", $1, $2, $4 }'

step "the same customers: source, then copy"
show_customers() {
  "${psql[@]}" -d "$1" -P footer=off -c "SELECT id, first_name, last_name, email, phone, birth_date, address->>'street' AS street FROM customers ORDER BY id LIMIT 3"
}
show_customers quickstart_source
show_customers quickstart_restored

step "done"
echo "The dump is in $work/bridge; the copy is database quickstart_restored."
echo "Try: $replibyte -c $work/replibyte.yaml dump list --json"
