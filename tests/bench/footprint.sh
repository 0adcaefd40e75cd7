#!/bin/sh
# footprint.sh SRCDIR — the library's size in a full build and in a
# minimal firmware-style build (no iSCSI, no KVM video, no logging, -Os),
# each configured and built from SRCDIR in a fresh directory.  Prints a
# markdown table and writes it into doc/PERFORMANCE.md between the
# bench:footprint markers (BENCH_NO_DOC=1: not).  Figures: the ELF sections
# of librshare.so (`size`) and the stripped file.
set -eu
src=$(cd "${1:?usage: footprint.sh SRCDIR}" && pwd)
# shellcheck source=tests/bench/doc_section.sh
. "$src/tests/bench/doc_section.sh"
work=$(mktemp -d /tmp/rshare-footprint.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
jobs=$(nproc 2>/dev/null || echo 2)

build() { # name, configure arguments...
    name=$1
    shift
    mkdir -p "$work/$name"
    (cd "$work/$name" && "$src/configure" --disable-python "$@" > configure.log 2>&1 &&
        make -j"$jobs" librshare.la > make.log 2>&1) || {
        echo "footprint: the $name build failed (see $work/$name)" >&2
        trap - EXIT
        exit 1
    }
    so=$(readlink -f "$work/$name/.libs/librshare.so")
    strip -o "$work/$name/stripped.so" "$so"
    set -- $(size "$so" | awk 'NR == 2 { print $1, $2, $3 }')
    stripped=$(stat -c %s "$work/$name/stripped.so")
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$1" "$2" "$3" "$stripped"
}

{
    echo "| build | text (bytes) | data | bss | stripped librshare.so |"
    echo "|---|---:|---:|---:|---:|"
    build full
    build minimal --without-iscsi --disable-video --with-log-level=none CFLAGS=-Os
    echo
    echo "Full: the default configure (iSCSI, KVM video, every log level, -O2)."
    echo "Minimal: \`--without-iscsi --disable-video --with-log-level=none CFLAGS=-Os\`."
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC'), $(cc --version | head -n 1), rshare $(cd "$src" && git rev-parse --short HEAD 2>/dev/null || echo '?')."
} > "$work/table.md"
cat "$work/table.md"
echo "Reproduce: \`make footprint\` in a build directory (\`tests/bench/footprint.sh SRCDIR\`)." >> "$work/table.md"
write_section footprint "$work/table.md" "$src/doc/PERFORMANCE.md"
