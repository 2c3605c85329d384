#!/bin/sh
# Portability tests of libconc, for real:
#  * cross builds for aarch64, armhf (Thumb-2, the Debian default, and ARM
#    state), riscv64 and i386 with Debian's cross compilers; the whole unit
#    suite of each runs under qemu-user (meson test, with the exe_wrapper of
#    cross/<target>.txt); the few tests that need kernel services qemu-user
#    does not emulate (robust futexes, RLIMIT_AS) skip themselves there;
#  * the ucontext fallback of the coroutine switch, natively;
#  * Valgrind memcheck over test_coro on the native assembly backend.
# Missing packages are installed with apt-get. Test programs use CMocka; as
# Debian has no CMocka for the cross targets, they are built against a small
# stand-in with the same API (cross/cmocka/), compiled here for each target.
#
# Usage: scripts/cross-test.sh [STEP...]
#   steps: aarch64 armhf armhf-arm riscv64 i386 ucontext valgrind (default: all)
# Build directories: build-cross-<target>/, build-coro-ucontext/,
# build-coro-valgrind/; logs of the quiet steps in build-cross-logs/.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
steps=${*:-"aarch64 armhf armhf-arm riscv64 i386 ucontext valgrind"}
werror=""
[ "${CI:-}" = "true" ] && werror="-Dwerror=true"
logs=build-cross-logs
mkdir -p "$logs"
passed=0
failed=0
failures=""

say() { echo; echo "=== cross-test: $* ($(($(date +%s) - start)) s)"; }

apt_install() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "cross-test: installing:$missing"
    run=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && run=sudo
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq --no-install-recommends \
        $missing >/dev/null || {
        DEBIAN_FRONTEND=noninteractive $run apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq \
                --no-install-recommends $missing >/dev/null
    }
}

# The target's GNU triplet and the cross file of each step.
triplet_of() {
    case $1 in
    aarch64) echo aarch64-linux-gnu ;;
    armhf | armhf-arm) echo arm-linux-gnueabihf ;;
    riscv64) echo riscv64-linux-gnu ;;
    i386) echo i686-linux-gnu ;;
    esac
}

libc_of() {
    case $1 in
    aarch64) echo libc6-dev-arm64-cross ;;
    armhf | armhf-arm) echo libc6-dev-armhf-cross ;;
    riscv64) echo libc6-dev-riscv64-cross ;;
    i386) echo "libc6-dev-i386-cross libc6-i386" ;;
    esac
}

# i386 programs run natively (see cross/i386.txt): only where the kernel
# runs 32-bit programs.
i386_runs_here() {
    printf 'int main(void) { return 0; }\n' >build-cross-i386/true.c &&
        i686-linux-gnu-gcc build-cross-i386/true.c -o build-cross-i386/true 2>/dev/null &&
        ./build-cross-i386/true
}

record() { # NAME STATUS
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $1"
    fi
}

# Build the CMocka stand-in for a target and a cross file that points
# Meson's pkg-config at it.
build_cmocka() { # DIR TRIPLET
    mkdir -p "$1/cmocka"
    "$2-gcc" -O2 -std=c11 -Wall -Wextra -Werror -c cross/cmocka/cmocka.c \
        -o "$1/cmocka/cmocka.o"
    rm -f "$1/cmocka/libcmocka.a"
    "$2-gcc-ar" rcs "$1/cmocka/libcmocka.a" "$1/cmocka/cmocka.o"
    cat >"$1/cmocka/cmocka.pc" <<EOF
Name: cmocka
Description: CMocka stand-in for cross-target tests (cross/cmocka)
Version: 1.1.5
Libs: -L$root/$1/cmocka -lcmocka
Cflags: -I$root/cross/cmocka
EOF
    printf "[properties]\npkg_config_libdir = ['%s']\n" "$root/$1/cmocka" >"$1/cmocka/cross.txt"
}

# The programs of the "unit" suite, as ninja targets (every test_*.c, and
# the extra programs such as test_poller_pipe), read from meson's own list.
unit_targets() { # BUILD_DIR
    meson introspect "$1" --tests | python3 -c '
import json, os, sys
root = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin):
    if "unit" in t["suite"] or any(s.endswith(":unit") for s in t["suite"]):
        print(os.path.relpath(os.path.realpath(t["cmd"][0]), root))
' "$1" | sort -u
}

# Always a fresh configuration (not --wipe, which keeps the old options):
# edited cross files and options apply.
meson_setup() { # DIR OPTION...
    d=$1
    shift
    log=$logs/$(echo "$d" | tr / -).setup.log
    rm -rf "$d"
    meson setup "$d" "$@" >"$log" 2>&1 || { cat "$log"; return 1; }
}

cross_step() { # STEP
    step=$1
    triplet=$(triplet_of "$step")
    cross=cross/${step%-arm}.txt
    dir=build-cross-$step
    say "$step: build ($triplet, $cross)"
    # shellcheck disable=SC2046
    if ! apt_install qemu-user "gcc-$triplet" $(libc_of "$step"); then
        # The issue asks for i386 only where its packages install cleanly.
        [ "$step" = i386 ] && { echo "cross-test: i386 packages do not install; skipped"; return 0; }
        return 1
    fi
    mkdir -p "$dir"
    if [ "$step" = i386 ] && ! i386_runs_here; then
        echo "cross-test: this kernel does not run i386 programs; i386 skipped"
        return 0
    fi
    build_cmocka "$dir" "$triplet" || return 1
    set -- --cross-file "$cross" --cross-file "$dir/cmocka/cross.txt" \
        -Dbench=disabled -Dexamples=disabled -Dbuildtype=debugoptimized
    [ -n "$werror" ] && set -- "$@" "$werror"
    # The same target in ARM state (the default is Thumb-2).
    [ "$step" = armhf-arm ] && set -- "$@" "-Dc_args=-marm -funwind-tables"
    meson_setup "$dir/build" "$@" || return 1
    # shellcheck disable=SC2046
    ninja -C "$dir/build" $(unit_targets "$dir/build") >"$logs/$step.ninja.log" 2>&1 || {
        cat "$logs/$step.ninja.log"
        return 1
    }
    say "$step: unit tests$([ "$step" != i386 ] && echo " under qemu-user")"
    meson test -C "$dir/build" --no-rebuild --suite unit --print-errorlogs \
        --num-processes 2 --timeout-multiplier 3 && return 0
    retry_failed "$dir/build"
}

# Emulation on a busy machine can stretch a timing test past its margins:
# the programs that failed run once more, alone. A real bug fails again.
retry_failed() { # BUILD_DIR
    names=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
        print(t["name"].split(" / ")[-1])' "$1/meson-logs/testlog.json") || return 1
    [ -n "$names" ] || return 1
    echo "cross-test: retrying alone: $(echo "$names" | tr '\n' ' ')"
    # shellcheck disable=SC2086
    meson test -C "$1" --no-rebuild --print-errorlogs --num-processes 1 \
        --timeout-multiplier 3 $names || return 1
    echo "cross-test: WARNING: passed only on retry: $(echo "$names" | tr '\n' ' ')"
}

ucontext_step() {
    dir=build-coro-ucontext
    say "ucontext: native build with -Dcoro_backend=ucontext"
    # shellcheck disable=SC2086
    meson_setup "$dir" $werror -Dcoro_backend=ucontext -Dbench=disabled -Dexamples=disabled ||
        return 1
    ninja -C "$dir" tests/test_coro >"$logs/ucontext.ninja.log" 2>&1 ||
        { cat "$logs/ucontext.ninja.log"; return 1; }
    meson test -C "$dir" --no-rebuild --print-errorlogs coro
}

valgrind_step() {
    dir=build-coro-valgrind
    say "valgrind: memcheck of test_coro on the assembly backend"
    apt_install valgrind || return 1
    # shellcheck disable=SC2086
    meson_setup "$dir" $werror -Dcoro_backend=asm -Dbench=disabled -Dexamples=disabled || return 1
    ninja -C "$dir" tests/test_coro >"$logs/valgrind.ninja.log" 2>&1 ||
        { cat "$logs/valgrind.ninja.log"; return 1; }
    # Any memcheck error fails the run. The overflow tests' children die of
    # their signal on purpose; their reports are in the child's output only.
    valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --child-silent-after-fork=yes "$dir/tests/test_coro"
}

for s in $steps; do
    case $s in
    aarch64 | armhf | armhf-arm | riscv64 | i386)
        rc=0
        cross_step "$s" || rc=$?
        record "$s" "$rc"
        ;;
    ucontext)
        rc=0
        ucontext_step || rc=$?
        record "$s" "$rc"
        ;;
    valgrind)
        rc=0
        valgrind_step || rc=$?
        record "$s" "$rc"
        ;;
    *)
        echo "cross-test: unknown step '$s'" >&2
        exit 2
        ;;
    esac
done

say "done"
echo "cross-test: $passed passed, $failed failed${failures:+ (failed:$failures)}"
[ "$failed" -eq 0 ]
