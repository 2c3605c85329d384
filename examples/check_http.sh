#!/bin/sh
# Check examples/http_get against a real server: `python3 -m http.server` on
# an ephemeral port serving a temporary directory. Three runs:
#  1. four URLs fetched concurrently: three files (sizes checked, one of
#     them 200 KB, one empty) and a missing one (status 404); exit status 0;
#  2. a good URL and a port where nothing listens: the good one still
#     succeeds, the other fails with "Connection refused"; exit status 1;
#  3. a server that accepts but never answers: "timed out after 300 ms",
#     promptly; exit status 1.
# Usage: check_http.sh HTTP_GET
prog=$1
command -v python3 >/dev/null || {
    echo "check_http: python3 is not installed (scripts/install-deps.sh installs it)" >&2
    exit 1
}
tmp=$(mktemp -d) || exit 1
pids=
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
    echo "check_http: $*" >&2
    for f in "$tmp"/*.log; do
        [ -s "$f" ] && { echo "--- $f:" >&2; cat "$f" >&2; }
    done
    exit 1
}

# Wait until file $1 has a line matching sed script $2; print what it captures.
wait_for_port() {
    i=0
    while [ $i -lt 200 ]; do
        port=$(sed -n "$2" "$1")
        [ -n "$port" ] && { echo "$port"; return 0; }
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

mkdir "$tmp/www"
printf 'hello, libconc\n' >"$tmp/www/hello.txt"
seq 1 40000 | head -c 200000 >"$tmp/www/big.txt"
: >"$tmp/www/empty.txt"
size() { wc -c <"$1" | tr -d ' '; }

# -u: unbuffered, so that its "Serving HTTP on ... port N" line shows at once.
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$tmp/www" >"$tmp/server.log" 2>&1 &
pids="$pids $!"
port=$(wait_for_port "$tmp/server.log" 's/^Serving HTTP on .* port \([0-9][0-9]*\).*/\1/p') ||
    fail "python3 -m http.server did not start"
base="http://127.0.0.1:$port"

# 1. Concurrent fetches.
"$prog" --timeout-ms 10000 "$base/hello.txt" "$base/big.txt" "$base/empty.txt" \
    "$base/missing.txt" >"$tmp/run1.log" 2>&1 || fail "run 1 exited with status $?"
cat "$tmp/run1.log"
for f in hello big empty; do
    grep -qx "GET $base/$f.txt -> 200, $(size "$tmp/www/$f.txt") bytes" "$tmp/run1.log" ||
        fail "run 1: wrong status or size for $f.txt"
done
grep -q "^GET $base/missing.txt -> 404, [0-9]* bytes\$" "$tmp/run1.log" ||
    fail "run 1: missing.txt is not a 404"
grep -qx "4 of 4 requests completed in .* s" "$tmp/run1.log" || fail "run 1: summary line"

# 2. A closed port: take a free port from the kernel and release it.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$prog" --timeout-ms 10000 "$base/hello.txt" "http://127.0.0.1:$closed/x" >"$tmp/run2.log" 2>&1
status=$?
cat "$tmp/run2.log"
[ "$status" -eq 1 ] || fail "run 2 (closed port) exited with status $status, not 1"
grep -qx "GET $base/hello.txt -> 200, $(size "$tmp/www/hello.txt") bytes" "$tmp/run2.log" ||
    fail "run 2: the good URL did not succeed beside the failing one"
grep -qx "GET http://127.0.0.1:$closed/x -> error: connect: Connection refused" "$tmp/run2.log" ||
    fail "run 2: no clear 'Connection refused' error"

# 3. A server that accepts (the kernel completes the handshake into the
# backlog) but never answers.
python3 -u -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print("silent port", s.getsockname()[1])
time.sleep(60)
' >"$tmp/silent.log" 2>&1 &
pids="$pids $!"
silent=$(wait_for_port "$tmp/silent.log" 's/^silent port \([0-9][0-9]*\)$/\1/p') ||
    fail "the silent server did not start"
start=$(date +%s)
"$prog" --timeout-ms 300 "http://127.0.0.1:$silent/slow" >"$tmp/run3.log" 2>&1
status=$?
elapsed=$(($(date +%s) - start))
cat "$tmp/run3.log"
[ "$status" -eq 1 ] || fail "run 3 (timeout) exited with status $status, not 1"
grep -qx "GET http://127.0.0.1:$silent/slow -> error: timed out after 300 ms" "$tmp/run3.log" ||
    fail "run 3: no 'timed out' error"
[ "$elapsed" -le 5 ] || fail "run 3: a 300 ms timeout took $elapsed s"
echo "check_http: statuses, sizes, refused connection and timeout all as expected"
