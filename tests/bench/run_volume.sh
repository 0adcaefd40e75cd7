#!/bin/sh
# Volume benchmark: a RAID-5 volume whose members live in 4 processes over
# UDP loopback, against nbdkit + nbdcopy / fio and a plain file copy, in the
# same run (tests/bench/bench_volume.c says what is measured).
#
#   tests/bench/run_volume.sh BUILDDIR     (or: make bench-volume, from a build dir)
#
# Prints a markdown table (one line per figure: rshare, anchor, ratio,
# target, spread) and writes it into doc/PERFORMANCE.md between the
# bench:volume markers (set BENCH_NO_DOC=1 to leave the document alone).
# Anchors whose tools (nbdkit, nbdcopy, fio) are missing are skipped.
# Environment: BENCH_ROUNDS (5), BENCH_MEMBER_MIB (256), BENCH_CHUNK_KIB (64),
# BENCH_MTU (65507), BENCH_RAND_SECONDS (3), BENCH_ARGS (more bench_volume options).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_volume
DOC=$SRCDIR/doc/PERFORMANCE.md
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_volume)" >&2; exit 1; }

ROUNDS=${BENCH_ROUNDS:-5}
MIB=${BENCH_MEMBER_MIB:-256}
CHUNK=${BENCH_CHUNK_KIB:-64}
MTU=${BENCH_MTU:-65507}
RAND=${BENCH_RAND_SECONDS:-3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

LOAD=$(cut -d' ' -f1 /proc/loadavg)
# shellcheck disable=SC2086 # BENCH_ARGS is a word list on purpose
"$BENCH" --rounds "$ROUNDS" --member-mib "$MIB" --chunk-kib "$CHUNK" --mtu "$MTU" \
    --rand-seconds "$RAND" ${BENCH_ARGS:-} > "$WORK/table"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
rev=$(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)
tools=""
for t in nbdkit nbdcopy fio; do
    v=$($t --version 2>/dev/null | head -1) || v="$t: missing"
    tools="$tools${tools:+, }$v"
done
{
    cat "$WORK/table"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $cpu ($(nproc) CPUs), $(uname -sr)," \
        "rshare $rev; $tools; ${MIB} MiB members (a $((MIB * 3)) MiB volume), ${CHUNK} KiB" \
        "chunks, UDP MTU $MTU; medians of $ROUNDS interleaved rounds; load average $LOAD at" \
        "the start, $(cut -d' ' -f1 /proc/loadavg) at the end."
    echo
    echo "Reproduce: \`tests/bench/run_volume.sh BUILDDIR\` (or \`make bench-volume\`);" \
        "this run: \`BENCH_ROUNDS=$ROUNDS BENCH_MEMBER_MIB=$MIB BENCH_CHUNK_KIB=$CHUNK" \
        "BENCH_MTU=$MTU BENCH_RAND_SECONDS=$RAND${BENCH_ARGS:+ BENCH_ARGS=\"$BENCH_ARGS\"}" \
        "tests/bench/run_volume.sh BUILDDIR\`."
} > "$WORK/section"
cat "$WORK/section"

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    if [ -f "$DOC" ] && grep -q '<!-- bench:volume:begin -->' "$DOC" &&
        grep -q '<!-- bench:volume:end -->' "$DOC"; then
        awk -v section="$WORK/section" '
            /<!-- bench:volume:begin -->/ {
                print; while ((getline line < section) > 0) print line; skip = 1; next }
            /<!-- bench:volume:end -->/ { skip = 0 }
            !skip { print }' "$DOC" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
        echo "bench: table written into $DOC" >&2
    else
        echo "bench: $DOC has no bench:volume markers; not updated" >&2
    fi
fi
