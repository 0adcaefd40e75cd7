#!/bin/sh
# Round-trip benchmark: rshare request/response over UDP loopback against a
# plain UDP ping-pong (the floor for the same path), in the same run.
#
#   tests/bench/run.sh BUILDDIR        (or: make bench-rtt, from a build dir)
#
# Every case runs ROUNDS times, the cases interleaved (bare, rshare, rshare
# with AEAD, ... then again), so that noise on the machine hits all of them;
# the samples of all rounds are pooled before taking the median and p99.
# The whole set runs twice, with the client and the server pinned to two
# different CPUs (like two hosts: every message wakes the other CPU) and to
# the same CPU; the placement changes the round trip more than anything else.
# Prints markdown tables and writes them into doc/PERFORMANCE.md between the
# bench:rtt markers (set BENCH_NO_DOC=1 to leave the document alone).
#
# Environment: BENCH_ROUNDS (10), BENCH_SMALL (20000 iterations of 64 B),
# BENCH_LARGE (2000 iterations of 64 KiB), both in total over the rounds;
# BENCH_PLACEMENTS ("0:1 0:0", client CPU:server CPU).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_rtt
DOC=$SRCDIR/doc/PERFORMANCE.md
ROUNDS=${BENCH_ROUNDS:-10}
SMALL=${BENCH_SMALL:-20000}
LARGE=${BENCH_LARGE:-2000}
PLACEMENTS=${BENCH_PLACEMENTS:-"0:1 0:0"}
[ "$(nproc)" -ge 2 ] || PLACEMENTS=${BENCH_PLACEMENTS:-0:0}

[ -x "$BENCH" ] || { echo "run.sh: $BENCH is not built (make tests/bench/bench_rtt)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# id | anchor id | iterations | label | path | bench_rtt arguments
# The anchor is the bare case each row is divided by.
CASES="\
bare64|bare64|$SMALL|bare UDP ping-pong|64 B, 1 datagram|bare --size 64
barek64|barek64|$SMALL|bare UDP ping-pong + the same AEAD|64 B, 1 datagram|bare --size 64 --key
rs64|bare64|$SMALL|rshare|64 B, 1 packet|rshare --size 64
rsk64|barek64|$SMALL|rshare + AEAD|64 B, 1 packet|rshare --size 64 --key
rsi64|barek64|$SMALL|rshare + AEAD, identity mode (pair keys)|64 B, 1 packet|rshare --size 64 --key --identity
bare64k|bare64k|$LARGE|bare UDP ping-pong|65000 B, 1 datagram|bare --size 65000
barek64k|barek64k|$LARGE|bare UDP ping-pong + the same AEAD|65000 B, 1 datagram|bare --size 65000 --key
rsbig|bare64k|$LARGE|rshare, MTU 65507|64 KiB, 2 packets|rshare --size 65536 --mtu 65507
rskbig|barek64k|$LARGE|rshare + AEAD, MTU 65507|64 KiB, 2 packets|rshare --size 65536 --mtu 65507 --key
rsibig|barek64k|$LARGE|rshare + AEAD, identity mode, MTU 65507|64 KiB, 2 packets|rshare --size 65536 --mtu 65507 --key --identity
rs1400|bare64k|$LARGE|rshare, MTU 1400|64 KiB, 49 packets|rshare --size 65536
rsk1400|barek64k|$LARGE|rshare + AEAD, MTU 1400|64 KiB, 49 packets|rshare --size 65536 --key
rsone|bare64k|$LARGE|(reference) rshare, MTU 65507|65000 B, 1 packet|rshare --size 65000 --mtu 65507
barechunk|bare64k|$LARGE|(reference) bare UDP, 1400 B datagrams|64 KiB, 47 datagrams|bare --size 65536 --chunk 1400"

LOAD=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo unknown)
echo "bench: $ROUNDS interleaved rounds; $SMALL x 64 B and $LARGE x 64 KiB round trips per case" >&2
round=1
while [ "$round" -le "$ROUNDS" ]; do
    for cpus in $PLACEMENTS; do
        echo "$CASES" | while IFS='|' read -r id anchor iters label path args; do
            n=$(( (iters + ROUNDS - 1) / ROUNDS ))
            # shellcheck disable=SC2086 # $args is a word list on purpose
            "$BENCH" $args --cpus "$cpus" --iterations "$n" --samples "$WORK/$cpus.$id" \
                >/dev/null || { echo "run.sh: bench_rtt $args --cpus $cpus failed" >&2; exit 1; }
        done
    done
    echo "bench: round $round of $ROUNDS done" >&2
    round=$((round + 1))
done

# Median, p99 (nearest rank over the pooled samples, in ns) and the payload
# rate: message bytes x round trips / total round-trip time.
stats() {
    size=$2
    sort -n "$WORK/$1" | awk -v size="$size" '
        { v[NR] = $1; sum += $1 }
        END { m = v[int(NR / 2) + 1]; p = v[int(NR * 99 / 100) + 1];
              printf "%d %.1f %.1f %.0f\n", NR, m / 1000, p / 1000, size * NR / sum * 1000 }'
}

table() {
    cpus=$1
    client=${cpus%:*} server=${cpus#*:}
    if [ "$client" = "$server" ]; then
        echo "**Client and server on the same CPU ($client)**"
    else
        echo "**Client on CPU $client, server on CPU $server** (like two hosts: each message wakes the other CPU)"
    fi
    echo
    echo "| case | message | round trips | median µs | p99 µs | MB/s | median ratio | p99 ratio |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    echo "$CASES" | while IFS='|' read -r id anchor iters label path args; do
        size=$(echo "$args" | sed 's/.*--size \([0-9]*\).*/\1/')
        asize=$(echo "$CASES" | grep "^$anchor|" | sed 's/.*--size \([0-9]*\).*/\1/')
        read -r count med p99 rate <<EOF
$(stats "$cpus.$id" "$size")
EOF
        read -r _ anchor_med anchor_p99 _ <<EOF
$(stats "$cpus.$anchor" "$asize")
EOF
        ratio_m=$(awk -v a="$med" -v b="$anchor_med" 'BEGIN { printf "%.2f", a / b }')
        ratio_p=$(awk -v a="$p99" -v b="$anchor_p99" 'BEGIN { printf "%.2f", a / b }')
        if [ "$id" = "$anchor" ]; then ratio_m="1 (anchor)"; ratio_p="1 (anchor)"; fi
        echo "| $label | $path | $count | $med | $p99 | $rate | $ratio_m | $ratio_p |"
    done
}

TABLE=$WORK/table.md
{
    for cpus in $PLACEMENTS; do
        table "$cpus"
        echo
    done
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
    rev=$(git -C "$SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on ${cpu:-unknown CPU}, $(nproc) CPUs," \
        "Linux $(uname -r), rshare $rev; $ROUNDS interleaved rounds; load average $LOAD at the start."
} >"$TABLE"
cat "$TABLE"

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    if [ -f "$DOC" ] && grep -q '<!-- bench:rtt:begin -->' "$DOC" && grep -q '<!-- bench:rtt:end -->' "$DOC"; then
        awk -v table="$TABLE" '
            /<!-- bench:rtt:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
            /<!-- bench:rtt:end -->/ { skip = 0 }
            !skip { print }' "$DOC" >"$WORK/doc" && cat "$WORK/doc" >"$DOC"
        echo "bench: table written into $DOC" >&2
    else
        echo "bench: $DOC has no bench:rtt markers; not updated" >&2
    fi
fi
