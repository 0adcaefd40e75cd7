#!/bin/sh
# rshare cluster demo on loopback: five cluster_node processes on 127.0.0.1
# find each other over UDP, nominate a manager among the three eligible
# ones, announce one disk each, and every node ends up holding the same
# global map.  Then the manager is killed (SIGKILL: no goodbye), the others
# agree on a new manager and keep the map; the killed node is restarted from
# its state directory, rejoins, and as the lowest slot becomes manager again.
# Exits non-zero if anything does not go as described.
#
#   examples/cluster_demo.sh PATH_TO_CLUSTER_NODE    (e.g. build/examples/cluster_node)
# shellcheck disable=SC2086 # lists of nodes, ports and options are split on purpose
set -u

NODE=${1:?usage: cluster_demo.sh PATH_TO_CLUSTER_NODE}
[ -x "$NODE" ] || { echo "cluster demo: $NODE is not an executable" >&2; exit 2; }

COUNT=5
ELIGIBLE=3                 # nodes 1..3 may become manager and vote on the map
WAIT_S=30                  # the longest we wait for anything
# Cluster timing, shorter than the defaults (1000/3500/1000/100 ms) so that
# the demo takes seconds: hellos every 200 ms, a node silent for 1 s is down.
TIMING="--hello-ms 200 --member-timeout-ms 1000 --election-ms 500 --heartbeat-ms 50"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-cluster-demo.XXXXXX") || exit 2
cleanup() {
    for f in "$WORK"/n*.pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
die() { printf '\ncluster demo FAILED: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# --- ports: free UDP ports below the kernel's ephemeral range ----------------
# Every node is told every other node's address at start, so the ports are
# chosen first: random ones that no UDP socket uses (see /proc/net/udp).
pick_ports() {
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 11000 ] || low=32768
    PORTS=
    while [ "$(echo $PORTS | wc -w)" -lt "$COUNT" ]; do
        r=$(od -An -tu2 -N2 /dev/urandom | tr -d ' ')
        p=$((10000 + r % (low - 10000)))
        hex=$(printf '%04X' "$p")
        case " $PORTS " in *" $p "*) continue ;; esac
        grep -q ":$hex " /proc/net/udp /proc/net/udp6 2>/dev/null && continue
        PORTS="$PORTS $p"
    done
}
port_of() { echo $PORTS | cut -d' ' -f"$1"; }

# --- starting, stopping and reading the nodes --------------------------------
# Node i: slot i-1, its own state directory, every other node as a peer,
# one 64 MiB disk named disk<i>; nodes 1..3 are eligible and the initial
# voters of the map.  Its output goes to n<i>.out.
start_node() {
    i=$1
    peers=
    for k in $(seq "$COUNT"); do
        [ "$k" = "$i" ] || peers="$peers --peer $k@127.0.0.1:$(port_of "$k")"
    done
    eligible=
    [ "$i" -le "$ELIGIBLE" ] && eligible=--eligible
    [ -f "$WORK/n$i.out" ] && mv "$WORK/n$i.out" "$WORK/n$i.out.old"
    : >"$WORK/n$i.out" # exists before the node starts writing to it
    "$NODE" --id "$i" --slot $((i - 1)) --listen "127.0.0.1:$(port_of "$i")" \
        --state "$WORK/state$i" $peers $eligible --voters "$VOTERS" \
        --share "disk$i:64M" --print-map $TIMING >>"$WORK/n$i.out" 2>>"$WORK/n$i.err" &
    echo $! >"$WORK/n$i.pid"
}
pid_of() { cat "$WORK/n$1.pid"; }
running() { [ -f "$WORK/n$1.pid" ] && kill -0 "$(pid_of "$1")" 2>/dev/null; }

# The last complete map block a node printed.
last_map() {
    awk '/^map: node /{b=""; on=1} on{b=b $0 "\n"} /^map: end/{if (on) last=b; on=0}
         END{printf "%s", last}' "$WORK/n$1.out"
}

# agreed ALIVE NODE...: true when the given nodes all show the same manager
# (not none), 5 members of which ALIVE alive, 5 resources, and identical
# member and resource lines.  Sets MANAGER.
agreed() {
    want_alive=$1
    shift
    MANAGER=
    first=
    for i in "$@"; do
        last_map "$i" >"$WORK/map$i"
        read -r m members alive resources <<EOF
$(sed -n 's/^map: node [0-9]* version [^ ]* manager \([^ ]*\) members \([0-9]*\) alive \([0-9]*\) resources \([0-9]*\)$/\1 \2 \3 \4/p' "$WORK/map$i")
EOF
        if [ "${m:-none}" = none ] || [ "${members:-}" != "$COUNT" ] ||
            [ "${alive:-}" != "$want_alive" ] || [ "${resources:-}" != "$COUNT" ]; then
            return 1
        fi
        if [ -n "$MANAGER" ] && [ "$m" != "$MANAGER" ]; then return 1; fi
        MANAGER=$m
        body=$(sed 1d "$WORK/map$i")
        if [ -z "$first" ]; then first=$body; elif [ "$body" != "$first" ]; then return 1; fi
    done
}

# wait_for WHAT COMMAND...: run COMMAND every 0.1 s until it succeeds, at
# most WAIT_S seconds; every node that should run must still be running.
wait_for() {
    what=$1
    shift
    start=$(now_ms)
    until "$@"; do
        for i in $LIVE; do
            running "$i" || { cat "$WORK/n$i.err" >&2; die "node $i exited"; }
        done
        [ $(($(now_ms) - start)) -lt $((WAIT_S * 1000)) ] || die "not within $WAIT_S s: $what"
        sleep 0.1
    done
    ELAPSED_MS=$(($(now_ms) - start))
}

all_agree() { agreed "$1" $LIVE; }
manager_is() { agreed "$1" $LIVE && [ "$MANAGER" = "$2" ]; }
show_map() { sed 's/^map: /    /' "$WORK/map$1"; }

# --- the demo ------------------------------------------------------------------
pick_ports
VOTERS=$(seq -s, "$ELIGIBLE")
LIVE=$(seq -s' ' "$COUNT")

say "1. Five nodes start on 127.0.0.1 (UDP ports$PORTS), each told where the others are"
echo "nodes 1-$ELIGIBLE are manager-eligible and the voters of the global map;"
echo "nodes 4-$COUNT keep a non-voting copy of it.  Each node shares one disk."
for i in $LIVE; do start_node "$i"; done
wait_for "all five nodes agreeing on a manager and on the map" all_agree "$COUNT"
echo "after $ELAPSED_MS ms every node shows manager $MANAGER, $COUNT members and $COUNT resources"
wait_for "node 1 (the lowest slot) becoming manager" manager_is "$COUNT" 1
echo "the lowest slot is preferred: node $MANAGER is manager (after $ELAPSED_MS ms more)"

say "2. The global map as node $COUNT (a non-voting member) holds it"
show_map "$COUNT"
echo "the same member and resource lines are on all five nodes"

OLD=$MANAGER
say "3. Killing the manager, node $OLD, with SIGKILL"
kill -KILL "$(pid_of "$OLD")"
wait "$(pid_of "$OLD")" 2>/dev/null
LIVE=$(seq "$COUNT" | grep -vx "$OLD" | tr '\n' ' ' | sed 's/ $//')
wait_for "the four other nodes agreeing on a new manager" all_agree $((COUNT - 1))
[ "$MANAGER" != "$OLD" ] || die "the killed node is still manager"
echo "after $ELAPSED_MS ms nodes $LIVE agree: node $OLD is down, node $MANAGER is the new manager"
echo "the map survived; node $COUNT now shows:"
show_map "$COUNT"

say "4. Restarting node $OLD from its state directory"
start_node "$OLD"
LIVE=$(seq -s' ' "$COUNT")
wait_for "node $OLD rejoining" all_agree "$COUNT"
echo "after $ELAPSED_MS ms node $OLD is back: all five nodes agree again (manager $MANAGER)"
for i in $LIVE; do
    [ "$i" = "$OLD" ] || grep -q "^event: member $OLD up" "$WORK/n$i.out" ||
        die "node $i did not report node $OLD coming back"
done
echo "every other node printed \"event: member $OLD up\""
wait_for "node $OLD, the lowest slot, becoming manager again" manager_is "$COUNT" "$OLD"
echo "node $OLD is manager again (after $ELAPSED_MS ms more); node $OLD's own copy of the map:"
show_map "$OLD"

say "5. Stopping every node with SIGTERM"
for i in $LIVE; do kill -TERM "$(pid_of "$i")"; done
for i in $LIVE; do
    wait "$(pid_of "$i")" || die "node $i exited with status $?"
    rm -f "$WORK/n$i.pid"
    grep -q '^stopped$' "$WORK/n$i.out" || die "node $i did not stop cleanly"
done
echo "all nodes stopped cleanly"

say "demo passed: a manager was chosen, the map reached every node, survived the manager's death and its restart"
