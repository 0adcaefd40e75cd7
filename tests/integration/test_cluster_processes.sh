#!/bin/sh
# Integration test: five real cluster_node processes over UDP on 127.0.0.1
# (examples/cluster_node.c, public API only).  A manager is elected among
# the three eligible nodes and every node ends with the same global map
# (5 members, 5 resources); the manager is killed with SIGKILL and another
# node becomes manager within a bounded time while the map survives; the
# killed node restarts from its state directory, rejoins, catches up and,
# as the lowest slot, becomes manager again; every node stops cleanly on
# SIGTERM.  Short cluster timeouts keep it to a few seconds.  Every child is
# killed on exit, whatever happens.
# shellcheck disable=SC2086 # lists of nodes, ports and options are split on purpose
set -u

b=${top_builddir:-.}
NODE="$b/examples/cluster_node"
[ -x "$NODE" ] || { echo "$NODE is not built"; exit 1; }

COUNT=5
ELIGIBLE=3
VOTERS=1,2,3
TIMING="--hello-ms 100 --member-timeout-ms 600 --election-ms 400 --heartbeat-ms 50"
CONVERGE_S=20 # bound on start-up and on rejoining (generous: sanitizer builds, loaded CI)
FAILOVER_S=10 # bound on electing a new manager after the old one died

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-cluster-test.XXXXXX") || exit 1
cleanup() {
    for f in "$WORK"/n*.pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${FAILED:-1}" = 1 ]; then
        # Leave the evidence in the test log.
        for f in "$WORK"/n*.out "$WORK"/n*.out.old "$WORK"/n*.err; do
            [ -s "$f" ] && { echo "--- ${f##*/} (last 40 lines)"; tail -40 "$f"; }
        done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "ok $PASSED - $*"; }
fail() { echo "FAIL: $*"; echo "$PASSED passed, 1 failed"; exit 1; }
now_ms() { date +%s%3N; }

# Free UDP ports below the kernel's ephemeral range (other tests bind port 0,
# which the kernel takes from that range), none in use per /proc/net/udp*.
pick_ports() {
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 11000 ] || low=32768
    PORTS=
    while [ "$(echo $PORTS | wc -w)" -lt "$COUNT" ]; do
        r=$(od -An -tu2 -N2 /dev/urandom | tr -d ' ')
        p=$((10000 + r % (low - 10000)))
        case " $PORTS " in *" $p "*) continue ;; esac
        grep -q ":$(printf '%04X' "$p") " /proc/net/udp /proc/net/udp6 2>/dev/null && continue
        PORTS="$PORTS $p"
    done
}
port_of() { echo $PORTS | cut -d' ' -f"$1"; }

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
        --share "disk$i:${i}M" --print-map $TIMING >>"$WORK/n$i.out" 2>>"$WORK/n$i.err" &
    echo $! >"$WORK/n$i.pid"
}
pid_of() { cat "$WORK/n$1.pid"; }
running() { [ -f "$WORK/n$1.pid" ] && kill -0 "$(pid_of "$1")" 2>/dev/null; }

# Start all nodes; a port taken between picking and binding (another
# program) means picking again, at most three times.
start_all() {
    for attempt in 1 2 3; do
        rm -f "$WORK"/n*.out "$WORK"/n*.err
        pick_ports
        for i in $(seq "$COUNT"); do start_node "$i"; done
        start=$(now_ms)
        while [ $(($(now_ms) - start)) -lt 5000 ]; do
            up=0
            for i in $(seq "$COUNT"); do
                grep -q "^node $i listening on 127.0.0.1:$(port_of "$i") " "$WORK/n$i.out" &&
                    up=$((up + 1))
            done
            [ "$up" = "$COUNT" ] && return 0
            if grep -q 'Address already in use' "$WORK"/n*.err 2>/dev/null; then
                break
            fi
            sleep 0.05
        done
        for f in "$WORK"/n*.pid; do kill -KILL "$(cat "$f")" 2>/dev/null; done
        wait 2>/dev/null
        rm -f "$WORK"/n*.pid
        rm -rf "$WORK"/state*
        grep -q 'Address already in use' "$WORK"/n*.err 2>/dev/null || break
        echo "# a port was taken meanwhile (attempt $attempt); picking others"
    done
    cat "$WORK"/n*.err
    fail "the five nodes did not all start"
}

last_map() {
    awk '/^map: node /{b=""; on=1} on{b=b $0 "\n"} /^map: end/{if (on) last=b; on=0}
         END{printf "%s", last}' "$WORK/n$1.out"
}

# agreed ALIVE NODE...: the given nodes show the same manager (not none), 5
# members of which ALIVE alive, 5 resources, the same map version, and
# identical member and resource lines.  Sets MANAGER and VERSION.
agreed() {
    want_alive=$1
    shift
    MANAGER=
    VERSION=
    first=
    for i in "$@"; do
        last_map "$i" >"$WORK/map$i"
        read -r v m members alive resources <<EOF
$(sed -n 's/^map: node [0-9]* version [0-9]*\/\([0-9]*\) manager \([^ ]*\) members \([0-9]*\) alive \([0-9]*\) resources \([0-9]*\)$/\1 \2 \3 \4 \5/p' "$WORK/map$i")
EOF
        if [ "${m:-none}" = none ] || [ "${members:-}" != "$COUNT" ] ||
            [ "${alive:-}" != "$want_alive" ] || [ "${resources:-}" != "$COUNT" ]; then
            return 1
        fi
        if [ -n "$MANAGER" ] && { [ "$m" != "$MANAGER" ] || [ "$v" != "$VERSION" ]; }; then
            return 1
        fi
        MANAGER=$m
        VERSION=$v
        body=$(sed 1d "$WORK/map$i")
        if [ -z "$first" ]; then first=$body; elif [ "$body" != "$first" ]; then return 1; fi
    done
}

# wait_for SECONDS WHAT COMMAND...: poll every 50 ms; the nodes in $LIVE
# must keep running.
wait_for() {
    limit=$1
    what=$2
    shift 2
    start=$(now_ms)
    until "$@"; do
        for i in $LIVE; do
            running "$i" || fail "node $i exited while waiting for $what"
        done
        if [ $(($(now_ms) - start)) -ge $((limit * 1000)) ]; then
            for i in $LIVE; do echo "# node $i:"; last_map "$i"; done
            fail "not within $limit s: $what"
        fi
        sleep 0.05
    done
}
all_agree() { agreed "$1" $LIVE; }
# The nodes in $LIVE name one manager other than $1 (maps may still differ).
new_manager() {
    MANAGER=
    for i in $LIVE; do
        m=$(last_map "$i" | sed -n 's/^map: node .* manager \([^ ]*\) members .*/\1/p')
        if [ "${m:-none}" = none ] || [ "$m" = "$1" ]; then return 1; fi
        if [ -n "$MANAGER" ] && [ "$m" != "$MANAGER" ]; then return 1; fi
        MANAGER=$m
    done
}
manager_is() { agreed "$1" $LIVE && [ "$MANAGER" = "$2" ]; }

# --- 1. start-up --------------------------------------------------------------
LIVE=$(seq -s' ' "$COUNT")
T0=$(now_ms)
start_all
ok "five nodes listening on 127.0.0.1, ports$PORTS"

wait_for "$CONVERGE_S" "five nodes agreeing on a manager and the map" all_agree "$COUNT"
ok "all five agree on manager $MANAGER, 5 members, 5 resources, map version $VERSION ($(($(now_ms) - T0)) ms after start)"

wait_for "$CONVERGE_S" "node 1 (lowest slot) as manager" manager_is "$COUNT" 1
ok "the lowest slot, node 1, is manager"

# The map's content, as node 5 (a non-voting copy) holds it.
m=$WORK/map5
for i in $(seq "$COUNT"); do
    n=$(grep -c "^map: resource $(printf '%08x%08x' "$i" 1) host $i kind block blocks $((i * 2048))x512 path disk$i\$" "$m")
    [ "$n" = 1 ] || fail "node 5's map lacks node $i's disk: $(cat "$m")"
    if [ "$i" -le "$ELIGIBLE" ]; then want="alive,eligible,voter"; else want="alive"; fi
    [ "$i" = 1 ] && want="$want,manager"
    grep -q "^map: member $i slot $((i - 1)) flags $want resources 1\$" "$m" ||
        fail "node 5's map shows member $i wrongly (want flags $want): $(cat "$m")"
done
ok "every disk is in the map with its host and geometry; nodes 1-3 vote, 4-5 hold copies"
BEFORE=$VERSION

# --- 2. the manager dies --------------------------------------------------------
kill -KILL "$(pid_of 1)"
T_KILL=$(now_ms)
wait "$(pid_of 1)" 2>/dev/null
rm -f "$WORK/n1.pid"
LIVE="2 3 4 5"
wait_for "$FAILOVER_S" "a new manager after SIGKILL of node 1" new_manager 1
ok "nodes 2-5 agree on a new manager, node $MANAGER, $(($(now_ms) - T_KILL)) ms after node 1 was killed"
# (The first one elected may hand over to the lowest live slot, node 2.)
wait_for "$FAILOVER_S" "the same map on nodes 2-5, with node 1 down" all_agree 4
[ "$MANAGER" != 1 ] || fail "the dead node is manager again"
ok "the map survived: 5 members (4 alive), 5 resources, manager $MANAGER, the same on nodes 2-5 ($(($(now_ms) - T_KILL)) ms after the kill)"
[ "$VERSION" -ge "$BEFORE" ] || fail "map version went back from $BEFORE to $VERSION"
for i in $LIVE; do
    grep -q "^event: member 1 down\$" "$WORK/n$i.out" || fail "node $i did not report node 1 down"
    grep -q "^map: resource 0000000100000001 host 1 " "$WORK/map$i" || fail "node $i lost node 1's disk"
done
ok "nodes 2-5 reported node 1 down and kept its disk in the map"
MID=$VERSION

# --- 3. the old manager comes back ------------------------------------------------
start_node 1
T_START=$(now_ms)
LIVE=$(seq -s' ' "$COUNT")
wait_for "$CONVERGE_S" "node 1 rejoining" all_agree "$COUNT"
ok "node 1 restarted from its state directory and rejoined in $(($(now_ms) - T_START)) ms; all five agree again"
[ "$VERSION" -ge "$MID" ] || fail "map version went back from $MID to $VERSION"
for i in 2 3 4 5; do
    grep -q "^event: member 1 up\$" "$WORK/n$i.out" || fail "node $i did not report node 1 up"
done
grep -q "^event: map changed" "$WORK/n1.out" || fail "node 1 did not load or receive the map"
wait_for "$CONVERGE_S" "node 1 becoming manager again" manager_is "$COUNT" 1
ok "node 1, the lowest slot, is manager again ($(($(now_ms) - T_START)) ms after its restart)"

# --- 4. clean stop -------------------------------------------------------------------
for i in $LIVE; do kill -TERM "$(pid_of "$i")"; done
for i in $LIVE; do
    start=$(now_ms)
    while running "$i" && [ $(($(now_ms) - start)) -lt 5000 ]; do sleep 0.05; done
    running "$i" && fail "node $i did not exit within 5 s of SIGTERM"
    wait "$(pid_of "$i")"
    status=$?
    rm -f "$WORK/n$i.pid"
    [ "$status" = 0 ] || fail "node $i exited with status $status on SIGTERM"
    grep -q '^stopped$' "$WORK/n$i.out" || fail "node $i did not print 'stopped'"
done
ok "every node stopped cleanly on SIGTERM (total $(($(now_ms) - T0)) ms)"
FAILED=0
echo "$PASSED passed, 0 failed"
