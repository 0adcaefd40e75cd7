#!/bin/sh
# iSCSI benchmark: a tgtd LUN read through rshare's iSCSI backend (the block
# API, and a linear volume over the LUN) against libiscsi's iscsi-perf on
# the same LUN, in the same run (tests/bench/bench_iscsi.c says exactly what
# is measured).
#
#   tests/bench/run_iscsi.sh BUILDDIR     (or: make bench-iscsi, from a build dir)
#
# Prints a markdown table and writes it into doc/PERFORMANCE.md between the
# bench:iscsi markers (set BENCH_NO_DOC=1 to leave the document alone).
# Exits 77 when tgtd or iscsi-perf is missing.
# Environment: BENCH_ROUNDS (5), BENCH_SECONDS (3 per run), BENCH_LUN_MIB (256),
# BENCH_DEPTH (32, iscsi-perf's default), BENCH_ARGS (more bench_iscsi options).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_iscsi
DOC=$SRCDIR/doc/PERFORMANCE.md
# shellcheck source=tests/bench/doc_section.sh
. "$SRCDIR/tests/bench/doc_section.sh"
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_iscsi)" >&2; exit 1; }

ROUNDS=${BENCH_ROUNDS:-5}
SECONDS_=${BENCH_SECONDS:-3}
MIB=${BENCH_LUN_MIB:-256}
DEPTH=${BENCH_DEPTH:-32}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-bench-iscsi.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

LOAD=$(cut -d' ' -f1 /proc/loadavg)
status=0
# shellcheck disable=SC2086 # BENCH_ARGS is a word list on purpose
"$BENCH" --rounds "$ROUNDS" --seconds "$SECONDS_" --lun-mib "$MIB" --depth "$DEPTH" \
    ${BENCH_ARGS:-} > "$WORK/table" || status=$?
[ "$status" = 0 ] || exit "$status"

rev=$(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)
tgt=$(dpkg-query -W -f='${Version}' tgt 2>/dev/null || echo "?")
lib=$(dpkg-query -W -f='${Version}' libiscsi-bin 2>/dev/null || echo "?")
{
    cat "$WORK/table"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $(machine_line), rshare $rev; tgt $tgt," \
        "libiscsi-bin (iscsi-perf) $lib; a ${MIB} MiB LUN in /dev/shm, ${SECONDS_} s per run," \
        "medians of $ROUNDS interleaved rounds; load average $LOAD at the start," \
        "$(cut -d' ' -f1 /proc/loadavg) at the end."
    echo
    echo "Reproduce: \`tests/bench/run_iscsi.sh BUILDDIR\` (or \`make bench-iscsi\`); this run:" \
        "\`BENCH_ROUNDS=$ROUNDS BENCH_SECONDS=$SECONDS_ BENCH_LUN_MIB=$MIB BENCH_DEPTH=$DEPTH" \
        "${BENCH_ARGS:+BENCH_ARGS=\"$BENCH_ARGS\" }tests/bench/run_iscsi.sh BUILDDIR\`."
} > "$WORK/section"
cat "$WORK/section"
write_section iscsi "$WORK/section" "$DOC"
