#!/usr/bin/env bash
# Builds the plugins in plugins/ for wasm32-wasip2 and copies each .wasm to plugins/dist/ (or
# $1), where config/plugins.toml and the tests look for them.
#
#   scripts/build-plugins.sh            → plugins/dist/*.wasm
#   scripts/build-plugins.sh DIR        → DIR/*.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"
out="${1:-plugins/dist}"

rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
# The plugins' own target dir: their profile and rustflags differ from the router's.
target="$CARGO_TARGET_DIR/plugins"
# From inside plugins/, so its .cargo/config.toml (the guests' 64 KiB stack) applies.
(cd plugins && cargo build --release --target wasm32-wasip2 --target-dir "$target")
mkdir -p "$out"
for wasm in "$target"/wasm32-wasip2/release/*.wasm; do
  # Copy then rename: slog watches the directory and must never see a half-written file.
  name=$(basename "$wasm")
  cp "$wasm" "$out/.$name.tmp"
  mv "$out/.$name.tmp" "$out/$name"
done
ls -l "$out"/*.wasm
