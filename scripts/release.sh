#!/usr/bin/env bash
# Builds replibyte (release) and prints the binary's path: wherever cargo
# builds (CARGO_TARGET_DIR, .cargo/config.toml), so ask cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -x "$target_dir/release/replibyte" ] || { echo "release.sh: no binary at $target_dir/release/replibyte" >&2; exit 1; }
echo "$target_dir/release/replibyte"
