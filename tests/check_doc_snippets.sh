#!/bin/sh
# The documentation's C examples must be true: every fenced ```c block of
# README.md and docs/*.md that is a complete program (it contains
# "int main(") is compiled against the freshly built library with
# -std=c11 -Wall -Wextra -Wpedantic -Werror, run with a time limit (from a
# scratch directory), and must exit with 0: an example that checks its own
# result (return sum == 500500 ? 0 : 1) is tested by this.
# Fragments (no main) are skipped and counted. A block whose first line is
# "/* not compiled: <reason> */" is skipped too (use sparingly).
# Usage: check_doc_snippets.sh SOURCE_ROOT INCLUDE_DIR LIBCONC CC [SANITIZERS]
# LIBCONC is the built library (libconc.a, or libconc.so whose directory is
# then put on LD_LIBRARY_PATH). SANITIZERS is the build's b_sanitize value:
# an instrumented library needs an instrumented program.
# CONC_DOC_TIMEOUT (seconds, default 10) bounds each program's run;
# CONC_DOC_VERBOSE=1 prints the output of the programs that pass too.
set -eu
[ $# -ge 4 ] || {
    echo "usage: check_doc_snippets.sh SOURCE_ROOT INCLUDE_DIR LIBCONC CC [SANITIZERS]" >&2
    exit 2
}
root=$1 incdir=$2 lib=$3 cc=$4 sanitize=${5:-none}
limit=${CONC_DOC_TIMEOUT:-10}
sanflags=""
[ "$sanitize" != "none" ] && [ -n "$sanitize" ] && sanflags="-fsanitize=$sanitize"
syslibs="-lpthread"
[ "$(uname -s)" = Linux ] && syslibs="$syslibs -lrt"
[ -f "$lib" ] || { echo "check_doc_snippets: library $lib not found" >&2; exit 1; }
[ -d "$incdir" ] || { echo "check_doc_snippets: include dir $incdir not found" >&2; exit 1; }
# Absolute paths: programs are compiled from the source root (so that the
# compiler quotes the Markdown lines it complains about) and run elsewhere.
root=$(cd "$root" && pwd)
incdir=$(cd "$incdir" && pwd)
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
runner=""
command -v timeout >/dev/null 2>&1 && runner="timeout -k 5 $limit"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Write each ```c block of each file to $tmp/N.c; list "N kind file line"
# in $tmp/index, kind being main, fragment or optout.
n=0
for doc in "$root/README.md" "$root"/docs/*.md; do
    [ -f "$doc" ] || continue
    rel=${doc#"$root"/}
    awk -v dir="$tmp" -v rel="$rel" -v n="$n" '
        function finish() {
            close(out)
            kind = optout ? "optout" : (hasmain ? "main" : "fragment")
            print n, kind, rel, start >> (dir "/index")
            close(dir "/index")
            inblock = 0
        }
        !inblock && /^[ \t]*```[ \t]*c[ \t]*$/ {
            inblock = 1; n++; start = FNR; first = 1; hasmain = 0; optout = 0
            out = dir "/" n ".c"
            # Compiler messages then name the Markdown file and its line.
            printf "#line %d \"%s\"\n", FNR + 1, rel > out
            next
        }
        inblock && /^[ \t]*```[ \t]*$/ { finish(); next }
        inblock {
            if (first && $0 ~ /^[ \t]*\/\*[ \t]*not compiled:/) optout = 1
            if ($0 !~ /^[ \t]*$/) first = 0
            if ($0 ~ /int[ \t]+main[ \t]*\(/) hasmain = 1
            print > out
        }
        END {
            if (inblock) {
                printf "check_doc_snippets: %s:%d: ```c block is never closed\n", rel, start > "/dev/stderr"
                exit 1
            }
            print n > (dir "/count")
        }
    ' "$doc" || exit 1
    n=$(cat "$tmp/count")
done
[ -s "$tmp/index" ] || { echo "check_doc_snippets: no \`\`\`c blocks found under $root" >&2; exit 1; }

libdir=$(dirname "$lib")
status=0 checked=0 skipped=0 optouts=0
while read -r id kind rel line; do
    case $kind in
    fragment) skipped=$((skipped + 1)); continue ;;
    optout)
        optouts=$((optouts + 1))
        echo "check_doc_snippets: $rel:$line: opted out: $(grep -m 1 "not compiled:" "$tmp/$id.c" | sed "s/^[ \t]*//")"
        continue ;;
    esac
    checked=$((checked + 1))
    # shellcheck disable=SC2086
    if ! (cd "$root" && "$cc" $sanflags -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$incdir" \
        -o "$tmp/$id" "$tmp/$id.c" "$lib" $syslibs) >"$tmp/$id.log" 2>&1; then
        echo "check_doc_snippets: FAIL $rel:$line: the program does not compile:" >&2
        sed 's/^/    /' "$tmp/$id.log" >&2
        status=1
        continue
    fi
    rc=0
    (cd "$tmp" && LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        $runner "./$id" >"$tmp/$id.out" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ] && [ -n "$runner" ]; then
            echo "check_doc_snippets: FAIL $rel:$line: the program did not finish within ${limit} s; its output:" >&2
        else
            echo "check_doc_snippets: FAIL $rel:$line: the program exited with status $rc; its output:" >&2
        fi
        sed 's/^/    /' "$tmp/$id.out" >&2
        status=1
        continue
    fi
    echo "check_doc_snippets: ok $rel:$line"
    [ "${CONC_DOC_VERBOSE:-0}" = 0 ] || sed 's/^/    /' "$tmp/$id.out"
done <"$tmp/index"

echo "check_doc_snippets: $checked complete programs checked, $skipped fragments skipped, $optouts opted out"
[ "$checked" -gt 0 ] || { echo "check_doc_snippets: no complete program found" >&2; exit 1; }
exit "$status"
