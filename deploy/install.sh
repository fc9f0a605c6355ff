#!/usr/bin/env bash
# restic-manager agent installer.
#
#   curl -fsSL https://rm.example.com/install/install.sh | sudo bash -s -- \
#       --server https://rm.example.com --token <enrollment token> [--cert-pin <sha256 hex>]
#
# Without --token the agent asks to join instead: it prints its key fingerprint and waits
# until an administrator accepts it on the server's Pending hosts page (announce-and-approve).
#
# Installs the agent binary, enrolls this host, installs + starts the systemd unit (when
# systemd is present), and lists existing restic cron jobs / systemd timers WITHOUT
# disabling them. Test overrides: --prefix DIR (default /usr/local), --config-dir DIR
# (default /etc/restic-manager), --state-dir DIR (default /var/lib/restic-manager),
# --binary FILE (use a local agent binary instead of downloading it).
# On Debian/Ubuntu (root, default paths) the server's agent package (/agent/deb) is
# preferred when it has one: apt-get installs it with its dependencies and its own unit;
# --no-deb installs the bare binary instead.
set -euo pipefail

SERVER="" TOKEN="" PIN="" PREFIX="/usr/local" CONFIG_DIR="/etc/restic-manager"
STATE_DIR="/var/lib/restic-manager" BINARY="" NO_SYSTEMD=0 NO_DEB=0 USE_DEB=0
UNIT_NAME="restic-manager-agent.service"

say()  { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '2,18p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--server|-server|--enroll-server|-enroll-server) SERVER="${2:-}"; shift 2 ;;
	--token|-token|--enroll-token|-enroll-token) TOKEN="${2:-}"; shift 2 ;;
	--cert-pin|-cert-pin) PIN="${2:-}"; shift 2 ;;
	--prefix) PREFIX="${2:-}"; shift 2 ;;
	--config-dir) CONFIG_DIR="${2:-}"; shift 2 ;;
	--state-dir) STATE_DIR="${2:-}"; shift 2 ;;
	--binary) BINARY="${2:-}"; shift 2 ;;
	--no-systemd) NO_SYSTEMD=1; shift ;;
	--no-deb) NO_DEB=1; shift ;;
	--server=*|--token=*|--cert-pin=*|--prefix=*|--config-dir=*|--state-dir=*|--binary=*)
		k="${1%%=*}"; v="${1#*=}"; shift; set -- "$k" "$v" "$@" ;;
	-h|--help) usage 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

[ -n "$SERVER" ] || die "--server URL is required"
case "$SERVER" in http://*|https://*) ;; *) die "--server must start with http:// or https://" ;; esac
SERVER="${SERVER%/}"
if [ -n "$PIN" ]; then
	PIN="$(printf '%s' "$PIN" | tr -d ':' | tr 'A-F' 'a-f')"
	[[ "$PIN" =~ ^[0-9a-f]{64}$ ]] || die "--cert-pin must be the SHA-256 of the server certificate (64 hex chars)"
fi
if [ "$(id -u)" -ne 0 ] && [ "$PREFIX" = "/usr/local" ]; then
	die "run as root (sudo), or pass --prefix/--config-dir/--state-dir for a non-root install"
fi

# ---------------------------------------------------------------- arch
case "$(uname -s)" in Linux) OS=linux ;; *) die "unsupported OS: $(uname -s) (Linux only)" ;; esac
case "$(uname -m)" in
	x86_64|amd64) ARCH=amd64 ;;
	aarch64|arm64) ARCH=arm64 ;;
	*) die "unsupported architecture: $(uname -m) (amd64 and arm64 are supported)" ;;
esac
say "platform: $OS/$ARCH"

BIN_DIR="$PREFIX/bin"
BIN="$BIN_DIR/restic-manager-agent"
CONFIG="$CONFIG_DIR/agent.yaml"
mkdir -p "$BIN_DIR" "$CONFIG_DIR"
mkdir -p "$STATE_DIR" && chmod 700 "$STATE_DIR"

# ---------------------------------------------------------------- TLS pin
CURL_TLS=()
if [ -n "$PIN" ] && [[ "$SERVER" == https://* ]]; then
	command -v openssl >/dev/null || die "--cert-pin needs openssl to check the server certificate"
	hostport="${SERVER#https://}"; hostport="${hostport%%/*}"
	case "$hostport" in *:*) ;; *) hostport="$hostport:443" ;; esac
	got="$(openssl s_client -connect "$hostport" -servername "${hostport%:*}" </dev/null 2>/dev/null \
		| openssl x509 -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//' | tr -d ':' | tr 'A-F' 'a-f')"
	[ "$got" = "$PIN" ] || die "server certificate SHA-256 is '${got:-unknown}', expected the --cert-pin value: refusing to continue"
	say "server certificate matches the pin"
	CURL_TLS=(-k)
fi

# ---------------------------------------------------------------- package (Debian/Ubuntu)
if [ -z "$BINARY" ] && [ "$NO_DEB" -eq 0 ] && [ "$(id -u)" -eq 0 ] && [ "$PREFIX" = /usr/local ] \
	&& [ "$CONFIG_DIR" = /etc/restic-manager ] && [ "$STATE_DIR" = /var/lib/restic-manager ] \
	&& [ -f /etc/debian_version ] && command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
	debdir="$(mktemp -d)"
	url="$SERVER/agent/deb?arch=$(dpkg --print-architecture)"
	if curl -fsSL "${CURL_TLS[@]}" --retry 3 -o "$debdir/restic-manager-agent.deb" "$url" 2>/dev/null; then
		say "installing the agent package from $url"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$debdir/restic-manager-agent.deb" \
			|| die "apt-get could not install the agent package (rerun with --no-deb for the bare binary)"
		USE_DEB=1
		BIN=/usr/bin/restic-manager-agent
		say "installed $("$BIN" --version)"
	else
		say "the server offers no agent package for this architecture: installing the binary"
	fi
	rm -rf "$debdir"
fi

# ---------------------------------------------------------------- binary
if [ "$USE_DEB" -eq 0 ]; then
	tmp="$(mktemp "$BIN_DIR/.restic-manager-agent.XXXXXX")"
	trap 'rm -f "$tmp"' EXIT
	if [ -n "$BINARY" ]; then
		say "installing agent from $BINARY"
		cp "$BINARY" "$tmp"
	else
		url="$SERVER/agent/binary?os=$OS&arch=$ARCH"
		say "downloading $url"
		curl -fsSL "${CURL_TLS[@]}" --retry 3 -o "$tmp" "$url" \
			|| die "download failed: $url (does the server have an agent build for $OS/$ARCH?)"
	fi
	[ -s "$tmp" ] || die "downloaded agent binary is empty"
	chmod 755 "$tmp"
	"$tmp" --version >/dev/null 2>&1 || die "the agent binary does not run on this host (missing libraries? apt-get install libwebsockets17 libwebsockets-evlib-uv libuv1 libsodium23 libjansson4 libcurl4)"
	if [ -f "$BIN" ]; then cp -p "$BIN" "$BIN.prev" 2>/dev/null || true; fi
	mv -f "$tmp" "$BIN"
	trap - EXIT
	say "installed $("$BIN" --version)"
fi

# ---------------------------------------------------------------- restic
RESTIC="$(command -v restic || true)"
if [ -z "$RESTIC" ]; then
	warn "restic is not installed: backups will fail until it is (apt-get install restic)"
else
	say "restic: $RESTIC ($("$RESTIC" version 2>/dev/null | head -n1 || echo 'version unknown'))"
fi

# ---------------------------------------------------------------- enroll
say "enrolling this host with $SERVER"
enroll=("$BIN" enroll --server "$SERVER" --config "$CONFIG" --state-dir "$STATE_DIR")
[ -n "$PIN" ] && enroll+=(--cert-pin "$PIN")
if [ -n "$TOKEN" ]; then
	enroll+=(--token "$TOKEN")
	"${enroll[@]}" || die "enrollment failed (see the message above; tokens are single-use and expire after 1 h)"
else
	say "no --token: asking the server's administrators to accept this host"
	"${enroll[@]}" || die "enrollment failed (see the message above: rejected, expired or unreachable)"
fi
say "config written to $CONFIG"

# ---------------------------------------------------------------- service
RUN_ARGS=""
[ "$CONFIG" != "/etc/restic-manager/agent.yaml" ] && RUN_ARGS="$RUN_ARGS --config $CONFIG"
[ "$STATE_DIR" != "/var/lib/restic-manager" ] && RUN_ARGS="$RUN_ARGS --state-dir $STATE_DIR"
have_systemd=0
if [ "$NO_SYSTEMD" -eq 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	have_systemd=1
fi
if [ "$have_systemd" -eq 1 ] && [ "$USE_DEB" -eq 1 ]; then
	# the package ships the unit (it starts once agent.yaml exists)
	systemctl enable "$UNIT_NAME" >/dev/null 2>&1 || true
	systemctl restart "$UNIT_NAME"
	say "service started: systemctl status $UNIT_NAME / journalctl -u $UNIT_NAME -f"
elif [ "$have_systemd" -eq 1 ]; then
	unit="/etc/systemd/system/$UNIT_NAME"
	say "installing systemd unit $unit"
	cat > "$unit.tmp" <<UNIT
[Unit]
Description=restic-manager agent (runs restic backups for the restic-manager server)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=root
ExecStartPre=-/bin/sh -c 'm=$STATE_DIR/update.json b=$BIN; if [ -f "\$\$b.prev" ] && grep -qs restarting "\$\$m" && [ -n "\$\$(find "\$\$m" -mmin +2)" ]; then mv -f "\$\$b.prev" "\$\$b"; rm -f "\$\$m"; fi'
ExecStart=$BIN run$RUN_ARGS
Restart=always
RestartSec=5
KillMode=mixed
TimeoutStopSec=20
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$STATE_DIR $CONFIG_DIR
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6

[Install]
WantedBy=multi-user.target
UNIT
	mv -f "$unit.tmp" "$unit"
	systemctl daemon-reload
	systemctl enable --now "$UNIT_NAME"
	systemctl restart "$UNIT_NAME"
	say "service started: systemctl status $UNIT_NAME / journalctl -u $UNIT_NAME -f"
else
	say "systemd is not present on this host (or --no-systemd): the service was NOT installed."
	say "run the agent by hand (as root), e.g. under your init system or in a terminal:"
	printf '\n    %s run%s\n\n' "$BIN" "$RUN_ARGS"
fi

# ---------------------------------------------------------------- existing restic jobs
say "looking for existing restic jobs (left untouched)"
found=0
for f in /etc/crontab /etc/cron.d/* /etc/cron.hourly/* /etc/cron.daily/* /etc/cron.weekly/* /etc/cron.monthly/*; do
	[ -f "$f" ] || continue
	if grep -qi restic "$f" 2>/dev/null; then
		found=1
		printf '  cron: %s\n' "$f"
		grep -ni restic "$f" | sed 's/^/      /'
		case "$f" in
		/etc/crontab) printf '      disable: edit /etc/crontab and comment out the lines above\n' ;;
		/etc/cron.d/*) printf '      disable: sudo mv %s /root/%s.disabled\n' "$f" "$(basename "$f")" ;;
		*) printf '      disable: sudo chmod -x %s\n' "$f" ;;
		esac
	fi
done
if command -v crontab >/dev/null && crontab -l -u root >/dev/null 2>&1; then
	if crontab -l -u root 2>/dev/null | grep -qi restic; then
		found=1
		printf "  root's crontab:\n"
		crontab -l -u root 2>/dev/null | grep -ni restic | sed 's/^/      /'
		printf '      disable: sudo crontab -e -u root  (comment out the lines above)\n'
	fi
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
	while read -r timer; do
		[ -n "$timer" ] || continue
		found=1
		printf '  systemd timer: %s\n' "$timer"
		printf '      disable: sudo systemctl disable --now %s\n' "$timer"
	done < <(systemctl list-timers --all --no-legend 2>/dev/null | grep -io '[^ ]*restic[^ ]*\.timer' | grep -v restic-manager | sort -u || true)
fi
for d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
	[ -d "$d" ] || continue
	for t in "$d"/*.timer; do
		[ -f "$t" ] || continue
		svc="$(basename "$t" .timer).service"
		if grep -qi restic "$t" 2>/dev/null || { [ -f "$d/$svc" ] && grep -qi restic "$d/$svc" 2>/dev/null && ! grep -q restic-manager-agent "$d/$svc"; }; then
			found=1
			printf '  systemd timer unit: %s\n' "$t"
			printf '      disable: sudo systemctl disable --now %s\n' "$(basename "$t")"
		fi
	done
done
if [ "$found" -eq 0 ]; then
	say "no existing restic cron jobs or timers found"
else
	say "the jobs above still run: disable them once restic-manager schedules cover them"
fi
say "done"
