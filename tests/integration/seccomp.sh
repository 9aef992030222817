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
	want=" wisp=2 fc_vcpu_0=2 wisp-evloop=2 fc_vcpu_1=2 wisp-api=2"
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

# --seccomp-filter FILE: seccompiler's JSON source, compiled at startup,
# each category's filter instead of wisp's own.
# filters VMM API VCPU: a file of the three categories' filters.
filters() {
	printf '{"vmm": %s, "api": %s, "vcpu": %s}\n' "$1" "$2" "$3"
}
ALLOW='{"default_action": "allow", "filter_action": "allow", "filter": [], "comment": "anything"}'
# The event loop waits in epoll_wait: forbidden, the first wait kills.
NOWAIT='{"default_action": "allow", "filter_action": "kill_process", "filter": [{"syscall": "epoll_wait"}, {"syscall": "epoll_pwait"}]}'
filters "$ALLOW" "$ALLOW" "$ALLOW" >"$TMP/allow.json"
for build in "$WISP" "$WISP_PLAIN"; do
	b="test build"
	[ "$build" = "$WISP_PLAIN" ] && b="production build"
	WISP=$build run_wisp 30 --seccomp-filter "$TMP/allow.json" --kernel "$PROBE" --cmdline probe=hello
	expect_rc "$b: a permissive filter file boots the probe" 0
	expect_line "$b: a permissive filter file boots the probe" out '^probe: hello$'
	expect_line "$b: the file's filters are said to replace wisp's" err "seccomp: the filters of .*allow.json replace wisp's own"
done
# The file's filter is on every thread, and it is not wisp's (execve
# passes it: the API test hook's forbidden call goes through).
start_api --seccomp-filter "$TMP/allow.json" --kernel "$PROBE" --cmdline probe=halt --vcpus 2 || exit 1
for _ in $(seq 100); do grep -q halting "$TMP/raw" && break; sleep 0.05; done
n=0
for t in /proc/"$PID"/task/*; do
	case $(cat "$t/comm") in wisp*) grep -q '^Seccomp:[[:space:]]*2' "$t/status" || n=$((n + 1)) ;; esac
done
check "--seccomp-filter: every thread filtered (threads without one)" 0 "$n"
kill -TERM "$PID"
wait_exit 10
expect_rc "--seccomp-filter: SIGTERM" 0
filters "$NOWAIT" "$ALLOW" "$ALLOW" >"$TMP/nowait.json"
for build in "$WISP" "$WISP_PLAIN"; do
	b="test build"
	[ "$build" = "$WISP_PLAIN" ] && b="production build"
	WISP=$build run_wisp 30 --seccomp-filter "$TMP/nowait.json" --kernel "$PROBE" --cmdline probe=kbd
	expect_rc "$b: a filter forbidding the event loop's epoll_wait kills wisp" "$SIGSYS_RC"
done
# The configured action: EPERM instead of death, and wisp says so.
filters "$ALLOW" "$ALLOW" "$ALLOW" | jq -c '.vmm = {"default_action": "allow", "filter_action": {"errno": 1}, "filter": [{"syscall": "epoll_wait"}, {"syscall": "epoll_pwait"}]}' >"$TMP/eperm.json"
run_wisp 30 --seccomp-filter "$TMP/eperm.json" --kernel "$PROBE" --cmdline probe=kbd
expect_rc "errno action" 1
expect_line "errno action: the loop got EPERM" err 'epoll_wait: Operation not permitted'
# A vCPU's filter: KVM_RUN is an ioctl; forbidding ioctl on the vcpu
# category alone kills at the first entry into the guest.
filters "$ALLOW" "$ALLOW" '{"default_action": "allow", "filter_action": "kill_process", "filter": [{"syscall": "ioctl", "args": [{"index": 1, "type": "dword", "op": "eq", "val": 44672, "comment": "KVM_RUN"}]}]}' >"$TMP/norun.json"
run_wisp 30 --seccomp-filter "$TMP/norun.json" --kernel "$PROBE" --cmdline probe=hello
expect_rc "a vcpu filter forbidding KVM_RUN kills wisp" "$SIGSYS_RC"
expect_no_line "a vcpu filter forbidding KVM_RUN: the guest never ran" out '^probe: hello$'
# Bad files are refused at startup, naming the file and the field.
bad_file() { # NAME JSON WANT
	printf '%s\n' "$2" >"$TMP/bad.json"
	run_wisp 30 --seccomp-filter "$TMP/bad.json" --kernel "$PROBE" --cmdline probe=hello
	expect_rc "$1" 2
	expect_line "$1" err "^wisp: --seccomp-filter .*bad.json: $3"
}
bad_file "a category missing" "$(printf '{"vmm": %s, "api": %s}' "$ALLOW" "$ALLOW")" "missing thread category 'vcpu'"
bad_file "an unknown category" "$(filters "$ALLOW" "$ALLOW" "$ALLOW" | jq -c '. + {"main": {}}')" "unknown thread category 'main'"
bad_file "an unknown system call" "$(filters "$ALLOW" '{"default_action": "allow", "filter_action": "trap", "filter": [{"syscall": "no_such_call"}]}' "$ALLOW")" "api.filter\\[0\\]: syscall 'no_such_call' is not a system call"
bad_file "a bad action" "$(filters '{"default_action": "deny", "filter_action": "trap", "filter": []}' "$ALLOW" "$ALLOW")" 'vmm.default_action: not an action'
bad_file "a bad op" "$(filters "$ALLOW" "$ALLOW" '{"default_action": "allow", "filter_action": "trap", "filter": [{"syscall": "read", "args": [{"index": 0, "type": "dword", "op": "equals", "val": 1}]}]}')" 'vcpu.filter\[0\].args\[0\]: op equals is not'
bad_file "a misspelt args" "$(filters "$ALLOW" "$ALLOW" '{"default_action": "allow", "filter_action": "trap", "filter": [{"syscall": "read", "arg": []}]}')" "vcpu.filter\\[0\\]: unknown field 'arg'"
printf '{"vmm": \n' >"$TMP/bad.json"
run_wisp 30 --seccomp-filter "$TMP/bad.json" --kernel "$PROBE" --cmdline probe=hello
expect_rc "not JSON" 2
expect_line "not JSON" err '^wisp: --seccomp-filter .*bad.json:[0-9]+:[0-9]+: '
run_wisp 30 --seccomp-filter /nonexistent.json --kernel "$PROBE" --cmdline probe=hello
expect_rc "a missing filter file" 2
expect_line "a missing filter file" err '^wisp: --seccomp-filter /nonexistent.json: No such file'
run_wisp 30 --seccomp-filter "$TMP/allow.json" --no-seccomp --kernel "$PROBE" --cmdline probe=hello
expect_rc "--seccomp-filter with --no-seccomp" 2
expect_line "--seccomp-filter with --no-seccomp" err 'seccomp-filter and --no-seccomp exclude each other'

summary seccomp
