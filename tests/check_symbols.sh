#!/bin/sh
# Fail if the shared library exports any symbol other than conc_* (internal
# conc__* names included: they must stay hidden).
# Usage: check_symbols.sh LIBCONC_SO
set -eu
lib=$1
all=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
[ -n "$all" ] || { echo "check_symbols: no exported symbols found in $lib" >&2; exit 1; }
bad=$(printf '%s\n' "$all" | grep -Ev '^conc_[a-z0-9]' || true)
bad="$bad$(printf '%s\n' "$all" | grep -E '^conc__' || true)"
if [ -n "$bad" ]; then
    echo "check_symbols: unexpected exported symbols:" >&2
    printf '%s\n' "$bad" >&2
    exit 1
fi
echo "check_symbols: $(printf '%s\n' "$all" | wc -l) symbols, all conc_*"
