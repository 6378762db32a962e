#!/bin/sh
# Instructions per operation of the key micro paths, counted by callgrind: repeatable on a
# busy machine, where wall-clock figures are not. Each workload runs at two counts and the
# difference is divided by the difference in count, which cancels the setup (loop creation,
# backend, first allocations) out.
#
# Usage: bench/micro/callgrind.sh [build dir] [workload...]
#   build dir defaults to build/release (configure with -DASYNCIO_BUILD_BENCH=ON);
#   workloads default to spawn pingpong queue_put_get await_ready yield sleep_fire
#   sleep_many timer_cancel call_soon gather.
set -eu

build=${1:-build/release}
[ $# -gt 0 ] && shift
program="$build/bench/micro/asyncio_instruction_counts"
if [ ! -x "$program" ]; then
    echo "no $program: cmake -DASYNCIO_BUILD_BENCH=ON and build asyncio_instruction_counts" >&2
    exit 1
fi
workloads=${*:-spawn pingpong queue_put_get await_ready yield sleep_fire sleep_many timer_cancel call_soon gather}
small=${SMALL_N:-2000}
large=${LARGE_N:-22000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count() {  # workload n -> total instructions (Ir)
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$program" "$1" "$2" \
        >/dev/null 2>"$tmp/log"
    sed -n 's/^summary: //p' "$tmp/out"
}

printf '%-14s %14s\n' workload 'instr/op'
for workload in $workloads; do
    a=$(count "$workload" "$small")
    b=$(count "$workload" "$large")
    awk -v w="$workload" -v a="$a" -v b="$b" -v n=$((large - small)) \
        'BEGIN { printf "%-14s %14.1f\n", w, (b - a) / n }'
done
