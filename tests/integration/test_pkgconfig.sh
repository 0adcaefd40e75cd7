#!/bin/sh
# rshare.pc works: a program built only with `pkg-config --cflags --libs
# rshare` against a staged install compiles, links and runs.
set -eu
b="${top_builddir:-.}"
b=$(cd "$b" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
make -C "$b" install DESTDIR="$stage" >/dev/null
prefix=$(sed -n 's/^prefix=//p' "$b/rshare.pc")
pcdir=$(find "$stage" -name rshare.pc -printf '%h\n' | head -1)
# Point the staged .pc at the staged tree.
sed "s|^prefix=.*|prefix=$stage$prefix|" "$pcdir/rshare.pc" > "$stage/rshare.pc"
cat > "$stage/use.c" <<'C'
#include <rshare/rshare.h>
#include <stdio.h>
int main(void) { printf("%s\n", rshare_version_string()); return 0; }
C
flags=$(PKG_CONFIG_PATH="$stage" pkg-config --cflags --libs rshare)
libdir=$(PKG_CONFIG_PATH="$stage" pkg-config --variable=libdir rshare)
${CC:-cc} ${SANITIZER_FLAGS:-} -o "$stage/use" "$stage/use.c" $flags
out=$(LD_LIBRARY_PATH="$libdir" "$stage/use")
want=$(sed -n 's/^Version: //p' "$b/rshare.pc")
[ "$out" = "$want" ] || { echo "version $out, expected $want"; exit 1; }
ls "$libdir"/librshare.so.0 >/dev/null
echo "1 passed, 0 failed"
