#!/bin/sh
# Integration test of the nbdkit plugin (bindings/nbdkit/rshare.c): an
# rshare volume seen by ordinary NBD tools as a plain disk.
#
# Three examples/cluster_node processes on 127.0.0.1 (UDP) each serve a
# file-backed 8 MiB disk; nbdkit, loading the uninstalled plugin by path,
# joins as a fourth node, defines a RAID-5 volume over the three disks and
# exports it on a Unix socket.  Then:
#   1. nbdinfo reports the size (2 x 8 MiB) and the block size hint (512);
#   2. nbdcopy writes a random image into the volume and reads it back
#      identical; the first chunk is found on the first member's file;
#   3. qemu-img compare finds the export equal to the image, and (the
#      negative control) different from a copy with one byte flipped;
#   4. one cluster_node is killed with SIGKILL: the volume goes degraded,
#      and the read-back and the comparison are still identical, and a new
#      image written while degraded reads back identical too;
#   5. nbdkit stops cleanly on SIGTERM, having had several requests (at
#      most inflight=8) on the volume at once;
#   6. a second nbdkit exports a linear volume on a fifth node's disk: trim
#      is offered, and qemu-io's discard reads back as zeroes and punches a
#      hole in the member's file.
# Skips (77) only when nbdkit, nbdinfo, nbdcopy, qemu-img or qemu-io is missing.
# Every child is killed on exit, whatever happens.
# shellcheck disable=SC2086 # lists of options are split on purpose
set -u

b=${top_builddir:-.}
NODE="$b/examples/cluster_node"
PLUGIN="$b/bindings/nbdkit/.libs/nbdkit-rshare-plugin.so"
for tool in nbdkit nbdinfo nbdcopy qemu-img qemu-io; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x "$NODE" ] || { echo "$NODE is not built"; exit 1; }
[ -f "$PLUGIN" ] || { echo "$PLUGIN is not built"; exit 1; }

DISK_MIB=8
VOLUME_BYTES=$((2 * DISK_MIB * 1024 * 1024)) # RAID-5 over three: two disks of data
TIMING="--hello-ms 100 --member-timeout-ms 600 --election-ms 400 --heartbeat-ms 50"
PTIMING="hello-ms=100 member-timeout-ms=600 election-ms=400 heartbeat-ms=50"
START_S=30 # bound on the cluster forming and the volume being served

# A sanitizer build's plugin needs the sanitizer runtimes loaded first
# (nbdkit itself is not instrumented); nbdkit's own leaks are not ours.
NBDKIT_ENV=
if [ "${RSHARE_SANITIZERS:-no}" = yes ]; then
    pre=
    for lib in libasan.so libubsan.so; do
        f=$(${CC:-cc} -print-file-name=$lib 2>/dev/null)
        [ -f "$f" ] && pre="$pre${pre:+:}$f"
    done
    NBDKIT_ENV="LD_PRELOAD=$pre ASAN_OPTIONS=detect_leaks=0"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rshare-nbdkit-test.XXXXXX") || exit 1
SOCK=$WORK/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
cleanup() {
    for f in "$WORK"/*.pid; do
        [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${FAILED:-1}" = 1 ]; then
        for f in "$WORK"/*.out "$WORK"/*.err; do
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
T0=$(now_ms)

# Free UDP ports below the kernel's ephemeral range, none in use.
pick_ports() {
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 11000 ] || low=32768
    PORTS=
    while [ "$(echo $PORTS | wc -w)" -lt 6 ]; do
        r=$(od -An -tu2 -N2 /dev/urandom | tr -d ' ')
        p=$((10000 + r % (low - 10000)))
        case " $PORTS " in *" $p "*) continue ;; esac
        grep -q ":$(printf '%04X' "$p") " /proc/net/udp /proc/net/udp6 2>/dev/null && continue
        PORTS="$PORTS $p"
    done
}
port_of() { echo $PORTS | cut -d' ' -f"$1"; }
running() { [ -f "$WORK/$1.pid" ] && kill -0 "$(cat "$WORK/$1.pid")" 2>/dev/null; }

# wait_until SECONDS WHAT COMMAND...: poll every 50 ms; the processes named
# in $LIVE must keep running.
wait_until() {
    limit=$1
    what=$2
    shift 2
    start=$(now_ms)
    until "$@"; do
        for p in $LIVE; do running "$p" || fail "$p exited while waiting for $what"; done
        [ $(($(now_ms) - start)) -lt $((limit * 1000)) ] || fail "not within $limit s: $what"
        sleep 0.05
    done
}

# Node i (1..3): eligible, a voter, serving disk<i>.img.
start_node() {
    i=$1
    peers=
    for k in 1 2 3 4; do # 4: nbdkit's node (hellos go to configured peers only)
        [ "$k" = "$i" ] || peers="$peers --peer $k@127.0.0.1:$(port_of "$k")"
    done
    "$NODE" --id "$i" --slot $((i - 1)) --listen "127.0.0.1:$(port_of "$i")" \
        --state "$WORK/state$i" $peers --eligible --voters 1,2,3 \
        --share "$WORK/disk$i.img" $TIMING >"$WORK/n$i.out" 2>"$WORK/n$i.err" &
    echo $! >"$WORK/n$i.pid"
}
node_up() { grep -q "^shared $WORK/disk$1.img as resource .*served" "$WORK/n$1.out"; }

# --- the cluster: three nodes, three disks ------------------------------------------
for i in 1 2 3; do truncate -s ${DISK_MIB}M "$WORK/disk$i.img" || fail "truncate"; done
pick_ports
LIVE="n1 n2 n3"
for i in 1 2 3; do start_node "$i"; done
all_served() { for i in 1 2 3; do grep -q served "$WORK/n$i.out" || return 1; done; }
wait_until 5 "three cluster nodes serving their disks" all_served
for i in 1 2 3; do
    grep -q "^shared $WORK/disk$i.img as resource $(printf '%08x%08x' "$i" 1) " "$WORK/n$i.out" ||
        fail "node $i shares its disk under an unexpected id: $(cat "$WORK/n$i.out")"
done
ok "three cluster nodes on 127.0.0.1 (ports $(port_of 1) $(port_of 2) $(port_of 3))" \
    "serve a ${DISK_MIB} MiB disk each"

# --- nbdkit: node 4, defines and exports the volume -----------------------------------
# -f: foreground (killed at the end); -P: the pid file appears once the
# plugin's .get_ready succeeded and nbdkit listens.
start_nbdkit() {
    env $NBDKIT_ENV nbdkit -f -v -U "$SOCK" -P "$WORK/nbdkit.pid.tmp" "$PLUGIN" vol0 id=4 \
        listen="127.0.0.1:$(port_of 4)" peer="1@127.0.0.1:$(port_of 1)" \
        peer="2@127.0.0.1:$(port_of 2)" peer="3@127.0.0.1:$(port_of 3)" state="$WORK/state4" \
        define=raid5:64K:1.1,2.1,3.1 timeout=$START_S request-timeout-ms=1000 retry-budget=2 \
        $PTIMING >"$WORK/nbdkit.out" 2>"$WORK/nbdkit.err" &
    echo $! >"$WORK/nbdkit.pid"
}
start_nbdkit
LIVE="n1 n2 n3 nbdkit"
wait_until "$START_S" "nbdkit serving the volume" test -s "$WORK/nbdkit.pid.tmp"
ok "nbdkit joined the cluster, defined RAID-5 vol0 over 1.1,2.1,3.1 and serves it" \
    "($(($(now_ms) - T0)) ms)"

# --- 1. nbdinfo -------------------------------------------------------------------------
size=$(nbdinfo --size "$URI") || fail "nbdinfo --size"
[ "$size" = "$VOLUME_BYTES" ] || fail "nbdinfo reports $size bytes, want $VOLUME_BYTES"
nbdinfo "$URI" >"$WORK/info.out" 2>&1 || fail "nbdinfo"
grep -q "block_size_minimum: 512" "$WORK/info.out" ||
    fail "no minimum block size 512: $(cat "$WORK/info.out")"
grep -q "can_trim: false" "$WORK/info.out" || fail "trim offered: $(cat "$WORK/info.out")"
grep -q "can_multi_conn: false" "$WORK/info.out" || fail "multi-conn offered"
grep -q "description: rshare volume vol0 (raid5, 3 members)" "$WORK/info.out" ||
    fail "no description: $(cat "$WORK/info.out")"
ok "nbdinfo: $size bytes, minimum block 512, flush, no trim, no multi-conn"

# --- 2. nbdcopy in and out ------------------------------------------------------------
head -c "$VOLUME_BYTES" /dev/urandom >"$WORK/src.img"
t=$(now_ms)
nbdcopy --flush "$WORK/src.img" "$URI" || fail "nbdcopy into the volume"
w_ms=$(($(now_ms) - t))
t=$(now_ms)
nbdcopy "$URI" "$WORK/back.img" || fail "nbdcopy out of the volume"
r_ms=$(($(now_ms) - t))
cmp "$WORK/src.img" "$WORK/back.img" || fail "read back differs from what was written"
ok "nbdcopy wrote $((VOLUME_BYTES >> 20)) MiB in $w_ms ms and read it back identical in $r_ms ms"
# Unaligned requests: NBD clients are told the minimum block size (512)
# but need not obey it, and libnbd refuses to send such requests, so a
# minimal NBD client in Python writes 1000 bytes at offset 700 (two
# partial blocks around a whole one: read-modify-write) and reads 3000
# bytes at offset 333 back.  Skipped without python3.
if command -v python3 >/dev/null 2>&1; then
    head -c 1000 /dev/urandom >"$WORK/small.img"
    python3 - "$SOCK" "$WORK/small.img" "$WORK/read.img" <<'PY' || fail "raw NBD client"
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit("server closed")
        b += c
    return b
assert recv(16) == b"NBDMAGICIHAVEOPT"; recv(2)
s.sendall(struct.pack(">I", 3))                                    # fixed newstyle, no zeroes
s.sendall(b"IHAVEOPT" + struct.pack(">II", 1, 0))                 # NBD_OPT_EXPORT_NAME ""
recv(10)                                                           # size, transmission flags
def request(cmd, offset, length, data=b""):
    s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, cmd, 7, offset, length) + data)
    magic, err, handle = struct.unpack(">IIQ", recv(16))
    assert magic == 0x67446698 and handle == 7, "bad reply"
    if err: raise SystemExit("NBD error %d" % err)
    return recv(length) if cmd == 0 else b""
request(1, 700, 1000, open(sys.argv[2], "rb").read())              # write
open(sys.argv[3], "wb").write(request(0, 333, 3000))               # read
request(3, 0, 0)                                                   # flush
s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 2, 8, 0, 0))       # disconnect
PY
    grep -q "pwrite count=1000 offset=700" "$WORK/nbdkit.err" || fail "no unaligned write arrived"
    dd if="$WORK/small.img" of="$WORK/src.img" bs=1 seek=700 conv=notrunc 2>/dev/null
    dd if="$WORK/src.img" of="$WORK/expect.img" bs=1 skip=333 count=3000 2>/dev/null
    cmp "$WORK/expect.img" "$WORK/read.img" || fail "unaligned read differs"
    rm -f "$WORK/back.img"
    nbdcopy "$URI" "$WORK/back.img" || fail "nbdcopy out of the volume (2)"
    cmp "$WORK/src.img" "$WORK/back.img" || fail "after an unaligned write, read back differs"
    ok "unaligned write (1000 bytes at 700) and read (3000 at 333) are exact"
else
    echo "# no python3: unaligned requests not tested"
fi
# RAID-5 left-symmetric, 3 members: chunk 0 of the volume is chunk 0 of member 0.
cmp -n 65536 "$WORK/src.img" "$WORK/disk1.img" || fail "the first chunk is not on disk1.img"
ok "the volume's first chunk is on the first member's file"

# The keeper thread runs the node between requests: after an idle spell
# longer than the member timeout (600 ms), the other nodes still hear
# nbdkit's node and it still hears them.
sleep 1.5
for i in 1 2 3; do
    if grep -q "^event: member 4 down" "$WORK/n$i.out"; then
        fail "node $i lost nbdkit's node while the client was idle"
    fi
done
if grep -q "rshare: node [123] is silent" "$WORK/nbdkit.err"; then
    fail "nbdkit's node lost the others while idle: $(grep silent "$WORK/nbdkit.err")"
fi
ok "idle for 1.5 s (member timeout 600 ms): nbdkit's node and the others kept hearing each other"

# --- 3. qemu-img compare, and a negative control ------------------------------------
qemu-img compare -f raw -F raw "$WORK/src.img" "$URI" >"$WORK/cmp.out" 2>&1 ||
    fail "qemu-img compare: $(cat "$WORK/cmp.out")"
ok "qemu-img compare: the export equals the image"
cp "$WORK/src.img" "$WORK/flipped.img"
# Flip one byte in the middle of the image.
off=$((VOLUME_BYTES / 2 + 12345))
byte=$(od -An -tu1 -j "$off" -N1 "$WORK/src.img" | tr -d ' ')
# shellcheck disable=SC2059 # the format is the octal escape of the new byte
printf "$(printf '\\%03o' $((byte ^ 0xff)))" |
    dd of="$WORK/flipped.img" bs=1 seek="$off" conv=notrunc 2>/dev/null
qemu-img compare -f raw -F raw "$WORK/flipped.img" "$URI" >"$WORK/cmp.out" 2>&1
[ $? = 1 ] || fail "qemu-img compare did not see a flipped byte: $(cat "$WORK/cmp.out")"
# (qemu-img names the first differing 512-byte sector)
grep -q "Content mismatch at offset $((off - off % 512))!" "$WORK/cmp.out" ||
    fail "qemu-img compare reported the wrong place: $(cat "$WORK/cmp.out")"
ok "negative control: a flipped byte at $off is reported by qemu-img compare"

# --- 4. a member dies -------------------------------------------------------------------
kill -KILL "$(cat "$WORK/n3.pid")"
wait "$(cat "$WORK/n3.pid")" 2>/dev/null
rm -f "$WORK/n3.pid"
LIVE="n1 n2 nbdkit"
t=$(now_ms)
rm -f "$WORK/back.img"
nbdcopy "$URI" "$WORK/back.img" || fail "nbdcopy out of the degraded volume"
cmp "$WORK/src.img" "$WORK/back.img" || fail "degraded read back differs"
ok "node 3 killed (SIGKILL): read back still identical ($(($(now_ms) - t)) ms)"
grep -q "volume vol0: member 2 .*failed" "$WORK/nbdkit.err" ||
    fail "the volume did not report member 2 (node 3's disk) failed"
ok "the volume reported member 2 failed: it is degraded"
qemu-img compare -f raw -F raw "$WORK/src.img" "$URI" >"$WORK/cmp.out" 2>&1 ||
    fail "qemu-img compare after the kill: $(cat "$WORK/cmp.out")"
ok "qemu-img compare after the kill: still equal"
head -c "$VOLUME_BYTES" /dev/urandom >"$WORK/src2.img"
nbdcopy --flush "$WORK/src2.img" "$URI" || fail "nbdcopy into the degraded volume"
rm -f "$WORK/back.img"
nbdcopy "$URI" "$WORK/back.img" || fail "nbdcopy out of the degraded volume (2)"
cmp "$WORK/src2.img" "$WORK/back.img" || fail "written while degraded, read back differs"
ok "written while degraded: read back identical"

# --- 5. clean stop, restart, stop again ------------------------------------------------
stop_nbdkit() {
    kill -TERM "$(cat "$WORK/nbdkit.pid")"
    start=$(now_ms)
    while running nbdkit && [ $(($(now_ms) - start)) -lt 10000 ]; do sleep 0.05; done
    running nbdkit && fail "nbdkit did not exit within 10 s of SIGTERM"
    wait "$(cat "$WORK/nbdkit.pid")"
    status=$?
    rm -f "$WORK/nbdkit.pid" "$WORK/nbdkit.pid.tmp" "$SOCK" # nbdkit leaves its socket
    [ "$status" = 0 ] || fail "nbdkit exited with status $status"
}
stop_nbdkit
ok "nbdkit stopped cleanly on SIGTERM"
# nbdcopy keeps many requests in flight: the plugin must have had more than
# one on the volume at once (its parallel thread model, doc/NBDKIT.md).
peak=$(sed -n 's/.*volume requests, at most \([0-9]*\) in flight at once.*/\1/p' "$WORK/nbdkit.err")
[ -n "$peak" ] || fail "no count of requests in flight in nbdkit's log"
[ "$peak" -ge 2 ] || fail "never more than $peak volume request in flight"
[ "$peak" -le 8 ] || fail "$peak volume requests in flight: more than inflight=8"
ok "up to $peak volume requests were in flight at once (at most inflight=8)"

# The same command again: the volume exists (define= is not needed and not
# repeated), was closed cleanly, and still holds what was written.
mv "$WORK/nbdkit.err" "$WORK/nbdkit.err.1"
start_nbdkit
wait_until "$START_S" "nbdkit serving the volume again" test -s "$WORK/nbdkit.pid.tmp"
grep -q "defining volume" "$WORK/nbdkit.err" && fail "the restarted plugin defined the volume again"
rm -f "$WORK/back.img"
nbdcopy "$URI" "$WORK/back.img" || fail "nbdcopy after the restart"
cmp "$WORK/src2.img" "$WORK/back.img" || fail "after nbdkit's restart, read back differs"
stop_nbdkit
ok "nbdkit restarted from its state directory: the degraded volume reopens and reads back" \
    "identical (total $(($(now_ms) - T0)) ms)"
# --- 6. trim on a linear volume --------------------------------------------------------
# Node 5 shares a fifth disk; a second nbdkit (node 6) defines a linear
# volume on it and exports it: trim is offered (doc/NBDKIT.md) and a
# client's discard punches a hole in the member's file.
truncate -s ${DISK_MIB}M "$WORK/disk5.img" || fail "truncate"
"$NODE" --id 5 --slot 4 --listen "127.0.0.1:$(port_of 5)" --state "$WORK/state5" \
    --peer "1@127.0.0.1:$(port_of 1)" --peer "2@127.0.0.1:$(port_of 2)" \
    --peer "6@127.0.0.1:$(port_of 6)" --share "$WORK/disk5.img" $TIMING \
    >"$WORK/n5.out" 2>"$WORK/n5.err" &
echo $! >"$WORK/n5.pid"
LIVE="n1 n2 n5"
wait_until 5 "node 5 serving its disk" node_up 5
SOCK2=$WORK/nbd2.sock
URI2="nbd+unix:///?socket=$SOCK2"
env $NBDKIT_ENV nbdkit -f -v -U "$SOCK2" -P "$WORK/nbdkit2.pid.tmp" "$PLUGIN" vol1 id=6 \
    listen="127.0.0.1:$(port_of 6)" peer="1@127.0.0.1:$(port_of 1)" \
    peer="2@127.0.0.1:$(port_of 2)" peer="5@127.0.0.1:$(port_of 5)" state="$WORK/state6" \
    define=linear::5.1 timeout=$START_S request-timeout-ms=1000 retry-budget=2 \
    $PTIMING >"$WORK/nbdkit2.out" 2>"$WORK/nbdkit2.err" &
echo $! >"$WORK/nbdkit2.pid"
LIVE="n1 n2 n5 nbdkit2"
wait_until "$START_S" "nbdkit serving the linear volume" test -s "$WORK/nbdkit2.pid.tmp"
nbdinfo "$URI2" >"$WORK/info2.out" 2>&1 || fail "nbdinfo (linear)"
grep -q "can_trim: true" "$WORK/info2.out" || fail "trim not offered: $(cat "$WORK/info2.out")"
head -c $((DISK_MIB * 1024 * 1024)) /dev/urandom >"$WORK/src5.img"
nbdcopy --flush "$WORK/src5.img" "$URI2" || fail "nbdcopy into the linear volume"
used_before=$(du -k "$WORK/disk5.img" | cut -f1)
qemu-io -f raw -c "discard 1M 2M" "$URI2" >"$WORK/qemu-io.out" 2>&1 ||
    fail "qemu-io discard: $(cat "$WORK/qemu-io.out")"
rm -f "$WORK/back5.img"
nbdcopy "$URI2" "$WORK/back5.img" || fail "nbdcopy out of the linear volume"
cmp -n 1048576 "$WORK/src5.img" "$WORK/back5.img" || fail "data before the trimmed range differs"
cmp -i 3145728 "$WORK/src5.img" "$WORK/back5.img" || fail "data after the trimmed range differs"
cmp -i 1048576:0 -n 2097152 "$WORK/back5.img" /dev/zero || fail "the trimmed range is not zero"
used_after=$(du -k "$WORK/disk5.img" | cut -f1)
[ "$used_after" -le $((used_before - 2048)) ] ||
    fail "the member's file did not shrink by 2 MiB ($used_before KiB -> $used_after KiB)"
kill -TERM "$(cat "$WORK/nbdkit2.pid")"
wait "$(cat "$WORK/nbdkit2.pid")" 2>/dev/null
rm -f "$WORK/nbdkit2.pid"
ok "linear volume: trim offered; a 2 MiB discard reads back as zeroes, the rest is intact," \
    "and the member's file gave back $((used_before - used_after)) KiB"

FAILED=0
echo "$PASSED passed, 0 failed"
