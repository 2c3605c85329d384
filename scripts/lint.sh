#!/bin/sh
# Static analysis of src/ with cppcheck and clang-tidy; any finding fails.
# Usage: scripts/lint.sh [BUILD_DIR]   (needs a configured build for
# compile_commands.json)
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}

cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
    --enable=warning,performance,portability \
    --suppress=missingIncludeSystem \
    -I include -I src -D__GNUC__ -D__linux__ -D__x86_64__ \
    src/

# poll_kqueue.c needs <sys/event.h>, which Linux does not have: its entry in
# compile_commands.json comes from the tests that build it over the stand-in
# in tests/kqueue_shim/.
files=$(find src -name '*.c' | sort)
# shellcheck disable=SC2086
clang-tidy --quiet -p "$dir" --warnings-as-errors='*' $files 2>/dev/null
echo "lint: cppcheck and clang-tidy found nothing"
