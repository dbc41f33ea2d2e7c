#!/usr/bin/env bash
# Records what each real Sensors SDK puts on the wire: starts capture-server.py on a free
# loopback port, runs every driver (web image/ajax/beacon/batch, node, python) against it with
# run id "fixture", and writes one JSON line per request to
# router/tests/fixtures/sensors/<driver>.jsonl, ordered by the first record's time with a stable
# sort (the browser SDK sends concurrently, so its arrival order varies from run to run).
# Run scripts/install-sdk-deps.sh first.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${SLOG_SDK_VENV:-$HOME/.cache/slog-sdk-venv}"
OUT=router/tests/fixtures/sensors
TMP=$(mktemp -d)
mkdir -p "$OUT"

python3 tests/sdk/capture-server.py "$TMP/all.jsonl" 0 > "$TMP/server.out" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do grep -q listening "$TMP/server.out" && break; sleep 0.1; done
port=$(awk '/listening/ {print $2}' "$TMP/server.out")
url="http://127.0.0.1:$port/sa?project=zhibo"

run() {  # run <fixture name> <driver command...>
  local name=$1; shift
  : > "$TMP/all.jsonl"
  "$@" "$url" fixture "${MODE[@]}" > "$TMP/$name.summary"
  python3 - "$TMP/all.jsonl" "$OUT/$name.jsonl" <<'EOF'
import base64, gzip, json, sys, urllib.parse
def first_record_time(line):
    req = json.loads(line)
    form = urllib.parse.parse_qs(req["query"] + "&" + req["body"])
    raw = base64.b64decode((form.get("data") or form["data_list"])[0])
    if form.get("gzip") == ["1"]:
        raw = gzip.decompress(raw)
    rec = json.loads(raw)
    rec = rec[0] if isinstance(rec, list) else rec
    return rec["time"]  # stable sort: ties keep arrival order
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
open(sys.argv[2], "w", encoding="utf-8").write(
    "".join(l + "\n" for l in sorted(lines, key=first_record_time)))
EOF
  printf '%-11s %2d requests  %s\n' "$name" "$(wc -l < "$OUT/$name.jsonl")" "$(cat "$TMP/$name.summary")"
}
for mode in image ajax beacon batch; do
  MODE=("$mode"); run "web-$mode" node tests/sdk/web-sdk.js
done
MODE=(); run node node tests/sdk/node-sdk.js
MODE=(); run python "$VENV/bin/python" tests/sdk/python-sdk.py
