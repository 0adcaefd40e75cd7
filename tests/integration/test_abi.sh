#!/bin/sh
# The ABI of librshare.so against the committed baseline (abi/librshare.abi):
# any change abidiff reports fails, until the baseline is updated on purpose
# (see doc/ABI.md).  Skipped (exit 77) when libabigail is not installed.
set -eu
[ -n "${ABIDW:-}" ] && [ -n "${ABIDIFF:-}" ] || { echo "libabigail not installed: skipped"; exit 77; }
[ "${RSHARE_SANITIZERS:-no}" = no ] || { echo "sanitizer build: ABI checked in the plain build"; exit 77; }
lib="${top_builddir:-.}/.libs/librshare.so"
baseline="${top_srcdir:-.}/abi/librshare.abi"
current=$(mktemp)
trap 'rm -f "$current"' EXIT
"$ABIDW" --no-corpus-path --drop-private-types --headers-dir "${top_srcdir:-.}/include/rshare" \
    --headers-dir "${top_builddir:-.}/include/rshare" --out-file "$current" "$lib"
if [ ! -f "$baseline" ]; then
    echo "no baseline: create it with 'make abi-baseline'"; exit 1
fi
if ! "$ABIDIFF" "$baseline" "$current"; then
    echo "ABI differs from abi/librshare.abi: see doc/ABI.md"; exit 1
fi
echo "1 passed, 0 failed"
