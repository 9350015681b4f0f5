#!/usr/bin/env bash
# FleetLock throughput of `ferro fleet serve` with the embedded store: 64 concurrent
# clients on loopback, each doing lock+unlock round trips with its own id (a new
# connection per request, as Zincati's ticks are), in a group with 64 slots so that
# every request changes the store (one durable redb commit each).
#
#   scripts/bench-fleet.sh [CLIENTS] [ROUNDS]      PROFILE=release for a release build
#
# Prints round trips per second and request latency percentiles. The etcd backend and
# the Airlock-like mode (a CAS conflict refused rather than retried) are not built yet.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-64}
rounds=${2:-50}
profile=${PROFILE:-dev}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p ferro -p ferro-fleet --example fleet_bench
dir=${CARGO_TARGET_DIR:-target}/$([ "$profile" = release ] && echo release || echo debug)
work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cat >"$work/fleet.toml" <<TOML
listen = "127.0.0.1:0"
data = "data"
[[lock.groups]]
name = "bench"
slots = $clients
TOML
mkfifo "$work/out"
FERRO_LOG=warn "$dir/ferro" fleet serve --config "$work/fleet.toml" >"$work/out" &
server_pid=$!
exec 3<"$work/out"
read -r line <&3
addr=${line#listening on }
echo "server $addr (store $work/data/fleet.redb, profile $profile)"
"$dir/examples/fleet_bench" "$addr" bench "$clients" "$rounds"
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=
