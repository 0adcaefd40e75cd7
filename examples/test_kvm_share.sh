#!/bin/sh
# examples/kvm_share: three processes on loopback.  Host A switches focus
# between B and C by hotkey while keys and a button are held.  Checks: no
# target holds a key at the end; each target's injected events alternate
# press/release per key and end released; the hotkeys' keys reached no one;
# held keys stayed on the node that saw them pressed; the PPM of B's screen
# saved on A is B's framebuffer byte for byte.
set -u
prog="${top_builddir:-.}/examples/kvm_share"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
out=$(timeout 60 "$prog" --out "$dir" 2>&1); rc=$?
echo "$out"
pass=0 fail=0
check() { # name, then a command that must succeed
    name=$1; shift
    if "$@"; then pass=$((pass + 1)); else echo "FAIL: $name"; fail=$((fail + 1)); fi
}
# key codes (linux/input-event-codes.h)
KEY_1=2 KEY_2=3 KEY_A=30 KEY_LEFTSHIFT=42 KEY_SCROLLLOCK=70 BTN_LEFT=272
KEY_O=24 KEY_K=37 KEY_B=48 KEY_SPACE=57 KEY_X=45
balanced() { # a log: per key 1,0,1,0... and nothing left down
    [ -s "$1" ] && awk '$1 == "key" {
            if ($3 == 1) { if (down[$2]) bad = 1; down[$2] = 1 }
            else if ($3 == 0) { if (!down[$2]) bad = 1; down[$2] = 0 }
            else bad = 1 }
        END { for (k in down) if (down[k]) bad = 1; exit bad }' "$1"
}
has() { grep -qx "key $2 $3" "$1"; }
never() { ! grep -q "^key $2 " "$1"; }
B="$dir/node-2-events.log" C="$dir/node-3-events.log"

check "the demo ran" [ "$rc" = 0 ]
check "B holds no key at the end" sh -c 'echo "$1" | grep -qx "node 2: 0 keys held at the end"' - "$out"
check "C holds no key at the end" sh -c 'echo "$1" | grep -qx "node 3: 0 keys held at the end"' - "$out"
check "B's events balanced" balanced "$B"
check "C's events balanced" balanced "$C"
for k in $KEY_1 $KEY_2 $KEY_SCROLLLOCK; do
    check "hotkey key $k never reached B" never "$B" $k
    check "hotkey key $k never reached C" never "$C" $k
done
for k in $KEY_A $KEY_LEFTSHIFT $BTN_LEFT $KEY_SPACE; do
    check "key $k held at a switch was pressed and released on B" \
        sh -c 'grep -qx "key $2 1" "$1" && grep -qx "key $2 0" "$1"' - "$B" $k
    check "key $k held at a switch never reached C" never "$C" $k
done
check "B's key held at a switch stayed on B's side" never "$B" $KEY_B
check "C got what was typed on C" sh -c 'grep -qx "key $2 1" "$1" && grep -qx "key $3 1" "$1" && grep -qx "key $4 1" "$1"' - "$C" $KEY_O $KEY_K $KEY_B
check "B got what was typed after coming back" has "$B" $KEY_X 1
check "A saved B's screen" [ -s "$dir/b-on-a.ppm" ]
check "A's picture of B is B's framebuffer exactly" cmp "$dir/b-on-a.ppm" "$dir/b-source.ppm"
check "a snapshot at each of the 4 focus changes" [ -s "$dir/b-on-a-4.ppm" ]
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
