#!/usr/bin/env bash
# Ingest rate of POST /v1/logs (OTLP protobuf) and POST /loki/api/v1/push
# (Loki protobuf + snappy): whole requests of 1,000 records from 4
# concurrent senders, into `logproc serve` on sled (release build).
#   bench/shippers.sh [--records N] [--batch N] [--senders N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin logproc --example ship_load
exec target/release/examples/ship_load target/release/logproc "$@"
