#!/usr/bin/env bash
# seccomp tier: every other tier already runs under the filters (they are
# on by default); this one checks that they are there and that they bite.
# The test build (ASan, -DWISP_TEST_HOOKS) makes one thread kind try a
# forbidden call when WISP_SECCOMP_TEST names it: the process must die of
# SIGSYS (exit 159 through timeout, 128 + 31) and say which thread it was.
set -u
: "${WISP:?path to the test build of wisp}" "${WISP_PLAIN:?path to the production build}"
: "${PROBE:?path to probe.elf}"
PROBE=$(realpath "$PROBE")
. "$(dirname "$0")/lib.sh"
SIGSYS_RC=159

# Each thread kind, each forbidden call: killed, and named on stderr.
forbidden() { # NAME KIND[:CALL] SYSCALL-NR ARGS...
	local name=$1 kind=$2 nr=$3
	shift 3
	WISP_SECCOMP_TEST=$kind run_wisp 30 "$@"
	expect_rc "$name" "$SIGSYS_RC"
	expect_line "$name" err "wisp: seccomp: the ${kind%%:*} thread made a forbidden system call $nr\$"
	expect_no_line "$name" out '^probe: hello$'
}
forbidden "vCPU opens a file" vcpu 257 --kernel "$PROBE" --cmdline probe=hello
forbidden "vCPU maps executable memory" vcpu:exec-map 9 --kernel "$PROBE" --cmdline probe=hello
forbidden "two vCPUs, each opens a file" vcpu 257 --kernel "$PROBE" --cmdline probe=halt --vcpus 2
forbidden "event loop forks" vmm 57 --kernel "$PROBE" --cmdline probe=hello
forbidden "event loop opens an IPv4 socket" vmm:inet 41 --kernel "$PROBE" --cmdline probe=hello

# The API thread's filter goes on when it starts serving: execve there.
rm -f "$SOCK"
WISP_SECCOMP_TEST=api timeout --kill-after=5 30 "$WISP" --api-sock "$SOCK" \
	</dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "API thread execs" "$SIGSYS_RC"
expect_line "API thread execs" err 'wisp: seccomp: the api thread made a forbidden system call 59$'

# Every thread of a running VM is filtered (Seccomp: 2), the production
# build as well; a live API call and a pause on top.
for build in "$WISP" "$WISP_PLAIN"; do
	b="test build"
	[ "$build" = "$WISP_PLAIN" ] && b="production build"
	WISP=$build start_api --kernel "$PROBE" --cmdline probe=halt --vcpus 2 || break
	for _ in $(seq 100); do grep -q halting "$TMP/raw" && break; sleep 0.05; done
	modes=""
	for t in /proc/"$PID"/task/*; do
		comm=$(cat "$t/comm")
		comm=${comm// /_}
		case $comm in wisp* | fc_vcpu*) modes="$modes $comm=$(awk '/^Seccomp:/ { print $2 }' "$t/status")" ;; esac
	done
	want=" fc_vcpu_0=2 wisp-evloop=2 fc_vcpu_1=2 wisp-api=2"
	if [ "$(tr ' ' '\n' <<<"$modes" | sort | tr '\n' ' ')" = "$(tr ' ' '\n' <<<"$want" | sort | tr '\n' ' ')" ]; then
		ok "$b: every thread filtered ($modes)"
	else
		bad "$b filters" "threads:$modes, want$want"
	fi
	api PATCH /vm '{"state": "Paused"}'
	expect "$b: pause under the filters" 204
	api PATCH /vm '{"state": "Resumed"}'
	expect "$b: resume under the filters" 204
	kill -TERM "$PID"
	wait_exit 10
	expect_rc "$b: SIGTERM under the filters" 0
	[ -e "$SOCK" ] && bad "$b" "API socket left behind" ||
		ok "$b: API socket removed at exit"
done

# A guest that resets its vsock device again and again while the host
# sends into its connections, under the filters of both builds: a vCPU
# never closes a socket, unwatches one or sets a timer (the event loop
# does), so it stays alive; every connection ends for the host, the
# device works again for one last exchange both ways, and wisp's
# descriptors do not grow with the number of resets.
: "${VSOCK_HOST:?path to vsock_host}"
for build in "$WISP" "$WISP_PLAIN"; do
	b="test build"
	[ "$build" = "$WISP_PLAIN" ] && b="production build"
	fds=""
	for rounds in 4 40; do
		name="$b: $rounds vsock resets"
		cat >"$TMP/vsock.ini" <<INI
[machine]
mem_mib = 64
[boot]
kernel = $PROBE
cmdline = probe=vsock-reset hport=6000 rounds=$rounds wait
[vsock]
guest_cid = 3
uds_path = $TMP/v.sock
INI
		"$VSOCK_HOST" resets "$TMP/v.sock_6000" "$rounds" >"$TMP/host" 2>&1 &
		hpid=$!
		for _ in $(seq 100); do [ -S "$TMP/v.sock_6000" ] && break; sleep 0.05; done
		WISP=$build start_api --config "$TMP/vsock.ini" || break
		for _ in $(seq 600); do
			grep -q 'vsock-reset rounds' "$TMP/raw" && break
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.05
		done
		fds="$fds $(ls "/proc/$PID/fd" 2>/dev/null | wc -l)"
		wait "$hpid"
		HRC=$?
		api GET /
		expect "$name: the API answers" 200 '.state == "Running"'
		kill -TERM "$PID"
		wait_exit 10
		expect_rc "$name" 0
		expect_line "$name" out "^probe: vsock-reset rounds $rounds ok$"
		if [ "$HRC" = 0 ]; then ok "$name: host program exit 0"
		else bad "$name" "host program exit $HRC: $(tail -n 3 "$TMP/host")"; fi
		expect_line "$name" host "^host: $rounds connections ended by resets after [1-9][0-9]* bytes$"
		expect_line "$name" host '^host: received 4096 sent 4096 eof ok$'
		expect_no_line "$name" err 'seccomp|Sanitizer|runtime error'
	done
	read -r a40 a4 <<<"$(tr ' ' '\n' <<<"$fds" | sed '/^$/d' | tac | tr '\n' ' ')"
	if [ -n "$a4" ] && [ "$a4" = "$a40" ]; then
		ok "$b: descriptors after 4 and after 40 resets: $a4 and $a40"
	else
		bad "$b vsock resets" "descriptors after 4 and 40 resets:$fds"
	fi
done

# --no-seccomp: loud, and really off.
start_api --kernel "$PROBE" --cmdline probe=halt --no-seccomp
for _ in $(seq 100); do grep -q halting "$TMP/raw" && break; sleep 0.05; done
if grep -q '^Seccomp:[[:space:]]*0' "/proc/$PID/task/$PID/status"; then
	ok "--no-seccomp: no filter"
else
	bad "--no-seccomp" "the main thread has a filter"
fi
kill -TERM "$PID"
wait_exit 10
expect_rc "--no-seccomp" 0
expect_line "--no-seccomp" err 'no-seccomp: no system call filters'

summary seccomp
