#!/usr/bin/env bash
# README command 2: set up, build and run the whole test suite, README command 1 included
# (e2e_demo_readme runs tools/demo.sh in a temporary clone and stops its stack afterwards).
#   tools/test.sh [BUILD_DIR]        (default: build)
# Same flags as tools/demo.sh (tools/cmake_args.sh) and ccache when installed, so that the demo's
# build inside the test suite is cache hits instead of a second compile.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"

bash tools/setup.sh
# shellcheck source=tools/cmake_args.sh
source tools/cmake_args.sh
cmake -S . -B "$build" "${autostage_cmake_args[@]}"
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j2
