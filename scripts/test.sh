#!/usr/bin/env bash
# The one test command: every workflow preset (configure, build, ctest), then the install
# checks: a find_package(asyncio) consumer and a pkg-config consumer against a temporary
# prefix.
#
#   scripts/test.sh             dev release asan tsan clang, then the install checks
#   scripts/test.sh dev tsan    only these presets; the install checks run when dev is one
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if (($# > 0)); then
    presets=("$@")
else
    presets=(dev release asan tsan clang)
fi

timings=()
stage_start=0
stage_name=""

begin() {
    stage_name=$1
    stage_start=$(date +%s)
    echo
    echo "==== $stage_name"
}

end() {
    local took=$(($(date +%s) - stage_start))
    timings+=("$(printf '%-28s %4ds' "$stage_name" "$took")")
    echo "==== $stage_name: ok (${took}s)"
}

fail() {
    echo
    echo "==== FAILED: $1 (after $(($(date +%s) - stage_start))s)" >&2
    summary >&2
    exit 1
}

summary() {
    if ((${#timings[@]} > 0)); then
        echo "---- durations"
        printf '%s\n' "${timings[@]}"
    fi
}

begin "deps"
scripts/deps.sh || fail "deps.sh"
end

for preset in "${presets[@]}"; do
    begin "preset $preset"
    cmake --workflow --preset "$preset" || fail "preset $preset"
    end
    # The suite ran on the default backend (io_uring where the kernel allows it); run it
    # once more on epoll for the presets that matter most, keeping CI time reasonable.
    if [[ $preset == dev || $preset == asan ]]; then
        begin "preset $preset on epoll"
        ASYNCIO_BACKEND=epoll ctest --preset "$preset" || fail "preset $preset on epoll"
        end
    fi
    # On epoll, files and to_thread run on the thread pool: ThreadSanitizer checks that path.
    if [[ $preset == tsan ]]; then
        begin "preset tsan on epoll (thread-pool paths)"
        ASYNCIO_BACKEND=epoll ctest --preset tsan -R '^(File|ToThread|RunInExecutor)' ||
            fail "preset tsan on epoll"
        end
    fi
done

run_install_checks=false
for preset in "${presets[@]}"; do
    if [[ $preset == dev ]]; then
        run_install_checks=true
    fi
done

consumer_find_package() {
    cmake -S tests/consumer -B "$tmp/consumer" -G "Unix Makefiles" \
        -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH="$prefix" || return 1
    cmake --build "$tmp/consumer" -j 2 || return 1
    "$tmp/consumer/consumer" || return 1
    if [[ -x $tmp/consumer/consumer_tls ]]; then
        "$tmp/consumer/consumer_tls" || return 1
    fi
}

consumer_pkg_config() {
    local pc_file flags
    pc_file=$(find "$prefix" -name asyncio.pc -print -quit)
    if [[ -z $pc_file ]]; then
        echo "asyncio.pc is not in $prefix" >&2
        return 1
    fi
    flags=$(PKG_CONFIG_PATH="$(dirname "$pc_file")" pkg-config --cflags --libs asyncio) || return 1
    echo "g++ tests/consumer/consumer.cpp $flags"
    # shellcheck disable=SC2086 # the flags are meant to split
    g++ "$root/tests/consumer/consumer.cpp" -o "$tmp/consumer_pc" $flags || return 1
    "$tmp/consumer_pc" || return 1
    if [[ -f $(dirname "$pc_file")/asyncio-tls.pc ]]; then
        flags=$(PKG_CONFIG_PATH="$(dirname "$pc_file")" pkg-config --cflags --libs asyncio-tls) ||
            return 1
        echo "g++ tests/consumer/consumer_tls.cpp $flags"
        # shellcheck disable=SC2086 # the flags are meant to split
        g++ "$root/tests/consumer/consumer_tls.cpp" -o "$tmp/consumer_tls_pc" $flags || return 1
        "$tmp/consumer_tls_pc" || return 1
    fi
}

if $run_install_checks; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    prefix=$tmp/prefix

    begin "install"
    cmake --install build/dev --prefix "$prefix" || fail "cmake --install build/dev"
    end

    begin "consumer (find_package)"
    consumer_find_package || fail "consumer (find_package)"
    end

    begin "consumer (pkg-config)"
    consumer_pkg_config || fail "consumer (pkg-config)"
    end
fi

echo
echo "==== all passed"
summary
