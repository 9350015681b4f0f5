#!/usr/bin/env bash
# FleetLock throughput of `ferro fleet serve`: CLIENTS (64) concurrent clients on
# loopback, each doing ROUNDS lock+unlock round trips with its own id (a new connection
# per request, as Zincati's ticks are), in a group with CLIENTS slots so that every
# request changes the store. Three runs:
#   embedded      one server, the redb store (one durable commit per change);
#   etcd          three servers on one etcd member, conflicts retried on the server;
#   etcd-airlock  the same, a conflict refused as Airlock does (the client sends again).
#
#   scripts/bench-fleet.sh [CLIENTS] [ROUNDS] [MODE…]      PROFILE=release for a release build
#
# Prints round trips per second, request latency percentiles and, for etcd, how many
# requests were refused and sent again. etcd comes from Debian's etcd-server.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-64}
rounds=${2:-50}
shift $(( $# > 2 ? 2 : $# ))
modes=("${@:-embedded}")
[ $# -eq 0 ] && modes=(embedded etcd etcd-airlock)
profile=${PROFILE:-dev}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p ferro -p ferro-fleet --example fleet_bench
dir=${CARGO_TARGET_DIR:-target}/$([ "$profile" = release ] && echo release || echo debug)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# start_server NAME EXTRA-CONFIG: starts a server and sets $addr to its address, read
# from its `listening on ADDR` line (printed once it accepts connections).
start_server() {
    mkdir -p "$work/$1"
    cat >"$work/$1/fleet.toml" <<TOML
listen = "127.0.0.1:0"
data = "data"
$2
[[lock.groups]]
name = "bench"
slots = $clients
TOML
    FERRO_LOG=error "$dir/ferro" fleet serve --config "$work/$1/fleet.toml" >"$work/$1/out" 2>"$work/$1/log" &
    pids+=($!)
    until grep -q '^listening on ' "$work/$1/out" 2>/dev/null; do
        kill -0 "${pids[-1]}" 2>/dev/null || { echo "server $1 did not start" >&2; exit 1; }
        sleep 0.1
    done
    addr=$(sed -n 's/^listening on //p' "$work/$1/out")
}

# run MODE ADDRS: one load run, its summary line kept for the ratios.
declare -A rate p99
run() {
    local line
    line=$("$dir/examples/fleet_bench" "$2" bench "$clients" "$rounds")
    echo "$1: $line"
    rate[$1]=$(sed -n 's/.*round_trips_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
    p99[$1]=$(sed -n 's/.*request_p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
}

for mode in "${modes[@]}"; do
    case $mode in
    embedded)
        start_server embedded ""
        echo "embedded: server $addr (profile $profile)"
        run embedded "$addr"
        ;;
    etcd | etcd-airlock)
        command -v etcd >/dev/null || { echo "$mode: etcd not installed (Debian etcd-server), skipped"; continue; }
        port=$((20000 + RANDOM % 12000))  # below the ephemeral range the load fills
        etcd --name b --data-dir "$work/etcd-$mode" \
            --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
            --listen-peer-urls "http://127.0.0.1:$((port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
            --initial-cluster "b=http://127.0.0.1:$((port + 1))" 2>"$work/etcd-$mode.log" &
        pids+=($!)
        until grep -qs "ready to serve client requests" "$work/etcd-$mode.log"; do
            kill -0 "${pids[-1]}" 2>/dev/null || { echo "etcd did not start: $(tail -3 "$work/etcd-$mode.log")" >&2; exit 1; }
            sleep 0.1
        done
        conflicts=retry; [ "$mode" = etcd-airlock ] && conflicts=refuse
        addrs=()
        for i in 1 2 3; do
            start_server "$mode-$i" "etcd = [\"http://127.0.0.1:$port\"]
[lock]
conflicts = \"$conflicts\""
            addrs+=("$addr")
        done
        list=$(IFS=,; echo "${addrs[*]}")
        echo "$mode: servers $list, etcd 127.0.0.1:$port (profile $profile)"
        run "$mode" "$list"
        ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
done

# The ratios: what the embedded store and server-side retries buy.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
if [ -n "${rate[embedded]:-}" ] && [ -n "${rate[etcd]:-}" ]; then
    echo "embedded vs etcd: round trips/s x$(ratio "${rate[embedded]}" "${rate[etcd]}"), p99 ${p99[embedded]} vs ${p99[etcd]} ms (x$(ratio "${p99[embedded]}" "${p99[etcd]}"))"
fi
if [ -n "${rate[etcd]:-}" ] && [ -n "${rate[etcd-airlock]:-}" ]; then
    echo "etcd retrying vs refusing (Airlock-like): round trips/s x$(ratio "${rate[etcd]}" "${rate[etcd-airlock]}"), p99 ${p99[etcd]} vs ${p99[etcd-airlock]} ms (x$(ratio "${p99[etcd-airlock]}" "${p99[etcd]}") lower)"
fi
