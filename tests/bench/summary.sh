#!/bin/sh
# summary.sh DOC — the one-table summary of doc/PERFORMANCE.md: every row
# of every benchmark section (between <!-- bench:NAME:begin/end --> markers)
# with its ratio columns (rshare against the anchor measured in the same
# run) and its target where the section states one.  A row is named by its
# first column, or by its first N columns where the section carries
# <!-- bench:NAME:label-columns N --> (before its begin marker, outside what
# the benchmark rewrites).  Written between the bench:summary markers of
# DOC; `make bench` runs it after the benchmarks.
set -eu
doc=${1:?usage: summary.sh DOC}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/doc_section.sh
. "$here/doc_section.sh"
work=$(mktemp -d /tmp/rshare-summary.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

awk '
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
/^<!-- bench:[a-z0-9-]+:label-columns [1-9][0-9]* -->$/ {
    split($0, part, /[: ]/)   # "<!--", "bench", NAME, "label-columns", N, "-->"
    labels[part[3]] = part[5] + 0
    next
}
/^<!-- bench:[a-z0-9-]+:begin -->$/ {
    name = $0; sub(/^<!-- bench:/, "", name); sub(/:begin -->$/, "", name)
    if (name == "summary") { name = ""; next }
    header = 0; next
}
/^<!-- bench:[a-z0-9-]+:end -->$/ { name = ""; next }
name == "" || !/^\|/ { if (name != "" && header) header = -1; next }
header == -1 { next }   # only the first table of a section
{
    n = split($0, cell, "|")
    if (!header) {
        header = 1; nr = 0; tcol = 0
        for (i = 2; i < n; i++) {
            h = trim(cell[i])
            if (h ~ /(^|[^a-z])ratio([^a-z]|$)|\/ memcpy/) ratio[++nr] = i
            if (h ~ /^target/) { tcol = i; tname = h }
            title[i] = h
        }
        next
    }
    if ($0 ~ /^\|[-: |]+\|$/ || (nr == 0 && tcol == 0)) next
    nl = (name in labels) ? labels[name] : 1
    label = ""
    for (k = 0; k < nl; k++)
        label = label (k ? ", " : "") (trim(cell[2 + k]) ~ /^[0-9]+$/ ? title[2 + k] " " : "") \
                trim(cell[2 + k])
    r = ""
    for (k = 1; k <= nr; k++)
        r = r (k > 1 ? "; " : "") title[ratio[k]] " " trim(cell[ratio[k]])
    t = tcol ? trim(cell[tcol]) : ""
    if (t != "" && tname != "target") t = tname ": " t
    printf "| %s | %s | %s | %s |\n", name, label, (r == "" ? "–" : r), (t == "" ? "–" : t)
}' "$doc" > "$work/rows"

{
    echo "| section | case | rshare / anchor | target |"
    echo "|---|---|---|---|"
    cat "$work/rows"
    echo
    echo "Generated from the sections below by \`tests/bench/summary.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC')); each section says when, how and against what it was measured."
} > "$work/table"
write_section summary "$work/table" "$doc"
