#!/usr/bin/env bash
# Runs slog's fuzz targets (fuzz/fuzz_targets) with cargo-fuzz for a given time each, on the
# corpus kept in fuzz/corpus/<target> (seeded from the captured SDK requests and the README's
# examples), and prints each target's executions and findings. A crash leaves its input in
# fuzz/artifacts/<target>/: turn it into a regression test, then fix it.
#
#   scripts/fuzz.sh              every target, 10 minutes each
#   scripts/fuzz.sh 60 event_body   one target, 60 seconds
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}/fuzz"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(strict_json event_body sensors_request)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz passes nightly-only flags (-Z sanitizer); the stable toolchain takes them this way.
export RUSTC_BOOTSTRAP=1

for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  log=$(mktemp)
  echo "== $target for ${seconds}s"
  set +e
  cargo fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" \
    -max_len=65536 -timeout=10 -rss_limit_mb=2048 2>&1 | tee "$log" | grep -E "^(#|==|INFO: seed|SUMMARY)" | tail -n 3
  status=${PIPESTATUS[0]}
  set -e
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo "?")
  echo "$target: $runs executions in ${seconds}s, exit $status"
  rm -f "$log"
  [ "$status" -eq 0 ] || exit "$status"
done
