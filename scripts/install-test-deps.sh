#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, once: tansu (a Kafka-protocol
# broker, from crates.io), MariaDB, Redis and ClickHouse (Debian packages; needs root), the
# wasm32-wasip2 target. What is already there is left alone, so a second run takes a moment.
set -euo pipefail
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

# ClickHouse: the production warehouse's tests. Debian ships the 18.16 server; slog's SQL is
# written to run on it and on current releases.
if [ ! -x /usr/sbin/clickhouse-server ]; then
  step "installing clickhouse-server (first run on this machine only)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client
fi

rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# The Sensors Analytics SDKs the compatibility tests drive (npm and PyPI packages, pinned).
bash "$(dirname "$0")/install-sdk-deps.sh" >/dev/null
