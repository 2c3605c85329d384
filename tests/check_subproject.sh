#!/bin/sh
# Use libconc as a Meson subproject of a fresh project, as a downstream
# project would: dependency('libconc') must be satisfied by the subproject.
# Usage: check_subproject.sh SOURCE_ROOT
set -eu
src=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/subprojects"
ln -s "$src" "$tmp/subprojects/libconc"
cat > "$tmp/meson.build" <<'MESON'
project('downstream', 'c', default_options: ['c_std=c11'])
conc = dependency('libconc', fallback: ['libconc', 'libconc_dep'],
  default_options: ['tests=disabled', 'examples=disabled', 'bench=disabled', 'docs=disabled'])
executable('downstream', 'main.c', dependencies: conc)
MESON
cat > "$tmp/main.c" <<'PROG'
#include <conc.h>
#include <stdio.h>
int main(void)
{
    printf("%s\n", conc_strerror_name(CONC_ECLOSED));
    return conc_now_ns() > 0 ? 0 : 1;
}
PROG
cd "$tmp"
meson setup b -Dwrap_mode=forcefallback >/dev/null
ninja -C b >/dev/null
./b/downstream | grep -q CONC_ECLOSED
echo "check_subproject: downstream project built and ran against the subproject"
