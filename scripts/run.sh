#!/usr/bin/env bash
# Runs slog on its embedded default (config/slog.toml: SQLite registry and identity store in
# data/, events in data/<topic>.jsonl) with the example plugins of config/plugins.toml running.
# Builds the plugins first when plugins/dist/ lacks one or they are older than their sources
# (adding Rust's wasm32-wasip2 target if it is missing), then builds and starts slog in release
# mode. Arguments go to `slog serve` (e.g. --listen 0.0.0.0:8080).
#
#   scripts/run.sh
#   SLOG_ADMIN_TOKEN=change-me scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"

# Every plugin the shipped plugins.toml names must be there, and none older than the sources.
needed=$(sed -n 's/^file *= *"\(.*\)"/\1/p' config/plugins.toml)
stale=""
oldest=""
for wasm in $needed; do
  if [ ! -f "plugins/dist/$wasm" ]; then
    stale="plugins/dist/$wasm is missing"
    break
  fi
  if [ -z "$oldest" ] || [ "plugins/dist/$wasm" -ot "$oldest" ]; then
    oldest="plugins/dist/$wasm"
  fi
done
if [ -z "$stale" ] && [ -n "$oldest" ]; then
  newer=$(find plugins plugin-sdk -path plugins/dist -prune -o -type f -newer "$oldest" -print | head -n 1)
  [ -n "$newer" ] && stale="$newer changed since the plugins were built"
fi
if [ -n "$stale" ]; then
  echo "building the example plugins ($stale)" >&2
  bash scripts/build-plugins.sh >&2
fi

exec cargo run --release -p slog-router -- serve "$@"
