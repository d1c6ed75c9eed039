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

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
# Two test threads: the machine has two cores, and every integration test
# also drives PostgreSQL.
cargo test --quiet -- --test-threads=2 "$@"
