#!/usr/bin/env bash
# Debian packages of fleetboot, from the release binaries, with nfpm (pinned in
# tools/go.mod, kept out of the product's go.mod):
#
#   scripts/deb.sh [OUTDIR] [ARCH...]     (default: dist/, amd64 arm64 armhf)
#
# writes OUTDIR/fleetboot_<version>_<arch>.deb. The version comes from
# `git describe`, made Debian-valid (VERSION= overrides what git says, in the
# same form; DEB_REVISION=, default 1, is the Debian revision):
#   v1.2.3                 1.2.3-1
#   v1.2.3-rc1             1.2.3~rc1-1        (sorts before 1.2.3)
#   v1.2.3-4-gabc1234      1.2.3+git4.abc1234-1
#   abc1234 (no tag)       0.0.0+git<commits>.abc1234-1
#   ...-dirty              ...+dirty-1
# DEB_MAINTAINER= names the maintainer. The binaries are built by
# scripts/release-build.sh, the one definition of the release flags.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
out=$(realpath -m "${1:-dist}")
shift || true
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)

# debian_version turns `git describe --tags --always --dirty` into a Debian
# upstream version.
debian_version() {
	local d=$1 dirty="" tag="" n="" hash=""
	if [[ $d == *-dirty ]]; then dirty=1; d=${d%-dirty}; fi
	if [[ $d =~ ^(.*)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		tag=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} hash=${BASH_REMATCH[3]}
	elif [[ $d =~ ^[0-9a-f]{4,40}$ ]]; then
		hash=$d n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	else
		tag=$d
	fi
	local v
	if [ -n "$tag" ]; then
		v=${tag#v}
		# a pre-release (1.2.3-rc1) sorts before its release (1.2.3)
		v=${v/-/\~}
	else
		v=0.0.0
	fi
	[ -z "$hash" ] || v="$v+git$n.$hash"
	[ -z "$dirty" ] || v="$v+dirty"
	# what Debian allows in an upstream version without an epoch, and a digit first
	v=$(printf '%s' "$v" | tr -c 'A-Za-z0-9.+~' '.')
	[[ $v =~ ^[0-9] ]] || v="0+$v"
	printf '%s\n' "$v"
}

describe=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo 0.0.0)}
upstream=$(debian_version "$describe")
version="$upstream-${DEB_REVISION:-1}"
maintainer=${DEB_MAINTAINER:-fleetboot maintainers <maintainers@fleetboot.example>}
# The changelog's date: the commit's, so that a package is the same when rebuilt.
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
gzip -n -9 -c packaging/man/fleetboot.8 >"$stage/fleetboot.8.gz"
cat >"$stage/changelog.Debian" <<CHANGELOG
fleetboot ($version) unstable; urgency=medium

  * Built from $describe.

 -- $maintainer  $date
CHANGELOG
gzip -n -9 -c "$stage/changelog.Debian" >"$stage/changelog.Debian.gz"

mkdir -p "$out"
for arch in "${arches[@]}"; do
	case $arch in
	amd64) goarch=amd64 goarm= ;;
	arm64) goarch=arm64 goarm= ;;
	armhf) goarch=arm goarm=7 ;;
	*) echo "deb.sh: unknown architecture $arch (amd64, arm64, armhf)" >&2; exit 2 ;;
	esac
	GOOS=linux GOARCH=$goarch GOARM=$goarm VERSION=$describe GO=$GO scripts/release-build.sh "$stage/fleetboot"
	deb="$out/fleetboot_${version}_$arch.deb"
	rm -f "$deb"
	DEB_ARCH=$arch DEB_VERSION=$version DEB_STAGE=$stage DEB_MAINTAINER=$maintainer \
		"$GO" run -modfile=tools/go.mod github.com/goreleaser/nfpm/v2/cmd/nfpm package --config packaging/nfpm.yaml --packager deb --target "$deb" >/dev/null
	echo "$deb"
done
