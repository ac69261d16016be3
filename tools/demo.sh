#!/usr/bin/env bash
# README command 1: set up, build and run the main job on the embedded default: evaluate the
# default rule packs on the demo corpus shipped in deploy/demo.
#   tools/demo.sh [BUILD_DIR]        (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"

bash tools/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" --target rulectl
"$build/bin/rulectl" lint deploy/rules
"$build/bin/rulectl" eval --rules deploy/rules --corpus deploy/demo
