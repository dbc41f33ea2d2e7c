#!/usr/bin/env bash
# The soak: slog under steady load for SOAK_SECONDS (default 600) with the identity stage (the
# embedded SQLite store) and the four example plugins on every event, its resident memory sampled
# every SOAK_SAMPLE seconds (default 30). Prints the load line and the RSS samples, and says
# whether RSS grew from the first half of the run to the second.
#
#   scripts/soak.sh                                   10 minutes, batch100 at 150 requests/s
#   SOAK_SECONDS=60 SOAK_RATE=100 scripts/soak.sh     a quick look
#
# The sink is stdout into /dev/null: ten minutes at 15k events/s is ~11 GB of records, which a
# file sink would have to keep on disk; everything before the sink (decode, registry, enrich,
# identity, plugins, serialise) runs as in production.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
SOAK_SECONDS="${SOAK_SECONDS:-600}"
SOAK_SAMPLE="${SOAK_SAMPLE:-30}"
SOAK_RATE="${SOAK_RATE:-150}"
BIN="$(realpath -m "$CARGO_TARGET_DIR")/release"

cargo build --release -p slog-router -p slog-bench >&2
work="$(mktemp -d -t slog-soak.XXXXXX)"
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

bash scripts/build-plugins.sh "$work/plugins" >/dev/null
cp bench/plugin-chain.toml "$work/plugins.toml"
cat >"$work/slog.toml" <<EOF
[sink]
kind = "stdout"
[log]
level = "info"
[plugins]
dir = "$work/plugins"
config = "$work/plugins.toml"
watch = false
EOF

(cd "$work" && RUST_LOG="warn,slog_router::server=info" exec "$BIN/slog" serve --config slog.toml \
  --listen 127.0.0.1:0 >/dev/null 2>"$work/server.log") &
server=$!
addr=""
for _ in $(seq 600); do
  addr="$(grep -o -m1 'listening on http://[0-9.:]*' "$work/server.log" || true)"
  [ -n "$addr" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$work/server.log" >&2; echo "slog did not listen" >&2; exit 1; }
url="${addr#listening on }/slog/event"

# Each device seen once before the soak: new people are a start-up cost, not the steady state.
"$BIN/slog-load" --url "$url" --scenario batch100 --prime >/dev/null

rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$server/status"; }
echo "slog pid $server, RSS at start $(rss_mib) MiB; batch100 at $SOAK_RATE requests/s for ${SOAK_SECONDS}s" >&2

"$BIN/slog-load" --url "$url" --scenario batch100 --rate "$SOAK_RATE" --duration "$SOAK_SECONDS" \
  --warmup 0 --cpu-pid "$server" >"$work/load.json" &
load=$!
samples=()
while kill -0 "$load" 2>/dev/null; do
  sleep "$SOAK_SAMPLE"
  kill -0 "$load" 2>/dev/null || break
  samples+=("$(rss_mib)")
  echo "  $(( ${#samples[@]} * SOAK_SAMPLE ))s: RSS ${samples[-1]} MiB" >&2
done
wait "$load"
peak="$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$server/status")"
# Where identity lookups were answered: a burst of database reads is what slowed the soak down
# before concurrent misses of one identity shared one read.
curl -s "${addr#listening on }/metrics" | grep '^slog_identity_lookups_total' | sort >&2 || true
if grep -q ERROR "$work/server.log"; then
  echo "slog logged errors:" >&2
  grep ERROR "$work/server.log" | head >&2
fi

python3 - "$work/load.json" "$peak" "${samples[@]}" <<'EOF'
import json, sys
load = json.load(open(sys.argv[1]))
peak = float(sys.argv[2])
samples = [float(s) for s in sys.argv[3:]]
print(f"load: {load['events']:,} events at {load['events_per_sec']:,.0f} events/s, "
      f"{load['non_2xx']} non-2xx, {load['errors']} errors, {load.get('unsent', 0)} unsent; "
      f"p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, p99.9 {load['p999_ms']} ms; "
      f"{load.get('cpu_us_per_event', 0):.1f} µs CPU per event")
print("RSS samples (MiB): " + ", ".join(f"{s:.1f}" for s in samples))
print(f"peak RSS (VmHWM): {peak:.1f} MiB")
if len(samples) >= 4:
    half = len(samples) // 2
    first, second = max(samples[:half]), max(samples[half:])
    print(f"max RSS first half {first:.1f} MiB, second half {second:.1f} MiB: "
          + ("flat (within 10%)" if second <= first * 1.10 else "GREW"))
EOF
