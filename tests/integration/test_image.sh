#!/bin/sh
# The offline image tool on real member image files: every layout written
# from stdin and read back identical, with each member missing in turn where
# the layout survives it; check counts exactly the stripes corrupted; map
# gives the reference's worked example; bad requests get their exit codes.
# With RSHARE_MD_TEST_STRIPE pointing to mdadm's test_stripe program (built
# from the mdadm sources: `make test_stripe`), RAID-5 and RAID-0 images are
# also cross-checked against mdadm's own stripe code.
set -u
b=$(cd "${top_builddir:-.}" && pwd)
RS="$b/examples/rsharectl"
[ -x "$RS" ] || { echo "no $RS"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# expect CODE DESCRIPTION COMMAND...: the command exits with CODE.
expect() {
    want=$1 what=$2
    shift 2
    "$@" > out 2> err
    got=$?
    if [ "$got" -eq "$want" ]; then pass; else fail "$what: exit $got, want $want"; cat err; fi
}
# same FILE DESCRIPTION: stdout of the last command equals FILE.
same() {
    if cmp -s out "$1"; then pass; else fail "$2: data differs"; fi
}
random() { head -c "$1" /dev/urandom > "$2"; }
members() { # members PREFIX COUNT [SIZE]: create COUNT sparse files
    i=0 list=""
    while [ $i -lt "$2" ]; do
        rm -f "$1$i"
        [ $# -lt 3 ] || truncate -s "$3" "$1$i"
        list="$list $1$i"
        i=$((i + 1))
    done
    echo "$list"
}
# without LIST INDEX: LIST with member INDEX replaced by "missing".
without() {
    i=0 out=""
    for m in $1; do
        if [ $i -eq "$2" ]; then out="$out missing"; else out="$out $m"; fi
        i=$((i + 1))
    done
    echo "$out"
}
# poke FILE OFFSET: flip the bits of one byte.
poke() {
    old=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((old ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# --- RAID-5 --------------------------------------------------------------------
# Four members of 1 MiB + 5000 bytes: rounded down to the 64 KiB chunk, the
# volume holds 3 MiB.
M=$(members r5_ 4 $((1048576 + 5000)))
random 3145728 data5
expect 0 "raid5 write" "$RS" image write --layout raid5 $M < data5
expect 0 "raid5 read" "$RS" image read --layout raid5 $M
same data5 "raid5 read"
for i in 0 1 2 3; do
    expect 0 "raid5 read without member $i" "$RS" image read --layout raid5 $(without "$M" $i)
    same data5 "raid5 read without member $i"
done
expect 0 "raid5 check" "$RS" image check --layout raid5 $M
[ "$(cat out)" = 0 ] && pass || fail "raid5 check printed $(cat out), want 0"

# A short write changes only its bytes and keeps parity right.
random 100000 head5
expect 0 "raid5 partial write" "$RS" image write --layout raid5 $M < head5
{ cat head5; tail -c +100001 data5; } > data5b
expect 0 "raid5 read after partial write" "$RS" image read --layout raid5 $M
same data5b "raid5 partial write"
expect 0 "raid5 check after partial write" "$RS" image check --layout raid5 $M

# One flipped byte in one member: exactly one inconsistent stripe.
poke r5_2 700000
expect 1 "raid5 check after corruption" "$RS" image check --layout raid5 $M
[ "$(cat out)" = 1 ] && pass || fail "raid5 check printed $(cat out), want 1"
poke r5_2 700000

# Degraded write: member 1 is lost; the others carry its data in parity.
random 3145728 data5c
expect 0 "raid5 degraded write" "$RS" image write --layout raid5 $(without "$M" 1) < data5c
expect 0 "raid5 degraded read" "$RS" image read --layout raid5 $(without "$M" 1)
same data5c "raid5 degraded write and read"
expect 1 "raid5 check with the stale member back" "$RS" image check --layout raid5 $M
[ "$(cat out)" = 16 ] && pass || fail "stale member: $(cat out) stripes, want 16"
expect 3 "raid5 with two members missing" "$RS" image read --layout raid5 $(without "$(without "$M" 1)" 2)
grep -q "one member" err && pass || fail "two missing: message $(cat err)"

# Every algorithm round-trips, with a member missing too.
for alg in left-asymmetric right-asymmetric left-symmetric right-symmetric parity-first parity-last; do
    M5=$(members a5_ 5 262144)
    random 1048576 dataa
    expect 0 "raid5 $alg write" "$RS" image write --layout raid5 --chunk 16K --algorithm $alg $M5 < dataa
    expect 0 "raid5 $alg read" "$RS" image read --layout raid5 --chunk 16K --algorithm $alg $(without "$M5" 3)
    same dataa "raid5 $alg without member 3"
done

# Files created by write with --member-size.
random 524288 datan
expect 0 "raid5 write creating members" "$RS" image write --layout raid5 --member-size 256K new0 new1 new2 < datan
[ "$(wc -c < new1)" -eq 262144 ] && pass || fail "created member size $(wc -c < new1)"
expect 0 "raid5 read of created members" "$RS" image read --layout raid5 new0 new1 new2
same datan "raid5 created members"

# --- map: the reference's worked example --------------------------------------
W=$(members w_ 4 200M)
expect 0 "map worked example" "$RS" image map --layout raid5 --chunk 64K 1000000 $W
[ "$(sed -n 1p out)" = "member 0 sector 333376" ] && pass || fail "map: $(sed -n 1p out)"
[ "$(sed -n 2p out)" = "parity member 3 sector 333376 row 2604" ] && pass || fail "map parity: $(sed -n 2p out)"
expect 0 "map without files" "$RS" image map --layout raid5 --member-size 200M 1000000 missing missing missing missing
[ "$(sed -n 1p out)" = "member 0 sector 333376" ] && pass || fail "map --member-size: $(sed -n 1p out)"
# The 4 x 4 grid: D0 D1 D2 P / D4 D5 P D3 / D8 P D6 D7 / P D9 D10 D11, so
# chunk c is on member c % 4 in row c / 3, whose parity is on member 3 - row.
c=0
while [ $c -lt 12 ]; do
    row=$((c / 3))
    "$RS" image map --layout raid5 --member-size 1M $((c * 128)) missing missing missing missing > out
    want="member $((c % 4)) sector $((row * 128));parity member $((3 - row)) sector $((row * 128)) row $row;"
    [ "$(tr '\n' ';' < out)" = "$want" ] && pass || fail "grid chunk $c: $(tr '\n' ';' < out)"
    c=$((c + 1))
done
expect 3 "map past the end" "$RS" image map --layout raid5 --member-size 1M 6144 missing missing missing missing
grep -q "past the end" err && pass || fail "map past end message: $(cat err)"

# --- RAID-1 --------------------------------------------------------------------
# Mirrors of different sizes: the volume is as large as the smallest.
M=$(members r1_ 3)
truncate -s 900K r1_0; truncate -s 1M r1_1; truncate -s 1100K r1_2
random 921600 data1
expect 0 "raid1 write" "$RS" image write --layout raid1 $M < data1
for i in 1 2; do
    expect 0 "raid1 read without mirror $i" "$RS" image read --layout raid1 $(without "$M" $i)
    same data1 "raid1 read without mirror $i"
done
# Without the smallest mirror its size must be given: a missing member is
# otherwise taken to be as large as the smallest present one.
expect 0 "raid1 read without mirror 0" "$RS" image read --layout raid1 --member-size 900K,1M,1100K $(without "$M" 0)
same data1 "raid1 read without mirror 0"
expect 0 "raid1 read without mirror 0, size not given" "$RS" image read --layout raid1 $(without "$M" 0)
[ "$(wc -c < out)" -eq 1048576 ] && pass || fail "raid1 without mirror 0: $(wc -c < out) bytes"
expect 0 "raid1 check" "$RS" image check --layout raid1 $M
poke r1_2 500000
expect 1 "raid1 check after corruption" "$RS" image check --layout raid1 $M
[ "$(cat out)" = 1 ] && pass || fail "raid1 check printed $(cat out), want 1"
expect 0 "raid1 map" "$RS" image map --layout raid1 100 $M
[ "$(cat out | tr '\n' ';')" = "member 0 sector 100;member 1 sector 100 copy 1;member 2 sector 100 copy 2;" ] \
    && pass || fail "raid1 map: $(cat out)"

# --- RAID-0 --------------------------------------------------------------------
M=$(members r0_ 3 1M)
random 3145728 data0
expect 0 "raid0 write" "$RS" image write --layout raid0 --chunk 32K $M < data0
expect 0 "raid0 read" "$RS" image read --layout raid0 --chunk 32K $M
same data0 "raid0 read"
expect 3 "raid0 with a member missing" "$RS" image read --layout raid0 --chunk 32K $(without "$M" 1)
grep -q "no redundancy" err && pass || fail "raid0 missing message: $(cat err)"
expect 2 "check on raid0" "$RS" image check --layout raid0 $M
# chunk 32 * 64 sectors: member 1, member sector 64 * 0 + 0 for chunk 1
expect 0 "raid0 map" "$RS" image map --layout raid0 --chunk 32K 64 $M
[ "$(cat out)" = "member 1 sector 0" ] && pass || fail "raid0 map: $(cat out)"

# Members of different sizes: the zone placement must be said.
M=$(members z_ 4)
truncate -s 64K z_0; truncate -s 160K z_1; truncate -s $((160 * 1024 + 7 * 512)) z_2; truncate -s 224K z_3
random 622592 dataz
expect 3 "raid0 zones not given" "$RS" image write --layout raid0 --chunk 32K $M < dataz
grep -q -- "--zones" err && pass || fail "zones message: $(cat err)"
expect 0 "raid0 zones write" "$RS" image write --layout raid0 --chunk 32K --zones alternate $M < dataz
expect 0 "raid0 zones read" "$RS" image read --layout raid0 --chunk 32K --zones alternate $M
same dataz "raid0 alternate zones"
expect 0 "raid0 read with the other placement" "$RS" image read --layout raid0 --chunk 32K --zones original $M
if cmp -s out dataz; then fail "the zone placement made no difference"; else pass; fi
# Zone 1 starts at chunk 8 over members 1-3: sector 8 * 64 = 512 is on
# member 1 (since 3.14) or member 3 (before), at member sector 128.
expect 0 "raid0 map zone 1 alternate" "$RS" image map --layout raid0 --chunk 32K --zones alternate 512 $M
[ "$(cat out)" = "member 1 sector 128" ] && pass || fail "alternate map: $(cat out)"
expect 0 "raid0 map zone 1 original" "$RS" image map --layout raid0 --chunk 32K --zones original 512 $M
[ "$(cat out)" = "member 3 sector 128" ] && pass || fail "original map: $(cat out)"

# --- linear ----------------------------------------------------------------------
M=$(members l_ 3)
truncate -s 100K l_0; truncate -s 64K l_1; truncate -s 200K l_2
# rounded to 64 KiB: 64K + 64K + 192K
random 327680 datal
expect 0 "linear write" "$RS" image write --layout linear $M < datal
expect 0 "linear read" "$RS" image read --layout linear $M
same datal "linear read"
expect 0 "linear map" "$RS" image map --layout linear 200 $M
[ "$(cat out)" = "member 1 sector 72" ] && pass || fail "linear map: $(cat out)"

# --- RAID-10 ---------------------------------------------------------------------
for n in 3 4; do
    M=$(members t${n}_ $n 512K)
    size=$((n * 512 * 1024 / 2))
    random $size data10
    expect 0 "raid10 n=$n write" "$RS" image write --layout raid10 --chunk 16K $M < data10
    i=0
    while [ $i -lt $n ]; do
        expect 0 "raid10 n=$n read without member $i" "$RS" image read --layout raid10 --chunk 16K $(without "$M" $i)
        same data10 "raid10 n=$n read without member $i"
        i=$((i + 1))
    done
    expect 0 "raid10 n=$n check" "$RS" image check --layout raid10 --chunk 16K $M
    poke t${n}_1 40000
    expect 1 "raid10 n=$n check after corruption" "$RS" image check --layout raid10 --chunk 16K $M
    [ "$(cat out)" = 1 ] && pass || fail "raid10 check printed $(cat out), want 1"
done
expect 3 "raid10 with both copies missing" "$RS" image read --layout raid10 --chunk 16K missing missing t4_2 t4_3
grep -q "every copy" err && pass || fail "raid10 message: $(cat err)"

# --- bad requests ---------------------------------------------------------------
expect 2 "bad chunk" "$RS" image read --layout raid5 --chunk 3K r5_0 r5_1 r5_2 r5_3
grep -q "chunk" err && pass || fail "bad chunk message: $(cat err)"
expect 2 "unknown layout" "$RS" image read --layout raid6 r5_0 r5_1
expect 2 "no command" "$RS"
expect 2 "unknown command" "$RS" frobnicate
expect 0 "usage" "$RS" image --help
grep -q "exit codes" out && pass || fail "usage lacks exit codes"
random 3145729 big
expect 3 "input larger than the volume" "$RS" image write --layout raid5 r5_0 r5_1 r5_2 r5_3 < big
cat big | "$RS" image write --layout raid5 r5_0 r5_1 r5_2 r5_3 > out 2> err
[ $? -eq 3 ] && grep -q "larger than the volume" err && pass || fail "piped oversized input: $(cat err)"
expect 4 "member that does not exist" "$RS" image read --layout raid1 nonexistent r1_0
expect 3 "member smaller than a chunk" "$RS" image read --layout raid5 --chunk 2M r5_0 r5_1 r5_2

# --- cross-check with mdadm's own stripe code (optional) -----------------------
TS=${RSHARE_MD_TEST_STRIPE:-}
if [ -n "$TS" ] && [ -x "$TS" ]; then
    alg=0
    for name in left-asymmetric right-asymmetric left-symmetric right-symmetric parity-first parity-last; do
        for n in 3 4 5 6 7 8; do
            M=$(members md_ $n 256K)
            len=$(( (n - 1) * 256 * 1024 ))
            random $len mdin
            "$RS" image write --layout raid5 --chunk 16K --algorithm $name $M < mdin
            : > mdout
            "$TS" save mdout $n 16384 5 $alg 0 $len $M > /dev/null
            cmp -s mdin mdout && pass || fail "mdadm reads rshare's raid5 $name n=$n differently"
            random $len mdin
            "$TS" restore mdin $n 16384 5 $alg 0 $len $M > /dev/null
            "$RS" image read --layout raid5 --chunk 16K --algorithm $name $M > out
            same mdin "rshare reads mdadm's raid5 $name n=$n"
            expect 0 "parity written by mdadm ($name n=$n)" "$RS" image check --layout raid5 --chunk 16K --algorithm $name $M
        done
        alg=$((alg + 1))
    done
    for n in 2 3 5; do
        M=$(members md0_ $n 256K)
        len=$((n * 256 * 1024))
        random $len mdin
        "$RS" image write --layout raid0 --chunk 16K $M < mdin
        : > mdout
        "$TS" save mdout $n 16384 0 0 0 $len $M > /dev/null
        cmp -s mdin mdout && pass || fail "mdadm reads rshare's raid0 n=$n differently"
    done
else
    echo "mdadm cross-check skipped (set RSHARE_MD_TEST_STRIPE to mdadm's test_stripe)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
