#!/usr/bin/env bash
# The identity accuracy report (seed goal 2): builds slog and the generator in release mode, runs
# a synthetic population with ground truth through slog's embedded default, prints one table.
#
#   scripts/identity-accuracy.sh                         2000 people, seed 7
#   scripts/identity-accuracy.sh --people 10000 --seed 3
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
cargo build --release -p slog-router -p slog-bench >&2
exec "$(realpath -m "$CARGO_TARGET_DIR")/release/identity-accuracy" "$@"
