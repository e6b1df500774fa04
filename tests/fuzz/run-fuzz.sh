#!/bin/sh
# run-fuzz.sh [BUILDDIR]: build the libFuzzer targets and run them briefly.
#
# Configures a separate (VPATH) build with `CC=clang configure --enable-fuzzing`
# in BUILDDIR (default: $KIRO_BUILDDIR/fuzz-build, else ./fuzz-build), builds
# tests/fuzz/fuzz-eventstream, fuzz-anthropic and fuzz-jsonschema with ASan,
# UBSan and libFuzzer, and runs `make check-fuzz`: each target for FUZZ_SECONDS
# (default 20) on a copy of its seed corpus with its dictionary.  Exits
# non-zero if a target crashes, leaks, times out or trips a sanitizer; the
# offending input is kept in BUILDDIR/tests/fuzz/.  An existing BUILDDIR is
# reused (make reconfigures it when configure changed).
#
# Needs clang and libclang-rt-14-dev (Debian 12).  The source tree must not
# be configured in place (a VPATH build refuses it; run `make distclean` there).
#
#   tests/fuzz/run-fuzz.sh                      # 3 x 20 s
#   FUZZ_SECONDS=300 tests/fuzz/run-fuzz.sh /tmp/fz   # longer runs

set -eu

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${1:-${KIRO_BUILDDIR:-$PWD}/fuzz-build}
seconds=${FUZZ_SECONDS:-20}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "run-fuzz.sh: $cc not found: apt-get install clang libclang-rt-14-dev" >&2
	exit 1
fi
if [ ! -x "$srcdir/configure" ]; then
	echo "run-fuzz.sh: $srcdir/configure is missing: run $srcdir/autogen.sh" >&2
	exit 1
fi

mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)
cd "$builddir"
if [ ! -f Makefile ] || ! grep -q 'enable-fuzzing' config.status 2>/dev/null; then
	echo "run-fuzz.sh: configuring $builddir (CC=$cc --enable-fuzzing)"
	CC=$cc "$srcdir/configure" -q --enable-fuzzing
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -s -j"$jobs" tests/fuzz/fuzz-eventstream tests/fuzz/fuzz-anthropic \
	tests/fuzz/fuzz-jsonschema
make -s check-fuzz FUZZ_SECONDS="$seconds"
