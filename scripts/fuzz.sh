#!/usr/bin/env bash
# Fuzzes replibyte's parsers of untrusted input (fuzz/fuzz_targets/: the
# COPY binary reader, the manifest reader, the config loader, connection
# strings), each for a bounded time, one after the other.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 600 seconds, every target
#
# Not part of scripts/test.sh (too long). A crash stops the script with the
# input saved under fuzz/artifacts/TARGET/; reproduce it with
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-…`, fix it, and
# add the input as a unit test beside the code that crashed.
#
# cargo-fuzz needs a nightly compiler (for -Zsanitizer). The nightly
# toolchain is used when rustup has one; otherwise the installed stable
# compiler is asked to accept nightly flags (RUSTC_BOOTSTRAP=1), which works
# for this use because the flags are only for the fuzz build.
set -euo pipefail

seconds=${1:-600}
shift || true
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

# The same dependency versions as the product (cargo then adds libFuzzer's).
cp Cargo.lock fuzz/Cargo.lock
# A folder of its own: the fuzz build's compiler flags differ from the
# product's, and sharing a target folder would rebuild both back and forth.
target_dir=${CARGO_TARGET_DIR:-$PWD/fuzz/target}/fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list --fuzz-dir fuzz)
fi
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s"
  mkdir -p "fuzz/corpus/$target"
  # The corpus grows in fuzz/corpus (not committed); fuzz/seeds holds the
  # hand-made starting points.
  cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz --target-dir "$target_dir" "$target" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
done
