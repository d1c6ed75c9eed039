#!/usr/bin/env bash
# The baseline a dump tool is measured against: each table, one after the
# other, `COPY … TO STDOUT (FORMAT binary)` piped into `zstd -1`.
#   copy-zstd.sh DATABASE OUT_DIR TABLE...
set -euo pipefail
db=$1 dir=$2; shift 2
for t in "$@"; do
  "$REPLIBYTE_PG_BINDIR/psql" -X -q -d "$db" -c "COPY $t TO STDOUT (FORMAT binary)" | zstd -1 -q -T1 > "$dir/$t.zst"
done
