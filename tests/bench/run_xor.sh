#!/bin/sh
# XOR parity benchmark: the XOR kernel against memcpy on the same buffers,
# in the same run (tests/bench/bench_xor.c says what is measured).
#
#   tests/bench/run_xor.sh BUILDDIR       (or: make bench-xor, from a build dir)
#
# Prints a markdown table and writes it into doc/PERFORMANCE.md between the
# bench:xor markers (set BENCH_NO_DOC=1 to leave the document alone).
# Environment: BENCH_ROUNDS (7), BENCH_MS (100 per measurement), BENCH_CPU (0).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_xor
DOC=$SRCDIR/doc/PERFORMANCE.md
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_xor)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BENCH" --rounds "${BENCH_ROUNDS:-7}" --ms "${BENCH_MS:-100}" --cpu "${BENCH_CPU:-0}" > "$WORK/table"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
flags=$(grep -m1 '^flags' /proc/cpuinfo)
isa=baseline
case $flags in *avx2*) isa=AVX2 ;; esac
case $flags in *avx512f*) isa=AVX-512 ;; esac
rev=$(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)
{
    cat "$WORK/table"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $cpu ($(nproc) CPUs, kernel path $isa), $(uname -sr), rshare $rev; medians of ${BENCH_ROUNDS:-7} interleaved rounds of ${BENCH_MS:-100} ms, pinned to CPU ${BENCH_CPU:-0}; load average $(cut -d' ' -f1 /proc/loadavg) at the end."
} > "$WORK/section"
cat "$WORK/section"

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    if [ -f "$DOC" ] && grep -q '<!-- bench:xor:begin -->' "$DOC" && grep -q '<!-- bench:xor:end -->' "$DOC"; then
        awk -v section="$WORK/section" '
            /<!-- bench:xor:begin -->/ { print; while ((getline line < section) > 0) print line; skip = 1; next }
            /<!-- bench:xor:end -->/ { skip = 0 }
            !skip { print }' "$DOC" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
        echo "bench: table written into $DOC" >&2
    else
        echo "bench: $DOC has no bench:xor markers; not updated" >&2
    fi
fi
