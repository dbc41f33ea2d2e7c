#!/usr/bin/env bash
# slog's benchmark: builds in release mode, starts what it needs (a tansu broker, the HTTP
# ceiling, slog with the file sink, slog with the Kafka sink, each also with the four example
# plugins on every event: `+plugins` rows), loads each over real HTTP on loopback, and prints one
# Markdown table.
#
#   scripts/bench.sh                                  10 s measured per run (~5-6 minutes)
#   BENCH_SECONDS=3 BENCH_WARMUP=1 scripts/bench.sh   quick look
#
# Per target and scenario: a closed-loop run gives the peak (events/s, and CPU per event of the
# server process over that run); an open-loop run at 70% of the peak request rate gives the
# latency percentiles (counted from each request's intended send time, so queueing shows).
# Every (target, scenario) gets a fresh server process (and a fresh broker for the Kafka targets),
# so peak RSS is that row's own and no run inherits an earlier run's state.
# The ceilings, measured in the same run with the same load tool:
#   http-ceiling   an axum handler that reads the body and answers 200
#   kafka-ceiling  a bare rdkafka producer, slog's settings, the same records to the same broker
# Raw results (one JSON line per run) go to $BENCH_RESULTS_DIR (default
# $CARGO_TARGET_DIR/bench); the path is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/slog-target}"
export PATH="$HOME/.cargo/bin:$PATH"
BENCH_SECONDS="${BENCH_SECONDS:-10}"
BENCH_WARMUP="${BENCH_WARMUP:-2}"
# Absolute: servers run in their own temporary directories.
BIN="$(realpath -m "$CARGO_TARGET_DIR")/release"
# Concurrency of the peak runs (slog-load's and kafka-ceiling's); the 70% runs use slog-load's
# open-loop default (64 connections), enough that a slow answer does not hold back the schedule.
PEAK_CONNECTIONS=32
SCENARIOS=(single batch100 batch100-gzip)
step() { printf '== %s\n' "$*" >&2; }

step "build (release)"
cargo build --release -p slog-router -p slog-bench

# tansu: the Kafka-protocol broker of the Kafka sink's benchmark (crates.io; ~10 minutes, once).
if ! command -v tansu >/dev/null 2>&1; then
  step "installing tansu (first run on this machine only)"
  cargo install tansu --locked --features dynostore
fi

work="$(mktemp -d -t slog-bench.XXXXXX)"
results_dir="${BENCH_RESULTS_DIR:-$CARGO_TARGET_DIR/bench}"
mkdir -p "$results_dir"
results="$results_dir/results-$(date +%Y%m%d-%H%M%S).jsonl"
: >"$results"

# The example plugins (wasm32-wasip2) for the plugin-chain rows.
step "build the example plugins"
bash scripts/build-plugins.sh "$work/plugins" >/dev/null
# Scenario (4): the four example plugins on every event (bench/plugin-chain.toml).
cp bench/plugin-chain.toml "$work/plugins.toml"
PLUGINS_SECTION="$(printf '[plugins]\ndir = "%s"\nconfig = "%s"\nwatch = false\n' "$work/plugins" "$work/plugins.toml")"
PLUGIN_SCENARIOS=(single batch100)

# Every process started here, so the exit trap leaves nothing behind.
started=()
cleanup() {
  local pid
  for pid in ${started[@]+"${started[@]}"}; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in ${started[@]+"${started[@]}"}; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop PID: SIGTERM, then wait (slog drains in-flight requests and flushes its sink first).
stop() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # Forget it, so the exit trap never signals a recycled process id.
  local kept=() p
  for p in ${started[@]+"${started[@]}"}; do
    [ "$p" = "$pid" ] || kept+=("$p")
  done
  started=(${kept[@]+"${kept[@]}"})
}

# start_broker: a fresh tansu with in-memory storage on a free port, with slog's three topics.
# Sets BROKER_PID and BROKERS.
start_broker() {
  local port log
  port="$(free_port)"
  log="$work/tansu-$port.log"
  RUST_LOG=warn tansu broker --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
    >"$log" 2>&1 &
  BROKER_PID=$!
  started+=("$BROKER_PID")
  BROKERS="127.0.0.1:$port"
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$log" >&2; echo "tansu exited" >&2; exit 1; }
    sleep 0.1
  done
  # tansu does not create topics by itself; 3 partitions as in production.
  "$BIN/kafka-ceiling" --brokers "$BROKERS" --topic events,users,dead_letters --create-topics 3 \
    2>>"$log"
}

# start_server DIR COMMAND...: runs COMMAND in DIR (logs to DIR/server.log) and waits for its
# "listening on http://ADDR" line. Sets SERVER_PID and ADDR.
start_server() {
  local dir=$1 line
  shift
  (cd "$dir" && exec "$@") 2>"$dir/server.log" >/dev/null &
  SERVER_PID=$!
  started+=("$SERVER_PID")
  for _ in $(seq 600); do
    line="$(grep -o -m1 'listening on http://[0-9.:]*' "$dir/server.log" || true)"
    [ -n "$line" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/server.log" >&2; echo "server exited: $*" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$line" ] || { cat "$dir/server.log" >&2; echo "server did not listen: $*" >&2; exit 1; }
  ADDR="${line#listening on http://}"
}

# wait_ready: until slog's /readyz answers 200 (Kafka: brokers answer, topics exist), so no run
# starts against a sink still connecting.
wait_ready() {
  python3 - "http://$ADDR/readyz" <<'EOF'
import sys, time, urllib.request
deadline = time.time() + 60
while True:
    try:
        if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200:
            break
    except Exception as e:
        if time.time() > deadline:
            sys.exit(f"slog not ready: {e}")
    time.sleep(0.1)
EOF
}

# record TARGET PHASE JSON [PID]: appends the run's line, tagged, with PID's peak RSS so far.
record() {
  local rss=""
  if [ -n "${4:-}" ]; then
    rss="$(awk '/^VmHWM:/ {print $2}' "/proc/$4/status")"
  fi
  python3 - "$1" "$2" "$3" "$rss" >>"$results" <<'EOF'
import json, sys
target, phase, line, rss = sys.argv[1:5]
d = {"target": target, "phase": phase, **json.loads(line)}
if rss:
    d["peak_rss_kib"] = int(rss)
print(json.dumps(d))
EOF
}

# 70% of a peak line's successful requests per second (at least 1).
rate_of() {
  python3 -c 'import json, sys; print(max(1.0, round(0.7 * json.loads(sys.argv[1])["requests_per_sec"], 1)))' "$1"
}

# load_http TARGET SCENARIO [BROKER_PID]: the peak run, then the 70% run, against the server just
# started; with BROKER_PID (the Kafka targets) the broker's CPU over the peak run is reported too.
load_http() {
  local target=$1 scenario=$2 peak rate open
  local broker=()
  [ -n "${3:-}" ] && broker=(--broker-pid "$3")
  if [ "$target" != http-ceiling ]; then
    # Every body once first: the first sight of each device is a new person (identity-store
    # writes, ~0.3 ms or more each on the embedded SQLite), a cold start that is not throughput.
    step "$target / $scenario: priming (each body once)"
    "$BIN/slog-load" --url "http://$ADDR/slog/event" --scenario "$scenario" --prime >/dev/null
  fi
  step "$target / $scenario: peak (${BENCH_SECONDS}s closed loop, $PEAK_CONNECTIONS connections)"
  peak="$("$BIN/slog-load" --url "http://$ADDR/slog/event" --scenario "$scenario" \
    --connections "$PEAK_CONNECTIONS" --duration "$BENCH_SECONDS" --warmup "$BENCH_WARMUP" \
    --cpu-pid "$SERVER_PID" ${broker[@]+"${broker[@]}"})"
  record "$target" peak "$peak" "$SERVER_PID"
  rate="$(rate_of "$peak")"
  step "$target / $scenario: open loop at $rate req/s (70% of peak)"
  open="$("$BIN/slog-load" --url "http://$ADDR/slog/event" --scenario "$scenario" \
    --rate "$rate" --duration "$BENCH_SECONDS" --warmup "$BENCH_WARMUP" --cpu-pid "$SERVER_PID")"
  record "$target" rate "$open" "$SERVER_PID"
}

# slog with the file sink writes every event; check none was refused (the benchmark must measure
# the accepting path) and the files hold at least the events counted.
check_file_sink() {
  local dir=$1 scenario=$2 counted lines
  if [ -s "$dir/data/dead_letters.jsonl" ]; then
    echo "slog refused events in $scenario (strict registry?):" >&2
    head -c 600 "$dir/data/dead_letters.jsonl" >&2
    exit 1
  fi
  counted="$(python3 -c 'import json, sys
print(sum(d["events"] for d in map(json.loads, open(sys.argv[1])) if d["target"] == "slog-file" and d["scenario"] == sys.argv[2]))' "$results" "$scenario")"
  lines="$(wc -l <"$dir/data/events.jsonl")"
  if [ "$lines" -lt "$counted" ]; then
    echo "slog-file $scenario: $lines lines written but $counted events answered 200" >&2
    exit 1
  fi
}

for scenario in "${SCENARIOS[@]}"; do
  dir="$(mktemp -d "$work/http-ceiling.XXXX")"
  start_server "$dir" "$BIN/http-ceiling" --listen 127.0.0.1:0
  load_http http-ceiling "$scenario"
  stop "$SERVER_PID"
  rm -rf "$dir"
done

# slog logs its listening line at INFO; everything else it logs stays at WARN.
export RUST_LOG="warn,slog_router::server=info"
for scenario in "${SCENARIOS[@]}"; do
  dir="$(mktemp -d "$work/slog-file.XXXX")"
  printf '[sink]\nkind = "file"\n[log]\nlevel = "info"\n' >"$dir/slog.toml"
  start_server "$dir" "$BIN/slog" serve --config slog.toml --listen 127.0.0.1:0
  wait_ready
  load_http slog-file "$scenario"
  stop "$SERVER_PID"
  check_file_sink "$dir" "$scenario"
  rm -rf "$dir"
done

# The same with the plugin chain on (file sink).
for scenario in "${PLUGIN_SCENARIOS[@]}"; do
  dir="$(mktemp -d "$work/slog-file-plugins.XXXX")"
  printf '[sink]\nkind = "file"\n[log]\nlevel = "info"\n%s\n' "$PLUGINS_SECTION" >"$dir/slog.toml"
  start_server "$dir" "$BIN/slog" serve --config slog.toml --listen 127.0.0.1:0
  wait_ready
  load_http slog-file+plugins "$scenario"
  stop "$SERVER_PID"
  rm -rf "$dir"
done

for scenario in "${SCENARIOS[@]}"; do
  start_broker
  dir="$(mktemp -d "$work/slog-kafka.XXXX")"
  printf '[sink]\nkind = "kafka"\n[sink.kafka]\nbrokers = "%s"\nlinger_ms = 5\n[log]\nlevel = "info"\n' \
    "$BROKERS" >"$dir/slog.toml"
  start_server "$dir" "$BIN/slog" serve --config slog.toml --listen 127.0.0.1:0
  wait_ready
  load_http slog-kafka "$scenario" "$BROKER_PID"
  stop "$SERVER_PID"
  stop "$BROKER_PID"
  rm -rf "$dir"
done

start_broker
dir="$(mktemp -d "$work/slog-kafka-plugins.XXXX")"
printf '[sink]\nkind = "kafka"\n[sink.kafka]\nbrokers = "%s"\nlinger_ms = 5\n[log]\nlevel = "info"\n%s\n' \
  "$BROKERS" "$PLUGINS_SECTION" >"$dir/slog.toml"
start_server "$dir" "$BIN/slog" serve --config slog.toml --listen 127.0.0.1:0
wait_ready
load_http slog-kafka+plugins batch100 "$BROKER_PID"
stop "$SERVER_PID"
stop "$BROKER_PID"
rm -rf "$dir"
unset RUST_LOG

# The Kafka ceiling: HTTP gzip changes nothing on the Kafka side, so single and batch100 only.
for scenario in single batch100; do
  start_broker
  step "kafka-ceiling / $scenario: peak (${BENCH_SECONDS}s closed loop, $PEAK_CONNECTIONS in flight)"
  peak="$("$BIN/kafka-ceiling" --brokers "$BROKERS" --topic events --scenario "$scenario" \
    --connections "$PEAK_CONNECTIONS" --linger-ms 5 --duration "$BENCH_SECONDS" \
    --warmup "$BENCH_WARMUP" --broker-pid "$BROKER_PID")"
  record kafka-ceiling peak "$peak"
  rate="$(rate_of "$peak")"
  step "kafka-ceiling / $scenario: open loop at $rate req/s (70% of peak)"
  open="$("$BIN/kafka-ceiling" --brokers "$BROKERS" --topic events --scenario "$scenario" \
    --connections 64 --linger-ms 5 --rate "$rate" --duration "$BENCH_SECONDS" \
    --warmup "$BENCH_WARMUP")"
  record kafka-ceiling rate "$open"
  stop "$BROKER_PID"
done

python3 - "$results" "$BENCH_SECONDS" "$BENCH_WARMUP" <<'EOF'
import json, os, sys

path, seconds, warmup = sys.argv[1:4]
runs = {}
for line in open(path):
    d = json.loads(line)
    runs[(d["target"], d["scenario"], d["phase"])] = d

def get(target, scenario, phase):
    return runs.get((target, scenario, phase))

def fmt(x, digits=1):
    if x is None:
        return "–"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"

def share(slog, ceiling, label):
    if not slog or not ceiling or not ceiling["events_per_sec"]:
        return None
    return f"{100 * slog['events_per_sec'] / ceiling['events_per_sec']:.0f}% of {label}"

rows = [
    ("http-ceiling", s) for s in ("single", "batch100", "batch100-gzip")
] + [
    ("slog-file", s) for s in ("single", "batch100", "batch100-gzip")
] + [
    ("slog-file+plugins", s) for s in ("single", "batch100")
] + [
    ("slog-kafka", s) for s in ("single", "batch100", "batch100-gzip")
] + [("slog-kafka+plugins", "batch100")] + [("kafka-ceiling", s) for s in ("single", "batch100")]

cpu = os.popen("lscpu | sed -n 's/^Model name: *//p'").read().strip()
print()
print(f"slog benchmark — {os.cpu_count()} cores ({cpu}), loopback HTTP/1.1 keep-alive, "
      f"{seconds} s measured per run after {warmup} s warm-up")
print()
print("| target | scenario | events/s (peak) | req/s (peak) | p50 ms @70% | p99 ms @70% "
      "| p99.9 ms @70% | non-2xx / errors @70% | CPU µs/event | peak RSS MiB "
      "| broker CPU µs/event | load-gen CPU (cores, peak) | vs ceilings |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for target, scenario in rows:
    peak, rate = get(target, scenario, "peak"), get(target, scenario, "rate")
    if not peak:
        continue
    rate = rate or {}
    failures = f"{rate.get('non_2xx', '–')} / {rate.get('errors', '–')}"
    if rate.get("unsent"):
        failures += f" (+{rate['unsent']} unsent)"
    rss = max((r.get("peak_rss_kib") or 0) for r in (peak, rate))
    ratios = []
    if target.endswith("+plugins"):
        ratios.append(share(peak, get(target.replace("+plugins", ""), scenario, "peak"), "slog without plugins"))
    if target.startswith("slog-"):
        ratios.append(share(peak, get("http-ceiling", scenario, "peak"), "HTTP ceiling"))
    if target.startswith("slog-kafka"):
        kafka_scenario = "single" if scenario == "single" else "batch100"
        ratios.append(share(peak, get("kafka-ceiling", kafka_scenario, "peak"), "Kafka ceiling"))
    # kafka-ceiling is its own load: its load-gen CPU is the producer's, already in CPU/event.
    loadgen = "–" if target == "kafka-ceiling" else fmt(peak.get("loadgen_cpu_cores"), 2)
    print(f"| {target} | {scenario} | {fmt(peak['events_per_sec'])} | {fmt(peak['requests_per_sec'])} "
          f"| {fmt(rate.get('p50_ms'), 2)} | {fmt(rate.get('p99_ms'), 2)} | {fmt(rate.get('p999_ms'), 2)} "
          f"| {failures} | {fmt(peak.get('cpu_us_per_event'), 2)} | {fmt(rss / 1024 if rss else None)} "
          f"| {fmt(peak.get('broker_cpu_us_per_event'), 2)} "
          f"| {loadgen} | {', '.join(r for r in ratios if r) or '–'} |")
print()
print("events/s, req/s: closed loop, 32 connections (kafka-ceiling: 32 requests in flight), 2xx only.")
print("Latency: open loop at 70% of the peak req/s, 64 connections, from each request's intended send time.")
print("CPU µs/event: the server process's user+system CPU over the peak run / events answered 2xx")
print("(kafka-ceiling: the producer process). broker CPU µs/event: the tansu broker's CPU over the")
print("same window / the same events (Kafka rows); on 2 cores it competes with slog and the load tool.")
print("peak RSS: VmHWM of that row's server process (fresh per row).")
print(f"raw results: {path}")
EOF
