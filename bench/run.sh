#!/usr/bin/env bash
# make bench: raise the fd limit for large fleets, then run the Node driver.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node bench/run.mjs "$@"
