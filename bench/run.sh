#!/usr/bin/env bash
# The one benchmark command: installs the peers that are missing (as root, with apt-get),
# builds asyncio-cpp and the peer programs in release mode into build/bench, runs every
# workload on every available peer (bench/run.py), prints a table of medians with ratios,
# and writes bench/results/results.json and bench/results/chart.svg.
#
#   bench/run.sh                     3 runs of everything, N = 1,000,000 (about 15 minutes)
#   bench/run.sh --quick             smoke test: 1 run, N = 100,000, 1 s per server
#   bench/run.sh --only spawn,echo   some workloads (spawn pingpong sleep echo http micro)
#   bench/run.sh --runs 5            more runs per program
#   bench/run.sh --update-readme     also put the table into README.md
#   bench/run.sh --no-install        never call apt-get; peers that are missing are skipped
#
# Other options go to bench/run.py (see bench/run.py --help). BENCH_JOBS sets the build's
# parallelism (default 2). Run it on a quiet machine: the figures are only as steady as
# the two cores they run on.
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
args=()
for arg in "$@"; do
    case $arg in
        --no-install) install=0 ;;
        -h | --help)
            sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) args+=("$arg") ;;
    esac
done

apt_updated=0
# install PACKAGE...: apt-get install, after one apt-get update if the first try fails.
install_packages() {
    if ((install == 0)); then
        echo "bench: not installing $* (--no-install)"
        return 1
    fi
    if [[ $(id -u) != 0 ]]; then
        echo "bench: not root, cannot install $*: install it yourself (apt-get install $*)"
        return 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "bench: no apt-get, cannot install $*"
        return 1
    fi
    echo "bench: installing $*"
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
        >/tmp/asyncio-bench-apt.log 2>&1; then
        return 0
    fi
    if ((apt_updated == 0)); then
        apt_updated=1
        apt-get update >/tmp/asyncio-bench-apt.log 2>&1 || true
        if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" \
            >/tmp/asyncio-bench-apt.log 2>&1; then
            return 0
        fi
    fi
    echo "bench: apt-get install $* failed (see /tmp/asyncio-bench-apt.log)"
    return 1
}

# Each missing peer is installed or skipped with a line saying so; none stops the run.
if ! /usr/bin/python3 -c 'import uvloop' 2>/dev/null; then
    install_packages python3-uvloop || echo "bench: skipping uvloop"
fi
if [[ ! -f /usr/include/boost/asio.hpp ]]; then
    install_packages libboost1.81-dev || install_packages libboost-dev ||
        echo "bench: skipping Boost.Asio"
fi
if ! command -v node >/dev/null; then
    install_packages nodejs || echo "bench: skipping Node.js"
fi
if ! command -v wrk >/dev/null; then
    install_packages wrk || echo "bench: skipping the HTTP workload (no wrk)"
fi
if ! command -v taskset >/dev/null; then
    install_packages util-linux || echo "bench: no taskset, nothing will be pinned to a core"
fi

# Release, -O2, everything but the bench programs off. Our own binary dir, so the build
# neither disturbs nor depends on the presets' ones.
echo "bench: building into build/bench"
cmake -S . -B build/bench \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DASYNCIO_BUILD_BENCH=ON \
    -DASYNCIO_BUILD_TESTS=OFF \
    -DASYNCIO_BUILD_EXAMPLES=OFF \
    -DASYNCIO_WITH_TLS=OFF \
    -DASYNCIO_INSTALL=OFF >/tmp/asyncio-bench-configure.log ||
    { cat /tmp/asyncio-bench-configure.log; exit 1; }
grep -E "^-- bench:" /tmp/asyncio-bench-configure.log || true
cmake --build build/bench -j"${BENCH_JOBS:-2}" >/tmp/asyncio-bench-build.log ||
    { tail -50 /tmp/asyncio-bench-build.log; exit 1; }

exec /usr/bin/python3 bench/run.py --build build/bench "${args[@]}"
