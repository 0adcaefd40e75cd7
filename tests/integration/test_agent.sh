#!/bin/sh
# The reference agent and its CLI: three rshared processes on loopback UDP,
# each sharing a file-backed disk, driven with rsharectl over the control
# socket: status and listings (text and --json), a RAID-1 volume created
# with a spare, a member failed and rebuilt onto the spare with progress,
# a scrub; and the errors a user meets: a broken configuration names its
# line, a key file others can read is refused, an unknown volume and bad
# usage get their exit codes, an unreachable agent a clear message.
set -u
top_builddir=${top_builddir:-.}
RSHARED=$top_builddir/examples/agent/rshared
CTL=$top_builddir/examples/rsharectl
[ -x "$RSHARED" ] && [ -x "$CTL" ] || { echo "test_agent: programs not built" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-agent.XXXXXX") || exit 1
passed=0
failed=0
cleanup() {
    for f in "$WORK"/a*.pid; do
        [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
ok() { passed=$((passed + 1)); echo "ok - $*"; }
bad() { failed=$((failed + 1)); echo "FAILED - $*"; }
check() { # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}

base=$((20000 + $$ % 20000))
head -c 32 /dev/urandom > "$WORK/key"
chmod 600 "$WORK/key"

config() { # config N
    n=$1
    cat <<CONF
[node]
id = $n
slot = $((n - 1))
state_dir = $WORK/state$n
key_file = $WORK/key
log = stderr
log_level = warning
[udp]
listen = 127.0.0.1:$((base + n))
mtu = 65000
[cluster]
eligible = yes
voters = 1,2,3
peer = 1@127.0.0.1:$((base + 1))
peer = 2@127.0.0.1:$((base + 2))
peer = 3@127.0.0.1:$((base + 3))
hello_ms = 200
member_timeout_ms = 1000
election_ms = 500
heartbeat_ms = 50
[control]
socket = $WORK/a$n.sock
[share disk]
path = $WORK/disk$n.img
CONF
    if [ "$n" = 1 ]; then
        printf '[kvm]\nrole = host\ntargets = 2,3\nhost_screen = 1920x1080\n'
        printf 'display = 2 1920x1080@0,0\ndisplay = 3 3840x2160@1920,-540 absolute\nedge_delay_ms = 150\n'
    else
        printf '[kvm]\nrole = target\nhost = 1\ninject = none\n'
    fi
}

# --- a broken configuration names its line and the problem ----------------
config 1 | sed 's/^mtu = 65000$/mtu = lots/' > "$WORK/broken.conf"
out=$("$RSHARED" --check -c "$WORK/broken.conf" 2>&1); rc=$?
line=$(grep -n '^mtu = lots' "$WORK/broken.conf" | cut -d: -f1)
check "broken configuration refused with exit 2" [ "$rc" = 2 ]
check "the message names line $line and the key" \
    sh -c "echo '$out' | grep -q 'broken.conf:$line: \[udp\] mtu'"
printf '[node]\nid = 1\nstate_dir = /tmp\ncolour = blue\n' > "$WORK/unknown.conf"
out=$("$RSHARED" --check -c "$WORK/unknown.conf" 2>&1)
check "an unknown key is named" sh -c "echo '$out' | grep -q 'unknown.conf:4: \[node\] colour: unknown key'"

# --- a key file others can read is refused -------------------------------
config 1 > "$WORK/a1.conf"
cp "$WORK/key" "$WORK/loose.key"; chmod 644 "$WORK/loose.key"
sed "s|key_file = .*|key_file = $WORK/loose.key|" "$WORK/a1.conf" > "$WORK/loose.conf"
truncate -s 8M "$WORK/disk1.img"
out=$("$RSHARED" -c "$WORK/loose.conf" 2>&1); rc=$?
check "a group/other-readable key file stops the agent" [ "$rc" = 1 ]
check "and says why" sh -c "echo '$out' | grep -q 'readable or writable by others'"
check "without printing key material" sh -c "! echo '$out' | grep -q \"\$(od -An -tx1 '$WORK/key' | tr -d ' \n' | cut -c1-16)\""

# --- three agents ----------------------------------------------------------
for n in 1 2 3; do
    config $n > "$WORK/a$n.conf"
    truncate -s 8M "$WORK/disk$n.img"
    "$RSHARED" -c "$WORK/a$n.conf" 2> "$WORK/a$n.log" &
    echo $! > "$WORK/a$n.pid"
done
truncate -s 8M "$WORK/spare.img"
# a fourth disk (the spare) on agent 3's node: a second [share] section
# would need a restart, so agent 3 is restarted with it
kill -TERM "$(cat "$WORK/a3.pid")"; wait "$(cat "$WORK/a3.pid")" 2>/dev/null
printf '[share spare]\npath = %s\n' "$WORK/spare.img" >> "$WORK/a3.conf"
"$RSHARED" -c "$WORK/a3.conf" 2> "$WORK/a3.log" &
echo $! > "$WORK/a3.pid"

CTL1="$CTL --socket $WORK/a1.sock"
ready=no
for _ in $(seq 1 150); do
    if $CTL1 status 2>/dev/null | grep -q "4 resources" &&
        ! $CTL1 status | grep -q "manager: none"; then
        ready=yes; break
    fi
    sleep 0.2
done
check "three agents form a cluster with four disks" [ "$ready" = yes ]
$CTL1 status
check "status: identity mode off (a cluster key only)" sh -c "$CTL1 status | grep -qx 'identity: off'"
check "nodes lists three members" sh -c "[ \$($CTL1 nodes | grep -c alive) = 3 ]"
check "resources lists the four disks" sh -c "[ \$($CTL1 resources | grep -c ' block ') = 4 ]"
check "--json resources parses" sh -c "$CTL1 --json resources | $PY -c 'import json,sys; r=json.load(sys.stdin); assert len(r)==4, r'"

# --- a volume ----------------------------------------------------------------
check "volume create (RAID-1 with a spare)" $CTL1 volume create v1 raid1 1.1,2.1 spares=3.2
$CTL1 volume status v1
check "volume status shows both members active" sh -c "[ \$($CTL1 volume status v1 | grep -c 'active') = 2 ]"
check "--json volume status parses" sh -c "$CTL1 --json volume status v1 | $PY -c 'import json,sys; v=json.load(sys.stdin); assert v[\"name\"]==\"v1\" and v[\"layout\"]==\"raid1\", v'"
check "a second volume on the same disks is refused" sh -c "! $CTL1 volume create v2 raid1 1.1,3.1 2>/dev/null"
check "fail member 1" $CTL1 volume fail v1 1
out=$($CTL1 volume rebuild v1); rc=$?
echo "$out" | tail -3
check "rebuild onto the spare finishes" [ "$rc" = 0 ]
check "with progress" sh -c "echo '$out' | grep -q 'rebuild 100%'"
check "the spare is member 1 now" sh -c "$CTL1 volume status v1 | grep -q 'member 1: 0000000300000002 active'"
check "scrub finds nothing" sh -c "$CTL1 volume scrub v1 | grep -q 'scrub: 0 inconsistent'"
check "another agent sees the same volume" sh -c "$CTL --socket $WORK/a2.sock volume status v1 | grep -q 'member 1: 0000000300000002 active'"

# --- KVM focus ------------------------------------------------------------------
check "kvm focus starts on the first target" sh -c "$CTL1 kvm focus | grep -q '^focus: node 2'"
check "kvm focus shows each target's display" sh -c "$CTL1 kvm focus | grep -q 'target 3: up, display 3840x2160 at 1920,-540'"
check "kvm focus shows the pointer" sh -c "$CTL1 kvm focus | grep -q '^pointer: 960,540 on node 2'"
check "kvm focus 3" $CTL1 kvm focus 3
check "focus is on node 3" sh -c "$CTL1 --json kvm focus | $PY -c 'import json,sys; k=json.load(sys.stdin); assert k[\"focus\"]==3 and not k[\"locked\"], k'"
check "JSON: targets, pointer, switches" sh -c "$CTL1 --json kvm focus | $PY -c 'import json,sys; k=json.load(sys.stdin); assert k[\"targets\"]==[{\"node\":2,\"up\":True,\"focused\":False},{\"node\":3,\"up\":True,\"focused\":True}] and k[\"pointer\"]=={\"x\":1920,\"y\":1080} and k[\"switches\"]==1 and k[\"edge_switches\"]==0, k'"
check "kvm lock on" $CTL1 kvm lock on
$CTL1 kvm focus 2 2>/dev/null; rc=$?
check "a locked focus does not move (exit 1)" [ "$rc" = 1 ]
check "kvm lock off, kvm next" sh -c "$CTL1 kvm lock off >/dev/null && $CTL1 kvm next | grep -q '^focus: node 2'"
$CTL1 kvm focus 7 2>/dev/null; rc=$?
check "a node that is not a target: exit 1" [ "$rc" = 1 ]
check "a target reports its host" sh -c "$CTL --socket $WORK/a2.sock kvm focus | grep -q 'target of node 1'"
printf '[node]\nid = 1\nstate_dir = /tmp\n[kvm]\nrole = host\n' > "$WORK/kvm.conf"
out=$("$RSHARED" --check -c "$WORK/kvm.conf" 2>&1)
check "a KVM host without targets is refused" sh -c "echo '$out' | grep -q 'needs targets'"
printf '[node]\nid = 1\nstate_dir = /tmp\n[kvm]\nrole = host\ntargets = 2\ndisplay = 2 1920x@0,0\n' > "$WORK/kvm.conf"
out=$("$RSHARED" --check -c "$WORK/kvm.conf" 2>&1)
check "a display without its height is refused" sh -c "echo '$out' | grep -q 'kvm.conf:7: \[kvm\] display'"
printf '[node]\nid = 1\nstate_dir = /tmp\n[kvm]\nrole = host\ntargets = 2\ndisplay = 3 1920x1080@0,0\n' > "$WORK/kvm.conf"
out=$("$RSHARED" --check -c "$WORK/kvm.conf" 2>&1)
check "a display of a node that is not a target is refused" sh -c "echo '$out' | grep -q 'node 3: not one of the targets'"

# --- errors and exit codes -----------------------------------------------------
$CTL1 volume status nope 2> "$WORK/err"; rc=$?
check "unknown volume: exit 1" [ "$rc" = 1 ]
check "with a message" grep -q "no volume of that name" "$WORK/err"
$CTL1 volume create v3 raid9 1.1,2.1 2> "$WORK/err"; rc=$?
check "bad layout: refused (exit 1) with the reason" sh -c "[ $rc = 1 ] && grep -q 'layout: say' '$WORK/err'"
$CTL --bogus 2>/dev/null; rc=$?
check "bad usage: exit 2" [ "$rc" = 2 ]
$CTL --socket "$WORK/none.sock" status 2> "$WORK/err"; rc=$?
check "no agent: exit 3" [ "$rc" = 3 ]
check "and a clear message" grep -q "cannot reach the agent" "$WORK/err"
# --- a map change waits for a manager ------------------------------------------
# Agents 2 and 3 stand still: agent 1 loses its quorum and its manager.
# A change asked meanwhile waits up to 10 s for a manager: refused when
# none comes, done when the election that follows their return ends.
kill -STOP "$(cat "$WORK/a2.pid")" "$(cat "$WORK/a3.pid")"
lost=no
for _ in $(seq 1 100); do
    if $CTL1 status | grep -q "manager: none"; then lost=yes; break; fi
    sleep 0.1
done
check "two agents stopped: no manager" [ "$lost" = yes ]
started=$(date +%s)
$CTL1 volume create v5 linear 3.1 2> "$WORK/err"; rc=$?
waited=$(($(date +%s) - started))
check "no manager for 10 s: the change is refused (exit $rc after ${waited} s)" \
    sh -c "[ $rc = 1 ] && [ $waited -ge 9 ]"
check "saying why" grep -q "no manager at the moment" "$WORK/err"
$CTL1 volume create v4 linear 3.1 2> "$WORK/err" &
create=$!
sleep 1
kill -CONT "$(cat "$WORK/a2.pid")" "$(cat "$WORK/a3.pid")"
wait $create; rc=$?
check "a volume created without a manager waits for one (exit $rc)" [ "$rc" = 0 ]
check "and is there" sh -c "$CTL1 volumes | grep -q '^volume v4 '"
check "destroy it" $CTL1 volume destroy v4

check "destroy the volume" $CTL1 volume destroy v1
check "it is gone" sh -c "$CTL1 volumes | grep -q 'no volumes'"

for n in 1 2 3; do
    kill -TERM "$(cat "$WORK/a$n.pid")"
    wait "$(cat "$WORK/a$n.pid")"; rc=$?
    check "agent $n stops cleanly on SIGTERM" [ "$rc" = 0 ]
    rm -f "$WORK/a$n.pid"
done
check "no agent logged an error" sh -c "! grep -h 'error:' '$WORK'/a*.log"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
