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
export REPLIBYTE_SECOND_PGPORT=54330
scripts/pg.sh start "$REPLIBYTE_SECOND_PGPORT" >/dev/null
eval "$(scripts/pg.sh start)"
eval "$(scripts/s3.sh start)"

# One server per other supported major (binaries fetched and cached by
# pg-major.sh), for the version matrix; pg_dump/psql 18 is the referee for
# every major.
majors="15=$PGPORT"
for major in 13 14 16 17 18; do
  port=$((54300 + major))
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
