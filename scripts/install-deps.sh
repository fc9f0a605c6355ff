#!/usr/bin/env bash
# Installs what restic-manager needs to build, test and run on Debian 12.
# Idempotent: only missing packages are installed (as root via apt-get).
set -euo pipefail
# --demo: only what building and running the product needs (make demo); default: also
# everything the tests and benchmarks use (make check, make bench).
pkgs=(build-essential pkg-config git
      libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libssl-dev
      libsqlite3-dev libsodium-dev libjansson-dev libcurl4-openssl-dev zlib1g-dev
      restic nodejs npm curl procps)
if [[ ${1:-} != --demo ]]; then
  pkgs+=(clang clang-format libclang-rt-14-dev openssh-server openssh-client chromium sqlite3 wrk
        prometheus lintian python3-aiosmtpd rclone)  # promtool + a real prometheus (c6_metrics); lintian (make deb check); aiosmtpd (c4_alerts); rclone (c2_appendonly)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# a machine may carry its own node/npm outside Debian's packages
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
