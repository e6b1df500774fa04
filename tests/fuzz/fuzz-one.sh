#!/bin/sh
# fuzz-one.sh SRCDIR SECONDS PROG: one target of `make check-fuzz`.
#
# Runs the libFuzzer target PROG (tests/fuzz/fuzz-WHAT in the build tree)
# for SECONDS on a fresh copy of its seed corpus with its dictionary.  The
# log is tests/fuzz/fuzz-WHAT.log; a crashing, leaking or hanging input is
# kept as tests/fuzz/WHAT-crash-*, -leak-* or -timeout-*.  Targets run side
# by side (xargs -P), so the log is shown only on failure.
set -u
srcdir=$1
seconds=$2
prog=$3
name=$(basename "$prog")
what=${name#fuzz-}
corpus=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 1
trap 'rm -rf "$corpus"' EXIT
cp "$srcdir/tests/fuzz/corpus/$what"/* "$corpus"/
if "./$prog" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -dict="$srcdir/tests/fuzz/$name.dict" \
    -artifact_prefix="tests/fuzz/$what-" \
    "$corpus" >"tests/fuzz/$name.log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "tests/fuzz/$name.log")
	echo "PASS: $name (${seconds} s, ${runs:-?} runs)"
else
	tail -n 60 "tests/fuzz/$name.log"
	echo "FAIL: $name (log: tests/fuzz/$name.log; the input is saved as" \
	    "tests/fuzz/$what-crash-*, -leak-* or -timeout-*)"
	exit 1
fi
