# shellcheck shell=sh
# Shell functions for the benchmark runners (sourced, not run).
#
# write_section NAME FILE DOC: replace what lies between the markers
# <!-- bench:NAME:begin --> and <!-- bench:NAME:end --> in DOC with FILE;
# nothing when BENCH_NO_DOC=1, a message when DOC has no such markers.
write_section() {
    [ "${BENCH_NO_DOC:-0}" != 1 ] || return 0
    if [ -f "$3" ] && grep -q "<!-- bench:$1:begin -->" "$3" && grep -q "<!-- bench:$1:end -->" "$3"; then
        awk -v section="$2" -v begin="<!-- bench:$1:begin -->" -v end="<!-- bench:$1:end -->" '
            $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
            $0 == end { skip = 0 }
            !skip { print }' "$3" > "$2.doc" && cat "$2.doc" > "$3" && rm -f "$2.doc"
        echo "bench: results written into $3" >&2
    else
        echo "bench: $3 has no bench:$1 markers; not updated" >&2
    fi
}

# put NAME FILE: write_section into $DOC (scripts that set SRCDIR, DOC, WORK).
put() {
    write_section "$1" "$2" "$DOC"
}

# machine_line: "CPU model (N CPUs), kernel" for the "Measured ..." line.
machine_line() {
    printf '%s (%s CPUs), %s %s' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        "$(nproc)" "$(uname -s)" "$(uname -r)"
}

# measured PINNED COMMAND: the line under a table saying when, where and how
# it was measured (PINNED: "pinned a:b 0:1, " or empty).
measured() {
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $(machine_line), rshare $(revision), $1load average $(cut -d' ' -f1 /proc/loadavg) at the end; command: $2."
}

revision() {
    git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown
}
