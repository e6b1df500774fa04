#!/bin/sh
# build-deb.sh: build the kiro-fcgi Debian package from this source tree and
# check it with lintian.  The tree is copied into a temporary directory (git's
# files when it is a git checkout: no build output comes along), with
# deploy/debian as debian/, and built there with dpkg-buildpackage; the
# source tree is never written to.  Needs the packages of
# "deploy/install-deps.sh --package".
#
#   deploy/build-deb.sh [OUTDIR]      the .deb goes to OUTDIR (default: .)
#
# Environment: KIRO_DEB_VERSION=V builds version V (a changelog entry added
# to the copy only, for upgrade tests); DEB_BUILD_OPTIONS=nocheck skips the
# unit tests the build runs.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
outdir=${1:-.}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for tool in dpkg-buildpackage dh lintian fakeroot; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build-deb.sh: $tool is missing: deploy/install-deps.sh" \
		    "--package" >&2
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiro-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

version=$(sed -n '1s/^kiro-fcgi (\([^)]*\)).*/\1/p' \
    "$top/deploy/debian/changelog")
version=${KIRO_DEB_VERSION:-$version}
src="$tmp/kiro-fcgi-$version"
mkdir "$src"

# The files git knows (tracked, or new and not ignored), as they are in the
# working tree; outside git (a release tarball) everything but build trees.
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$top" && git ls-files --cached --others --exclude-standard |
	    while IFS= read -r f; do
		[ -f "$f" ] && printf '%s\n' "$f"
	    done) > "$tmp/files"
	(cd "$top" && tar -cf - -T "$tmp/files") | tar -xf - -C "$src"
else
	(cd "$top" && tar -cf - --exclude=./build\* --exclude=./run \
	    --exclude=node_modules --exclude=./debian .) | tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -R "$top/deploy/debian" "$src/debian"

if [ -n "${KIRO_DEB_VERSION:-}" ]; then
	{
		printf 'kiro-fcgi (%s) unstable; urgency=medium\n\n' \
		    "$KIRO_DEB_VERSION"
		printf '  * Rebuilt by build-deb.sh as version %s.\n\n' \
		    "$KIRO_DEB_VERSION"
		printf ' -- %s  %s\n\n' \
		    "$(sed -n 's/^Maintainer: //p' "$src/debian/control")" \
		    "$(date -R)"
		cat "$top/deploy/debian/changelog"
	} > "$src/debian/changelog"
fi

# The source package too, so that lintian checks debian/ itself.
(cd "$tmp" && dpkg-source -b "kiro-fcgi-$version" >/dev/null)
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$tmp/build.log" 2>&1 || {
	tail -60 "$tmp/build.log" >&2
	echo "build-deb.sh: dpkg-buildpackage failed (last lines above)" >&2
	exit 1
}

arch=$(dpkg --print-architecture)
deb="kiro-fcgi_${version}_$arch.deb"
lintian --fail-on error,warning --info \
    "$tmp/kiro-fcgi_$version.dsc" "$tmp/kiro-fcgi_${version}_$arch.changes"

cp "$tmp/$deb" "$outdir/"
echo "build-deb.sh: $outdir/$deb"
