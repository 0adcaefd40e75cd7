#!/bin/sh
# rshare two-node demo on loopback: node 1 serves echo requests over UDP,
# node 2 pings it, first with a shared random cluster key (authenticated and
# encrypted), then with no key at all, and finally with the wrong key, which
# node 1 must refuse.  Exits non-zero if anything does not go as described.
#
#   examples/demo.sh PATH_TO_PING_NODE        (or: make demo)
set -u

PING_NODE=${1:?usage: demo.sh PATH_TO_PING_NODE}
[ -x "$PING_NODE" ] || { echo "demo: $PING_NODE is not an executable" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-demo.XXXXXX") || exit 2
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
die() { printf '\ndemo FAILED: %s\n' "$*" >&2; exit 1; }

# Node 1 binds port 0 (the kernel picks a free port) and prints
# "node 1 listening on ADDR"; wait for that line and read ADDR from it.
start_server() {
    : >"$WORK/server.out"
    "$PING_NODE" --id 1 --listen 127.0.0.1:0 --serve-seconds 120 "$@" \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    SERVER_ADDR=
    tries=0
    while [ -z "$SERVER_ADDR" ]; do
        SERVER_ADDR=$(sed -n 's/^node 1 listening on \([^ ]*\).*/\1/p' "$WORK/server.out")
        [ -n "$SERVER_ADDR" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; die "node 1 did not start"; }
        tries=$((tries + 1))
        [ "$tries" -lt 100 ] || die "node 1 did not report its address within 10 s"
        sleep 0.1
    done
    echo "node 1 is serving on $SERVER_ADDR (pid $SERVER_PID)"
}

# Stop node 1 (SIGTERM: it prints its counters and exits 0) and show them.
stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID"
    status=$?
    SERVER_PID=
    [ "$status" -eq 0 ] || { cat "$WORK/server.err" >&2; die "node 1 exited with status $status"; }
    sed -n 's/^stats: /node 1 counters: /p' "$WORK/server.out"
}

# Counter N of node 1's stats line: 1 messages, 2 bad tags, 3 wrong mode.
server_counter() {
    sed -n 's/^stats: \([0-9]*\) messages.*: \([0-9]*\) with a bad.*, \([0-9]*\) with the wrong.*/\1 \2 \3/p' \
        "$WORK/server.out" | cut -d' ' -f"$1"
}

# 20 exchanges; sizes cycle from 64 bytes to 256 KiB.  Messages larger than
# one UDP packet (1400 bytes by default) are cut into packets and put back
# together by the library.
SIZES=64,1000,1400,4096,65536,262144,200,16384,100000,7
COUNT=20

od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$WORK/cluster.key" || die "cannot make a key"
chmod 600 "$WORK/cluster.key"

say "1. Two nodes sharing a random cluster key: every packet is authenticated and encrypted"
start_server --key "$WORK/cluster.key"
"$PING_NODE" --id 2 --listen 127.0.0.1:0 --peer "1@$SERVER_ADDR" --key "$WORK/cluster.key" \
    --count "$COUNT" --size "$SIZES" || die "node 2 could not ping node 1 with the shared key"
stop_server
[ "$(server_counter 1)" = "$COUNT" ] || die "node 1 should have received $COUNT messages"

say "2. The same without a key: the packets travel in the clear (rshare warns about it)"
start_server
"$PING_NODE" --id 2 --listen 127.0.0.1:0 --peer "1@$SERVER_ADDR" \
    --count "$COUNT" --size "$SIZES" || die "node 2 could not ping node 1 without a key"
stop_server
[ "$(server_counter 1)" = "$COUNT" ] || die "node 1 should have received $COUNT messages"

say "3. A node with the WRONG key: node 1 rejects its packets, so its request times out"
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$WORK/wrong.key"
start_server --key "$WORK/cluster.key"
if "$PING_NODE" --id 3 --listen 127.0.0.1:0 --peer "1@$SERVER_ADDR" --key "$WORK/wrong.key" \
    --count 1 --timeout-ms 1000; then
    die "node 1 answered a node that has the wrong key"
fi
stop_server
[ "$(server_counter 1)" = 0 ] || die "node 1 accepted a message from the wrong key"
[ "$(server_counter 2)" -gt 0 ] || die "node 1 did not count the forged packets"
echo "as expected: no answer, and node 1 counted the packets as failing authentication"

say "demo passed: $COUNT keyed and $COUNT unkeyed exchanges came back identical, the wrong key was refused"
