#!/usr/bin/env bash
# Throughput benchmark: logproc against DuckDB, mawk (or awk) and jq on the
# same generated inputs; see BENCHMARKS.md. Not part of `cargo test`.
#
#   bench/run.sh                      # 1M lines each: JSON, text, syslog, log4j; 3 runs each
#   BENCH_LINES=10000000 bench/run.sh # larger inputs
#   BENCH_RUNS=5 bench/run.sh         # more runs (the median is reported)
#
# Needs python3 (with venv), jq and PostgreSQL's server binaries (for the
# `serve` row on postgres, a throwaway server); DuckDB is installed from PyPI into
# target/bench/venv on the first run. Inputs and results stay in target/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES="${BENCH_LINES:-1000000}"
WORK="$PWD/target/bench"
mkdir -p "$WORK"

for tool in python3 jq; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done

echo "== building logproc (release)" >&2
cargo build --release --locked --quiet
LOGPROC="$PWD/target/release/logproc"

if ! "$WORK/venv/bin/python" -c "import duckdb" 2>/dev/null; then
    echo "== installing DuckDB into $WORK/venv (PyPI)" >&2
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==2.0.1"
fi

# Same seed, same file: regenerated only when the line count changes.
for format in json text syslog log4j; do
    case $format in
        json) file="$WORK/bench.jsonl" ;;
        text) file="$WORK/bench.log" ;;
        *) file="$WORK/bench-$format.log" ;;
    esac
    if [ ! -f "$file.truth.json" ] || [ "$(jq .lines "$file.truth.json")" != "$LINES" ]; then
        echo "== generating $LINES $format lines" >&2
        "$LOGPROC" gen --lines "$LINES" --format "$format" --seed 42 --out "$file" >&2
    fi
done

echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes'), $(date -u +%Y-%m-%dT%H:%MZ)" >&2
echo "| input | tool | median s | lines/s | MB/s | peak RSS MB | logproc process ÷ tool (lines/s) | runs (s) |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
"$WORK/venv/bin/python" bench/bench.py "$WORK" "$LOGPROC"
echo "(results also in $WORK/results.json)" >&2
