#!/bin/sh
# nbdkit benchmark: nbdcopy through the rshare plugin (bindings/nbdkit)
# against nbdkit's own file plugin serving a file of the same size, in the
# same run.
#
#   tests/bench/run_nbdkit.sh BUILDDIR     (or: make bench-nbdkit, from a build dir)
#
# The set-up (doc/PERFORMANCE.md, "nbdcopy through the nbdkit plugin", says
# why it is the fair one):
#   rshare  examples/cluster_node (node 1, the only voter) shares a file
#           in /dev/shm over UDP on 127.0.0.1; nbdkit with the uninstalled
#           plugin joins as node 2, defines a linear volume whose only member
#           is that file (define=linear::1.1) and serves it on a Unix socket.
#           Both nodes use the same UDP MTU (BENCH_MTU, 65507).
#   anchor  nbdkit's file plugin serving a file of the same size in
#           /dev/shm on another Unix socket.
#   relay   nbdkit's nbd plugin on a third socket, forwarding to the
#           anchor's server: the same bytes with one hop more, as rshare's
#           member is one hop away, built from nbdkit alone.  It shows what
#           a relaying design can reach at best next to the anchor (the
#           second table; the summary reads only the first).
# Each round, interleaved: write (nbdcopy --flush IMAGE → export, IMAGE a
# file of random bytes in /dev/shm) into rshare, the anchor, the relay;
# read (nbdcopy export → a file in /dev/shm) from each in the same order.
# nbdcopy runs with its defaults (it opens 4 connections when the server
# allows multi-conn, else 1; 64 requests of 256 KiB in flight).  Before the
# rounds one untimed pass writes and reads back every export and compares
# them with the image (cmp).  Besides the wall-clock time, the CPU time of
# the server side (rshare: nbdkit + cluster_node; anchor: nbdkit) is read
# from /proc before and after each copy.
#
# Prints a markdown table (medians over the rounds, ratio rshare / anchor
# of the same round) and writes it into doc/PERFORMANCE.md between the
# bench:nbdkit markers (set BENCH_NO_DOC=1 to leave the document alone).
# Exits 77 when nbdkit or nbdcopy is missing, 1 when the plugin is not built.
# Environment: BENCH_ROUNDS (5), BENCH_MIB (1024), BENCH_MTU (65507),
# BENCH_PLUGIN_ARGS (more plugin parameters), BENCH_PLUGIN (another build of
# the plugin, e.g. an older one to compare with).
set -eu

BUILD=$(cd "${1:-.}" && pwd)
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
DOC=$SRCDIR/doc/PERFORMANCE.md
# shellcheck source=tests/bench/doc_section.sh
. "$SRCDIR/tests/bench/doc_section.sh"
NODE=$BUILD/examples/cluster_node
PLUGIN=${BENCH_PLUGIN:-$BUILD/bindings/nbdkit/.libs/nbdkit-rshare-plugin.so}
for t in nbdkit nbdcopy; do
    command -v "$t" >/dev/null 2>&1 || { echo "bench: $t is missing: nothing to measure" >&2; exit 77; }
done
if [ ! -x "$NODE" ] || [ ! -f "$PLUGIN" ]; then
    echo "bench: build $NODE and the plugin first (make)" >&2
    exit 1
fi

ROUNDS=${BENCH_ROUNDS:-5}
MIB=${BENCH_MIB:-1024}
MTU=${BENCH_MTU:-65507}
WORK=$(mktemp -d /dev/shm/rshare-bench-nbdkit.XXXXXX)
cleanup() {
    for f in "$WORK"/*.pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now_ns() { date +%s%N; }
# CPU seconds (user + system) of the processes whose pid files are given.
cpu_of() {
    total=0
    for f in "$@"; do
        ticks=$(sed 's/.*) //' "/proc/$(cat "$f")/stat" | awk '{ print $12 + $13 }')
        total=$((total + ticks))
    done
    echo "$total"
}
TCK=$(getconf CLK_TCK)

# Two free UDP ports below the ephemeral range.
pick_port() {
    while :; do
        p=$((20000 + $(od -An -tu2 -N2 /dev/urandom | tr -d ' ') % 10000))
        grep -qi ":$(printf '%04X' "$p") " /proc/net/udp 2>/dev/null || { echo "$p"; return; }
    done
}
P1=$(pick_port)
P2=$(pick_port)
[ "$P1" != "$P2" ] || P2=$((P1 + 1))

BYTES=$((MIB * 1024 * 1024))
truncate -s "$BYTES" "$WORK/member.img" "$WORK/file.img"
head -c "$BYTES" /dev/urandom >"$WORK/src.img"

# --- the servers -----------------------------------------------------------------------
"$NODE" --id 1 --slot 0 --listen "127.0.0.1:$P1" --state "$WORK/state1" \
    --peer "2@127.0.0.1:$P2" --eligible --voters 1 --share "$WORK/member.img" --mtu "$MTU" \
    >"$WORK/node.out" 2>"$WORK/node.err" &
echo $! >"$WORK/node.pid"
# shellcheck disable=SC2086 # BENCH_PLUGIN_ARGS is a word list on purpose
nbdkit -f -U "$WORK/rshare.sock" -P "$WORK/rshare.pid" "$PLUGIN" bench id=2 \
    listen="127.0.0.1:$P2" peer="1@127.0.0.1:$P1" state="$WORK/state2" mtu="$MTU" \
    define=linear::1.1 timeout=30 ${BENCH_PLUGIN_ARGS:-} \
    >"$WORK/rshare.out" 2>"$WORK/rshare.err" &
echo $! >"$WORK/rshare-nbdkit.pid"
nbdkit -f -U "$WORK/file.sock" -P "$WORK/file.pid" file file="$WORK/file.img" \
    >"$WORK/file.out" 2>"$WORK/file.err" &
echo $! >"$WORK/file-nbdkit.pid"
i=0
until [ -s "$WORK/file.pid" ]; do
    i=$((i + 1))
    [ $i -le 700 ] || { echo "bench: nbdkit's file plugin did not start" >&2; exit 1; }
    sleep 0.05
done
# The relay: nbdkit's nbd plugin in front of the anchor's server, one hop
# more as rshare's member is one hop away (its node's pwrite).
RELAY=1
if nbdkit --dump-plugin nbd >/dev/null 2>&1; then
    nbdkit -f -U "$WORK/relay.sock" -P "$WORK/relay.pid" nbd socket="$WORK/file.sock" \
        >"$WORK/relay.out" 2>"$WORK/relay.err" &
    echo $! >"$WORK/relay-nbdkit.pid"
else
    echo "bench: nbdkit has no nbd plugin: the relay is skipped" >&2
    RELAY=0
    echo x >"$WORK/relay.pid"
fi
i=0
until [ -s "$WORK/rshare.pid" ] && [ -s "$WORK/file.pid" ] && [ -s "$WORK/relay.pid" ]; do
    i=$((i + 1))
    if [ $i -gt 700 ] || ! kill -0 "$(cat "$WORK/rshare-nbdkit.pid")" 2>/dev/null; then
        echo "bench: the servers did not start" >&2
        tail -20 "$WORK/rshare.err" "$WORK/node.err" "$WORK/file.err" >&2
        exit 1
    fi
    sleep 0.05
done
rm -f "$WORK/rshare.pid" "$WORK/file.pid" "$WORK/relay.pid" # nbdkit's own (same pids as ours)
RS="nbd+unix:///?socket=$WORK/rshare.sock"
AN="nbd+unix:///?socket=$WORK/file.sock"
RL="nbd+unix:///?socket=$WORK/relay.sock"

# --- untimed pass: both exports hold the image -------------------------------------------
[ $RELAY = 1 ] || RL=
for uri in "$RS" "$AN" $RL; do
    nbdcopy --flush "$WORK/src.img" "$uri"
    nbdcopy "$uri" "$WORK/back.img"
    cmp "$WORK/src.img" "$WORK/back.img" || { echo "bench: $uri reads back wrong" >&2; exit 1; }
done
cmp "$WORK/src.img" "$WORK/member.img" || { echo "bench: the member file differs" >&2; exit 1; }

# CPU ticks of the children this shell has waited for (nbdcopy among them).
children_cpu() { sed 's/.*) //' "/proc/$$/stat" | awk '{ print $14 + $15 }'; }

# copy SIDE DIRECTION: one timed nbdcopy; appends to $WORK/SIDE.DIRECTION
# "MB/s server nbdkit member client", the last four in CPU seconds per GB:
# the server side (nbdkit, plus the member's cluster_node for rshare or the
# file plugin's nbdkit behind the relay), nbdkit alone, the one behind it
# alone (0 for the anchor), nbdcopy.
copy() {
    case $1 in
    rshare) uri=$RS; k="$WORK/rshare-nbdkit.pid"; m="$WORK/node.pid" ;;
    relay) uri=$RL; k="$WORK/relay-nbdkit.pid"; m="$WORK/file-nbdkit.pid" ;;
    *) uri=$AN; k="$WORK/file-nbdkit.pid"; m= ;;
    esac
    k0=$(cpu_of "$k")
    # shellcheck disable=SC2086 # $m is empty for the anchor: no file
    m0=$(cpu_of $m)
    n0=$(children_cpu)
    t0=$(now_ns)
    if [ "$2" = write ]; then nbdcopy --flush "$WORK/src.img" "$uri"
    else nbdcopy "$uri" "$WORK/back.img"; fi
    t1=$(now_ns)
    n1=$(children_cpu)
    k1=$(cpu_of "$k")
    # shellcheck disable=SC2086
    m1=$(cpu_of $m)
    awk -v b="$BYTES" -v ns=$((t1 - t0)) -v k=$((k1 - k0)) -v m=$((m1 - m0)) \
        -v n=$((n1 - n0)) -v tck="$TCK" 'BEGIN { gb = b / 1e9
        printf "%.1f %.3f %.3f %.3f %.3f\n", b / (ns / 1e3), (k + m) / tck / gb, k / tck / gb,
            m / tck / gb, n / tck / gb }' >>"$WORK/$1.$2"
}

LOAD=$(cut -d' ' -f1 /proc/loadavg)
r=0
while [ $r -lt "$ROUNDS" ]; do
    r=$((r + 1))
    for dir in write read; do
        copy rshare $dir
        copy anchor $dir
        [ $RELAY = 0 ] || copy relay $dir
        line="bench: round $r $dir: rshare $(tail -1 "$WORK/rshare.$dir" | cut -d' ' -f1) MB/s,"
        line="$line anchor $(tail -1 "$WORK/anchor.$dir" | cut -d' ' -f1) MB/s"
        [ $RELAY = 0 ] || line="$line, relay $(tail -1 "$WORK/relay.$dir" | cut -d' ' -f1) MB/s"
        echo "$line" >&2
    done
done

# median FILE COLUMN / spread FILE COLUMN
median() { cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { cut -d' ' -f"$2" "$1" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END {
    printf "%.0f–%.0f", lo, hi }'; }
{
    echo "| figure | rshare plugin | anchor (file plugin) | ratio | target | spread (min–max over $ROUNDS rounds) |"
    echo "|---|---:|---:|---:|---:|---|"
    for dir in write read; do
        paste -d' ' "$WORK/rshare.$dir" "$WORK/anchor.$dir" |
            awk '{ print $1 / $6 }' >"$WORK/ratio.$dir"
        rm_=$(median "$WORK/rshare.$dir" 1)
        am=$(median "$WORK/anchor.$dir" 1)
        ratio=$(median "$WORK/ratio.$dir" 1)
        label="nbdcopy file → volume (write)"
        [ $dir = read ] && label="nbdcopy volume → file (read)"
        awk -v l="$label" -v r="$rm_" -v a="$am" -v q="$ratio" \
            -v rs="$(spread "$WORK/rshare.$dir" 1)" -v as="$(spread "$WORK/anchor.$dir" 1)" \
            -v qlo="$(sort -g "$WORK/ratio.$dir" | head -1)" -v qhi="$(sort -g "$WORK/ratio.$dir" | tail -1)" \
            'BEGIN { printf "| %s, %d MiB | %.0f MB/s | %.0f MB/s | %.2f×%s | ≥ 0.9× | rshare %s MB/s; anchor %s MB/s; ratio %.2f–%.2f |\n",
                l, '"$MIB"', r, a, q, (q >= 0.9 ? "" : " (missed)"), rs, as, qlo, qhi }'
    done
    echo
    [ $RELAY = 0 ] || echo "| figure | relay (nbdkit nbd plugin → file plugin) | relay / anchor | rshare / relay | CPU s per GB, server side: rshare, relay |"
    [ $RELAY = 0 ] || echo "|---|---:|---:|---:|---|"
    for dir in write read; do
        [ $RELAY = 1 ] || continue
        paste -d' ' "$WORK/relay.$dir" "$WORK/anchor.$dir" | awk '{ print $1 / $6 }' >"$WORK/rl.$dir"
        paste -d' ' "$WORK/rshare.$dir" "$WORK/relay.$dir" | awk '{ print $1 / $6 }' >"$WORK/rr.$dir"
        label="nbdcopy file → export (write)"
        [ $dir = read ] && label="nbdcopy export → file (read)"
        printf '| %s, %d MiB | %.0f MB/s | %.2f× (%s) | %.2f× (%s) | %.2f, %.2f |\n' "$label" "$MIB" \
            "$(median "$WORK/relay.$dir" 1)" "$(median "$WORK/rl.$dir" 1)" \
            "$(sort -g "$WORK/rl.$dir" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }')" \
            "$(median "$WORK/rr.$dir" 1)" \
            "$(sort -g "$WORK/rr.$dir" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f–%.2f", lo, hi }')" \
            "$(median "$WORK/rshare.$dir" 2)" "$(median "$WORK/relay.$dir" 2)"
    done
    [ $RELAY = 0 ] || echo
    for dir in write read; do
        printf -- '- %s: CPU seconds per GB (medians): rshare %.2f (nbdkit with the plugin %.2f, the member node %.2f) + nbdcopy %.2f; anchor %.2f (nbdkit file) + nbdcopy %.2f.\n' \
            "$dir" "$(median "$WORK/rshare.$dir" 2)" "$(median "$WORK/rshare.$dir" 3)" \
            "$(median "$WORK/rshare.$dir" 4)" "$(median "$WORK/rshare.$dir" 5)" \
            "$(median "$WORK/anchor.$dir" 2)" "$(median "$WORK/anchor.$dir" 5)"
    done
} >"$WORK/table"

rev=$(git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown)
{
    cat "$WORK/table"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $(machine_line), rshare $rev;" \
        "$(nbdkit --version | head -1), $(nbdcopy --version | head -1); a $MIB MiB image," \
        "UDP MTU $MTU; medians of $ROUNDS interleaved rounds; load average $LOAD at the start," \
        "$(cut -d' ' -f1 /proc/loadavg) at the end."
    echo
    echo "Reproduce: \`tests/bench/run_nbdkit.sh BUILDDIR\` (or \`make bench-nbdkit\`); this run:" \
        "\`BENCH_ROUNDS=$ROUNDS BENCH_MIB=$MIB BENCH_MTU=$MTU" \
        "${BENCH_PLUGIN_ARGS:+BENCH_PLUGIN_ARGS=\"$BENCH_PLUGIN_ARGS\" }tests/bench/run_nbdkit.sh BUILDDIR\`."
} >"$WORK/section"
cat "$WORK/section"
write_section nbdkit "$WORK/section" "$DOC"
