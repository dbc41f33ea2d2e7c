#!/usr/bin/env bash
# slog's whole test suite, from a fresh machine: installs what the tests need, then runs format,
# lint, unit and end-to-end tests. The end-to-end tests start their own slog processes and their
# own tansu brokers (a Kafka-protocol broker) on free loopback ports.
#
#   scripts/test.sh            everything
#   scripts/test.sh -- NAME    only tests whose name contains NAME (after the checks)
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are slow on small machines: keep them outside the clone so every run reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n== %s\n' "$*"; }

# tansu: the Kafka-protocol broker the Kafka tests run against (crates.io; ~10 minutes, once).
if ! command -v tansu >/dev/null 2>&1; then
  step "installing tansu (first run on this machine only)"
  cargo install tansu --locked --features dynostore
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets -- -D warnings

step "build (the end-to-end tests run the real binary)"
cargo build --workspace --bins

step "tests"
cargo test --workspace "$@"
