#!/bin/sh
# Configure (once) and build libconc in a build directory.
# Usage: scripts/build.sh [BUILD_DIR [MESON_OPTION...]]   (default: build)
# Under CI (CI=true) warnings are errors.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
[ $# -gt 0 ] && shift
werror=""
[ "${CI:-}" = "true" ] && werror="-Dwerror=true"
if [ -f "$dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup --reconfigure "$dir" $werror "$@" >/dev/null
else
    # shellcheck disable=SC2086
    meson setup "$dir" $werror "$@" >/dev/null
fi
ninja -C "$dir"
