#!/usr/bin/env bash
# What idle files cost: N files of one line each in the watch directory,
# `logproc serve` reads them, then the CPU it uses while nothing changes is
# measured (from /proc/PID/stat) and its resident memory read. See
# BENCHMARKS.md. Not part of `cargo test`.
#
#   bench/idle.sh                  # 100,000 files; CPU over 120 s, after 90 s settled
#   IDLE_FILES=10000 bench/idle.sh # fewer files
#   IDLE_SETTLE=90 IDLE_SECONDS=120 bench/idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${IDLE_FILES:-100000}"
SETTLE="${IDLE_SETTLE:-90}"
SECONDS_MEASURED="${IDLE_SECONDS:-120}"
WORK="$PWD/target/bench/idle"
PORT="${IDLE_PORT:-18990}"

echo "== building logproc (release)" >&2
cargo build --release --locked --quiet
rm -rf "$WORK"
mkdir -p "$WORK/logs"
python3 - "$WORK/logs" "$FILES" <<'PY'
import sys
logs, files = sys.argv[1], int(sys.argv[2])
for i in range(files):
    with open(f"{logs}/f{i}.log", "w") as f:
        f.write("1735732800000 INFO [orders/api] one\n")
PY
target/release/logproc serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
    --watch-dir "$WORK/logs" --plugin-dir "$WORK/plugins" 2>"$WORK/serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
started=$(date +%s.%N)
until [ "$(curl -sf "localhost:$PORT/stats" | python3 -c 'import sys,json; print(json.load(sys.stdin)["lines"])' 2>/dev/null)" = "$FILES" ]; do
    sleep 0.5
done
read_in=$(echo "$(date +%s.%N) - $started" | bc)
sleep "$SETTLE"
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
before=$(ticks)
sleep "$SECONDS_MEASURED"
after=$(ticks)
hz=$(getconf CLK_TCK)
cpu=$(echo "scale=2; 100 * ($after - $before) / $hz / $SECONDS_MEASURED" | bc)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
echo "files=$FILES read_in_s=$read_in idle_cpu_percent_of_a_core=$cpu rss_kb=$rss"
