#!/usr/bin/env bash
# Does the running server answer as GET /openapi.json says? Starts slog on its embedded default
# config (config/slog.toml) in a throwaway directory on a free port with an admin token, runs
# schemathesis against its own description, then stops slog. The checks: every answer's status is
# a documented one, its content type, headers and body conform to the description, and no 5xx
# comes back (the documented 503s need a broken sink or store, which the embedded default has
# not). Admin calls carry the token; DELETEs are fine, the data directory is thrown away.
#
#   scripts/api-conformance.sh              builds slog (debug) unless SLOG_BIN names a binary
#   API_CONFORMANCE_EXAMPLES=N              test cases per operation and phase (default 100)
#   API_CONFORMANCE_SEED=N                  replay a run (schemathesis prints its seed)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"
SCHEMATHESIS_VERSION=4.32.5
venv="${SLOG_VENV:-$HOME/.cache/slog-venv}"

# schemathesis (PyPI) in a venv kept between runs.
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    # Debian's python3 keeps venv (ensurepip) in a package of its own.
    rm -rf "$venv"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

bin="${SLOG_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --quiet -p slog-router --bin slog
  bin="$CARGO_TARGET_DIR/debug/slog"
fi

work=$(mktemp -d)
slog_pid=
cleanup() {
  if [ -n "$slog_pid" ] && kill -0 "$slog_pid" 2>/dev/null; then
    kill -TERM "$slog_pid"
    wait "$slog_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

token="conformance-$RANDOM$RANDOM"
# The working directory holds data/ (registry.db, <topic>.jsonl). The example plugins of
# config/plugins.toml run when they are built (scripts/build-plugins.sh; test.sh builds them).
# schemathesis's ignored_auth check sends wrong tokens on purpose, many a minute: the lockout
# that would stop a guesser would stop the run, so it is set out of reach here.
plugins=(SLOG_PLUGINS__WATCH=false SLOG_LIMITS__ADMIN_FAILURES_PER_MINUTE=1000000)
if compgen -G "$repo/plugins/dist/*.wasm" >/dev/null; then
  plugins+=(SLOG_PLUGINS__DIR="$repo/plugins/dist" SLOG_PLUGINS__CONFIG="$repo/config/plugins.toml")
fi
(cd "$work" && exec env SLOG_ADMIN_TOKEN="$token" "${plugins[@]}" RUST_LOG=warn,slog_router::server=info \
  "$bin" serve --config "$repo/config/slog.toml" --listen 127.0.0.1:0 2>"$work/slog.log") &
slog_pid=$!
addr=
for _ in $(seq 300); do
  addr=$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$work/slog.log" | head -n1)
  [ -n "$addr" ] && break
  kill -0 "$slog_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "slog did not start; its log:" >&2
  cat "$work/slog.log" >&2
  exit 1
fi
echo "slog listening on $addr (pid $slog_pid)"

# The person the identity endpoints' examples name (uuid and deviceUUID d-1), so that their
# examples reach a real answer, not only 404.
curl -sf "http://$addr/slog/event" -H 'Content-Type: application/json' -d '{"stype":100,
  "eid":"pageview","project":"zhibo","uidentity":{"uuid":"019ab1c2-7c3e-7000-8000-000000000001",
  "deviceUUID":"d-1"}}' >/dev/null

seed=()
[ -n "${API_CONFORMANCE_SEED:-}" ] && seed=(--seed "$API_CONFORMANCE_SEED")
# Answers as documented (status, content type, headers, body), no 5xx, 405 with Allow for
# undescribed methods, the token enforced, and a deleted or created row gone or there. Not
# positive_data_acceptance: a schema-valid event is still refused when its names are not
# registered (the registry decides, not the schema).
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance,unsupported_method
checks+=,allow_header_conformance,ignored_auth,use_after_free,ensure_resource_availability
status=0
# From the throwaway directory: schemathesis keeps a crash cache in its working directory.
(cd "$work" && exec "$venv/bin/schemathesis" run "http://$addr/openapi.json" \
  --checks "$checks" \
  --header "Authorization: Bearer $token" \
  --max-examples "${API_CONFORMANCE_EXAMPLES:-100}" \
  --workers 2 \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  "${seed[@]}") || status=$?

if ! kill -0 "$slog_pid" 2>/dev/null; then
  echo "slog died during the run; its log:" >&2
  cat "$work/slog.log" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis found answers that do not conform to /openapi.json (slog log: below)" >&2
  tail -n 50 "$work/slog.log" >&2
fi
exit "$status"
