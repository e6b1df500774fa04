#!/bin/sh
# install-deps.sh: install from Debian's archive what kiro-fcgi needs to build
# and run; with --test, also what the test suite needs.  Installs only what is
# missing, so it is quick the second time.  Run as root.
#
#   deploy/install-deps.sh          build + run (lighttpd)
#   deploy/install-deps.sh --package  build + run + the Debian package
#                                   (deploy/build-deb.sh)
#   deploy/install-deps.sh --test   build + run + the package + every test
#                                   (Apache, clang, valgrind, Node.js for the
#                                   real clients, Chromium for the web UI's
#                                   tests)
set -eu

BUILD="build-essential autoconf automake libtool pkg-config
	libfcgi-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libgdbm-dev
	zlib1g-dev check"
RUN="lighttpd ca-certificates"
TEST="apache2 libapache2-mod-fcgid libfcgi-bin spawn-fcgi python3 curl
	valgrind clang libclang-rt-14-dev wrk chromium"
PACKAGE="debhelper dpkg-dev fakeroot lintian"
# tests/package/test-deb.sh rotates the package's log with it.
TEST="$TEST logrotate"

want="$BUILD $RUN"
with_tests=no
case "${1:-}" in
--package) want="$want $PACKAGE" ;;
--test)	want="$want $PACKAGE $TEST"; with_tests=yes ;;
"")	;;
*)	echo "usage: $0 [--package | --test]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (it uses apt-get)" >&2
	exit 1
fi

missing=""
for pkg in $want; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $pkg" ;;
	esac
done

# Node.js runs the real clients (SDKs, Claude Code); any node >= 18 will do,
# so a machine that already has one (e.g. from NodeSource) keeps it.
if [ "$with_tests" = yes ] && ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
	echo "install-deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Installing both lighttpd and apache2 would start two system services
	# fighting for port 80 (and fail the second package's install).  The
	# gateway runs its own instances, so keep package installs from
	# starting services, the standard Debian way, for this run only.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "install-deps.sh: everything is installed"
fi

exit 0
