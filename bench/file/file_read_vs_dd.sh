#!/usr/bin/env bash
# Sequential read throughput of one file in 64 KiB chunks: dd against asyncio::File on each
# backend, warm page cache and (evicting only this file's pages) cold. Prints medians in MB/s.
#
# usage: bench/file/file_read_vs_dd.sh PATH/TO/file_read_bench [runs=5] [size_mib=1024] [in_flight=1]
# The test file is made in ${TMPDIR:-/tmp} and removed at exit. Other load on the machine
# moves these figures: compare only within one run.
set -euo pipefail

bench=${1:?usage: $0 PATH/TO/file_read_bench [runs] [size_mib] [in_flight]}
runs=${2:-5}
size_mib=${3:-1024}
in_flight=${4:-1}
chunk=65536

file=$(mktemp "${TMPDIR:-/tmp}/asyncio-file-read.XXXXXX")
trap 'rm -f "$file"' EXIT
head -c "$((size_mib << 20))" /dev/urandom >"$file"
sync "$file"

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.21 s, 5.1 GB/s" -> MB/s from bytes and seconds.
dd_rate() {
    LC_ALL=C dd if="$file" of=/dev/null bs=$chunk 2>&1 |
        awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); printf "%.0f\n", $1 / s / 1e6 }'
}
ours_rate() { ASYNCIO_BACKEND=$1 "$bench" "$file" $chunk "$in_flight" | awk '{ print $NF }'; }
warm() { cat "$file" >/dev/null; }
# posix_fadvise(DONTNEED) on this file only: nothing else on the machine is disturbed.
cold() { dd if="$file" iflag=nocache count=0 status=none; }

for cache in warm cold; do
    for reader in dd io_uring epoll; do
        rates=()
        for ((i = 0; i < runs; i++)); do
            $cache
            if [[ $reader == dd ]]; then rates+=("$(dd_rate)"); else rates+=("$(ours_rate $reader)"); fi
        done
        label=$reader
        [[ $reader != dd ]] && label="asyncio-cpp $reader (in_flight=$in_flight)"
        printf '%-4s %-36s median %6s MB/s   runs: %s\n' "$cache" "$label" \
            "$(printf '%s\n' "${rates[@]}" | median)" "${rates[*]}"
    done
done
