#!/usr/bin/env bash
# TCP echo round trips per second: examples/echo_server (release build) against Python's
# asyncio streams echo server, loaded by the same client (bench/peers/echo_load.c), server
# pinned to core 0 and client to core 1. Prints one line per run, then the medians.
#
# Usage: bench/peers/echo_vs_python.sh [connections=100] [message_bytes=1024] [seconds=5] [runs=3]
set -euo pipefail
cd "$(dirname "$0")/../.."

connections=${1:-100}
message_bytes=${2:-1024}
seconds=${3:-5}
runs=${4:-3}

cmake --preset release >/dev/null
cmake --build --preset release --target echo_server >/dev/null
load=build/release/bench/echo_load
mkdir -p "$(dirname "$load")"
cc -O2 -Wall -Wextra -o "$load" bench/peers/echo_load.c

# Starts a server that prints its port as the last word of its first line; echoes the rate.
measure() {
    local output
    output=$(mktemp)
    taskset -c 0 "$@" >"$output" 2>&1 &
    local server=$!
    local port=""
    for _ in $(seq 100); do
        port=$(grep -oE '[0-9]+$' "$output" | head -1 || true)
        [[ -n "$port" ]] && break
        sleep 0.05
    done
    [[ -n "$port" ]] || { echo "server did not start: $*" >&2; cat "$output" >&2; exit 1; }
    taskset -c 1 "$load" 127.0.0.1 "$port" "$connections" "$message_bytes" "$seconds"
    kill "$server"
    wait "$server" 2>/dev/null || true
    rm -f "$output"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ours=()
python=()
for run in $(seq "$runs"); do
    ours+=("$(measure build/release/examples/echo_server 0)")
    python+=("$(measure python3 tests/net/peers/asyncio_echo_server.py)")
    echo "run $run: asyncio-cpp ${ours[-1]}  python-asyncio ${python[-1]}"
done
ours_median=$(printf '%s\n' "${ours[@]}" | median)
python_median=$(printf '%s\n' "${python[@]}" | median)
echo "echo, $connections connections x $message_bytes B, medians of $runs x ${seconds}s (round trips/s):"
echo "  asyncio-cpp     $ours_median"
echo "  python asyncio  $python_median"
awk -v a="$ours_median" -v b="$python_median" 'BEGIN { printf "  ratio           %.2fx\n", a / b }'
