#!/bin/sh
# KVM input latency benchmark: rshare KVM input over UDP loopback between
# two processes against bare UDP datagrams of the same size, with and
# without 8 MiB bulk messages on the same link, in the same run
# (tests/bench/bench_video.c says what is measured).
#
#   tests/bench/run_video.sh BUILDDIR       (or: make bench-video, from a build dir)
#
# Prints a markdown table and writes it into doc/PERFORMANCE.md between the
# bench:video markers (set BENCH_NO_DOC=1 to leave the document alone).
# Environment: BENCH_EVENTS (2000 per case and round), BENCH_INTERVAL_US
# (1000), BENCH_ROUNDS (5), BENCH_CPUS (host:target, unpinned by default).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_video
DOC=$SRCDIR/doc/PERFORMANCE.md
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_video)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
set -- --events "${BENCH_EVENTS:-2000}" --interval-us "${BENCH_INTERVAL_US:-1000}" \
    --rounds "${BENCH_ROUNDS:-5}"
[ -n "${BENCH_CPUS:-}" ] && set -- "$@" --cpus "$BENCH_CPUS"
"$BENCH" "$@" > "$WORK/table"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
rev=$(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)
{
    cat "$WORK/table"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $cpu ($(nproc) CPUs), $(uname -sr), rshare $rev, ${BENCH_CPUS:+pinned host:target $BENCH_CPUS, }load average $(cut -d' ' -f1 /proc/loadavg) at the end; command: \`make bench-video\` (tests/bench/run_video.sh)."
} > "$WORK/section"
cat "$WORK/section"

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    if [ -f "$DOC" ] && grep -q '<!-- bench:video:begin -->' "$DOC" && grep -q '<!-- bench:video:end -->' "$DOC"; then
        awk -v section="$WORK/section" '
            /<!-- bench:video:begin -->/ { print; while ((getline line < section) > 0) print line; skip = 1; next }
            /<!-- bench:video:end -->/ { skip = 0 }
            !skip { print }' "$DOC" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
        echo "bench: table written into $DOC" >&2
    else
        echo "bench: $DOC has no bench:video markers; not updated" >&2
    fi
fi
