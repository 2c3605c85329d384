#!/bin/sh
# Build the benchmarks (release build in build-bench/) and run every one,
# one after the other, on an otherwise idle machine. Prints each program's
# table; the BENCH lines are also collected in build-bench/bench.txt.
# Usage: scripts/bench.sh [NAME...]   (default: every bench_* program)
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
sh scripts/build.sh build-bench -Dbuildtype=release -Db_ndebug=true -Dbench=enabled >/dev/null
out=build-bench/bench.txt
: > "$out"
names=${*:-$(cd build-bench/bench && ls bench_* | grep -v '\.p$' | sed 's/^bench_//')}
for n in $names; do
    echo "=== bench_$n"
    "build-bench/bench/bench_$n" | tee -a "$out"
done
echo
echo "BENCH lines:"
grep '^BENCH ' "$out"
