#!/usr/bin/env bash
# Soak test of the agent: `* * * * *` dump and restore of the sample
# database (fixtures/sample.sql) for CYCLES minutes (60 by default), one
# cycle a minute. After each cycle (a dump and a restore finished, agent
# idle) it records the agent's resident memory (current and peak), its open
# file descriptors and the connections it holds to the server.
#
#   scripts/soak.sh              60 cycles, about an hour
#   CYCLES=5 scripts/soak.sh     a short run
#
# Pass (exit 0) when every run succeeded, the peak RSS after the last cycle
# is within 10 % of the peak after cycle 5, the descriptors did not grow
# after cycle 5, and no connection is left open between cycles. Figures in
# target/soak/soak.tsv and target/soak/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES=${CYCLES:-60}
[ "$CYCLES" -ge 5 ] || { echo "soak.sh: CYCLES must be at least 5" >&2; exit 2; }

eval "$(scripts/pg.sh start)"
bin=$REPLIBYTE_PG_BINDIR
psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1)
replibyte=$(scripts/release.sh)
out=$(dirname "$(dirname "$replibyte")")/soak
rm -rf "$out" && mkdir -p "$out"

"$bin/dropdb" --if-exists --force soak_source
"$bin/dropdb" --if-exists --force soak_copy
"$bin/createdb" soak_source
"${psql[@]}" -d soak_source -f fixtures/sample.sql

port=$((20000 + RANDOM % 20000))
cat > "$out/agent.yaml" <<YAML
bind: 127.0.0.1
port: $port
source:
  connection_uri: postgres://$PGUSER:\${PGPASSWORD}@$PGHOST:$PGPORT/soak_source
  cron: "* * * * *"
  retention: {keep_last: 3}
  unmasked_pii: ignore
bridge:
  type: local
  path: $out/bridge
destination:
  connection_uri: postgres://$PGUSER:\${PGPASSWORD}@$PGHOST:$PGPORT/soak_copy
  cron: "* * * * *"
YAML

"$replibyte" -c "$out/agent.yaml" agent 2> "$out/agent.log" &
agent=$!
trap 'kill "$agent" 2>/dev/null || true' EXIT
control=("$bin/psql" -X -A -t -h 127.0.0.1 -p "$port" -U soak -d replibyte)
until "${control[@]}" -c "SELECT 1" >/dev/null 2>&1; do sleep 0.2; done

count() { "${control[@]}" -c "SELECT count(*) FROM replibyte.runs WHERE $1"; }
proc() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$agent/status"; }
# The agent's own connections to the server (other programs may use it
# meanwhile): its TCP sockets to PostgreSQL's port.
connections() {
  ss -tnp state established "( dport = :$PGPORT )" | grep -c "pid=$agent," || true
}

printf 'cycle\tseconds\trss_kib\tpeak_rss_kib\tfds\tconnections\tfailed_runs\trestored\n' > "$out/soak.tsv"
start=$(date +%s)
for cycle in $(seq "$CYCLES"); do
  # A cycle: a minute's dump and restore done, the agent idle. (The
  # restore finds nothing new, and is `skipped`, when it ran after the
  # dump the minute before and before it this minute.)
  while true; do
    kill -0 "$agent" 2>/dev/null || { echo "soak.sh: the agent exited, see $out/agent.log" >&2; exit 1; }
    dumps=$(count "kind = 'dump' AND status = 'succeeded'")
    restores=$(count "kind = 'restore' AND status IN ('succeeded', 'skipped')")
    idle=$("${control[@]}" -c "SELECT state FROM replibyte.status")
    [ "$dumps" -ge "$cycle" ] && [ "$restores" -ge "$cycle" ] && [ "$idle" = idle ] && break
    sleep 2
  done
  failed=$(count "status IN ('failed', 'cancelled')")
  restored=$(count "kind = 'restore' AND status = 'succeeded'")
  fds=$(ls "/proc/$agent/fd" | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cycle" "$(($(date +%s) - start))" "$(proc VmRSS)" "$(proc VmHWM)" \
    "$fds" "$(connections)" "$failed" "$restored" | tee -a "$out/soak.tsv"
done
kill "$agent"; wait "$agent" || true
trap - EXIT

python3 - "$out" "$CYCLES" <<'PY'
import csv, sys
out, cycles = sys.argv[1], int(sys.argv[2])
rows = list(csv.DictReader(open(f"{out}/soak.tsv"), delimiter="\t"))
fifth, last = rows[4], rows[-1]
peak5, peak_last = int(fifth["peak_rss_kib"]), int(last["peak_rss_kib"])
checks = [
    ("every run succeeded", int(last["failed_runs"]) == 0,
     f'{cycles} dumps and {last["restored"]} restores succeeded (the other restores: nothing new), '
     f'{last["failed_runs"]} failed or cancelled'),
    ("peak RSS after the last cycle ≤ 1.10 × after cycle 5", peak_last <= 1.10 * peak5,
     f"{peak5 / 1024:.1f} MiB → {peak_last / 1024:.1f} MiB ({peak_last / peak5:.3f}×)"),
    ("file descriptors not growing after cycle 5", max(int(r["fds"]) for r in rows[4:]) <= int(fifth["fds"]),
     f'{fifth["fds"]} at cycle 5, {last["fds"]} at the end, {max(int(r["fds"]) for r in rows[4:])} at most'),
    ("no connection left open between cycles", all(r["connections"] == "0" for r in rows),
     f'at most {max(int(r["connections"]) for r in rows)}'),
]
lines = [f"Soak: {cycles} cycles of `* * * * *` dump and restore (fixtures/sample.sql), {int(last['seconds']) // 60} min, `scripts/soak.sh`", "",
         "| check | measured | met |", "|---|---|---|"]
lines += [f"| {name} | {measured} | {'yes' if ok else 'no'} |" for name, ok, measured in checks]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(0 if all(ok for _, ok, _ in checks) else 1)
PY
