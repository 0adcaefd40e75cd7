# Sourced by the benchmark scripts, which set SRCDIR, DOC and WORK (their
# scratch directory).  put NAME FILE replaces what lies between
# <!-- bench:NAME:begin --> and <!-- bench:NAME:end --> in $DOC by FILE.
put() {
    if [ -f "$DOC" ] && grep -q "<!-- bench:$1:begin -->" "$DOC" && grep -q "<!-- bench:$1:end -->" "$DOC"; then
        awk -v section="$2" -v begin="<!-- bench:$1:begin -->" -v end="<!-- bench:$1:end -->" '
            $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
            $0 == end { skip = 0 }
            !skip { print }' "$DOC" > "$WORK/doc" && cat "$WORK/doc" > "$DOC"
        echo "bench: table written into $DOC" >&2
    else
        echo "bench: $DOC has no bench:$1 markers; not updated" >&2
    fi
}

# measured PINNED COMMAND: the line under a table saying when, where and how
# it was measured (PINNED: "pinned a:b 0:1, " or empty).
measured() {
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC on $cpu ($(nproc) CPUs), $(uname -sr), rshare $(revision), $1load average $(cut -d' ' -f1 /proc/loadavg) at the end; command: $2."
}

revision() {
    git -C "$SRCDIR" describe --always --dirty 2>/dev/null || echo unknown
}
