#!/bin/sh
# Install, with apt-get, whatever libconc needs to build, test and benchmark
# that is missing on this Debian machine. Quiet and quick when nothing is
# missing. Run as root (or it uses sudo when that exists).
set -eu

# Build and test: compiler, Meson/Ninja, CMocka, pkg-config. Checks: cppcheck,
# clang-tidy, Doxygen (the API reference must build without warnings).
# Benchmark peers: GLib, libuv, moodycamel's queue and Boost.Context (C++);
# liburing for the TCP echo benchmark's client.
# Example tests' peers: socat (echo_server's client), python3 (http.server
# for http_get).
packages="gcc g++ libc6-dev meson ninja-build pkg-config libcmocka-dev \
cppcheck clang-tidy valgrind doxygen \
libglib2.0-dev libuv1-dev libconcurrentqueue-dev libboost-context-dev liburing-dev \
socat python3"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
run=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && run=sudo
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq
# shellcheck disable=SC2086
$run apt-get install -y -qq --no-install-recommends $missing >/dev/null
