#!/bin/sh
# Fail unless every conc_* symbol exported by the shared library is declared
# in a public header with a Doxygen comment block (/** ... */) right before
# its declaration (blank lines may separate them, code or a plain comment may
# not). An exported symbol that no public header declares fails too.
# Usage: check_docs.sh LIBCONC_SO INCLUDE_DIR
set -eu
lib=$1 incdir=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' |
    grep -E '^conc_' | sort -u)
[ -n "$exported" ] || { echo "check_docs: no conc_ symbols exported by $lib" >&2; exit 1; }
headers=$(find "$incdir" -name '*.h' | sort)
[ -n "$headers" ] || { echo "check_docs: no headers under $incdir" >&2; exit 1; }

# For each CONC_API declaration print "name documented|undocumented file:line".
# The name is the last identifier before the first "(" (a function) or ";"
# (a variable) of the declaration, which may span lines.
# shellcheck disable=SC2086
declared=$(awk '
    function reset() { doc = 0 }
    FNR == 1 { reset(); incomment = 0; indecl = 0 }
    indecl {
        text = text " " $0
        if (text ~ /[(;]/) { finish() }
        next
    }
    incomment {
        if ($0 ~ /\*\//) { incomment = 0; doc = isdoc }
        next
    }
    /^[ \t]*$/ { next }
    /^[ \t]*\/\*/ {
        # A comment starting a line: /** (not /**<) is a Doxygen block.
        isdoc = ($0 ~ /^[ \t]*\/\*\*([^<*]|$)/)
        if ($0 ~ /\*\/[ \t]*$/) { doc = isdoc } else if ($0 ~ /\*\//) { reset() } else { incomment = 1 }
        next
    }
    /^[ \t]*#/ { reset(); next }
    /(^|[^A-Za-z0-9_])CONC_API([^A-Za-z0-9_]|$)/ {
        documented = doc; where = FILENAME ":" FNR
        text = $0; sub(/.*CONC_API/, "", text)
        if (text ~ /[(;]/) { finish() } else { indecl = 1 }
        next
    }
    { reset() }
    function finish(   head, n, parts) {
        head = text; sub(/[(;].*/, "", head)
        n = split(head, parts, /[^A-Za-z0-9_]+/)
        while (n > 0 && parts[n] == "") n--
        print parts[n], (documented ? "documented" : "undocumented"), where
        indecl = 0; reset()
    }
' $headers)

status=0 count=0
for sym in $exported; do
    count=$((count + 1))
    line=$(printf '%s\n' "$declared" | awk -v s="$sym" '$1 == s' | head -n 1)
    case $line in
    "") echo "check_docs: $sym is exported but declared in no header under $incdir" >&2
        status=1 ;;
    *" undocumented "*)
        echo "check_docs: $sym has no /** doc comment before its declaration (${line##* })" >&2
        status=1 ;;
    esac
done
[ "$status" -eq 0 ] && echo "check_docs: all $count exported conc_ symbols are documented"
exit "$status"
