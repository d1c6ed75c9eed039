#!/usr/bin/env bash
# End-to-end benchmark: replibyte against pg_dump/pg_restore, plain
# `COPY … (FORMAT binary) | zstd -1` and pgcopydb, on one generated database,
# in one run, on this machine.
#
#   scripts/bench.sh [SCALE] [JOBS]     SCALE 1 ≈ 1 GB of table data (default 1)
#   ONLY_REPLIBYTE=1 scripts/bench.sh 5  replibyte alone (a large scale's memory
#                                        figures without the disk the others need)
#   RUNS=1 scripts/bench.sh             one run per tool instead of the median of 3
#   NO_S3=1 scripts/bench.sh            without the S3 runs (SeaweedFS is started
#                                        on loopback by scripts/s3.sh otherwise)
#   NO_INCREMENTAL=1, NO_SCAN=1          without the incremental or privacy-scan runs
#
# Prints wall time, CPU seconds (user+sys of the client process tree: the
# server's own work is not counted for any tool), peak RSS and stored bytes
# per tool, with ratios to replibyte, and writes them to
# target/bench/results-SCALE.md. The database is generated once per scale
# and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-1}
jobs=${2:-2}
RUNS=${RUNS:-3}
out=target/bench
mkdir -p "$out"
out=$(cd "$out" && pwd)

eval "$(scripts/pg.sh start)"
bin=$REPLIBYTE_PG_BINDIR
psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1)
source_db=bench_$scale

echo "== building replibyte (release)" >&2
replibyte=$(scripts/release.sh)

if ! "${psql[@]}" -d "$source_db" -At -c "SELECT 1 FROM events LIMIT 1" >/dev/null 2>&1; then
  echo "== generating $source_db (scale $scale)" >&2
  "$bin/dropdb" --if-exists "$source_db"
  "$bin/createdb" "$source_db"
  "${psql[@]}" -d "$source_db" -v scale="$scale" -f scripts/bench/generate.sql
fi
size=$("${psql[@]}" -d "$source_db" -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
tables=$("${psql[@]}" -d "$source_db" -At -c "SELECT string_agg(quote_ident(relname), ' ') FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
echo "== source $source_db: $size" >&2

uri() { echo "postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$1"; }
fresh_db() { "$bin/dropdb" --if-exists --force "$1"; "$bin/createdb" "$1"; }

results=$out/results-$scale.tsv
: > "$results"
# servers: the ports of the servers a run touches (the incremental runs add
# the second server their copies go to).
servers=("$PGPORT")
# quiet_autovacuum: waits (up to 10 minutes) until no autovacuum worker runs
# on any of them. A restored database is vacuumed and analyzed by autovacuum
# within a minute, for half a minute of one of the two cores: a tool timed
# then would pay for the tool before it. Restored databases are also dropped
# as soon as their tool is measured, so there is nothing left for autovacuum
# to start on.
quiet_autovacuum() {
  local waited=0 port
  for port in "${servers[@]}"; do
    while [ "$("${psql[@]}" -p "$port" -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" != 0 ]; do
      [ "$waited" -ge 600 ] && { echo "== autovacuum still busy after 600 s; measuring anyway" >&2; return 0; }
      sleep 1; waited=$((waited + 1))
    done
  done
}

# measure_once NAME STORED_PATH PREPARE COMMAND...: runs PREPARE (shell code
# that resets what COMMAND writes, or :) then COMMAND under GNU time, and
# appends the run to the results (the summary below takes, per tool, the
# run of median wall time, and the highest peak RSS of all its runs). A run
# on this shared machine varies by 10-15 %; the median of three does not
# hang a ratio on one lucky or unlucky run.
measure_once() {
  local name=$1 stored=$2 prepare=$3; shift 3
  local t; t=$(mktemp)
  eval "$prepare"
  # Every tool starts from the same state: no dirty pages, no pending
  # checkpoint, no autovacuum worker left busy by the one before.
  sync; for port in "${servers[@]}"; do "${psql[@]}" -p "$port" -d postgres -c CHECKPOINT; done
  quiet_autovacuum; echo "-- $name" >&2
  if ! /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" >/dev/null 2>"$out/$name.log"; then
    echo "$name failed: $(tail -3 "$out/$name.log")" >&2; rm -f "$t"; return 1
  fi
  local wall user sys rss bytes=-
  read -r wall user sys rss < <(tail -1 "$t")
  [ -n "$stored" ] && [ -e "$stored" ] && bytes=$(du -sb "$stored" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$rss" "$bytes" >> "$results"
  rm -f "$t"
}

# measure NAME STORED_PATH PREPARE COMMAND...: measure_once, RUNS times (a
# failing run ends the tool's runs; the others go on).
measure() {
  for _ in $(seq "$RUNS"); do measure_once "$@" || return 0; done
}

config=$out/bench.yaml
cat > "$config" <<YAML
source:
  connection_uri: $(uri "$source_db")
bridge:
  type: local
  path: $out/bridge
destination:
  connection_uri: $(uri "${source_db}_replibyte")
YAML
measure "replibyte dump -j1" "$out/bridge" 'rm -rf "$out/bridge"' "$replibyte" -c "$config" dump --jobs 1
# The dump with -j$jobs, and the same with six PII columns of customers
# transformed (issue 4).
transformed=$out/bench-transformed.yaml
sed "s|^bridge:|  secret: bench-secret\n  transformers:\n    - schema: public\n      table: customers\n      columns:\n        - {name: first_name, transformer: first-name}\n        - {name: last_name, transformer: last-name}\n        - {name: email, transformer: email}\n        - {name: phone, transformer: phone-number}\n        - {name: birth_date, transformer: random-date}\n        - {name: address, transformer: json, options: {replace: {street: random, zip: random}}}\nbridge:|; s|path: $out/bridge|path: $out/bridge-transformed|" "$config" > "$transformed"
# The plain and transformed dumps take turns, so that the ratio of their
# medians does not hang on the machine being busier for one of them.
for _ in $(seq "$RUNS"); do
  measure_once "replibyte dump -j$jobs" "$out/bridge" 'rm -rf "$out/bridge"' "$replibyte" -c "$config" dump --jobs "$jobs" || true
  measure_once "replibyte dump -j$jobs, 6 columns transformed" "$out/bridge-transformed" 'rm -rf "$out/bridge-transformed"' "$replibyte" -c "$transformed" dump --jobs "$jobs" || true
done

measure "replibyte restore -j$jobs" "" '"$bin/dropdb" --if-exists --force "${source_db}_replibyte"' "$replibyte" -c "$config" restore --jobs "$jobs"
"$bin/dropdb" --if-exists --force "${source_db}_replibyte"

# The S3 runs go to a SeaweedFS on loopback that scripts/s3.sh starts (or to
# the endpoint REPLIBYTE_S3_* already name); NO_S3=1 leaves them out.
if [ -z "${NO_S3:-}" ] && [ -z "${REPLIBYTE_S3_ENDPOINT:-}" ]; then
  s3env=$(scripts/s3.sh start) || { echo "== S3 server did not start: the S3 rows are left out" >&2; s3env=; }
  eval "$s3env"
fi
if [ -z "${NO_S3:-}" ] && [ -n "${REPLIBYTE_S3_ENDPOINT:-}" ]; then
  s3config=$out/bench-s3.yaml
  cat > "$s3config" <<YAML
source:
  connection_uri: $(uri "$source_db")
bridge:
  type: s3
  bucket: $REPLIBYTE_S3_BUCKET
  prefix: bench/
  region: us-east-1
  endpoint: $REPLIBYTE_S3_ENDPOINT
  access_key_id: $REPLIBYTE_S3_ACCESS_KEY_ID
  secret_access_key: $REPLIBYTE_S3_SECRET_ACCESS_KEY
  force_path_style: true
destination:
  connection_uri: $(uri "${source_db}_replibyte_s3")
YAML
  measure "replibyte dump -j$jobs (S3)" "" : "$replibyte" -c "$s3config" dump --jobs "$jobs"
  measure "replibyte restore -j$jobs (S3)" "" '"$bin/dropdb" --if-exists --force "${source_db}_replibyte_s3"' "$replibyte" -c "$s3config" restore --jobs "$jobs"
  "$bin/dropdb" --if-exists --force "${source_db}_replibyte_s3"
fi

# Incremental dumps (issue 14): a base of a copy of the database with the
# six columns transformed, then 1 % of its rows changed (20,000 customers
# updated, transformed columns included; 30,000 orders inserted; 10,000
# deleted), then the delta and its application in place. NO_INCREMENTAL=1
# leaves this out.
if [ -z "${NO_INCREMENTAL:-}" ]; then
  inc_db=${source_db}_inc
  inc_config=$out/bench-incremental.yaml
  # The copy goes to a second server, as in a real deployment: the
  # source's WAL, which a delta decodes, then holds only the source's work.
  second_port=$((PGPORT + 1))
  scripts/pg.sh start "$second_port" >/dev/null
  servers+=("$second_port")
  sed "s|^  secret: bench-secret|  incremental: true\n  secret: bench-secret|; s|/$source_db\$|/$inc_db|; s|:$PGPORT/${source_db}_replibyte\$|:$second_port/${inc_db}_copy|; s|path: $out/bridge-transformed|path: $out/bridge-incremental|" "$transformed" > "$inc_config"
  changes=scripts/bench/changes.sql
  for run in $(seq "$RUNS"); do
    "$replibyte" -c "$inc_config" dump drop-slot >/dev/null 2>&1 || true
    "$bin/dropdb" --if-exists --force "$inc_db"; "$bin/dropdb" -p "$second_port" --if-exists --force "${inc_db}_copy"
    "$bin/createdb" -T "$source_db" "$inc_db"
    rm -rf "$out/bridge-incremental"
    measure_once "replibyte dump -j$jobs, incremental base" "$out/bridge-incremental" : "$replibyte" -c "$inc_config" dump --jobs "$jobs"
    measure_once "replibyte restore -j$jobs, incremental base" "" : "$replibyte" -c "$inc_config" restore --jobs "$jobs"
    base_dir=$(ls -d "$out/bridge-incremental"/2* | head -1)
    # A delta reaches a copy restored hours before, which autovacuum has
    # vacuumed and analyzed by then; here that would run during the delta's
    # timed runs (autovacuum wakes up to a minute after the restore), so it
    # is done now, untimed.
    "${psql[@]}" -p "$second_port" -d "${inc_db}_copy" -c "VACUUM (ANALYZE)"
    wal_before=$("${psql[@]}" -d "$inc_db" -At -c "SELECT pg_current_wal_insert_lsn()")
    "${psql[@]}" -d "$inc_db" -f "$changes"
    "${psql[@]}" -d "$inc_db" -At -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal_before')" > "$out/wal-logical-$run"
    measure_once "replibyte dump -j$jobs, delta (1 % of rows changed)" "" : "$replibyte" -c "$inc_config" dump --jobs "$jobs"
    delta_dir=$(ls -d "$out/bridge-incremental"/2* | tail -1)
    [ "$delta_dir" != "$base_dir" ] && du -sb "$delta_dir" | cut -f1 > "$out/delta-bytes-$run"
    measure_once "replibyte restore, delta applied in place" "" : "$replibyte" -c "$inc_config" restore --jobs "$jobs"
    "$replibyte" -c "$inc_config" dump drop-slot >/dev/null 2>&1 || true
  done
  # The same changes' WAL under wal_level = replica, for the extra volume
  # logical decoding costs the source.
  # (A server with logical slots refuses to start below wal_level=logical:
  # this throwaway server's slots go first.)
  "${psql[@]}" -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_type = 'logical'" >/dev/null
  "${psql[@]}" -d postgres -c "ALTER SYSTEM SET wal_level = replica" && scripts/pg.sh restart >/dev/null
  "$bin/dropdb" --if-exists --force "$inc_db"; "$bin/createdb" -T "$source_db" "$inc_db"
  wal_before=$("${psql[@]}" -d "$inc_db" -At -c "SELECT pg_current_wal_insert_lsn()")
  "${psql[@]}" -d "$inc_db" -f "$changes"
  "${psql[@]}" -d "$inc_db" -At -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal_before')" > "$out/wal-replica"
  "${psql[@]}" -d postgres -c "ALTER SYSTEM RESET wal_level" && scripts/pg.sh restart >/dev/null
  "$bin/dropdb" --if-exists --force "$inc_db"; "$bin/dropdb" -p "$second_port" --if-exists --force "${inc_db}_copy"
fi

# The privacy guard (issue 15): `scan` of the whole database, and the
# dump's own scan (the default, `unmasked_pii: warn`) against a dump that
# skips it, taking turns.
if [ -z "${NO_SCAN:-}" ]; then
  unscanned=$out/bench-unscanned.yaml
  sed "s|^bridge:|  unmasked_pii: ignore\nbridge:|" "$config" > "$unscanned"
  measure "replibyte scan" "" : "$replibyte" -c "$config" scan
  for _ in $(seq "$RUNS"); do
    measure_once "replibyte dump -j$jobs, unmasked_pii: ignore" "$out/bridge" 'rm -rf "$out/bridge"' "$replibyte" -c "$unscanned" dump --jobs "$jobs" || true
    measure_once "replibyte dump -j$jobs, scanned (unmasked_pii: warn)" "$out/bridge" 'rm -rf "$out/bridge"' "$replibyte" -c "$config" dump --jobs "$jobs" || true
  done
fi

if [ -z "${ONLY_REPLIBYTE:-}" ]; then
# shellcheck disable=SC2086 # table names are split on purpose
measure "COPY binary | zstd -1 (serial)" "$out/copy-zstd" 'rm -rf "$out/copy-zstd"; mkdir -p "$out/copy-zstd"' scripts/bench/copy-zstd.sh "$source_db" "$out/copy-zstd" $tables

measure "pg_dump -Fc" "$out/dump.fc" 'rm -f "$out/dump.fc"' "$bin/pg_dump" -Fc -f "$out/dump.fc" -d "$source_db"
measure "pg_dump -Fd -j$jobs" "$out/dump.fd" 'rm -rf "$out/dump.fd"' "$bin/pg_dump" -Fd -j "$jobs" -f "$out/dump.fd" -d "$source_db"
measure "pg_restore -j$jobs" "" 'fresh_db "${source_db}_pg_restore"' "$bin/pg_restore" -j "$jobs" -d "${source_db}_pg_restore" "$out/dump.fd"
"$bin/dropdb" --if-exists --force "${source_db}_pg_restore"

if command -v pgcopydb >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq pgcopydb >/dev/null 2>&1; }; then
  measure "pgcopydb clone --table-jobs $jobs --index-jobs $jobs" "" \
    'fresh_db "${source_db}_pgcopydb"; rm -rf "$out/pgcopydb"' env PATH="$bin:$PATH" pgcopydb clone \
    --source "$(uri "$source_db")" --target "$(uri "${source_db}_pgcopydb")" --dir "$out/pgcopydb" \
    --table-jobs "$jobs" --index-jobs "$jobs"
fi

fi
"$bin/dropdb" --if-exists --force "${source_db}_pgcopydb"

python3 - "$results" "$scale" "$size" "$jobs" "$out" > "$out/results-$scale.md" <<'PY'
import glob, os, statistics, sys
path, scale, size, jobs, out = sys.argv[1:]
runs = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
# Per tool, in the order tools first ran: the run of median wall time (the
# lower middle one of an even count), with the highest peak RSS of all runs.
rows = []
for name in dict.fromkeys(r[0] for r in runs):
    mine = sorted((r for r in runs if r[0] == name), key=lambda r: float(r[1]))
    median = list(mine[(len(mine) + 1) // 2 - 1])
    median[3] = str(max(int(r[3]) for r in mine))
    rows.append(median)
by = {r[0]: r for r in rows}
def cell(text):
    return text.replace("|", "\\|")
def num(x):
    try: return float(x)
    except ValueError: return None
ref_dump = by.get(f"replibyte dump -j{jobs}") or by.get("replibyte dump -j1")
ref_restore = by.get(f"replibyte restore -j{jobs}")
print(f"Scale {scale} ({size} database), {jobs} jobs, `scripts/bench.sh {scale} {jobs}`\n")
print("| tool | wall s | CPU s | peak RSS MiB | stored MiB | wall vs replibyte |")
print("|---|---:|---:|---:|---:|---:|")
for name, wall, cpu, rss, stored in rows:
    ref = ref_restore if "restore" in name else ref_dump
    ratio = f"{num(wall)/num(ref[1]):.2f}x" if ref and num(wall) and num(ref[1]) else "-"
    st = f"{int(stored)/2**20:.0f}" if stored != "-" else "-"
    print(f"| {cell(name)} | {float(wall):.1f} | {float(cpu):.1f} | {int(rss)/1024:.0f} | {st} | {ratio} |")

# The targets of the issues, each as measured ratio against its bound.
def col(name, i):
    return num(by[name][i]) if name in by and by[name][i] != "-" else None
dump, restore = f"replibyte dump -j{jobs}", f"replibyte restore -j{jobs}"
checks = [
    ("dump vs serial COPY binary | zstd -1", col(dump, 1), col("COPY binary | zstd -1 (serial)", 1), 1.0),
    ("dump vs pg_dump -Fc", col(dump, 1), col("pg_dump -Fc", 1), 0.5),
    (f"restore vs pg_restore -j{jobs}", col(restore, 1), col(f"pg_restore -j{jobs}", 1), 0.9),
    ("dump + restore vs pgcopydb clone", (col(dump, 1) or 0) + (col(restore, 1) or 0),
     col(f"pgcopydb clone --table-jobs {jobs} --index-jobs {jobs}", 1), 1.0),
    ("dump, 6 columns transformed, vs plain dump", col(f"{dump}, 6 columns transformed", 1), col(dump, 1), 1.25),
    ("dump to S3 vs local dump", col(f"{dump} (S3)", 1), col(dump, 1), 1.3),
    ("stored bytes vs pg_dump -Fc", col(dump, 4), col("pg_dump -Fc", 4), 1.0),
]
print("\n| target | ratio | bound | met |")
print("|---|---:|---:|---|")
for what, ours, theirs, bound in checks:
    if ours and theirs:
        ratio = ours / theirs
        print(f"| {cell(what)} | {ratio:.2f} | ≤ {bound:.2f} | {'yes' if ratio <= bound else 'no'} |")
peak = max(int(r[3]) for r in rows if r[0].startswith("replibyte")) / 1024
print(f"\nPeak RSS of replibyte over every run above: {peak:.0f} MiB (bound 64 MiB).")

scan, scanned, unscanned = "replibyte scan", f"{dump}, scanned (unmasked_pii: warn)", f"{dump}, unmasked_pii: ignore"
if scan in by:
    print(f"\n`replibyte scan` of the whole database: {float(by[scan][1]):.2f} s (bound 10 s), peak RSS {int(by[scan][3])/1024:.0f} MiB.")
if scanned in by and unscanned in by:
    ratio = col(scanned, 1) / col(unscanned, 1)
    print(f"Dump with its privacy scan vs without: {ratio:.3f} (bound 1.05, {'met' if ratio <= 1.05 else 'not met'}).")

# Incremental: the delta against the base (a full dump with the same
# transformers), medians of the runs.
base, delta = f"{dump}, incremental base", f"{dump}, delta (1 % of rows changed)"
base_restore, applied = f"{restore}, incremental base", "replibyte restore, delta applied in place"
def values(pattern):
    return [float(open(f).read()) for f in sorted(glob.glob(os.path.join(out, pattern)))]
if base in by and delta in by:
    delta_bytes = values("delta-bytes-*")
    inc = [
        ("delta dump vs full dump (wall)", col(delta, 1), col(base, 1), 0.05),
        ("delta stored bytes vs full dump", statistics.median(delta_bytes) if delta_bytes else None, col(base, 4), 0.03),
        ("delta applied in place vs full restore (wall)", col(applied, 1), col(base_restore, 1), 0.05),
    ]
    print("\n| incremental target | ratio | bound | met |")
    print("|---|---:|---:|---|")
    for what, ours, theirs, bound in inc:
        if ours and theirs:
            ratio = ours / theirs
            print(f"| {cell(what)} | {ratio:.3f} | ≤ {bound:.2f} | {'yes' if ratio <= bound else 'no'} |")
    logical, replica = values("wal-logical-*"), values("wal-replica")
    print(f"\nDelta: {statistics.median(delta_bytes)/2**20:.2f} MiB stored." if delta_bytes else "")
    if logical and replica:
        l, r = statistics.median(logical), replica[0]
        print(f"\nWAL written by the changes: {l/2**20:.1f} MiB under wal_level=logical, {r/2**20:.1f} MiB under replica ({(l/r - 1)*100:+.1f} %).")
PY
cat "$out/results-$scale.md"
