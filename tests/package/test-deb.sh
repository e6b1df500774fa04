#!/bin/sh
# test-deb.sh: the Debian package on this machine.  Builds it (and a rebuilt
# version for the upgrade) with deploy/build-deb.sh, installs it, checks its
# files, modes and owners, enables its Apache snippet, starts the system
# Apache on a free loopback port and serves /v1/messages through it to the
# mock upstream (tests/mock/kiro_mock.py), upgrades to the rebuilt package
# (configuration and state kept), removes it (configuration and state kept,
# snippets disabled), installs it again and purges it (everything gone).
#
# It changes the machine, so it runs only as root and only where kiro-fcgi is
# not installed and the system Apache is not running, one run at a time (a
# lock in /run/lock, waited for up to 15 minutes); whatever happens, it
# stops what it started and puts back what it changed (the package purged,
# ports.conf and mod_fcgid as they were).  No timing assertions.
#
#   tests/package/test-deb.sh
#
# DEB_BUILD_OPTIONS defaults to nocheck: the unit tests run in make check.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
python3=/usr/bin/python3
pkg=kiro-fcgi
v2=0.1.0+pkgtest1
passed=0

say() { printf 'test-deb: %s\n' "$*"; }
fail() {
	printf 'test-deb: FAIL: %s\n' "$*" >&2
	printf 'test-deb: %d passed, 1 failed\n' "$passed"
	exit 1
}
ok() { passed=$((passed + 1)); }

if [ "$(id -u)" != 0 ]; then
	echo "test-deb.sh: run as root (it installs and purges a package and" \
	    "starts the system Apache)" >&2
	exit 1
fi
for tool in apache2ctl a2enmod a2query curl logrotate "$python3"; do
	command -v "$tool" >/dev/null 2>&1 ||
	    fail "$tool is missing: deploy/install-deps.sh --test"
done
# One run at a time on a machine (two CI runs, or CI and a developer):
# the package and the system Apache are the machine's, not the run's.
exec 9>/run/lock/kiro-fcgi-test-deb.lock
flock -w 900 9 || fail "another test-deb.sh held its lock for 15 minutes"
if dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null |
    grep -q '^[^u]'; then
	fail "$pkg is installed on this machine: this test would purge it"
fi
apache_pidfile=$(set +u; . /etc/apache2/envvars && echo "$APACHE_PID_FILE")
if [ -s "$apache_pidfile" ] && kill -0 "$(cat "$apache_pidfile")" 2>/dev/null
then
	fail "the system Apache is running: this test would take it over"
fi

# --- Undo everything, whatever happens ------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiro-test-deb.XXXXXX")
mock_pid=
apache_started=no
made_policy=no
# "enabled by maintainer script" or "by site administrator": a2enmod -m
# puts back the first.
fcgid_was=$(a2query -m fcgid 2>/dev/null || true)
ports=/etc/apache2/ports.conf
cp -p "$ports" "$tmp/ports.conf.orig"

stop_apache() {
	[ "$apache_started" = yes ] || return 0
	apache2ctl stop >/dev/null 2>&1 || true
	i=0
	while [ -s "$apache_pidfile" ] &&
	    kill -0 "$(cat "$apache_pidfile")" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if [ -s "$apache_pidfile" ]; then
		kill -9 "$(cat "$apache_pidfile")" 2>/dev/null || true
		rm -f "$apache_pidfile"
	fi
	apache_started=no
}

cleanup() {
	set +e
	stop_apache
	if [ -n "$mock_pid" ]; then
		kill "$mock_pid" 2>/dev/null
		wait "$mock_pid" 2>/dev/null
	fi
	if dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null |
	    grep -q '^[^u]'; then
		dpkg --purge "$pkg" >"$tmp/cleanup-purge.log" 2>&1 ||
		    cat "$tmp/cleanup-purge.log" >&2
	fi
	cp -p "$tmp/ports.conf.orig" "$ports"
	a2query -q -m fcgid && a2dismod -q fcgid >/dev/null
	case $fcgid_was in
	*"maintainer script"*) a2enmod -m -q fcgid >/dev/null ;;
	*enabled*) a2enmod -q fcgid >/dev/null ;;
	esac
	# mod_fcgid's sockets of the Apache this test ran.
	rm -f /var/lib/apache2/fcgid/sock/*
	[ "$made_policy" = yes ] && rm -f /usr/sbin/policy-rc.d
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Package installs must not start the system's web servers (Debian's
# standard way; a machine that has a policy-rc.d keeps its own).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=yes
fi

# --- Helpers ------------------------------------------------------------------

# mode_is PATH MODE OWNER GROUP
mode_is() {
	[ -e "$1" ] || fail "$1 is missing"
	got=$(stat -c '%a %U %G' "$1")
	[ "$got" = "$2 $3 $4" ] || fail "$1 is $got, not $2 $3 $4"
	ok
}
exists() { [ -e "$1" ] || fail "$1 is missing"; ok; }
absent() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 is still there"; ok; }

apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends -o DPkg::Lock::Timeout=300 "$1" \
	    >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "installing $1"; }
}

installed_version() {
	dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$pkg" 2>/dev/null ||
	    true
}

conf_enabled() { a2query -q -c kiro-fcgi; }

json_get() {	# json_get FILE KEY
	"$python3" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
	    "$1" "$2"
}

config=/etc/kiro-fcgi/config.json
state=/var/lib/kiro-fcgi

# --- Build ------------------------------------------------------------------

: "${DEB_BUILD_OPTIONS=nocheck}"
export DEB_BUILD_OPTIONS
say "building the package and a rebuilt $v2"
"$top/deploy/build-deb.sh" "$tmp/v1" >"$tmp/build-v1.log" 2>&1 ||
    { cat "$tmp/build-v1.log" >&2; fail "deploy/build-deb.sh"; }
KIRO_DEB_VERSION=$v2 "$top/deploy/build-deb.sh" "$tmp/v2" \
    >"$tmp/build-v2.log" 2>&1 ||
    { cat "$tmp/build-v2.log" >&2; fail "deploy/build-deb.sh ($v2)"; }
deb1=$(ls "$tmp"/v1/kiro-fcgi_*.deb)
deb2=$(ls "$tmp"/v2/kiro-fcgi_"$v2"_*.deb)
ok

# --- Install, without mod_fcgid: the snippet stays off --------------------------

a2query -q -m fcgid && a2dismod -q fcgid >/dev/null
say "installing $(basename "$deb1") (mod_fcgid disabled)"
apt_install "$deb1"
case $(installed_version) in
"ii  0.1.0") ok ;;
*) fail "dpkg says: $(installed_version)" ;;
esac

mode_is /usr/sbin/kiro-fcgi 755 root root
mode_is /usr/bin/kiroctl 755 root root
exists /usr/share/man/man8/kiro-fcgi.8.gz
exists /usr/share/man/man1/kiroctl.1.gz
exists /usr/share/man/man5/kiro-fcgi.conf.5.gz
mode_is /etc/kiro-fcgi 755 root root
mode_is "$config" 640 root www-data
mode_is "$state" 700 www-data www-data
mode_is /var/log/kiro-fcgi 750 www-data adm
mode_is /var/log/kiro-fcgi/kiroctl.log 640 www-data adm
mode_is /etc/cron.d/kiro-fcgi 644 root root
mode_is /etc/logrotate.d/kiro-fcgi 644 root root
mode_is /etc/apache2/conf-available/kiro-fcgi.conf 644 root root
mode_is /etc/lighttpd/conf-available/20-kiro-fcgi.conf 644 root root

key=$(json_get "$config" apiKey)
echo "$key" | grep -Eq '^sk-kiro-[0-9a-f]{48}$' ||
    fail "the generated apiKey looks wrong: $key"
ok
# The generated configuration is the package's to create, not a conffile
# (an upgrade must never offer to replace it); the snippets are conffiles.
conffiles=$(dpkg-query -W -f='${Conffiles}\n' "$pkg" | awk 'NF {print $1}' |
    sort | tr '\n' ' ')
[ "$conffiles" = "/etc/apache2/conf-available/kiro-fcgi.conf /etc/cron.d/kiro-fcgi /etc/lighttpd/conf-available/20-kiro-fcgi.conf /etc/logrotate.d/kiro-fcgi " ] ||
    fail "conffiles: $conffiles"
ok
grep -q 'www-data  \[ -x /usr/bin/kiroctl \] && { kiroctl refresh ' \
    /etc/cron.d/kiro-fcgi || fail "no refresh job as www-data in the cron file"
ok
conf_enabled && fail "the Apache snippet was enabled without mod_fcgid"
ok

# The snippets point at the package's files and parse.
grep -q '^    Define KIRO_FCGI_DIR /usr/sbin$' \
    /etc/apache2/conf-available/kiro-fcgi.conf || fail "Apache snippet paths"
grep -q '^var.kiro_fcgi_bin    = "/usr/sbin/kiro-fcgi"$' \
    /etc/lighttpd/conf-available/20-kiro-fcgi.conf ||
    fail "lighttpd snippet paths"
ok
# Enabled the Debian way, the lighttpd snippet passes Debian's lighttpd.conf.
lighty-enable-mod kiro-fcgi >/dev/null || fail "lighty-enable-mod kiro-fcgi"
[ -L /etc/lighttpd/conf-enabled/20-kiro-fcgi.conf ] ||
    fail "lighty-enable-mod made no link"
# -tt exits 0 even when it finds no bin-path: it must say nothing at all.
lighttpd -tt -f /etc/lighttpd/lighttpd.conf >"$tmp/lighttpd-tt" 2>&1 &&
    [ ! -s "$tmp/lighttpd-tt" ] ||
    { cat "$tmp/lighttpd-tt" >&2; fail "lighttpd -tt with the snippet enabled"; }
ok

# The cron job's command runs as www-data with the installed configuration.
refresh_cmd=$(sed -n 's/^\*\/5 \* \* \* \*  *www-data  *//p' /etc/cron.d/kiro-fcgi)
out=$(cd / && runuser -u www-data -- sh -c "$refresh_cmd" 2>&1) ||
    fail "the refresh job failed as www-data: $out"
[ -z "$out" ] || fail "the refresh job printed: $out"
ok
mode_is /var/log/kiro-fcgi/kiroctl.log 640 www-data adm

# logrotate takes the log the cron jobs write (as www-data, in a directory
# that is not root's: hence "su" in the file) and makes a new one.
echo "a line from test-deb" >> /var/log/kiro-fcgi/kiroctl.log
logrotate -f -s "$tmp/logrotate.status" /etc/logrotate.d/kiro-fcgi \
    >"$tmp/logrotate.log" 2>&1 ||
    { cat "$tmp/logrotate.log" >&2; fail "logrotate /etc/logrotate.d/kiro-fcgi"; }
grep -q 'a line from test-deb' /var/log/kiro-fcgi/kiroctl.log.1 ||
    fail "logrotate did not rotate kiroctl.log"
mode_is /var/log/kiro-fcgi/kiroctl.log 640 www-data adm

# --- Enable the snippet, point the gateway at the mock ------------------------

# mod_fcgid arriving later (libapache2-mod-fcgid installed after kiro-fcgi,
# here enabled and its file trigger activated by hand): the package enables
# the snippet.
a2enmod -q fcgid >/dev/null
dpkg-trigger --no-await /usr/lib/apache2/modules/mod_fcgid.so ||
    fail "dpkg-trigger"
dpkg --triggers-only "$pkg" >"$tmp/trigger.log" 2>&1 ||
    { cat "$tmp/trigger.log" >&2; fail "dpkg --triggers-only"; }
conf_enabled || fail "the mod_fcgid trigger did not enable the Apache snippet"
ok
# The administrator's way, as README says; nothing to do here.
a2enconf -q kiro-fcgi >/dev/null
conf_enabled || fail "a2enconf kiro-fcgi disabled it"

"$python3" "$top/tests/mock/kiro_mock.py" --port 0 \
    --port-file "$tmp/mock.port" --quiet </dev/null >/dev/null \
    2>"$tmp/mock.log" 9>&- &
mock_pid=$!
i=0
while [ ! -s "$tmp/mock.port" ]; do
	kill -0 "$mock_pid" 2>/dev/null ||
	    { cat "$tmp/mock.log" >&2; fail "the mock exited"; }
	[ $i -lt 300 ] || fail "the mock wrote no port file"
	sleep 0.1
	i=$((i + 1))
done
mock="http://127.0.0.1:$(cat "$tmp/mock.port")"

access=aoa$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
refresh=aor$(od -An -N64 -tx1 /dev/urandom | tr -d ' \n')
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"pkg-test\",\"refreshToken\":\"$refresh\",\"accessToken\":\"$access\",\"authMethod\":\"social\"}" \
    "$mock/_mock/accounts" || fail "registering the account with the mock"
cat > "$tmp/credentials.json" <<EOF
[{"refreshToken": "$refresh", "accessToken": "$access",
  "authMethod": "social", "email": "pkg-test@example.com",
  "expiresAt": "2099-01-01T00:00:00Z"}]
EOF
# Rewritten in place, so its owner and mode stay the package's.
"$python3" - "$config" "$mock" <<'EOF'
import json, sys
path, mock = sys.argv[1], sys.argv[2]
cfg = json.load(open(path))
cfg.update(apiBaseUrl=mock, authBaseUrl=mock, oidcBaseUrl=mock,
           region="us-east-1")
with open(path, "r+") as f:
    f.truncate(0)
    f.write(json.dumps(cfg, indent=2) + "\n")
EOF
mode_is "$config" 640 root www-data
# kiroctl finds /etc/kiro-fcgi/config.json by itself and, as root, writes
# the state as its owner (www-data).
/usr/bin/kiroctl accounts import "$tmp/credentials.json" >"$tmp/import.log" 2>&1 ||
    { cat "$tmp/import.log" >&2; fail "kiroctl accounts import"; }
/usr/bin/kiroctl accounts list --json | grep -q '"pkg-test@example.com"' ||
    fail "kiroctl accounts list does not show the imported account"
ok
mode_is "$state/kiro.db" 600 www-data www-data

# --- The system Apache on a free loopback port --------------------------------

free_port() {
	"$python3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_apache() {
	tries=0
	while :; do
		port=$(free_port)
		echo "Listen 127.0.0.1:$port" > "$ports"
		: > "$tmp/apache-start.log"
		if apache2ctl start >"$tmp/apache-start.log" 2>&1 9>&-; then
			apache_started=yes
			i=0
			while ! curl -s -o /dev/null -X OPTIONS \
			    "http://127.0.0.1:$port/"; do
				[ $i -lt 150 ] || break
				sleep 0.2
				i=$((i + 1))
			done
			curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
			stop_apache
		fi
		tries=$((tries + 1))
		if [ $tries -ge 5 ]; then
			cat "$tmp/apache-start.log" >&2
			tail -20 /var/log/apache2/error.log >&2
			fail "the system Apache did not start"
		fi
	done
}

# post_messages KEY-HEADER OUTFILE: the HTTP status
post_messages() {
	curl -s -o "$2" -w '%{http_code}' -H "$1" \
	    -H 'Content-Type: application/json' \
	    -H 'anthropic-version: 2023-06-01' \
	    -d '{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Hello from the package test"}]}' \
	    "http://127.0.0.1:$port/kiro/v1/messages"
}

# serve: one answer through Apache, mod_fcgid and the installed responder
# from the mock; the Bearer form (FcgidPassHeader) too; a wrong key refused.
serve() {
	key=$(json_get "$config" apiKey)
	code=$(post_messages "x-api-key: $key" "$tmp/answer.json")
	[ "$code" = 200 ] || { cat "$tmp/answer.json" >&2;
	    tail -20 /var/log/apache2/error.log >&2; fail "/v1/messages: $code"; }
	"$python3" - "$tmp/answer.json" <<'EOF' || fail "the answer is not the mock's"
import json, sys
msg = json.load(open(sys.argv[1]))
text = "".join(b.get("text", "") for b in msg["content"])
assert msg["type"] == "message", msg
assert "You said: Hello from the package test" in text, text
EOF
	ok
	code=$(post_messages "Authorization: Bearer $key" "$tmp/answer.json")
	[ "$code" = 200 ] || fail "/v1/messages with Bearer: $code"
	ok
	code=$(post_messages "x-api-key: sk-wrong" "$tmp/answer.json")
	[ "$code" = 401 ] || fail "/v1/messages with a wrong key: $code"
	grep -q '"type":"error"' "$tmp/answer.json" ||
	    fail "the 401 is not in Anthropic's shape: $(cat "$tmp/answer.json")"
	ok
}

say "serving through the system Apache"
start_apache
serve
say "Apache on 127.0.0.1:$port served /kiro/v1/messages from the mock"

# --- Upgrade: configuration and state kept -----------------------------------

config_sum=$(sha256sum < "$config")
say "upgrading to $v2"
apt_install "$deb2"
case $(installed_version) in
"ii  $v2") ok ;;
*) fail "dpkg says: $(installed_version) after the upgrade" ;;
esac
[ "$(sha256sum < "$config")" = "$config_sum" ] ||
    fail "the upgrade changed $config"
ok
mode_is "$config" 640 root www-data
mode_is "$state" 700 www-data www-data
mode_is "$state/kiro.db" 600 www-data www-data
/usr/bin/kiroctl accounts list --json | grep -q '"pkg-test@example.com"' ||
    fail "the account is gone after the upgrade"
ok
conf_enabled || fail "the upgrade disabled the Apache snippet"
ok
apache2ctl graceful >/dev/null 2>&1 9>&- || fail "apache2ctl graceful"
serve

# --- Remove: configuration and state kept, snippets off -----------------------

stop_apache
say "removing"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q \
    -o DPkg::Lock::Timeout=300 "$pkg" >"$tmp/apt.log" 2>&1 ||
    { cat "$tmp/apt.log" >&2; fail "apt-get remove"; }
case $(installed_version) in
"rc  $v2") ok ;;
*) fail "dpkg says: $(installed_version) after remove" ;;
esac
absent /usr/sbin/kiro-fcgi
absent /usr/bin/kiroctl
[ "$(sha256sum < "$config")" = "$config_sum" ] ||
    fail "remove changed or deleted $config"
ok
mode_is "$state/kiro.db" 600 www-data www-data
absent /etc/apache2/conf-enabled/kiro-fcgi.conf
absent /etc/lighttpd/conf-enabled/20-kiro-fcgi.conf
exists /etc/cron.d/kiro-fcgi
# The cron job left behind does nothing, and says nothing, without kiroctl.
out=$(cd / && runuser -u www-data -- sh -c "$refresh_cmd" 2>&1) || true
[ -z "$out" ] || fail "the cron job without kiroctl printed: $out"
ok

# --- Install again: mod_fcgid is on, so the package enables the snippet --------

say "installing $v2 again (mod_fcgid enabled)"
apt_install "$deb2"
conf_enabled || fail "the package did not enable the snippet with mod_fcgid on"
ok
[ "$(sha256sum < "$config")" = "$config_sum" ] ||
    fail "reinstalling changed $config"
ok

# --- Purge: everything gone -------------------------------------------------------

say "purging"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
    -o DPkg::Lock::Timeout=300 "$pkg" >"$tmp/apt.log" 2>&1 ||
    { cat "$tmp/apt.log" >&2; fail "apt-get purge"; }
installed_version | grep -q '^ii' && fail "still installed after purge"
ok
for path in /etc/kiro-fcgi "$state" /var/log/kiro-fcgi /etc/cron.d/kiro-fcgi \
    /etc/logrotate.d/kiro-fcgi /etc/apache2/conf-available/kiro-fcgi.conf \
    /etc/apache2/conf-enabled/kiro-fcgi.conf \
    /etc/lighttpd/conf-available/20-kiro-fcgi.conf /usr/sbin/kiro-fcgi; do
	absent "$path"
done

printf 'test-deb: %d passed, 0 failed\n' "$passed"
