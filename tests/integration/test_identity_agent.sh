#!/bin/sh
# Node identities from the command line and the agent: `rsharectl identity
# keygen` writes a secret key (0600) and its public half (0644) and never
# overwrites; `certify` enrols a node with the authority's key and `show`
# tells a valid certificate from a tampered one or another authority's;
# rshared refuses to start with a loose identity key, a file of the wrong
# size, half of the three keys, or another node's certificate, naming the
# file; three agents in identity mode on loopback UDP form a cluster while
# a fourth, enrolled by another authority, never becomes a member; the
# manager revokes node 3's key (`rsharectl identity revoke`), node 3
# drops out and nodes 1 and 2 go on; a member that may not manage is
# refused, a node whose key nobody saw gets a clear error.  No log line
# carries secret key material.
set -u
top_builddir=$(cd "${top_builddir:-.}" && pwd)
RSHARED=$top_builddir/examples/agent/rshared
CTL=$top_builddir/examples/rsharectl
[ -x "$RSHARED" ] && [ -x "$CTL" ] || { echo "test_identity_agent: programs not built" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-identity.XXXXXX") || exit 1
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
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
mode() { stat -c %a "$1"; }
# wait_for SECONDS COMMAND...: until the command succeeds
wait_for() {
    t=$(($1 * 5)); shift
    while [ "$t" -gt 0 ]; do
        "$@" 2>/dev/null && return 0
        sleep 0.2; t=$((t - 1))
    done
    return 1
}

cd "$WORK" || exit 1

# --- keys and certificates, offline ---------------------------------------------
out=$("$CTL" identity keygen auth.key); rc=$?
check "keygen writes a key pair" [ "$rc" = 0 -a -f auth.key -a -f auth.key.pub ]
check "the secret key is 64 bytes of mode 600" [ "$(stat -c %s auth.key)" = 64 -a "$(mode auth.key)" = 600 ]
check "the public key is 32 bytes of mode 644" [ "$(stat -c %s auth.key.pub)" = 32 -a "$(mode auth.key.pub)" = 644 ]
check "keygen prints the public key in hex" sh -c "echo '$out' | grep -q 'public key $(hex auth.key.pub)'"
check "and never the secret key" sh -c "! echo '$out' | grep -q '$(hex auth.key | cut -c1-32)'"
before=$(hex auth.key)
"$CTL" identity keygen auth.key 2> err; rc=$?
check "keygen refuses to overwrite (exit 4)" [ "$rc" = 4 ]
check "says so" grep -q "auth.key exists: refused" err
check "and the key is unchanged" [ "$(hex auth.key)" = "$before" ]
"$CTL" identity keygen lone.key > /dev/null && rm lone.key.pub
"$CTL" identity keygen lone.key 2>/dev/null; rc=$?
check "an existing secret key alone stops keygen" [ "$rc" = 4 -a ! -f lone.key.pub ]
: > solo.key.pub
"$CTL" identity keygen solo.key 2>/dev/null; rc=$?
check "an existing public key alone stops it before any secret is written" [ "$rc" = 4 -a ! -f solo.key ]

"$CTL" identity keygen other.key > /dev/null      # another authority
for n in 1 2 3 4; do
    "$CTL" identity keygen n$n.key > /dev/null
done
for n in 1 2 3; do
    "$CTL" identity certify --authority auth.key --node $n --public n$n.key.pub --out n$n.cert \
        > /dev/null
done
check "certify writes a 104-byte certificate" [ "$(stat -c %s n1.cert)" = 104 ]
"$CTL" identity certify --authority other.key --node 4 --public n4.key.pub --out n4.cert > /dev/null
out=$("$CTL" identity show n2.cert --authority auth.key.pub); rc=$?
check "show: a valid certificate (exit 0)" sh -c "[ $rc = 0 ] && echo '$out' | grep -qx valid"
check "show names the node and its key" sh -c "echo '$out' | grep -qx 'node 2' && echo '$out' | grep -qx 'public key $(hex n2.key.pub)'"
check "show --json" sh -c "$CTL --json identity show n2.cert --authority auth.key.pub | $PY -c 'import json,sys; c=json.load(sys.stdin); assert c==dict(node=2, public_key=\"$(hex n2.key.pub)\", valid=True), c'"
cp n2.cert tampered.cert
printf '\003' | dd of=tampered.cert bs=1 seek=7 conv=notrunc 2>/dev/null  # node 2 -> 3
out=$("$CTL" identity show tampered.cert --authority auth.key.pub); rc=$?
check "a tampered certificate is invalid (exit 1)" sh -c "[ $rc = 1 ] && echo '$out' | grep -q '^invalid'"
"$CTL" identity show n4.cert --authority auth.key.pub > /dev/null; rc=$?
check "another authority's certificate is invalid" [ "$rc" = 1 ]
"$CTL" identity show n4.cert --authority other.key.pub > /dev/null; rc=$?
check "and valid against its own authority" [ "$rc" = 0 ]
cp auth.key loose.key; chmod 640 loose.key
"$CTL" identity certify --authority loose.key --node 5 --public n4.key.pub --out x.cert 2> err; rc=$?
check "certify refuses a loose authority key" sh -c "[ $rc = 4 ] && grep -q 'loose.key: readable or writable by others (mode 640)' err && [ ! -e x.cert ]"
"$CTL" identity certify --authority auth.key --node 0 --public n4.key.pub --out x.cert 2>/dev/null; rc=$?
check "certify: a bad node id is bad usage" [ "$rc" = 2 ]

# --- the agent's configuration -----------------------------------------------------
base=$((20000 + $$ % 20000))
config() { # config N [KEY CERT AUTHORITY]
    n=$1
    cat <<CONF
[node]
id = $n
slot = $((n - 1))
state_dir = $WORK/state$n
identity_key_file = $WORK/${2:-n$n.key}
identity_cert_file = $WORK/${3:-n$n.cert}
authority_public_key_file = $WORK/${4:-auth.key.pub}
log = stderr
log_level = warning
[udp]
listen = 127.0.0.1:$((base + n))
[cluster]
eligible = $([ "$n" -le 2 ] && echo yes || echo no)
voters = 1,2
peer = 1@127.0.0.1:$((base + 1))
peer = 2@127.0.0.1:$((base + 2))
peer = 3@127.0.0.1:$((base + 3))
peer = 4@127.0.0.1:$((base + 4))
hello_ms = 200
member_timeout_ms = 1000
election_ms = 500
heartbeat_ms = 50
[control]
socket = $WORK/a$n.sock
CONF
}
cp n1.key loose1.key; chmod 644 loose1.key
config 1 loose1.key > bad.conf
out=$("$RSHARED" -c bad.conf 2>&1); rc=$?
check "a loose identity key stops the agent (exit 1)" [ "$rc" = 1 ]
check "naming the file and its mode" sh -c "echo '$out' | grep -q 'identity_key_file $WORK/loose1.key: readable or writable by others (mode 644)'"
check "without key material" sh -c "! echo '$out' | grep -q '$(hex n1.key | cut -c1-16)'"
config 1 n1.cert n1.cert > bad.conf
out=$("$RSHARED" -c bad.conf 2>&1); rc=$?
check "a file of the wrong size is named" sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'identity_key_file $WORK/n1.cert: not a regular file of 64 bytes'"
config 1 n1.key n2.cert > bad.conf
out=$("$RSHARED" -c bad.conf 2>&1); rc=$?
check "another node's certificate is refused" sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'enrols node 2, this is node 1'"
config 1 n1.key n1.cert other.key.pub > bad.conf
out=$("$RSHARED" -c bad.conf 2>&1); rc=$?
check "a certificate of another authority is refused" sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'not signed by the authority'"
config 1 | grep -v '^identity_cert_file' > bad.conf
out=$("$RSHARED" --check -c bad.conf 2>&1); rc=$?
check "two of the three files: a configuration error (exit 2)" sh -c "[ $rc = 2 ] && echo '$out' | grep -q 'go together'"

# --- a cluster in identity mode, and a stranger ----------------------------------------
for n in 1 2 3; do
    config $n > a$n.conf
done
config 4 n4.key n4.cert other.key.pub > a4.conf  # enrolled by another authority
for n in 1 2 3 4; do
    "$RSHARED" -c a$n.conf 2> a$n.log &
    echo $! > a$n.pid
done
CTL1="$CTL --socket $WORK/a1.sock"
alive() { # alive SOCKET: the ids of the live members it sees
    $CTL --socket "$1" nodes | awk '/alive/ {print $1}' | sort -n | tr '\n' ' '
}
formed() {
    [ "$(alive a1.sock)" = "1 2 3 " ] && [ "$(alive a3.sock)" = "1 2 3 " ] &&
        $CTL1 status | grep -q '^manager: node'
}
check "three agents in identity mode form a cluster" wait_for 20 formed
$CTL1 status
check "status says identity mode is on, with handshakes" \
    sh -c "$CTL1 status | grep -q '^identity: on, [1-9][0-9]* handshakes'"
sleep 1  # node 4 keeps greeting
# (node 4 is listed, as a configured peer, but never alive)
check "the agent of another authority never becomes a member" formed
check "its handshakes are counted as refused" \
    sh -c "$CTL1 --json status | $PY -c 'import json,sys; s=json.load(sys.stdin); assert s[\"identity\"] and s[\"rx_identity_refused\"] > 0 and s[\"handshakes\"] > 0, s'"
check "and it sees nobody" [ "$(alive a4.sock)" = "4 " ]

# --- revocation ---------------------------------------------------------------------------
manager=$($CTL1 status | sed -n 's/^manager: node //p')
CTLM="$CTL --socket $WORK/a$manager.sock"
$CTL --socket "$WORK/a3.sock" identity revoke 2 2> err; rc=$?
check "a member that may not manage cannot revoke (exit 1)" sh -c "[ $rc = 1 ] && grep -q 'neither the manager nor manager-eligible' err"
$CTLM identity revoke 4 2> err; rc=$?
check "the stranger's key, never seen: exit 1, clear message" sh -c "[ $rc = 1 ] && grep -q 'knows no key of node 4' err"
$CTL --socket "$WORK/none.sock" identity revoke 3 2> err; rc=$?
check "no agent: exit 3" sh -c "[ $rc = 3 ] && grep -q 'cannot reach the agent' err"
check "the manager revokes node 3's key" $CTLM identity revoke 3
dropped() { [ "$(alive a1.sock)" = "1 2 " ] && [ "$(alive a2.sock)" = "1 2 " ]; }
check "node 3 drops out" wait_for 10 dropped
sleep 1
check "and stays out" dropped
check "nodes 1 and 2 still have a manager" sh -c "$CTL --socket $WORK/a2.sock status | grep -q '^manager: node [12]$'"
check "given its public key, the stranger's is revoked too" $CTLM identity revoke 4 --public n4.key.pub

for n in 1 2 3 4; do
    kill -TERM "$(cat a$n.pid)"
    wait "$(cat a$n.pid)"; rc=$?
    check "agent $n stops cleanly on SIGTERM" [ "$rc" = 0 ]
    rm -f a$n.pid
done
leak=no
for k in auth other n1 n2 n3 n4; do
    grep -q "$(hex $k.key | cut -c1-24)" a1.log a2.log a3.log a4.log && leak=yes
done
check "no log line carries a secret key" [ "$leak" = no ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
