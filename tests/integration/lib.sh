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

summary() {
	echo "$1: $PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}
