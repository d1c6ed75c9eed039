#!/usr/bin/env bash
# A newcomer's first command: builds replibyte, starts a throwaway
# PostgreSQL, loads the sample shop database from fixtures/, dumps it to a
# local bridge, restores it into a second database, and shows what happened.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "building replibyte"
cargo build --release --quiet
replibyte=$PWD/target/release/replibyte

step "starting a throwaway PostgreSQL (scripts/pg.sh)"
eval "$(scripts/pg.sh start)"
psql=("$REPLIBYTE_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
echo "PostgreSQL on $PGHOST:$PGPORT"

step "loading the sample shop database (fixtures/sample.sql) as quickstart_source"
"$REPLIBYTE_PG_BINDIR/dropdb" --if-exists --force quickstart_source
"$REPLIBYTE_PG_BINDIR/createdb" quickstart_source
"${psql[@]}" -d quickstart_source -f fixtures/sample.sql

work=$PWD/target/quickstart
mkdir -p "$work"
cat > "$work/replibyte.yaml" <<YAML
source:
  connection_uri: postgres://$PGUSER:\${PGPASSWORD}@$PGHOST:$PGPORT/quickstart_source
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

step "done"
echo "The dump is in $work/bridge; the copy is database quickstart_restored."
echo "Try: $replibyte -c $work/replibyte.yaml dump list --json"
