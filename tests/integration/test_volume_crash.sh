#!/bin/sh
# Crash consistency with real processes: four blades over UDP on
# 127.0.0.1 serve a RAID-5 volume's members; the controller writing to it
# is killed with SIGKILL at random moments; after each restart every
# acknowledged write must be there, no block may hold data never written
# to it, and a scrub must find 0 inconsistent stripes
# (examples/volume_demo.c --crash-test).  ROUNDS and SEED from the
# environment (RSHARE_CRASH_ROUNDS, RSHARE_CRASH_SEED) for longer runs.
set -eu
prog="${top_builddir:-.}/examples/volume_demo"
[ -x "$prog" ] || { echo "test_volume_crash: $prog not built" >&2; exit 1; }
rounds=${RSHARE_CRASH_ROUNDS:-6}
seed=${RSHARE_CRASH_SEED:-$(date +%s)}
out=$("$prog" --crash-test "$rounds" --seed "$seed" --disk-mib 4 2>&1) || {
    echo "$out"
    echo "0 passed, 1 failed (seed $seed)"
    exit 1
}
echo "$out"
echo "1 passed, 0 failed"
