#!/bin/sh
# The API example in README compiles and links against the built library
# exactly as printed (the README's code block, 4-space indented, under
# "The API in 20 lines").
set -eu
top=${top_srcdir:-.}
build=$(cd "${top_builddir:-.}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/^The API in 20 lines/ { on = 1; next }
     on && /^Build with/ { exit }
     on && /^    / { sub(/^    /, ""); print }' "$top/README" > "$work/example.c"
lines=$(grep -c '' "$work/example.c")
[ "$lines" -ge 15 ] || { echo "README example not found ($lines lines)"; exit 1; }
${CC:-cc} ${SANITIZER_FLAGS:-} -std=c99 -Wall -Werror -I"$top/include" -I"$build/include" \
    -o "$work/example" "$work/example.c" -L"$build/.libs" -lrshare
[ -x "$work/example" ]
echo "README example: $lines lines compile and link"
echo "1 passed, 0 failed"
