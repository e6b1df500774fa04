#!/bin/sh
# valgrind-one.sh unit|responder TEST: one test of `make check-valgrind`.
#
# unit: the check program TEST in one process (CK_FORK=no) under valgrind;
# responder: the integration test TEST with every responder under
# valgrind (TRACEME=valgrind, see tests/integration/gateway.py).  The output
# goes to TEST.vg.log in the build tree and is shown only when the test
# fails, so that tests run side by side (xargs -P) do not interleave.
# Expects the environment AM_TESTS_ENVIRONMENT sets, plus VALGRIND.
set -u
kind=$1
t=$2
log=$t.vg.log
mkdir -p "$(dirname "$log")"
case $kind in
unit)
	echo "  VALGRIND $t"
	CK_FORK=no CK_DEFAULT_TIMEOUT=600 KF_TEST_ITERS=20 \
	    "$VALGRIND" --quiet --vgdb=no --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=99 "./$t" >"$log" 2>&1
	;;
responder)
	echo "  VALGRIND responder: $t"
	TRACEME=valgrind "$PYTHON3" "$KIRO_SRCDIR/$t" >"$log" 2>&1
	;;
*)
	echo "valgrind-one.sh: unknown kind $kind" >&2
	exit 2
	;;
esac
rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$log"
	echo "FAIL: $t under valgrind (exit $rc; log: $log)"
	# 1..125 makes xargs go on with the others and exit 123 at the end.
	exit 1
fi
