#!/bin/sh
# Cluster benchmark: map change propagation as the cluster grows from 2 to
# 256 nodes, and manager failover, on the simulated network (the loop
# transport with a virtual clock; tests/bench/bench_cluster.c says what is
# measured).  The figures are deterministic: they depend on the library and
# the arguments below, not on the machine.
#
#   tests/bench/run_cluster.sh BUILDDIR
#
# Prints markdown tables and writes them into doc/PERFORMANCE.md between the
# bench:cluster markers, appending a section with the markers if the
# document has none (set BENCH_NO_DOC=1 to leave the document alone).
# Environment: BENCH_SIZES (2,4,8,16,32,64,128,256), BENCH_CHANGES (5),
# BENCH_FAILOVER_SIZES (8,64), BENCH_SEEDS (20), BENCH_DELAY_US (1000).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_cluster
DOC=$SRCDIR/doc/PERFORMANCE.md
[ -x "$BENCH" ] || { echo "bench: build $BENCH first (make tests/bench/bench_cluster)" >&2; exit 1; }

SIZES=${BENCH_SIZES:-2,4,8,16,32,64,128,256}
CHANGES=${BENCH_CHANGES:-5}
FAILOVER_SIZES=${BENCH_FAILOVER_SIZES:-8,64}
SEEDS=${BENCH_SEEDS:-20}
DELAY_US=${BENCH_DELAY_US:-1000}
ARGS="--sizes $SIZES --changes $CHANGES --failover-sizes $FAILOVER_SIZES --seeds $SEEDS --delay-us $DELAY_US"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-bench-cluster.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
# shellcheck disable=SC2086 # $ARGS is a word list on purpose
"$BENCH" $ARGS > "$WORK/tables"
elapsed=$(( $(date +%s) - start ))

rev=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$SRCDIR" status --porcelain --untracked-files=no -- lib transports include 2>/dev/null)" ]; then
    rev="$rev + uncommitted changes"
fi
raft=$(dpkg-query -W -f '${Version}' libraft-dev 2>/dev/null || echo unknown)
{
    cat "$WORK/tables"
    echo "Command: \`tests/bench/run_cluster.sh BUILDDIR\`, which runs"
    echo "\`tests/bench/bench_cluster $ARGS\`."
    echo "Simulated (virtual time: the figures do not depend on the machine); rshare $rev,"
    echo "libraft $raft; $elapsed s of real time on $(nproc) CPUs, measured $(date -u '+%Y-%m-%d %H:%M') UTC."
} > "$WORK/section"
cat "$WORK/section"

# The static part of a freshly appended section: what the figures mean.
cat > "$WORK/intro" <<'EOF'

## The cluster: map changes and manager failover (simulated)

> Simulated: time (in round trips) and messages per map change as the
> cluster grows from 2 to 256 nodes; manager failover time.
> **Targets: a change reaches all of 256 nodes within 3 round trips of
> commit; failover within 2 election timeouts.**

`tests/bench/bench_cluster` runs whole clusters on the loop transport with
a virtual clock; every link delays every packet by exactly 1 ms, so a round
trip (RTT, the anchor of the propagation figures) is exactly 2 ms, and the
election timeout (ET, the anchor of the failover figures) is the configured
1000 ms. The three lowest slots are the voters, every other node a
non-voting copy. The header of `tests/bench/bench_cluster.c` defines each
column; `tests/bench/run_cluster.sh BUILDDIR` rewrites the tables below.

<!-- bench:cluster:label-columns 2 -->
<!-- bench:cluster:begin -->
<!-- bench:cluster:end -->
EOF

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    if [ ! -f "$DOC" ]; then
        echo "bench: $DOC not found; not updated" >&2
        exit 0
    fi
    has_begin=$(grep -c '<!-- bench:cluster:begin -->' "$DOC" || true)
    has_end=$(grep -c '<!-- bench:cluster:end -->' "$DOC" || true)
    if [ "$has_begin" = 0 ] && [ "$has_end" = 0 ]; then
        cat "$DOC" "$WORK/intro" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
        echo "bench: appended a bench:cluster section to $DOC" >&2
    elif [ "$has_begin" != 1 ] || [ "$has_end" != 1 ]; then
        echo "bench: $DOC has unbalanced bench:cluster markers; not updated" >&2
        exit 1
    fi
    awk -v section="$WORK/section" '
        /<!-- bench:cluster:begin -->/ { print; while ((getline line < section) > 0) print line; skip = 1; next }
        /<!-- bench:cluster:end -->/ { skip = 0 }
        !skip { print }' "$DOC" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
    echo "bench: tables written into $DOC" >&2
fi
