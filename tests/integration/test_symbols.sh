#!/bin/sh
# The shared library exports rshare_* symbols only, every one of them is
# declared in a public header, and the version node is the expected one.
set -eu
lib="${top_builddir:-.}/.libs/librshare.so"
[ -f "$lib" ] || { echo "no $lib"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sed 's/@.*//' | sort -u)
bad=$(echo "$exported" | grep -v '^rshare_' | grep -v '^RSHARE_[0-9_.]*$' || true)
if [ -n "$bad" ]; then
    echo "symbols exported outside the rshare_ namespace:"; echo "$bad"; exit 1
fi
count=0
missing=""
for sym in $(echo "$exported" | grep '^rshare_'); do
    count=$((count + 1))
    grep -q "\\b$sym\\b" "${top_srcdir:-.}"/include/rshare/*.h \
        "${top_builddir:-.}"/include/rshare/*.h || missing="$missing $sym"
done
if [ -n "$missing" ]; then
    echo "exported but not declared in include/rshare/:$missing"; exit 1
fi
# Every RSHARE_API declaration is exported (nothing hidden by mistake).
declared=$(grep -h 'RSHARE_API' "${top_srcdir:-.}"/include/rshare/*.h \
    "${top_builddir:-.}"/include/rshare/*.h | grep -v '#define' | \
    grep -o '[a-z_0-9]*(' | head -n 1000 | grep '^rshare_' | tr -d '(' | sort -u)
notexp=""
for sym in $declared; do
    echo "$exported" | grep -qx "$sym" || notexp="$notexp $sym"
done
if [ -n "$notexp" ]; then
    echo "declared RSHARE_API but not exported:$notexp"; exit 1
fi
objdump -T "$lib" | grep -q 'RSHARE_0.1' || { echo "version node RSHARE_0.1 missing"; exit 1; }
echo "$count exported symbols checked"
echo "1 passed, 0 failed"
