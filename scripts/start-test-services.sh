#!/usr/bin/env bash
# Starts the services the end-to-end tests use, when they are not running already: MariaDB (with
# the slog/slog user the tests connect as), Redis and ClickHouse, all on loopback. No systemd is assumed.
# The tests start their own slog processes and tansu brokers on free ports.
set -euo pipefail
step() { printf '\n== %s\n' "$*"; }

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

if ! curl -sf 'http://127.0.0.1:8123/ping' >/dev/null 2>&1; then
  step "starting ClickHouse"
  mkdir -p /var/lib/clickhouse /var/log/clickhouse-server
  chown -R clickhouse:clickhouse /var/lib/clickhouse /var/log/clickhouse-server
  start-stop-daemon --start --oknodo --background --chuid clickhouse \
    --exec /usr/sbin/clickhouse-server -- --config-file=/etc/clickhouse-server/config.xml
  for _ in $(seq 120); do
    curl -sf 'http://127.0.0.1:8123/ping' >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -sf 'http://127.0.0.1:8123/ping' >/dev/null 2>&1 || { echo "ClickHouse did not start in 60 s" >&2; exit 1; }
fi
# Each warehouse test makes its own database (slog_t_*); drop those of earlier runs.
curl -sf 'http://127.0.0.1:8123/' --data-binary "SELECT name FROM system.databases WHERE name LIKE 'slog\\_t\\_%'" \
  | while read -r db; do curl -sf 'http://127.0.0.1:8123/' --data-binary "DROP DATABASE IF EXISTS \`$db\`" >/dev/null; done
