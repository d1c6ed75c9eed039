#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and integration tests
# against real services that this script starts (idempotent: running
# services are reused).
#
#   scripts/test.sh            everything
#   scripts/test.sh NAME       only tests whose name contains NAME
set -euo pipefail
cd "$(dirname "$0")/.."

# A second server, for copies between servers.
export REPLIBYTE_SECOND_PGPORT=25330
scripts/pg.sh start "$REPLIBYTE_SECOND_PGPORT" >/dev/null
eval "$(scripts/pg.sh start)"
eval "$(scripts/s3.sh start)"

# One server per other supported major (binaries fetched and cached by
# pg-major.sh), for the version matrix; pg_dump/psql 18 is the referee for
# every major.
majors="15=$PGPORT"
for major in 13 14 16 17 18; do
  port=$((25300 + major))
  PG_BINDIR=$(scripts/pg-major.sh "$major") scripts/pg.sh start "$port" >/dev/null
  majors="$majors $major=$port"
done
export REPLIBYTE_MAJOR_PORTS=$majors
REPLIBYTE_REFEREE_BINDIR=$(scripts/pg-major.sh referee)
export REPLIBYTE_REFEREE_BINDIR

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
# Two test threads: the machine has two cores, and every integration test
# also drives PostgreSQL.
cargo test --quiet -- --test-threads=2 "$@"

# The quickstart as a newcomer runs it, with cargo building somewhere else
# than ./target (a common CARGO_TARGET_DIR): it must find its binary, and
# the copy's customers must show none of the source's names and emails.
echo "== scripts/quickstart.sh (CARGO_TARGET_DIR=target/elsewhere)"
if [ $# -eq 0 ]; then
  quickstart=$(CARGO_TARGET_DIR=$PWD/target/elsewhere scripts/quickstart.sh 2>&1) || { echo "$quickstart"; exit 1; }
  rows=$(echo "$quickstart" | sed -n '/the same customers: source, then copy/,/== done/p')
  source_rows=$(echo "$rows" | awk '/^ *id *\|/ { table++ } table == 1 && /^ *[0-9]+ *\|/')
  copy_rows=$(echo "$rows" | awk '/^ *id *\|/ { table++ } table == 2 && /^ *[0-9]+ *\|/')
  [ "$(echo "$source_rows" | grep -c .)" = 3 ] && [ "$(echo "$copy_rows" | grep -c .)" = 3 ] \
    || { echo "quickstart: expected 3 customers on each side:"; echo "$rows"; exit 1; }
  # Row by row (same ids): the email and the full name changed. (A fake
  # first or last name alone may happen to equal the original.)
  changed=$(paste -d '\n' <(echo "$source_rows") <(echo "$copy_rows") | awk -F'|' '
    NR % 2 == 1 { id = $1; name = $2 $3; email = $4; next }
    $1 == id && $2 $3 != name && $4 != email { n++ } END { print n + 0 }')
  [ "$changed" = 3 ] || { echo "quickstart: the copy shows source values:"; echo "$rows"; exit 1; }
  echo "quickstart: ok"
fi
