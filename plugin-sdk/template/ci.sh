#!/usr/bin/env bash
# The plugin's checks, for any CI and for a laptop: format, lint, unit tests on the host, the
# WebAssembly build, and `slog plugin check`, which loads the component exactly as slog would
# (compile, link against the plugin contract, run init with the settings).
#
#   ./ci.sh                        slog on PATH
#   SLOG_BIN=/path/to/slog ./ci.sh
#
# Needs rustup's wasm32-wasip2 target, rustfmt and clippy:
#   rustup target add wasm32-wasip2 && rustup component add rustfmt clippy
set -euo pipefail
cd "$(dirname "$0")"
slog="${SLOG_BIN:-slog}"
# The settings of the plugin's plugins.toml entry, as JSON: init must accept them.
settings='{"team": "payments"}'

host=$(rustc -vV | sed -n 's/^host: //p')
crate=$(sed -n 's/^name *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
wasm="${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/${crate//-/_}.wasm"
step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint (the component, and the tests on the host)"
cargo clippy --target wasm32-wasip2 -- -D warnings
cargo clippy --target "$host" --all-targets -- -D warnings

step "unit tests (on the host: $host)"
cargo test --target "$host"

step "build (wasm32-wasip2 component)"
cargo build --release --target wasm32-wasip2
ls -l "$wasm"

step "slog plugin check"
"$slog" plugin check --settings "$settings" "$wasm"
