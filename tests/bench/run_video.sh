#!/bin/sh
# Video benchmark: a display source and a display sink in two processes over
# UDP loopback, 1920x1080 XRGB8888, 10% of the tiles and every tile
# changing per frame, against bare UDP moving the same raw bytes, in the
# same run (tests/bench/bench_video.c says what is measured).
#
#   tests/bench/run_video.sh BUILDDIR       (or: make bench-video, from a build dir)
#
# Prints a markdown table and writes it into doc/PERFORMANCE.md between the
# bench:video markers (set BENCH_NO_DOC=1 to leave the document alone).
# Environment: BENCH_SECONDS (3 per case and round), BENCH_ROUNDS (3),
# BENCH_WINDOW (sink requests in flight, 2), BENCH_CPUS (sink:source,
# unpinned by default).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_video
DOC=$SRCDIR/doc/PERFORMANCE.md
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_video)" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
set -- --seconds "${BENCH_SECONDS:-3}" --rounds "${BENCH_ROUNDS:-3}" --window "${BENCH_WINDOW:-2}"
[ -n "${BENCH_CPUS:-}" ] && set -- "$@" --cpus "$BENCH_CPUS"
"$BENCH" "$@" > "$WORK/table"

. "$SRCDIR/tests/bench/doc_section.sh"
{
    cat "$WORK/table"
    echo
    measured "${BENCH_CPUS:+pinned sink:source $BENCH_CPUS, }" "\`make bench-video\` (tests/bench/run_video.sh)"
} > "$WORK/section"
cat "$WORK/section"

[ "${BENCH_NO_DOC:-0}" = 1 ] || put video "$WORK/section"
