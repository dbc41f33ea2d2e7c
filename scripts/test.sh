#!/usr/bin/env bash
# slog's whole test suite, from a fresh machine: installs what the tests need
# (scripts/install-test-deps.sh, root on Debian) and starts the services
# (scripts/start-test-services.sh: MariaDB, Redis, ClickHouse), then runs format, lint, unit,
# in-process and end-to-end tests. The end-to-end tests (cargo feature `slog-tests/e2e`) start their own slog processes and
# tansu brokers on free loopback ports. Without that feature, `cargo test --workspace` needs no
# services and runs the unit and in-process tests only.
#
#   scripts/test.sh            everything
#   scripts/test.sh -- NAME    only tests whose name contains NAME (after the checks)
set -euo pipefail
cd "$(dirname "$0")/.."

# Builds are slow on small machines: keep them outside the clone so every run reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n== %s\n' "$*"; }

bash scripts/install-test-deps.sh
bash scripts/start-test-services.sh

export SLOG_TEST_MYSQL_URL="${SLOG_TEST_MYSQL_URL:-mysql://slog:slog@127.0.0.1:3306}"
export SLOG_TEST_REDIS_URL="${SLOG_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export SLOG_TEST_CLICKHOUSE_URL="${SLOG_TEST_CLICKHOUSE_URL:-http://127.0.0.1:8123}"

step "format"
cargo fmt --all -- --check
cargo fmt --manifest-path plugins/Cargo.toml --all -- --check

step "plugins (wasm32-wasip2 components the plugin tests load)"
bash scripts/build-plugins.sh

step "lint"
cargo clippy --workspace --all-targets --features slog-tests/e2e,slog-router/service-tests -- -D warnings
(cd plugins && cargo clippy --target wasm32-wasip2 --target-dir "$CARGO_TARGET_DIR/plugins" \
  --workspace -- -D warnings)

step "build (the end-to-end tests run the real binary)"
cargo build --workspace --bins

step "plugin template (built outside the repository)"
SLOG_BIN="${SLOG_BIN:-$CARGO_TARGET_DIR/debug/slog}" bash scripts/check-plugin-template.sh

step "API conformance (schemathesis against GET /openapi.json)"
SLOG_BIN="$CARGO_TARGET_DIR/debug/slog" bash scripts/api-conformance.sh

step "tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Every test binary runs (--no-fail-fast) so the summary counts them all; the script still fails
# when any of them did.
set +e
(
  status=0
  cargo test --workspace --features slog-tests/e2e,slog-router/service-tests --no-fail-fast "$@" || status=1
  # The plugins' own unit tests run on the host (the SDK's export! is inert outside wasm).
  cargo test --manifest-path plugins/Cargo.toml --target-dir "$CARGO_TARGET_DIR/plugins-host" \
    --workspace --no-fail-fast "$@" || status=1
  exit "$status"
) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (cargo prints one per test binary, the last often "0 passed").
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s += $1} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
