#!/bin/sh
# MCTP transport benchmark: payload throughput of the SMBus and serial
# transports against the physical ceiling of their wires, and the latency of
# one keyboard-event-sized message against its own wire time, on the
# simulated buses (tests/bench/bench_mctp.c says exactly what is measured).
# The throughput figures and the virtual part of the latency are
# deterministic up to the escapes that the random boot sessions cause on a
# serial line; the CPU part depends on the machine.
#
#   tests/bench/run_mctp.sh BUILDDIR        (or: make bench-mctp)
#
# Prints markdown tables and writes them into doc/PERFORMANCE.md between the
# bench:mctp markers (set BENCH_NO_DOC=1 to leave the document alone).
# Environment: BENCH_EVENTS (200 key events per link), BENCH_SIZE (65536).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_mctp
DOC=$SRCDIR/doc/PERFORMANCE.md
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_mctp)" >&2; exit 1; }
EVENTS=${BENCH_EVENTS:-200}
SIZE=${BENCH_SIZE:-65536}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-bench-mctp.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$BENCH" --events "$EVENTS" --size "$SIZE" > "$WORK/tables"

rev=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$SRCDIR" status --porcelain -- transports include/rshare/mctp.h \
        include/rshare/serial.h include/rshare/smbus.h 2>/dev/null)" ]; then
    rev="$rev + uncommitted changes"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
{
    echo
    cat "$WORK/tables"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on ${cpu:-unknown CPU}, Linux $(uname -r)," \
        "rshare $rev; virtual time on the simulated buses, CPU time of this machine."
} > "$WORK/section"
cat "$WORK/section"

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    if grep -q '<!-- bench:mctp:begin -->' "$DOC" && grep -q '<!-- bench:mctp:end -->' "$DOC"; then
        awk -v section="$WORK/section" '
            /<!-- bench:mctp:begin -->/ { print; while ((getline line < section) > 0) print line; skip = 1; next }
            /<!-- bench:mctp:end -->/ { skip = 0 }
            !skip { print }' "$DOC" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
        echo "bench: tables written into $DOC" >&2
    else
        echo "bench: $DOC has no bench:mctp markers; not updated" >&2
    fi
fi
