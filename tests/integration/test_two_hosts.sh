#!/bin/sh
# examples/two_hosts: two processes on loopback; host 2 writes and reads
# host 1's disk and receives the two keys host 1 types.
set -u
prog="${top_builddir:-.}/examples/two_hosts"
out=$(timeout 60 "$prog" 2>&1); rc=$?
echo "$out"
if [ "$rc" = 0 ] &&
    echo "$out" | grep -q 'read back "hello from host 2"' &&
    [ "$(echo "$out" | grep -c 'key .* pressed on host 1')" = 2 ]; then
    echo "1 passed, 0 failed"
    exit 0
fi
echo "0 passed, 1 failed"
exit 1
