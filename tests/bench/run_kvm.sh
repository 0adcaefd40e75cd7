#!/bin/sh
# KVM input latency benchmark: rshare KVM input over UDP loopback between
# two processes against bare UDP datagrams of the same size, with and
# without 8 MiB bulk messages on the same link, in the same run
# (tests/bench/bench_kvm.c says what is measured); then over simulated SMBus
# and serial links against the wire time of the key event's frames
# (tests/bench/bench_mctp --kvm).
#
#   tests/bench/run_kvm.sh BUILDDIR       (or: make bench-kvm, from a build dir)
#
# Prints markdown tables and writes them into doc/PERFORMANCE.md between the
# bench:kvm and bench:kvm-mctp markers (set BENCH_NO_DOC=1 to leave the
# document alone).
# Environment: BENCH_EVENTS (2000 per case and round), BENCH_INTERVAL_US
# (1000), BENCH_ROUNDS (5), BENCH_CPUS (host:target, unpinned by default),
# BENCH_MCTP_EVENTS (200 key events per simulated link).
set -eu

BUILD=${1:-.}
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$BUILD/tests/bench/bench_kvm
MCTP=$BUILD/tests/bench/bench_mctp
DOC=$SRCDIR/doc/PERFORMANCE.md
for b in "$BENCH" "$MCTP"; do
    [ -x "$b" ] || { echo "bench: build $b first (make ${b#"$BUILD"/})" >&2; exit 1; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
set -- --events "${BENCH_EVENTS:-2000}" --interval-us "${BENCH_INTERVAL_US:-1000}" \
    --rounds "${BENCH_ROUNDS:-5}"
[ -n "${BENCH_CPUS:-}" ] && set -- "$@" --cpus "$BENCH_CPUS"
"$BENCH" "$@" > "$WORK/table"

"$MCTP" --kvm --events "${BENCH_MCTP_EVENTS:-200}" > "$WORK/mctp"

. "$SRCDIR/tests/bench/doc_section.sh"
{
    cat "$WORK/table"
    echo
    measured "${BENCH_CPUS:+pinned host:target $BENCH_CPUS, }" "\`make bench-kvm\` (tests/bench/run_kvm.sh)"
} > "$WORK/section"
{
    cat "$WORK/mctp"
    echo
    echo "Simulated buses (virtual time, CPU time added), rshare $(revision); command: \`make bench-kvm\` (tests/bench/run_kvm.sh, which runs \`tests/bench/bench_mctp --kvm\`)."
} > "$WORK/mctp-section"
cat "$WORK/section"
echo
cat "$WORK/mctp-section"

if [ "${BENCH_NO_DOC:-0}" != 1 ]; then
    put kvm "$WORK/section"
    put kvm-mctp "$WORK/mctp-section"
fi
