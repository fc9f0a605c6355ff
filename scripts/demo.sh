#!/usr/bin/env bash
# make demo: a local server + one local agent + a first (and on every run a fresh) snapshot.
#
# Data lives in <repo>/demo-data/ (server data dir, agent config + state, sample dir, a local
# restic repository, logs). The first run bootstraps user "admin" with a generated password
# saved to demo-data/admin-password (0600); later runs log in with it and reuse the enrolled
# agent. Ctrl-C stops agent and server.
#
# Overrides (for tests): RM_DEMO_BIN_DIR (default <repo>/build), RM_DEMO_PORT (default 8080),
# RM_DEMO_DATA (default <repo>/demo-data).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${RM_DEMO_BIN_DIR:-$ROOT/build}"
PORT="${RM_DEMO_PORT:-8080}"
DATA="${RM_DEMO_DATA:-$ROOT/demo-data}"
URL="http://127.0.0.1:$PORT"
SERVER_BIN="$BIN/restic-manager-server"
AGENT_BIN="$BIN/restic-manager-agent"

say() { printf 'demo: %s\n' "$*" >&2; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

for b in "$SERVER_BIN" "$AGENT_BIN"; do
	[ -x "$b" ] || die "$b not found (run: make)"
done
command -v curl >/dev/null || die "curl is required"
command -v restic >/dev/null || say "warning: restic not in PATH; backups will fail"

# JSON field extraction: jq when installed, node otherwise. usage: jget '.a.b' <<<"$json"
if command -v jq >/dev/null; then
	jget() { jq -r "$1 // empty"; }
else
	command -v node >/dev/null || die "jq or node is required"
	jget() {
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let v;try{v=JSON.parse(s)}catch{process.exit(0)}
		for(const k of process.argv[1].split(".").filter(Boolean)){v=v==null?undefined:v[k]}
		if(v!==undefined&&v!==null)console.log(typeof v==="object"?JSON.stringify(v):String(v))})' "$1"
	}
fi
jstr() { # JSON string literal
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
port_busy && die "127.0.0.1:$PORT is already in use (another server or demo running?)"

umask 077
mkdir -p "$DATA/server" "$DATA/agent/state"
SAMPLE="$DATA/sample"
REPO="$DATA/repo"
if [ ! -d "$SAMPLE" ]; then
	mkdir -p "$SAMPLE/docs"
	printf 'Hello from the restic-manager demo.\n' >"$SAMPLE/README.txt"
	printf 'line %s\n' $(seq 1 200) >"$SAMPLE/docs/numbers.txt"
	head -c 65536 /dev/urandom >"$SAMPLE/random.bin"
	date -u +%FT%TZ >"$SAMPLE/created-at.txt"
fi
date -u +%FT%TZ >"$SAMPLE/last-demo-run.txt"

JAR="$DATA/cookies.txt"
: >"$JAR"
CSRF=""
SERVER_PID=""
AGENT_PID=""

stop_all() {
	trap - INT TERM EXIT
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null || true
	[ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null || true
	local i
	for i in $(seq 1 100); do
		{ [ -z "$AGENT_PID" ] || ! kill -0 "$AGENT_PID" 2>/dev/null; } &&
			{ [ -z "$SERVER_PID" ] || ! kill -0 "$SERVER_PID" 2>/dev/null; } && break
		sleep 0.1
	done
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null || true
	[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null || true
	rm -f "$JAR" "$RESP"
}
trap 'stop_all; exit 130' INT TERM
trap 'stop_all' EXIT

# api METHOD PATH [JSON] → sets STATUS and BODY (call it directly, not in $(...))
RESP="$DATA/.response"
api() {
	local method=$1 path=$2 data=${3:-}
	local args=(-sS -o "$RESP" -w '%{http_code}' -X "$method" -b "$JAR" -c "$JAR" --max-time 30)
	[ -n "$CSRF" ] && args+=(-H "X-CSRF-Token: $CSRF")
	[ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	: >"$RESP"
	STATUS=$(curl "${args[@]}" "$URL$path") || STATUS=000
	BODY=$(cat "$RESP")
}

wait_until_soft() { # wait_until_soft SECONDS COMMAND... (1 on timeout)
	local secs=$1 i
	shift
	for i in $(seq 1 $((secs * 5))); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

wait_until() { # wait_until SECONDS DESCRIPTION COMMAND...
	local secs=$1 what=$2 i
	shift 2
	for i in $(seq 1 $((secs * 5))); do
		"$@" && return 0
		sleep 0.2
	done
	die "timed out after ${secs}s waiting for $what"
}

# ---------------------------------------------------------------- server
touch "$DATA/server.log"
LOG_START=$(wc -c <"$DATA/server.log")
say "starting server on $URL (log: $DATA/server.log)"
RM_LISTEN="127.0.0.1:$PORT" RM_DATA_DIR="$DATA/server" RM_BASE_URL="$URL" RM_COOKIE_SECURE=false \
	"$SERVER_BIN" 2>>"$DATA/server.log" &
SERVER_PID=$!
server_up() {
	kill -0 "$SERVER_PID" 2>/dev/null || die "server exited; see $DATA/server.log"
	curl -sf --max-time 2 "$URL/healthz" >/dev/null 2>&1
}
wait_until 30 "the server" server_up

PWFILE="$DATA/admin-password"
api GET /api/bootstrap/status
needed=$(jget .needed <<<"$BODY")
if [ "$needed" = "true" ]; then
	token=$(tail -c +"$((LOG_START + 1))" "$DATA/server.log" | sed -n 's/.*bootstrap token: \([^ ]*\).*/\1/p' | tail -1)
	[ -n "$token" ] || token=$(sed -n 's/.*bootstrap token: \([^ ]*\).*/\1/p' "$DATA/server.log" | tail -1)
	[ -n "$token" ] || die "bootstrap needed but no bootstrap token in $DATA/server.log"
	if [ ! -s "$PWFILE" ]; then
		pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=\n')
		printf '%s\n' "$pw" >"$PWFILE"
		chmod 600 "$PWFILE"
	fi
	ADMIN_PW=$(head -n1 "$PWFILE")
	api POST /api/bootstrap "{\"token\":$(jstr "$token"),\"username\":\"admin\",\"password\":$(jstr "$ADMIN_PW")}"
	body=$BODY
	[ "$STATUS" = 201 ] || die "bootstrap failed: HTTP $STATUS $body"
	say "bootstrapped user admin (password in $PWFILE)"
else
	[ -s "$PWFILE" ] || die "server already bootstrapped but $PWFILE is missing (remove $DATA to start over)"
	ADMIN_PW=$(head -n1 "$PWFILE")
	api POST /api/auth/login "{\"username\":\"admin\",\"password\":$(jstr "$ADMIN_PW")}"
	body=$BODY
	[ "$STATUS" = 200 ] || die "login failed: HTTP $STATUS $body"
fi
CSRF=$(jget .csrf_token <<<"$body")
[ -n "$CSRF" ] || die "no csrf_token in the login response"

# ---------------------------------------------------------------- agent
AGENT_CFG="$DATA/agent/agent.yaml"
AGENT_STATE="$DATA/agent/state"
host_id_from_cfg() { sed -n 's/^[[:space:]]*host_id:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}.*/\1/p' "$AGENT_CFG" | head -1; }
HOST_ID=""
if [ -s "$AGENT_CFG" ]; then
	HOST_ID=$(host_id_from_cfg)
	api GET "/api/hosts/$HOST_ID"
	if [ "$STATUS" != 200 ]; then
		say "agent config refers to an unknown host; enrolling again"
		rm -f "$AGENT_CFG"
		HOST_ID=""
	fi
fi
if [ -z "$HOST_ID" ]; then
	REPO_PWFILE="$DATA/repo-password"
	[ -s "$REPO_PWFILE" ] || { head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$REPO_PWFILE"; echo >>"$REPO_PWFILE"; }
	chmod 600 "$REPO_PWFILE"
	api POST /api/enrollment-tokens "{\"hostname\":$(jstr "$(hostname)"),\"tags\":[\"demo\"],\"repo_url\":$(jstr "$REPO"),\"repo_password\":$(jstr "$(head -n1 "$REPO_PWFILE")"),\"initial_paths\":[$(jstr "$SAMPLE")]}"
	body=$BODY
	[ "$STATUS" = 201 ] || die "creating the enrollment token failed: HTTP $STATUS $body"
	etoken=$(jget .token <<<"$body")
	say "enrolling the local agent"
	"$AGENT_BIN" enroll --server "$URL" --token "$etoken" --config "$AGENT_CFG" --state-dir "$AGENT_STATE" \
		2>>"$DATA/agent.log" || die "agent enroll failed; see $DATA/agent.log"
	HOST_ID=$(host_id_from_cfg)
	[ -n "$HOST_ID" ] || die "no host_id in $AGENT_CFG"
fi

say "starting agent (log: $DATA/agent.log)"
"$AGENT_BIN" run --config "$AGENT_CFG" --state-dir "$AGENT_STATE" 2>>"$DATA/agent.log" &
AGENT_PID=$!

host_field() { api GET "/api/hosts/$HOST_ID"; jget "$1" <<<"$BODY"; }
agent_online() {
	kill -0 "$AGENT_PID" 2>/dev/null || die "agent exited; see $DATA/agent.log"
	[ "$(host_field .status)" = online ]
}
wait_until 30 "the agent to connect" agent_online
repo_known() {
	local s
	s=$(host_field .repo_status)
	[ "$s" = init_failed ] && die "repository initialisation failed: $(host_field .repo_error)"
	[ "$s" = ready ]
}
wait_until 60 "the repository to be initialised" repo_known

# ---------------------------------------------------------------- a backup
api POST "/api/hosts/$HOST_ID/jobs" "{\"kind\":\"backup\",\"paths\":[$(jstr "$SAMPLE")]}"
body=$BODY
[ "$STATUS" = 202 ] || die "starting the backup failed: HTTP $STATUS $body"
JOB_ID=$(jget .job_id <<<"$body")
say "backup job $JOB_ID started"
job_done() {
	api GET "/api/jobs/$JOB_ID"
	JOB_STATUS=$(jget .status <<<"$BODY")
	case "$JOB_STATUS" in succeeded | failed | cancelled) return 0 ;; esac
	return 1
}
wait_until 120 "the backup to finish" job_done
[ "$JOB_STATUS" = succeeded ] || die "backup $JOB_STATUS: $(jget .error <<<"$BODY")"

# ---------------------------------------------------------------- a schedule (C2)
# Enrollment gave the host a "default" group and a nightly schedule; the demo adds one every
# 10 minutes so scheduled backups (run by the agent itself) show up while you look.
api GET "/api/hosts/$HOST_ID/schedules"
if ! grep -q '"\*/10 \* \* \* \*"' <<<"$BODY"; then
	api GET "/api/hosts/$HOST_ID/groups"
	GROUP_ID=$(grep -o '"id":"[0-9A-Z]\{26\}"' <<<"$BODY" | head -n1 | cut -d'"' -f4)
	if [ -n "$GROUP_ID" ] && [ "$GROUP_ID" != null ]; then
		api POST "/api/hosts/$HOST_ID/schedules" "{\"cron\":\"*/10 * * * *\",\"group_ids\":[$(jstr "$GROUP_ID")]}"
		[ "$STATUS" = 201 ] || say "warning: creating the demo schedule failed: HTTP $STATUS $BODY"
	fi
fi
api GET "/api/hosts/$HOST_ID"
say "next scheduled backup: $(jget .next_run <<<"$BODY") (every 10 minutes, run by the agent)"

# ---------------------------------------------------------------- a restore (C3)
# The file restored from the snapshot just taken, into a new directory on the host.
api GET "/api/hosts/$HOST_ID/snapshots"
SNAP_ID=$(grep -o '"id":"[0-9a-f]\{64\}"' <<<"$BODY" | head -n1 | cut -d'"' -f4 || true)
if [ -n "$SNAP_ID" ]; then
	api POST "/api/hosts/$HOST_ID/restores" "{\"snapshot_id\":$(jstr "$SNAP_ID"),\"paths\":[$(jstr "$SAMPLE/README.txt")],\"target\":{\"mode\":\"new\",\"path\":$(jstr "$DATA/restored/$(date +%s)")}}"
	if [ "$STATUS" = 202 ]; then
		JOB_ID=$(jget .job_id <<<"$BODY")
		wait_until 120 "the restore to finish" job_done
		api GET "/api/jobs/$JOB_ID"
		say "restore $JOB_STATUS: $(jget .stats.files_restored <<<"$BODY") file(s) into $(jget .stats.target <<<"$BODY")"
	else
		say "warning: starting the restore failed: HTTP $STATUS $BODY"
	fi
fi

# ---------------------------------------------------------------- an alert (C4)
# A backup of a path that does not exist fails and raises a backup_failed alert (see the
# Alerts page); the next successful backup resolves it by itself.
api POST "/api/hosts/$HOST_ID/jobs" "{\"kind\":\"backup\",\"paths\":[$(jstr "$DATA/no-such-dir")]}"
if [ "$STATUS" = 202 ]; then
	JOB_ID=$(jget .job_id <<<"$BODY")
	wait_until 120 "the failing backup to finish" job_done
	alert_open() {
		api GET "/api/alerts?state=open"
		grep -q '"rule":"backup_failed"' <<<"$BODY"
	}
	if wait_until_soft 30 alert_open; then
		say "alert raised: backup_failed on this host (Alerts page; resolved by the next good backup)"
	else
		say "warning: no backup_failed alert appeared"
	fi
fi

printf 'demo ready: %s user=admin password=%s\n' "$URL" "$ADMIN_PW"

# ---------------------------------------------------------------- until Ctrl-C
while kill -0 "$SERVER_PID" 2>/dev/null && kill -0 "$AGENT_PID" 2>/dev/null; do
	sleep 1 &
	wait $! || true
done
say "a process exited unexpectedly (see $DATA/server.log, $DATA/agent.log)"
exit 1
