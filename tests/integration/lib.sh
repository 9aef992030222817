# Shared helpers of the boot tiers: a pass/fail tally and assertions that
# print what was expected and what came out.
# shellcheck shell=bash

PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/wisp-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok() { PASS=$((PASS + 1)); printf 'ok   %s\n' "$1"; }
bad() {
	FAIL=$((FAIL + 1))
	printf 'FAIL %s: %s\n' "$1" "$2"
	for f in "$TMP/out" "$TMP/err"; do
		[ -s "$f" ] && { echo "---- ${f##*/}:"; tail -n 15 "$f"; }
	done
}

# expect_rc NAME WANT: the last run's exit status.
expect_rc() {
	if [ "$RC" = "$2" ]; then ok "$1: exit $2"; else bad "$1" "exit $RC, want $2"; fi
}

# expect_out NAME FILE REGEX: FILE (out or err) has a line matching REGEX.
expect_line() {
	if grep -Eq -- "$3" "$TMP/$2"; then
		ok "$1: $2 has /$3/"
	else
		bad "$1" "$2 has no line matching /$3/"
	fi
}

expect_no_line() {
	if grep -Eq -- "$3" "$TMP/$2"; then
		bad "$1" "$2 unexpectedly matches /$3/"
	else
		ok "$1: $2 lacks /$3/"
	fi
}

# run_wisp TIMEOUT ARGS...: stdout to $TMP/out, stderr to $TMP/err. A
# guest's tty ends lines with CR LF; the CRs are dropped so patterns can
# end in $.
run_wisp() {
	local t=$1
	shift
	timeout --kill-after=5 "$t" "$WISP" "$@" </dev/null >"$TMP/raw" 2>"$TMP/err"
	RC=$?
	tr -d '\r' <"$TMP/raw" >"$TMP/out"
}

# --- The REST API (api.sh, linux.sh) ---------------------------------------
SOCK=$TMP/api.sock

# wait_api SOCK PID: until the API on SOCK answers (10 s at most, and
# only while PID lives); 1 and a failure if it never does.
wait_api() {
	for _ in $(seq 200); do
		[ -S "$1" ] && curl -s --unix-socket "$1" -o /dev/null http://x/ && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	bad "API socket ${1##*/}" "it never answered"
	return 1
}

# start_api [wisp args...]: wisp in the background on $SOCK, waits until
# it answers. $PID is its pid; its stdout goes to $TMP/out (CRs dropped
# later by stop_api), stderr to $TMP/err.
start_api() {
	rm -f "$SOCK"
	"$WISP" --api-sock "$SOCK" "$@" </dev/null >"$TMP/raw" 2>"$TMP/err" &
	PID=$!
	wait_api "$SOCK" "$PID"
}

# wait_exit SECONDS: wait for $PID to end; RC is its status (124: killed).
wait_exit() {
	local i
	for i in $(seq $(($1 * 20))); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$PID" 2>/dev/null; then
		kill -9 "$PID"
		wait "$PID" 2>/dev/null
		RC=124
	else
		wait "$PID"
		RC=$?
	fi
	tr -d '\r' <"$TMP/raw" >"$TMP/out"
}

# api METHOD PATH [BODY]: sets STATUS and BODY (the response's).
api() {
	local args=(-s -m 30 --unix-socket "$SOCK" -X "$1" -o "$TMP/body" -w '%{http_code}')
	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	STATUS=$(curl "${args[@]}" "http://localhost$2")
	BODY=$(cat "$TMP/body" 2>/dev/null)
}

# expect NAME STATUS [JQ-FILTER]: the last response has STATUS and, given
# a filter, the body makes it true.
expect() {
	if [ "$STATUS" != "$2" ]; then
		bad "$1" "status $STATUS, want $2; body: $BODY"
	elif [ $# -ge 3 ] && ! jq -e "$3" >/dev/null 2>&1 <<<"$BODY"; then
		bad "$1" "body '$BODY' fails '$3'"
	else
		ok "$1: $2"
	fi
}

check() { # NAME WANT GOT: one value as wanted
	if [ "$2" = "$3" ]; then ok "$1: $3"; else bad "$1" "got '$3', want '$2'"; fi
}

fault_has() { # the fault_message contains TEXT
	expect "$1" "$2" ".fault_message | contains(\"$3\")"
}

summary() {
	echo "$1: $PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}

# --- Jails (jailer.sh, clients.sh) -------------------------------------------
CG=/sys/fs/cgroup
PIDS=() # what the tier started that may outlive it

# end_jails: SIGKILL to every pid in PIDS, then the cgroups made under
# $PARENT (the tier's --parent-cgroup) removed.
end_jails() {
	local p
	# 0 is an empty pid file: kill(0) would be this script's own group.
	for p in "${PIDS[@]}"; do [ "$p" -gt 0 ] && kill -9 "$p" 2>/dev/null; done
	sleep 0.2
	find "$CG" -mindepth 2 -maxdepth 6 -depth -type d -path "$CG/*/${PARENT:?}*" \
		-exec rmdir {} + 2>/dev/null
}
