#!/usr/bin/env bash
# Builds restic-manager-server_<v>-1_<arch>.deb and restic-manager-agent_<v>-1_<arch>.deb
# with dpkg-deb (no debhelper): systemd units from deploy/*.service (paths rewritten to
# /usr/bin), conffile /etc/restic-manager/server.yaml, maintainer scripts and man pages
# from deploy/debian/, shared-library dependencies from dpkg-shlibdeps.
# Usage: scripts/build-deb.sh BIN_DIR OUT_DIR VERSION COMMIT
set -euo pipefail
bindir=$1 out=$2 version=$3 commit=$4
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/deploy/debian
arch=$(dpkg --print-architecture)
debver="$version-1"
# reproducible: dates from the commit, not the clock
epoch=$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$epoch
date_rfc=$(LC_ALL=C date -u -d "@$epoch" -R)
date_man=$(date -u -d "@$epoch" +%Y-%m-%d)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

subst() { sed -e "s/@VERSION@/$version/g" -e "s/@COMMIT@/$commit/g" -e "s/@DATE@/$date_rfc/g" "$@"; }

# $1 package, $2 binary name, $3 description lines (first = synopsis), rest via globals
stage() {
	local pkg=$1 bin=$2 d=$work/$1
	install -d -m 0755 "$d/DEBIAN" "$d/usr/bin" "$d/usr/share/man/man8" "$d/usr/share/doc/$pkg" \
		"$d/lib/systemd/system"
	install -m 0755 "$bindir/$bin" "$d/usr/bin/$bin"
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$d/usr/bin/$bin"
	sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date_man/g" "$src/$bin.8" | gzip -9n > "$d/usr/share/man/man8/$bin.8.gz"
	install -m 0644 "$src/copyright" "$d/usr/share/doc/$pkg/copyright"
	subst "$src/changelog" | sed "1s/^restic-manager /$pkg /" | gzip -9n > "$d/usr/share/doc/$pkg/changelog.Debian.gz"
	# the packaged agent is updated with its package: no self-update directory
	sed -e 's#/usr/local/lib/restic-manager/#/usr/bin/#g' -e 's# -/usr/local/lib/restic-manager$##' \
	    -e 's#/usr/local/bin/#/usr/bin/#g' "$root/deploy/$pkg.service" > "$d/lib/systemd/system/$pkg.service"
	chmod 0644 "$d/lib/systemd/system/$pkg.service" "$d/usr/share/man/man8/$bin.8.gz" "$d/usr/share/doc/$pkg/changelog.Debian.gz"
	for s in postinst prerm postrm; do install -m 0755 "$src/${pkg#restic-manager-}/$s" "$d/DEBIAN/$s"; done
}

# shared-library dependencies of an ELF file (dpkg-shlibdeps wants a debian/control)
shlibs() {
	local t=$work/shlibs
	mkdir -p "$t/debian"
	printf 'Source: restic-manager\n\nPackage: x\nArchitecture: any\n' > "$t/debian/control"
	(cd "$t" && dpkg-shlibdeps -O "$1" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

control() {
	local pkg=$1 bin=$2 extra_deps=$3 d=$work/$1
	local deps
	deps=$(shlibs "$d/usr/bin/$bin")
	local size
	size=$(du -k -s --apparent-size "$d" | cut -f1)
	{
		printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$pkg" "$debver" "$arch"
		printf 'Maintainer: restic-manager maintainers <security@restic-manager.invalid>\n'
		printf 'Installed-Size: %s\n' "$size"
		printf 'Depends: %s\n' "$deps${extra_deps:+, $extra_deps}"
		cat "$src/${pkg#restic-manager-}/control.in"
	} > "$d/DEBIAN/control"
	(cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$d/DEBIAN/md5sums"
	chmod 0644 "$d/DEBIAN/control" "$d/DEBIAN/md5sums"
	[ -f "$d/DEBIAN/conffiles" ] && chmod 0644 "$d/DEBIAN/conffiles"
	find "$d" -exec touch -h -d "@$epoch" {} +
	dpkg-deb --root-owner-group -Zxz --build "$d" "$out/${pkg}_${debver}_${arch}.deb" >/dev/null
	echo "$out/${pkg}_${debver}_${arch}.deb"
}

# ---- server
stage restic-manager-server restic-manager-server
d=$work/restic-manager-server
install -d -m 0755 "$d/etc/restic-manager"
install -m 0644 "$root/deploy/server.yaml.example" "$d/etc/restic-manager/server.yaml"
printf '/etc/restic-manager/server.yaml\n' > "$d/DEBIAN/conffiles"
install -d -m 0755 "$d/usr/share/doc/restic-manager-server/examples"
install -m 0644 "$root/deploy/grafana-dashboard.json" "$d/usr/share/doc/restic-manager-server/examples/"
control restic-manager-server restic-manager-server "adduser"

# ---- agent: the unit runs only once the host is enrolled
stage restic-manager-agent restic-manager-agent
d=$work/restic-manager-agent
sed -i 's#^After=network-online.target#&\nConditionPathExists=/etc/restic-manager/agent.yaml#' \
	"$d/lib/systemd/system/restic-manager-agent.service"
control restic-manager-agent restic-manager-agent "libwebsockets-evlib-uv, libcurl4, restic"
