#!/bin/sh
# Run an example with its arguments and require its output to match a pattern.
# Usage: check_example.sh PROGRAM PATTERN [ARGS...]
prog=$1 pattern=$2
shift 2
out=$("$prog" "$@" 2>&1)
status=$?
printf '%s\n' "$out"
if [ "$status" -ne 0 ]; then
    echo "check_example: $prog exited with status $status" >&2
    exit 1
fi
printf '%s\n' "$out" | grep -Eq -- "$pattern" || {
    echo "check_example: output of $prog does not match /$pattern/" >&2
    exit 1
}
