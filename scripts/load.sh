#!/usr/bin/env bash
# What a dump costs the writers of a busy source: pgbench (4 clients, TPC-B
# like) runs SECONDS seconds alone, then SECONDS seconds with replibyte
# dumping the same database back to back; prints both TPS figures, the
# locks the dump's sessions held, and how often a writer waited on one.
#
#   scripts/load.sh              scale 20 (about 300 MB), 30 s each
#   SCALE=5 SECONDS_EACH=10 JOBS=1 scripts/load.sh   (JOBS: the dump's, 2 by default)
#
# Figures in target/load-jJOBS/summary.md. The restore side of this (the copy is
# exactly the snapshot read) is tests/integration/load.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-20}
SECONDS_EACH=${SECONDS_EACH:-30}
JOBS=${JOBS:-2}

eval "$(scripts/pg.sh start)"
bin=$REPLIBYTE_PG_BINDIR
psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1)
replibyte=$(scripts/release.sh)
out=$(dirname "$(dirname "$replibyte")")/load-j$JOBS
rm -rf "$out" && mkdir -p "$out"

db=load_source
"$bin/dropdb" --if-exists --force "$db"
"$bin/createdb" "$db"
"$bin/pgbench" -i -s "$SCALE" --foreign-keys -q "$db" 2> "$out/init.log"
"${psql[@]}" -d "$db" -c "VACUUM ANALYZE"
cat > "$out/replibyte.yaml" <<YAML
source:
  connection_uri: postgres://$PGUSER:\${PGPASSWORD}@$PGHOST:$PGPORT/$db
bridge:
  type: local
  path: $out/bridge
YAML

tps() { sed -n 's/^tps = \([0-9]*\).*/\1/p' "$1" | head -1; }

echo "== pgbench alone, $SECONDS_EACH s" >&2
"$bin/pgbench" -c 4 -j 2 -T "$SECONDS_EACH" "$db" > "$out/alone.log" 2>&1

echo "== pgbench with dumps back to back, $SECONDS_EACH s" >&2
"$bin/pgbench" -c 4 -j 2 -T "$SECONDS_EACH" "$db" > "$out/with-dump.log" 2>&1 &
writers=$!
# pgbench starts with a TRUNCATE; a dump holding its locks by then would
# stop on it (a dump never waits behind DDL).
sleep 2
dumps=0
: > "$out/locks.txt"
: > "$out/waits.txt"
while kill -0 "$writers" 2>/dev/null; do
  rm -rf "$out/bridge"
  "$replibyte" -c "$out/replibyte.yaml" dump --jobs "$JOBS" 2>> "$out/dumps.log" >/dev/null &
  dump=$!
  while kill -0 "$dump" 2>/dev/null; do
    # The locks replibyte's sessions hold, and writers waiting on them.
    "${psql[@]}" -d "$db" -At -c "SELECT l.mode || ' on ' || coalesce(c.relname, l.locktype) FROM pg_locks l
      JOIN pg_stat_activity a ON a.pid = l.pid LEFT JOIN pg_class c ON c.oid = l.relation
      WHERE a.datname = current_database() AND a.application_name LIKE 'replibyte%' AND l.granted AND (c.relname IS NULL OR c.relname NOT LIKE 'pg\\_%')" >> "$out/locks.txt"
    "${psql[@]}" -d "$db" -At -c "SELECT count(*) FROM pg_stat_activity w, LATERAL unnest(pg_blocking_pids(w.pid)) b(pid)
      JOIN pg_stat_activity h ON h.pid = b.pid WHERE w.application_name = 'pgbench' AND h.application_name LIKE 'replibyte%' AND h.datname = current_database()" >> "$out/waits.txt"
    sleep 0.2
  done
  wait "$dump" || { echo "load.sh: a dump failed, see $out/dumps.log" >&2; exit 1; }
  dumps=$((dumps + 1))
done
wait "$writers"

alone=$(tps "$out/alone.log")
loaded=$(tps "$out/with-dump.log")
samples=$(wc -l < "$out/waits.txt")
waited=$(awk '$1 > 0' "$out/waits.txt" | wc -l)
locks=$(sort "$out/locks.txt" | uniq | paste -sd ',' | sed 's/,/, /g')
size=$("${psql[@]}" -d "$db" -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
{
  echo "Load: pgbench -c 4 -j 2 (scale $SCALE, $size), $SECONDS_EACH s alone then $SECONDS_EACH s with $dumps \`replibyte dump --jobs $JOBS\` back to back, \`scripts/load.sh\`"
  echo
  echo "| writers | TPS |"
  echo "|---|---:|"
  echo "| alone | $alone |"
  echo "| with dumps running | $loaded ($(python3 -c "print(f'{$loaded / $alone:.2f}')")×) |"
  echo
  echo "Locks held by the dump's sessions (sampled every 0.2 s): ${locks:-none}."
  echo "Samples with a writer waiting on a dump's session: $waited of $samples."
} | tee "$out/summary.md"
