#!/bin/sh
# The section 3 manual pages (doc/man/gen-man3.py, doc/man/man3.am):
# every rshare_* symbol exported by the shared library has a page, the
# prototype in each function page's SYNOPSIS is the one in the public
# headers, and every page renders without warnings (mandoc -T lint, else
# groff -ww, else man --warnings; skipped when none is installed).
set -eu
src="${top_srcdir:-.}"
build="${top_builddir:-.}"
lib="$build/.libs/librshare.so"
dir="$build/doc/man/man3"
[ -f "$lib" ] || { echo "no $lib"; exit 1; }
[ -d "$dir" ] || { echo "no $dir (make all builds it)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# 1. a page per exported function
nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | \
    grep '^rshare_' | sort -u >"$tmp/exported"
missing=""
while read -r sym; do
    [ -f "$dir/$sym.3" ] || missing="$missing $sym"
done <"$tmp/exported"
if [ -n "$missing" ]; then
    echo "FAIL: exported without a page in $dir:$missing"
    failed=1
fi
for p in rshare.3; do
    [ -f "$dir/$p" ] || { echo "FAIL: no $p"; failed=1; }
done
echo "$(wc -l <"$tmp/exported") exported functions, $(ls "$dir" | grep -c '\.3$') pages"

# 2. SYNOPSIS prototypes against the headers, all whitespace removed (so
#    that line breaks do not matter) and RSHARE_API dropped.
cat "$src"/include/rshare/*.h "$build"/include/rshare/version.h | \
    sed 's/RSHARE_API//g' | tr -d ' \t\n' >"$tmp/headers"
protos=0
for page in "$dir"/*.3; do
    # The no-fill block after the #include line of SYNOPSIS, unescaped,
    # one prototype per line.
    sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$page" | \
        sed -n '/^\.PP/,/^\.fi/p' | grep -v '^\.' | \
        sed -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\-/-/g' -e 's/\\e/\\/g' | \
        tr -d ' \t\n' | tr ';' '\n' >"$tmp/protos"
    while read -r proto; do
        [ -n "$proto" ] || continue
        protos=$((protos + 1))
        if ! grep -qF -- "$proto;" "$tmp/headers"; then
            echo "FAIL: $(basename "$page"): prototype not in the headers: $proto"
            failed=1
        fi
    done <"$tmp/protos"
done
echo "$protos synopsis prototypes checked"

# 3. rendering
if command -v mandoc >/dev/null 2>&1; then
    # The date is empty unless SOURCE_DATE_EPOCH was set (gen-man3.py).
    render() { mandoc -T lint -W warning "$1" 2>&1 | grep -v 'missing date' || :; }
    how="mandoc -T lint"
elif command -v groff >/dev/null 2>&1; then
    render() { groff -man -Tutf8 -ww -z "$1" 2>&1; }
    how="groff -ww"
elif command -v man >/dev/null 2>&1 && man --help 2>&1 | grep -q -- --warnings; then
    render() { MANPAGER=cat PAGER=cat man --warnings -l "$1" 2>&1 >/dev/null; }
    how="man --warnings"
else
    how=""
fi
if [ -n "$how" ]; then
    for page in "$dir"/*.3; do
        out=$(render "$page" || echo "exit status $?")
        if [ -n "$out" ]; then
            echo "FAIL: $how $(basename "$page"):"
            echo "$out" | sed 's/^/  /'
            failed=1
        fi
    done
    echo "pages rendered with $how"
else
    echo "SKIP: no mandoc, groff or man: rendering not checked"
fi

[ "$failed" -eq 0 ] || exit 1
echo "1 passed, 0 failed"
