# Sourced by the benchmark scripts: put NAME FILE replaces what lies between
# <!-- bench:NAME:begin --> and <!-- bench:NAME:end --> in $DOC by FILE
# ($WORK is the script's scratch directory).
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
