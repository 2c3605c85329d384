#!/bin/sh
# Check examples/echo_server with a real client (socat): start the server on
# an ephemeral port, send it three streams (two at the same time, one of
# ~100 KB), require every byte echoed back unchanged, and require the server
# to stop by itself after those three connections with its success line.
# Usage: check_echo.sh ECHO_SERVER
server=$1
command -v socat >/dev/null || {
    echo "check_echo: socat is not installed (scripts/install-deps.sh installs it)" >&2
    exit 1
}
tmp=$(mktemp -d) || exit 1
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
    echo "check_echo: $*" >&2
    echo "--- server output:" >&2
    cat "$tmp/server.out" >&2
    exit 1
}

# --run-time bounds the server even if a client misbehaves.
"$server" --port 0 --max-connections 3 --run-time 30 >"$tmp/server.out" 2>&1 &
pid=$!

# Wait for "listening on 127.0.0.1:PORT" (at most ~10 s).
port=
i=0
while [ -z "$port" ] && [ $i -lt 200 ]; do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/server.out")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "the server exited before listening"
    sleep 0.05
    i=$((i + 1))
done
[ -n "$port" ] || fail "the server did not print its port"

printf 'hello\nworld\n' >"$tmp/in1"
printf 'line one\nline two\nno newline at the end' >"$tmp/in2"
seq 1 20000 >"$tmp/in3" # ~100 KB: more than one read, more than one write

# -t 10: after sending everything, wait at most 10 s for the echo; the server
# closes its side when it has echoed our end of file, which ends socat.
client() {
    socat -t 10 - "TCP:127.0.0.1:$port" <"$tmp/in$1" >"$tmp/out$1" 2>"$tmp/err$1"
}
client 1 &
c1=$!
client 2 &
c2=$!
wait $c1 || fail "client 1 failed: $(cat "$tmp/err1")"
wait $c2 || fail "client 2 failed: $(cat "$tmp/err2")"
client 3 || fail "client 3 failed: $(cat "$tmp/err3")"

for n in 1 2 3; do
    cmp -s "$tmp/in$n" "$tmp/out$n" || fail "stream $n: the echo differs from what was sent"
done
total=$(cat "$tmp/in1" "$tmp/in2" "$tmp/in3" | wc -c | tr -d ' ')

# The server stops by itself after its third connection (at most ~10 s).
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill -0 "$pid" 2>/dev/null && fail "the server did not stop after 3 connections"
wait "$pid"
status=$?
pid=
cat "$tmp/server.out"
[ "$status" -eq 0 ] || fail "the server exited with status $status"
grep -q "^served 3 connections, echoed $total bytes, 0 errors\$" "$tmp/server.out" ||
    fail "the server's count is not 3 connections and $total bytes"
grep -q '^echo server OK$' "$tmp/server.out" || fail "no success line"
echo "check_echo: 3 streams ($total bytes) echoed intact"
