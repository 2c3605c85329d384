#!/bin/sh
# Quick start, step 2: install what is missing, build and run every test
# suite (unit, stress, examples, install/symbol checks).
# Usage: scripts/test.sh [BUILD_DIR [MESON_OPTION...]]   (default: build)
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
sh scripts/install-deps.sh
sh scripts/build.sh "$@"
meson test -C "$dir" --print-errorlogs --num-processes 2
