#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster on loopback, for tests,
# benchmarks and the quickstart.
#
#   scripts/pg.sh start [PORT]   start or reuse; prints `export` lines to eval
#   scripts/pg.sh stop  [PORT]   stop it and remove its folder
#   scripts/pg.sh restart [PORT] restart it on the same data
#
# PG_BINDIR chooses the server's binaries (default: the newest in
# /usr/lib/postgresql); scripts/pg-major.sh fetches other majors.
#
# The cluster lives in a fresh folder under /tmp owned by `postgres`: initdb
# refuses root, and a CI clone may sit where that user cannot enter. Host
# connections need the password (scram-sha-256), so tests see real
# authentication; the password is `pw-4f9c1e7b` unless REPLIBYTE_PG_PASSWORD says
# otherwise. The default is deliberately unusual, so a test can search
# output for it to prove it never leaks.
set -euo pipefail

cmd=${1:-start}
# Ports stay below the kernel's ephemeral range (32768-60999 on Linux): a
# port in it can be held at any moment as the local end of some outgoing
# connection, and the server then cannot bind it (a CI run lost a test so).
port=${2:-${REPLIBYTE_PG_PORT:-25329}}
password=${REPLIBYTE_PG_PASSWORD:-pw-4f9c1e7b}
state=/tmp/replibyte-pg-$port
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "pg.sh: no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin); install postgresql or set PG_BINDIR" >&2
  exit 1
fi

# Run a server binary as the cluster's owner: root cannot run initdb/postgres.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

print_env() {
  cat <<ENV
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=postgres
export PGPASSWORD=$password
export REPLIBYTE_PG_BINDIR=$bindir
ENV
}

case "$cmd" in
  start)
    if [ -d "$state/data" ] && as_owner "$bindir/pg_ctl" -D "$state/data" status >/dev/null 2>&1; then
      print_env
      exit 0
    fi
    rm -rf "$state"
    mkdir -p "$state"
    [ "$(id -u)" = 0 ] && chown postgres: "$state"
    pwfile=$state/pwfile
    printf '%s\n' "$password" > "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
    as_owner "$bindir/initdb" -D "$state/data" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
      || { echo "pg.sh: initdb failed, see $state/initdb.log" >&2; tail -5 "$state/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    # Throwaway cluster: durability off, enough connections for parallel tests.
    cat >> "$state/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$state'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
# Incremental dumps read a logical replication slot.
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
# A delta restored in place with --jobs applies tables side by side, each
# connection's transaction prepared, then committed together.
max_prepared_transactions = 20
CONF
    as_owner "$bindir/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 60 start >/dev/null \
      || { echo "pg.sh: server did not start, see $state/server.log" >&2; tail -5 "$state/server.log" >&2; exit 1; }
    print_env
    ;;
  restart)
    # Picks up ALTER SYSTEM changes (the incremental benchmark switches
    # wal_level); the data stays.
    as_owner "$bindir/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 120 restart >/dev/null \
      || { echo "pg.sh: server did not restart, see $state/server.log" >&2; tail -5 "$state/server.log" >&2; exit 1; }
    print_env
    ;;
  stop)
    if [ -d "$state/data" ]; then
      as_owner "$bindir/pg_ctl" -D "$state/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$state"
    ;;
  *)
    echo "usage: $0 start|stop|restart [PORT]" >&2
    exit 2
    ;;
esac
