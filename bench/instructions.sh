#!/usr/bin/env bash
# Instructions a line of the default JSON and text paths (`logproc process
# --parser json|regex`, one worker), counted by valgrind: the same count
# every run, unlike wall clock on a shared machine. A run over 2N lines
# minus a run over N, divided by N, so that start-up, plugin compilation and
# format detection cancel out. See BENCHMARKS.md. Not part of `cargo test`.
#
#   bench/instructions.sh               # the plugins built into logproc
#   bench/instructions.sh OTHER_PLUGINS # a directory of other builds of them
#                                       # (json.wasm, regex.wasm), to compare
#   BENCH_LINES=50000 bench/instructions.sh
#
# Needs valgrind (`apt-get install valgrind`). About 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES="${BENCH_LINES:-100000}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$TARGET/bench/instructions"
LOGPROC="$TARGET/release/logproc"
PLUGINS="${1:-}"
mkdir -p "$WORK/empty"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --quiet

# Instructions of one run over FILE.
count() {
    local parser=$1 file=$2
    # A cache of compiled plugins of its own: valgrind's CPU differs from
    # the real one, so its compiled code would evict the real cache's.
    LOGPROC_PLUGINS__DIR="${PLUGINS:-$WORK/empty}" LOGPROC_PLUGINS__CACHE_DIR="$WORK/cache" \
        LOGPROC_PIPELINE__WORKERS=1 \
        valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$LOGPROC" process --parser "$parser" "$file" 2>&1 >/dev/null |
        awk '/I *refs/ { gsub(",", "", $NF); print $NF }'
}

for format in json text; do
    parser=$([ "$format" = json ] && echo json || echo regex)
    ext=$([ "$format" = json ] && echo jsonl || echo log)
    once="$WORK/once.$ext" twice="$WORK/twice.$ext"
    if [ ! -f "$once" ] || [ "$(wc -l <"$once")" != "$LINES" ]; then
        "$LOGPROC" gen --lines "$LINES" --format "$format" --seed 42 --out "$once" 2>/dev/null
        cat "$once" "$once" >"$twice"
    fi
    count "$parser" "$once" >/dev/null # fills the cache
    a=$(count "$parser" "$once")
    b=$(count "$parser" "$twice")
    echo "$format: $(((b - a) / LINES)) instructions a line"
done
