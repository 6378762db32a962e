#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the examples need.
# Idempotent: does nothing (not even apt-get update) when they are all present.
set -euo pipefail

# Add new dependencies here.
PACKAGES=(
    build-essential
    g++
    clang
    cmake
    make
    pkg-config
    libgtest-dev
    libgmock-dev
    libbenchmark-dev
    python3
    git
    ca-certificates
    libc-ares-dev
    liburing-dev
    libssl-dev
    openssl
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian-based system; install the equivalents of: ${PACKAGES[*]}" >&2
    exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "deps.sh: all ${#PACKAGES[@]} packages present"
    exit 0
fi

sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "deps.sh: missing ${missing[*]}; run as root or install sudo" >&2
        exit 1
    fi
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
