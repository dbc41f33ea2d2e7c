#!/usr/bin/env bash
# slog's whole test suite, from a fresh machine: installs what the tests need, then runs format,
# lint, unit and end-to-end tests. The end-to-end tests start their own slog processes and their
# own tansu brokers (a Kafka-protocol broker) on free loopback ports; the registry tests also use
# a local MariaDB and Redis, which this script installs and starts (as root, Debian) if needed.
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

# MariaDB and Redis: the registry tests run against both backends (SQLite needs nothing).
if [ ! -x /usr/sbin/mariadbd ] || ! command -v redis-server >/dev/null 2>&1; then
  step "installing mariadb-server and redis-server (first run on this machine only)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server redis-server
fi

if ! mariadb-admin -uroot ping >/dev/null 2>&1; then
  step "starting MariaDB"
  mkdir -p /run/mysqld
  chown mysql:mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 60); do
    mariadb-admin -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb-admin -uroot ping >/dev/null 2>&1 || { echo "MariaDB did not start in 30 s" >&2; exit 1; }
fi
# The tests connect over TCP as slog/slog and create one database each.
mariadb -uroot -e "CREATE USER IF NOT EXISTS 'slog'@'127.0.0.1' IDENTIFIED BY 'slog';
  GRANT ALL PRIVILEGES ON *.* TO 'slog'@'127.0.0.1';"
# Each registry test makes its own database (slog_t_*); drop those of earlier runs.
mariadb -uroot -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'slog\\_t\\_%'" \
  | while read -r db; do mariadb -uroot -e "DROP DATABASE \`$db\`"; done

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  step "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 60); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "Redis did not start in 30 s" >&2; exit 1; }
fi

export SLOG_TEST_MYSQL_URL="${SLOG_TEST_MYSQL_URL:-mysql://slog:slog@127.0.0.1:3306}"
export SLOG_TEST_REDIS_URL="${SLOG_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

step "format"
cargo fmt --all -- --check
cargo fmt --manifest-path plugins/Cargo.toml --all -- --check

step "plugins (wasm32-wasip2 components the plugin tests load)"
bash scripts/build-plugins.sh

step "lint"
cargo clippy --workspace --all-targets -- -D warnings
(cd plugins && cargo clippy --target wasm32-wasip2 --target-dir "$CARGO_TARGET_DIR/plugins" \
  --workspace -- -D warnings)

step "build (the end-to-end tests run the real binary)"
cargo build --workspace --bins

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
  cargo test --workspace --no-fail-fast "$@" || status=1
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
