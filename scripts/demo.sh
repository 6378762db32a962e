#!/usr/bin/env bash
# Builds the examples in the release preset and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake --preset release
cmake --build --preset release --target hello download_sim

for example in hello download_sim; do
    echo
    echo "== $example"
    "build/release/examples/$example"
done
