#!/bin/sh
# The Python bindings' tests (bindings/python/tests/test_rshare.py, plain
# unittest) against the extension built in this tree.
#
# The module is imported from the build tree: a temporary directory on
# PYTHONPATH holds a symbolic link named rshare$(PYTHON_EXT_SUFFIX) to the
# libtool module (bindings/python/.libs/rshare.so), and LD_LIBRARY_PATH
# points at the uninstalled librshare (the module's run path names only
# the install directory).  Works in VPATH builds and under make distcheck.
#
# Skips (77) only when the module was not built (no Python headers, or
# configure --disable-python).  In a --enable-sanitizers build the ASan
# runtime must be loaded before the (uninstrumented) interpreter:
# LD_PRELOAD, and leak detection off (the interpreter's own allocations
# at exit are not leaks of ours).

set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}

env_file=$top_builddir/bindings/python/python-env.sh
module=$top_builddir/bindings/python/.libs/rshare.so
if [ ! -f "$env_file" ] || [ ! -f "$module" ]; then
    echo "SKIP: the Python bindings were not built"
    exit 77
fi
. "$env_file"

abs() { (cd "$1" && pwd); }
lib_dir=$(abs "$top_builddir/.libs")
module_dir=$(abs "$top_builddir/bindings/python/.libs")
tests=$(abs "$top_srcdir/bindings/python/tests")/test_rshare.py

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rshare-python.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$module_dir/rshare.so" "$tmp/rshare$PYTHON_EXT_SUFFIX" || exit 99

if [ "${RSHARE_SANITIZERS:-no}" = yes ]; then
    asan=$(${CC:-cc} -print-file-name=libasan.so)
    case $asan in
    /*) ;;
    *) echo "SKIP: sanitizer build, but no libasan.so to preload"; exit 77 ;;
    esac
    LD_PRELOAD=$asan${LD_PRELOAD:+:$LD_PRELOAD}
    ASAN_OPTIONS=detect_leaks=0
    export LD_PRELOAD ASAN_OPTIONS
fi

PYTHONPATH=$tmp${PYTHONPATH:+:$PYTHONPATH}
LD_LIBRARY_PATH=$lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH LD_LIBRARY_PATH PYTHONDONTWRITEBYTECODE

# Make sure the module is the one from this tree.
"$PYTHON3" -c 'import rshare, sys; sys.exit(0 if rshare.__file__.startswith(sys.argv[1]) else 1)' \
    "$tmp" || { echo "FAIL: rshare does not import from the build tree"; exit 1; }

cd "$tmp" || exit 99
"$PYTHON3" -X faulthandler "$tests" "$@"
