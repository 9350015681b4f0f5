#!/usr/bin/env bash
# The measurement behind the fleet server's embedded store: redb (what it uses) against
# SQLite doing the same durable lock-change transactions, one run, ratios printed.
# BENCH_DIR picks the filesystem (default: a directory under /var/tmp, not a tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR=${BENCH_DIR:-/var/tmp}
cargo run --release --quiet -p ferro-fleet --features store-bench --example store_choice -- "${1:-2000}"
