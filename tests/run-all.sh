#!/bin/sh
# run-all.sh: install what is missing, build, and run every test: unit tests,
# the mock's self-test, integration tests through real lighttpd and Apache,
# the real clients (the SDKs and the Claude Code, Codex and Gemini CLIs),
# the fuzzers for a short fixed time, the unit tests under valgrind, the
# Debian package (installed on this machine and purged again), and
# make distcheck.  This is the
# README's test command and what CI runs (.ci/run).  Run as root from
# anywhere; builds go to build-test/ and build-fuzz/ in the source tree.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
cd "$top"
started=$(date +%s)

step() {
	printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"
}

# Every server and mock a test starts must be gone when it ends.
# Servers and mocks this run started carry KIRO_TEST_RUN in their
# environment, so another test run on the same machine is not mistaken
# for a leftover of this one.
KIRO_TEST_RUN="run-$$-$started"
export KIRO_TEST_RUN

no_leftovers() {
	left=
	for pid in $(pgrep -f 'kiro-lighttpd-|kiro-apache-|kiro_mock\.py|fast-upstream' ||
	    true); do
		if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
		    grep -qx "KIRO_TEST_RUN=$KIRO_TEST_RUN"; then
			left="$left$(ps -o pid=,args= -p "$pid")
"
		fi
	done
	if [ -n "$left" ]; then
		printf 'tests left processes running:\n%s\n' "$left" >&2
		exit 1
	fi
}

step "dependencies"
deploy/install-deps.sh --test
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)

step "build"
./autogen.sh >/dev/null
mkdir -p build-test
cd build-test
../configure --quiet --enable-werror
make -j"$jobs" --quiet

step "make check"
KIRO_NODE_MODULES="$top/tests/clients/node_modules" \
    make -j"$jobs" check || { cat test-suite.log; exit 1; }
no_leftovers

step "unit tests and the responder under valgrind"
make check-valgrind
no_leftovers

step "fuzzers"
"$top/tests/fuzz/run-fuzz.sh" "$top/build-fuzz"

step "the Debian package (build, install, serve, upgrade, remove, purge)"
"$top/tests/package/test-deb.sh"
no_leftovers

step "make distcheck"
KIRO_NODE_MODULES="$top/tests/clients/node_modules" \
    make -j"$jobs" distcheck >distcheck.log 2>&1 || {
	tail -60 distcheck.log
	# The failing tests' own logs live in the unpacked tarball's build
	# tree; show them, or the report names no culprit.
	for trs in $(grep -l ':test-result: \(FAIL\|ERROR\)' \
	    kiro-fcgi-*/_build/sub/tests/*/*.trs 2>/dev/null); do
		printf '\n--- %s\n' "${trs%.trs}.log"
		tail -80 "${trs%.trs}.log"
	done
	exit 1
}

step "all tests passed"
