#!/bin/sh
# Install libconc into a temporary root, then build and run a small program
# against the *installed* headers and library found through pkg-config, as a
# user would.
# Usage: check_install.sh BUILD_DIR CC [SANITIZERS]
# SANITIZERS is the build's b_sanitize value: an instrumented library needs
# an instrumented program.
set -eu
build=$1 cc=$2 sanitize=${3:-none}
sanflags=""
[ "$sanitize" != "none" ] && sanflags="-fsanitize=$sanitize"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --destdir "$tmp/root" --no-rebuild >/dev/null
pcdir=$(dirname "$(find "$tmp/root" -name libconc.pc | head -n 1)")
[ -d "$pcdir" ] || { echo "check_install: libconc.pc was not installed" >&2; exit 1; }
for f in include/conc.h include/conc/error.h include/conc/time.h; do
    find "$tmp/root" -path "*/$f" | grep -q . || { echo "check_install: $f missing" >&2; exit 1; }
done
find "$tmp/root" -name 'libconc.a' | grep -q . || { echo "check_install: libconc.a missing" >&2; exit 1; }
find "$tmp/root" -name 'libconc.so.0' | grep -q . || { echo "check_install: libconc.so.0 missing" >&2; exit 1; }

cat > "$tmp/user.c" <<'PROG'
#include <conc.h>
#include <stdio.h>

int main(void)
{
    int64_t t0 = conc_now_ns();
    conc_sleep(CONC_MS(1));
    if (conc_now_ns() - t0 < CONC_MS(1))
        return 1;
    printf("installed libconc works: %s\n", conc_strerror(CONC_ETIMEDOUT));
    return 0;
}
PROG
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
# shellcheck disable=SC2046
"$cc" $sanflags -std=c11 -Wall -Werror -o "$tmp/user" "$tmp/user.c" $(pkg-config --cflags --libs libconc)
libdir=$(dirname "$(find "$tmp/root" -name 'libconc.so.0' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$tmp/user"
# The program must have used the installed shared library, not another one.
LD_LIBRARY_PATH="$libdir" ldd "$tmp/user" | grep -q "$libdir/libconc.so.0"
