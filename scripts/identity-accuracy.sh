#!/usr/bin/env bash
# The identity accuracy report (tracking plan goal 2): builds slog and the generator in release mode, runs
# a synthetic population with ground truth through slog's embedded default, and prints the
# summary, the refused events by code and field, and accuracy per real-world pattern (numeric
# userids, shared mobiles, unionid-first WeChat users, constant device ids, reinstalls, ...);
# false merges and split people go to stderr with sample events. Exits non-zero when a false
# merge puts two userids on one person. Options go to target/release/identity-accuracy (see its
# --help).
#
#   scripts/identity-accuracy.sh                         systems population, 2000 people, seed 7
#   scripts/identity-accuracy.sh --people 3000 --seed 1  another size and seed
#   scripts/identity-accuracy.sh --population basic      the simple population
#   scripts/identity-accuracy.sh --concurrency 1         posted in order (no races)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
cargo build --release -p slog-router -p slog-bench >&2
exec "$(realpath -m "$CARGO_TARGET_DIR")/release/identity-accuracy" "$@"
