#!/usr/bin/env bash
# Jailer tier (as root): wisp-jailer runs the production wisp in a jail
# and the probe guest boots there; while a jailed wisp runs, what the host
# sees of it (/proc/PID/status, root, mounts, fds, cgroup, limits, net and
# pid namespaces) is what the flags asked for; every bad argument is
# refused with one line, exit 2 and nothing on disk; a step that fails
# half-way removes what it made; in a base others can write (as /tmp),
# another user's link or directory on the way is refused, and while one
# is swapped in and out the jail is built in a directory of the
# jailer's own or not at all, never through the link.
set -u
: "${JAILER:?path to wisp-jailer}" "${WISP:?path to a static wisp}" "${PROBE:?path to probe.elf}"
JAILER=$(realpath "$JAILER")
WISP=$(realpath "$WISP")
PROBE=$(realpath "$PROBE")
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "jailer tier: needs root (mounts, cgroups, device nodes)"
	exit 1
fi
[ -d "${TMP:-}" ] || exit 1

JUID=$((40000 + $$ % 10000))
JGID=$((JUID + 1))
BASE=$TMP/base      # --chroot-base-dir
PARENT=wisp-test-$$ # --parent-cgroup; PARENT-f for the failures
NETNS=wisp-jt-$$
PVM=$([ -d /sys/module/kvm_pvm ] && echo 1)
mkdir -p "$BASE"

cleanup() {
	end_jails
	umount "$TMP/tmpfs" "$TMP/nodev" 2>/dev/null
	ip netns del "$NETNS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

root_of() { echo "$BASE/wisp/$1/root"; }

# prep ID: the caller's part, as with Firecracker: the jail root with the
# guest kernel in it.
prep() {
	mkdir -p "$(root_of "$1")"
	cp "$PROBE" "$(root_of "$1")/probe.elf"
}

# jail ID [jailer flags...] [-- wisp args]: runs to its end; RC, out, err.
jail() {
	local id=$1
	shift
	timeout --kill-after=5 30 "$JAILER" --id "$id" --exec-file "$WISP" \
		--uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE" \
		--parent-cgroup "${PCG:-$PARENT}" "$@" </dev/null >"$TMP/raw" 2>"$TMP/err"
	RC=$?
	tr -d '\r' <"$TMP/raw" >"$TMP/out"
}

# start_halt ID [jailer flags...]: a jailed probe=halt in the background;
# PID is the jailer's pid, which becomes wisp's.
start_halt() {
	local id=$1
	shift
	"$JAILER" --id "$id" --exec-file "$WISP" --uid "$JUID" --gid "$JGID" \
		--chroot-base-dir "$BASE" --parent-cgroup "${PCG:-$PARENT}" "$@" \
		-- --kernel /probe.elf --cmdline probe=halt </dev/null >"$TMP/raw" 2>"$TMP/err" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 100); do
		grep -q halting "$TMP/raw" 2>/dev/null && return 0
		sleep 0.05
	done
	bad "start $id" "the guest never said 'halting'"
	return 1
}

# stop PID: SIGTERM to our child; wisp stops the VM and exits 0.
stop() {
	kill -TERM "$1"
	PID=$1
	wait_exit 10
}

# gone PID: a process that is not our child ends within 5 s.
gone() {
	for _ in $(seq 100); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.05
	done
	return 1
}

# forget ID: the caller's clean-up after a jail ran (the jailer leaves it).
forget() {
	rm -rf "$BASE/wisp/$1"
	rmdir "$CG"/*/"$PARENT"/"$1" 2>/dev/null
}

field() { awk -v k="$2:" '$1 == k { $1 = ""; print substr($0, 2) }' "/proc/$1/status" 2>/dev/null; }

# --- A jailed wisp boots the probe guest ---------------------------------
prep hello
jail hello -- --kernel /probe.elf --cmdline probe=hello
expect_rc "jailed hello" 0
check "jailed hello: stdout" "probe: hello" "$(cat "$TMP/out")"
expect_line "jailed hello" err 'guest requested a reset'
[ -n "$PVM" ] && expect_line "kvm-pvm quirks inside the jail" err 'kvm-pvm host: CPUID masked'
check "the binary is hard-linked (root's, same file system)" \
	"$(stat -c %i "$WISP")" "$(stat -c %i "$(root_of hello)/wisp")"
forget hello

prep timer
jail timer -- --kernel /probe.elf --cmdline probe=boot-timer
expect_rc "jailed boot-timer" 0
expect_line "jailed boot-timer" out '^probe: boot-timer written$'
expect_line "jailed boot-timer" err 'guest boot: [0-9]+ us since start'
forget timer

# The API socket inside the jail, driven through its host path; the
# kernel path is the jail's: the host's path of probe.elf does not exist.
prep api
"$JAILER" --id api --exec-file "$WISP" --uid "$JUID" --gid "$JGID" \
	--chroot-base-dir "$BASE" -- --api-sock /run/api.sock </dev/null >"$TMP/raw" 2>"$TMP/err" &
PID=$!
PIDS+=("$PID")
SOCK=$(root_of api)/run/api.sock
for _ in $(seq 100); do
	[ -S "$SOCK" ] && break
	sleep 0.05
done
api GET /
expect "GET / through the jail's socket" 200 '.id == "api" and .state == "Not started"'
check "the socket is the jailed uid's" "$JUID:$JGID" "$(stat -c %u:%g "$SOCK")"
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'"}'
fault_has "a host path is not in the jail" 400 "No such file"
api PUT /boot-source '{"kernel_image_path": "/probe.elf", "boot_args": "probe=hello"}'
expect "PUT /boot-source /probe.elf" 204
api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart" 204
wait_exit 10
expect_rc "jailed API guest" 0
expect_line "jailed API guest" out '^probe: hello$'
forget api

# --- A running jail, seen from the host ----------------------------------
prep run
exec 7<"$PROBE" # an fd the jailer must not pass on
FOO=bar start_halt run --cgroup memory.limit_in_bytes=268435456 --cgroup pids.max=32 \
	--cgroup cpu.shares=512 --resource-limit no-file=512 --resource-limit fsize=1048576
exec 7<&-
P=$PID
check "Uid (real, effective, saved, fs)" "$JUID $JUID $JUID $JUID" "$(field "$P" Uid | xargs)"
check "Gid" "$JGID $JGID $JGID $JGID" "$(field "$P" Gid | xargs)"
check "no supplementary groups" "" "$(field "$P" Groups | xargs)"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	check "$c" 0000000000000000 "$(field "$P" $c)"
done
check "NoNewPrivs" 1 "$(field "$P" NoNewPrivs)"
check "its root holds only the jail" "dev probe.elf run ${PVM:+sys }wisp" "$(ls /proc/$P/root | xargs)"
want="kvm net urandom $([ -c /dev/userfaultfd ] && echo userfaultfd)"
check "device nodes" "$(printf '%s\n' $want | sort | xargs)" "$(ls /proc/$P/root/dev | xargs)"
check "/dev/kvm: the host's node, the jailed uid's, 0600" \
	"crw------- $JUID:$JGID $(stat -c '%Hr,%Lr' /dev/kvm)" "$(stat -c '%A %u:%g %Hr,%Lr' "/proc/$P/root/dev/kvm")"
check "one mount, the jail root, nosuid" "/ nosuid" \
	"$(awk '{ print $5, ($6 ~ /nosuid/ ? "nosuid" : $6) }' /proc/$P/mountinfo | xargs)"
check "no environment" 0 "$(wc -c </proc/$P/environ)"
if ls -l /proc/$P/fd | grep -Eq -- "-> ($PROBE|(mnt|net|pid):)"; then
	bad "fds" "wisp holds an fd of the jailer's: $(ls -l /proc/$P/fd | tail -n +2)"
else ok "no fd of the jailer or its caller is left"; fi
for c in memory pids cpu; do
	check "/proc/PID/cgroup $c" "/$PARENT/run" "$(grep -E "^[0-9]+:$c(,[a-z]+)*:" /proc/$P/cgroup | cut -d: -f3)"
done
check "memory.limit_in_bytes" 268435456 "$(cat $CG/memory/$PARENT/run/memory.limit_in_bytes)"
check "pids.max" 32 "$(cat $CG/pids/$PARENT/run/pids.max)"
check "cpu.shares" 512 "$(cat $CG/cpu/$PARENT/run/cpu.shares)"
check "pids.current counts wisp's threads" "$(ls /proc/$P/task | wc -l)" "$(cat $CG/pids/$PARENT/run/pids.current)"
if [ "$(cat $CG/memory/$PARENT/run/memory.usage_in_bytes)" -gt 0 ]; then
	ok "wisp's memory is charged to the jail's cgroup"
else bad memory "memory.usage_in_bytes is 0"; fi
check "no-file limit" "512 512" "$(awk '/^Max open files/ { print $4, $5 }' /proc/$P/limits)"
check "fsize limit" "1048576 1048576" "$(awk '/^Max file size/ { print $4, $5 }' /proc/$P/limits)"
stop "$P"
expect_rc "jailed halt, SIGTERM" 0
if [ -d "$(root_of run)/dev" ] && [ -d "$CG/memory/$PARENT/run" ]; then
	ok "after wisp ends, the jail and its cgroup are the caller's to remove"
else bad "after the run" "the jailer's work is gone"; fi

# An id whose jail was not cleaned up (or is running) is refused.
jail run -- --kernel /probe.elf
expect_rc "an id whose jail was not cleaned up" 2
expect_line "an id whose jail was not cleaned up" err "already exists: a jail with this id is running or was not cleaned up"
forget run

# pids.max is enforced: wisp cannot start its event loop thread.
prep pids
jail pids --cgroup pids.max=1 -- --kernel /probe.elf --cmdline probe=hello
expect_rc "pids.max=1" 1
expect_line "pids.max=1" err 'thread: Resource temporarily unavailable'
forget pids

# v1 cpuset under a nested parent: new cpuset cgroups start with no CPUs
# and no memory nodes; the jailer fills them from their parents, so
# cpuset.cpus alone pins wisp.
prep pin
PCG=$PARENT/nested start_halt pin --cgroup cpuset.cpus=0
check "cpuset.cpus=0 pins wisp" 0 "$(field "$PID" Cpus_allowed_list)"
check "/proc/PID/cgroup cpuset" "/$PARENT/nested/pin" "$(grep -E '^[0-9]+:cpuset:' /proc/$PID/cgroup | cut -d: -f3)"
stop "$PID"
rm -rf "$BASE/wisp/pin"
rmdir "$CG/cpuset/$PARENT/nested/pin" "$CG/cpuset/$PARENT/nested"

# cgroup v2: hugetlb is the one controller on /sys/fs/cgroup/unified here.
if grep -qw hugetlb $CG/unified/cgroup.controllers 2>/dev/null; then
	prep v2
	start_halt v2 --cgroup-version 2 --cgroup hugetlb.2MB.max=0
	check "v2: /proc/PID/cgroup" "0::/$PARENT/v2" "$(grep '^0::' /proc/$PID/cgroup)"
	check "v2: hugetlb.2MB.max" 0 "$(cat $CG/unified/$PARENT/v2/hugetlb.2MB.max)"
	if grep -qw hugetlb "$CG/unified/$PARENT/cgroup.subtree_control"; then
		ok "v2: the parent enables hugetlb for the jail"
	else bad v2 "no hugetlb in $CG/unified/$PARENT/cgroup.subtree_control"; fi
	stop "$PID"
	expect_rc "v2 jail, SIGTERM" 0
	forget v2
	prep v2auto
	jail v2auto --cgroup hugetlb.2MB.max=0 -- --kernel /probe.elf --cmdline probe=hello
	expect_rc "v2 detected" 0
	if [ -d "$CG/unified/$PARENT/v2auto" ]; then ok "hugetlb alone: v2 is chosen"
	else bad "v2 detection" "no $CG/unified/$PARENT/v2auto"; fi
	forget v2auto
fi

# --netns: wisp is in the namespace, and /dev/net/tun works in the jail:
# a tap that exists only there opens (a Firecracker JSON file in the jail).
ip netns add "$NETNS"
ip -n "$NETNS" tuntap add dev wjtap0 mode tap user "$JUID" group "$JGID"
prep netns
start_halt netns --netns "/run/netns/$NETNS"
check "--netns: wisp's net namespace" "net:[$(stat -L -c %i "/run/netns/$NETNS")]" "$(readlink /proc/$PID/ns/net)"
stop "$PID"
forget netns
prep tap
printf '%s\n' '{"boot-source": {"kernel_image_path": "/probe.elf", "boot_args": "probe=hello"},' \
	'"network-interfaces": [{"iface_id": "eth0", "host_dev_name": "wjtap0"}]}' >"$(root_of tap)/vm.json"
jail tap --netns "/run/netns/$NETNS" -- --config-file /vm.json
expect_rc "a tap of the netns, through the jail's /dev/net/tun" 0
expect_line "a tap of the netns, through the jail's /dev/net/tun" out '^probe: hello$'
forget tap

# --new-pid-ns: the jailer returns once wisp is exec'd; wisp is pid 1.
prep pidns
jail pidns --new-pid-ns -- --kernel /probe.elf --cmdline probe=halt
expect_rc "--new-pid-ns: the jailer" 0
P=$(cat "$(root_of pidns)/wisp.pid" 2>/dev/null)
PIDS+=("${P:=0}")
check "--new-pid-ns: NSpid" "$P 1" "$(field "$P" NSpid | xargs)"
[ "$P" -gt 0 ] && kill -TERM "$P"
if gone "$P"; then ok "--new-pid-ns: wisp ends on SIGTERM"; else bad pidns "still running"; fi
forget pidns

# --daemonize: back at once, wisp runs on in a session of its own.
prep daemon
t0=$(date +%s%N)
jail daemon --daemonize -- --kernel /probe.elf --cmdline probe=halt
ms=$((($(date +%s%N) - t0) / 1000000))
expect_rc "--daemonize: the jailer" 0
if [ "$ms" -lt 1000 ]; then ok "--daemonize returns at once ($ms ms)"; else bad daemonize "took $ms ms"; fi
P=$(cat "$(root_of daemon)/wisp.pid" 2>/dev/null)
PIDS+=("${P:=0}")
sleep 0.3
if [ "$P" -gt 0 ] && kill -0 "$P" 2>/dev/null; then ok "--daemonize: the VM runs on"; else bad daemonize "wisp is not running"; fi
check "--daemonize: a session of its own" "$P" "$(ps -o sid= -p "$P" | xargs)"
check "--daemonize: stdio on /dev/null" "/dev/null /dev/null /dev/null" \
	"$(readlink /proc/$P/fd/0 /proc/$P/fd/1 /proc/$P/fd/2 | xargs)"
check "--daemonize: the jailed uid" "$JUID" "$(field "$P" Uid | awk '{ print $2 }')"
[ "$P" -gt 0 ] && kill -TERM "$P"
if gone "$P"; then ok "--daemonize: wisp ends on SIGTERM"; else bad daemonize "still running"; fi
forget daemon

# A copy where a hard link cannot be: another file system, or an exec
# file that is not root's alone.
mkdir -p "$TMP/tmpfs"
mount -t tmpfs -o size=64m,mode=0755 tmpfs "$TMP/tmpfs"
mkdir -p "$TMP/tmpfs/wisp/copy/root" && cp "$PROBE" "$TMP/tmpfs/wisp/copy/root/probe.elf"
timeout 30 "$JAILER" --id copy --exec-file "$WISP" --uid "$JUID" --gid "$JGID" \
	--chroot-base-dir "$TMP/tmpfs" -- --kernel /probe.elf --cmdline probe=hello </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "another file system: a copy" 0
check "the copy is root's, one link, mode 755" "0:0 1 755" "$(stat -c '%u:%g %h %a' "$TMP/tmpfs/wisp/copy/root/wisp")"
umount "$TMP/tmpfs"
cp "$WISP" "$TMP/wisp-user" && chown 1000:1000 "$TMP/wisp-user"
mkdir -p "$BASE/wisp-user/userbin/root" && cp "$PROBE" "$BASE/wisp-user/userbin/root/probe.elf"
timeout 30 "$JAILER" --id userbin --exec-file "$TMP/wisp-user" --uid "$JUID" --gid "$JGID" \
	--chroot-base-dir "$BASE" -- --kernel /probe.elf --cmdline probe=hello </dev/null >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "an exec file that is not root's" 0
check "it is copied, not linked" "0:0 1" "$(stat -c '%u:%g %h' "$BASE/wisp-user/userbin/root/wisp-user")"
rm -rf "$BASE/wisp-user"

# --- Bad arguments: one line, exit 2, nothing created --------------------
printf '#!/bin/sh\n' >"$TMP/script" && chmod +x "$TMP/script"
cp "$WISP" "$TMP/noexec" && chmod 0644 "$TMP/noexec"
mkdir -p "$TMP/nodev" && mount -t tmpfs -o nodev tmpfs "$TMP/nodev"
snap() { find "$BASE" "$TMP/nodev" | sort; ls -d "$CG"/*/"$PARENT"/bad 2>/dev/null; }
# refuse NAME REGEX ARGS...: ARGS are the whole command line.
refuse() {
	local name=$1 re=$2 before
	shift 2
	before=$(snap)
	timeout 10 "$JAILER" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
	RC=$?
	if [ "$RC" != 2 ]; then
		bad "$name" "exit $RC, want 2"
	elif [ "$(wc -l <"$TMP/err")" != 1 ] || ! grep -Eq -- "$re" "$TMP/err"; then
		bad "$name" "stderr is not one line matching /$re/"
	elif [ "$(snap)" != "$before" ]; then
		bad "$name" "something was created"
	else ok "$name: $(cat "$TMP/err")"; fi
}
G=(--id bad --exec-file "$WISP" --uid "$JUID" --gid "$JGID" --chroot-base-dir "$BASE" --parent-cgroup "$PARENT")
ID_LESS=("${G[@]:2}")
refuse "no arguments" "^wisp-jailer: --id is required"
refuse "id with /" "--id 'a/b': 1-64 letters" --id a/b "${ID_LESS[@]}"
refuse "id .." "--id '\.\.': 1-64" --id .. "${ID_LESS[@]}"
refuse "id of 65" "1-64 letters" --id "$(printf 'a%.0s' $(seq 65))" "${ID_LESS[@]}"
refuse "empty id" "--id '': 1-64" --id '' "${ID_LESS[@]}"
refuse "id with a newline" "--id 'a\?b': 1-64 letters" --id $'a\nb' "${ID_LESS[@]}"
refuse "id twice" "--id given twice" "${G[@]}" --id other
refuse "unknown flag" "unknown flag '--bogus'" "${G[@]}" --bogus
refuse "abbreviated flag" "unknown flag '--exec'" --exec "$WISP" "${G[@]}"
refuse "missing value" "--chroot-base-dir needs a value" "${G[@]:0:8}" --chroot-base-dir
refuse "a flag as a value" "--uid needs a value" --uid --gid 5 --id bad
refuse "uid not a number" "--uid 'abc' is not a number" --uid abc "${G[@]:0:4}"
refuse "uid -1" "--uid '-1' is not a number" --uid -1 --id bad --exec-file "$WISP" --gid 5
refuse "uid 2^32-1" "--uid '4294967295'" --uid 4294967295 --id bad --exec-file "$WISP" --gid 5
refuse "gid 1x" "--gid '1x' is not a number" --gid 1x --id bad --exec-file "$WISP" --uid 5
refuse "stray argument" "unexpected argument 'vmlinux'" "${G[@]}" vmlinux
refuse "a value on a switch" "--daemonize takes no value" "${G[@]}" --daemonize=yes
refuse "no exec file" "--exec-file '/nonexistent/wisp': No such file" "${G[@]:0:2}" --exec-file /nonexistent/wisp "${G[@]:4}"
refuse "exec file a directory" "is not a regular file" "${G[@]:0:2}" --exec-file "$TMP" "${G[@]:4}"
refuse "exec file not executable" "is not executable \(mode 0644\)" "${G[@]:0:2}" --exec-file "$TMP/noexec" "${G[@]:4}"
refuse "exec file a script" "script': not an ELF file" "${G[@]:0:2}" --exec-file "$TMP/script" "${G[@]:4}"
refuse "exec file dynamic" "dynamically linked" "${G[@]:0:2}" --exec-file /bin/true "${G[@]:4}"
refuse "no base dir" "--chroot-base-dir '/nonexistent': No such file" "${G[@]:0:8}" --chroot-base-dir /nonexistent
refuse "base dir a file" "is not a directory" "${G[@]:0:8}" --chroot-base-dir "$PROBE"
mkdir -p "$TMP/users" "$TMP/gw" && chown 1000 "$TMP/users" && chmod 0775 "$TMP/gw"
refuse "base dir not root's" "$TMP/users \(owner 1000, mode 0755\) must be root's" "${G[@]:0:8}" --chroot-base-dir "$TMP/users"
refuse "base dir group-writable" "\(owner 0, mode 0775\) must be root's and writable by nobody else" "${G[@]:0:8}" --chroot-base-dir "$TMP/gw"
mkdir -p "$BASE/wisp/bad" && chown 1000 "$BASE/wisp/bad"
refuse "an id dir of another user" "$BASE/wisp/bad \(owner 1000" "${G[@]}"
rm -rf "$BASE/wisp"
refuse "base dir nodev" "is on a nodev mount" "${G[@]:0:8}" --chroot-base-dir "$TMP/nodev"
refuse "no netns" "--netns '/nonexistent': No such file" "${G[@]}" --netns /nonexistent
refuse "netns not a namespace" "is not a network namespace" "${G[@]}" --netns "$PROBE"
refuse "cgroup without =" "--cgroup 'pids.max' is not FILE=VALUE" "${G[@]}" --cgroup pids.max
refuse "cgroup with /" "must not contain '/'" "${G[@]}" --cgroup ../pids.max=1
refuse "cgroup with .." "must not contain '\.\.'" "${G[@]}" --cgroup pids..max=1
refuse "cgroup empty value" "the value is empty" "${G[@]}" --cgroup pids.max=
refuse "cgroup core file" "the cgroup\.\* files are the jailer's" "${G[@]}" --cgroup cgroup.procs=1
refuse "cgroup no controller" "is not CONTROLLER\.NAME" "${G[@]}" --cgroup tasks=1
refuse "unknown controller" "no cgroup v1 hierarchy has the controller 'nosuch'" "${G[@]}" --cgroup nosuch.max=1
refuse "cgroup version 3" "--cgroup-version '3' is not 1 or 2" "${G[@]}" --cgroup-version 3
refuse "v1 controller on v2" "controller 'pids' is not on the cgroup v2" "${G[@]}" --cgroup-version 2 --cgroup pids.max=1
refuse "parent ../x" "--parent-cgroup '\.\./x' is not a relative path" "${G[@]:0:10}" --parent-cgroup ../x
refuse "parent /abs" "--parent-cgroup '/abs'" "${G[@]:0:10}" --parent-cgroup /abs
refuse "parent a//b" "--parent-cgroup 'a//b'" "${G[@]:0:10}" --parent-cgroup a//b
refuse "rlimit without =" "--resource-limit 'fsize' is not RESOURCE=N" "${G[@]}" --resource-limit fsize
refuse "rlimit unknown" "the resource is not fsize or no-file" "${G[@]}" --resource-limit nofile=5
refuse "rlimit not a number" "'12k' is not a number" "${G[@]}" --resource-limit fsize=12k
umount "$TMP/nodev"

# --- Failing half-way: the step is named, what it made is removed --------
# left EXEC ID: what of the jail is still on disk (dirs, cgroups).
left() { ls -d "$BASE/$1/$2" "$BASE/$1" "$CG"/*/"$PARENT-f"/"$2" "$CG"/*/"$PARENT-f" 2>/dev/null | xargs; }
# undone NAME EXEC ID REGEX: exit 1, the step's line, nothing left.
undone() {
	if [ "$RC" != 1 ]; then
		bad "$1" "exit $RC, want 1"
	elif ! grep -Eq -- "$4" "$TMP/err"; then
		bad "$1" "stderr lacks /$4/"
	elif grep -q 'undo:' "$TMP/err"; then
		bad "$1" "undo failed: $(grep undo: "$TMP/err")"
	elif [ -n "$(left "$2" "$3")" ]; then
		bad "$1" "left behind: $(left "$2" "$3")"
	else ok "$1: $(head -1 "$TMP/err"); all undone"; fi
}
# fail ID EXEC-FILE ARGS...: a jail that must fail half-way.
fail() {
	local id=$1 exe=$2
	shift 2
	timeout 10 "$JAILER" --id "$id" --exec-file "$exe" --uid "$JUID" --gid "$JGID" \
		--chroot-base-dir "$BASE" --parent-cgroup "${PCG:-$PARENT-f}" "$@" -- --kernel /probe.elf \
		</dev/null >"$TMP/out" 2>"$TMP/err"
	RC=$?
}
rm -rf "$BASE/wisp"
cp "$WISP" "$TMP/wisp700" && chmod 0700 "$TMP/wisp700" # root's: the uid cannot exec it
CGS=(--cgroup memory.limit_in_bytes=100000000 --cgroup pids.max=16)
fail f1 "$TMP/wisp700" "${CGS[@]}"
undone "exec a file the uid may not run" wisp700 f1 "exec /wisp700 in the jail as uid $JUID gid $JGID: Permission denied"
fail f2 "$TMP/wisp700" "${CGS[@]}" --daemonize --new-pid-ns
undone "the same after the fork" wisp700 f2 "exec /wisp700 in the jail as uid $JUID gid $JGID: Permission denied"
fail f3 "$WISP" --cgroup memory.limit_in_bytes=garbage
undone "a cgroup value the kernel refuses" wisp f3 "writing 'garbage' to $CG/memory/$PARENT-f/f3/memory.limit_in_bytes: Invalid argument"
fail f4 "$WISP" "${CGS[@]}" --resource-limit no-file=99999999
undone "an rlimit over the kernel's" wisp f4 "no-file=99999999: setrlimit: Operation not permitted"
if grep -qw hugetlb $CG/unified/cgroup.controllers 2>/dev/null; then
	fail f5 "$WISP" --cgroup-version 2 --cgroup hugetlb.2MB.max=garbage
	undone "a v2 value the kernel refuses" wisp f5 "hugetlb.2MB.max: Invalid argument"
fi
PCG=$PARENT-f/a/b fail f7 "$WISP" --cgroup cpuset.cpus=99999
undone "nested parents this run made" wisp f7 "cpuset.cpus: Numerical result out of range"
# A root the caller prepared keeps its files, owner and mode.
mkdir -p "$BASE/wisp/f6/root" && cp "$PROBE" "$BASE/wisp/f6/root/probe.elf" && chmod 0750 "$BASE/wisp/f6/root"
fail f6 "$WISP" --cgroup memory.limit_in_bytes=garbage
expect_rc "failure in a prepared root" 1
check "the caller's root is as it was" "0:0 750 probe.elf" \
	"$(stat -c '%u:%g %a' "$BASE/wisp/f6/root") $(ls "$BASE/wisp/f6/root" | xargs)"
rm -rf "$BASE/wisp"
# The same for a failed exec: undone from inside the jail's namespaces.
mkdir -p "$BASE/wisp700/f8/root" && cp "$PROBE" "$BASE/wisp700/f8/root/probe.elf" && chmod 0750 "$BASE/wisp700/f8/root"
fail f8 "$TMP/wisp700" "${CGS[@]}"
expect_rc "failed exec in a prepared root" 1
check "the caller's root is as it was after a failed exec" "0:0 750 probe.elf" \
	"$(stat -c '%u:%g %a' "$BASE/wisp700/f8/root") $(ls "$BASE/wisp700/f8/root" | xargs)"
rm -rf "$BASE/wisp700"

# --- A base others can write: the jail is never built through a link ---
# STICKY is as /tmp: root's, sticky, world-writable. ATT is another user
# who may create names there, such as the jailer's <base>/wisp: a link to
# VICTIM (a root-owned directory like /etc), or a directory of ATT's own
# whose entries ATT could later swap. The jailer refuses those, at its
# check or while building; VICTIM and ATT's directory stay empty.
ATT=$((JUID + 2))
as_att() { setpriv --reuid "$ATT" --regid "$ATT" --clear-groups "$@"; }
empty() { # empty NAME DIR
	if [ -d "$2" ] && [ -z "$(ls -A "$2")" ]; then ok "$1: ${2#"$TMP"/} is empty"
	else bad "$1" "${2#"$TMP"/} holds: $(ls -A "$2" 2>&1 | xargs)"; fi
}
STICKY=$TMP/sticky
VICTIM=$TMP/victim
chmod 0711 "$TMP" # ATT reaches STICKY as it would reach /tmp
mkdir -p "$STICKY" "$VICTIM" "$TMP/other" "$TMP/att/d"
chmod 1777 "$STICKY" "$TMP/other"
chown "$ATT:$ATT" "$TMP/other" "$TMP/att" "$TMP/att/d"
as_att ln -s "$VICTIM" "$TMP/other/wisp"
refuse "a sticky base another user owns" "$TMP/other \(owner $ATT, mode 1777\) must be root's" \
	"${G[@]:0:8}" --chroot-base-dir "$TMP/other"
empty "a sticky base another user owns" "$VICTIM"
as_att ln -s "$VICTIM" "$STICKY/wisp"
refuse "another user's link as <base>/wisp" "$STICKY/wisp is a symlink \(owner $ATT\): the jail is never built through a link" \
	"${G[@]:0:8}" --chroot-base-dir "$STICKY"
empty "another user's link as <base>/wisp" "$VICTIM"
as_att rm "$STICKY/wisp"
as_att mkdir "$STICKY/wisp"
refuse "another user's directory as <base>/wisp" "$STICKY/wisp \(owner $ATT, mode [0-7]+\) must be root's" \
	"${G[@]:0:8}" --chroot-base-dir "$STICKY"
empty "another user's directory as <base>/wisp" "$STICKY/wisp"
as_att rmdir "$STICKY/wisp"
as_att ln -s "$VICTIM" "$STICKY/jails"
refuse "a base given through another user's link" "$STICKY/jails is a symlink \(owner $ATT\)" \
	"${G[@]:0:8}" --chroot-base-dir "$STICKY/jails"
empty "a base given through another user's link" "$VICTIM"
as_att rm "$STICKY/jails"
# root's links are followed, relative paths are below the cwd.
ln -s base "$TMP/rootlink"
(cd "$TMP" && timeout 30 "$JAILER" --id viaroot --exec-file "$WISP" --uid "$JUID" --gid "$JGID" \
	--chroot-base-dir rootlink -- --version </dev/null >"$TMP/out" 2>"$TMP/err")
RC=$?
expect_rc "a base through root's link, relative" 0
if [ -f "$BASE/wisp/viaroot/root/wisp" ]; then ok "the jail is in the link's target"
else bad "through root's link" "no $BASE/wisp/viaroot/root/wisp"; fi
forget viaroot

# The race: ATT keeps making <base>/wisp a link to VICTIM, then its own
# directory, then nothing, while the jailer runs 40 times. Whatever it
# meets, the jailer refuses, undoing what it made, or builds the jail in
# a directory of its own; nothing ever lands in VICTIM or ATT's one.
rm -f "$TMP/stop"
as_att bash -c 'while [ ! -e "$1/stop" ]; do
	ln -s "$2" "$3/wisp" 2>/dev/null && rm -f "$3/wisp"
	mv -T "$4" "$3/wisp" 2>/dev/null && mv -T "$3/wisp" "$4"
done' swap "$TMP" "$VICTIM" "$STICKY" "$TMP/att/d" &
SWAP=$!
PIDS+=("$SWAP")
built=0 checked=0 building=0 wrong=""
# Root's <base>/wisp: no other user can swap it (sticky), so the test may
# look into it and remove it; ATT's is left to ATT.
roots() { [ -d "$STICKY/wisp" ] && [ ! -L "$STICKY/wisp" ] && [ "$(stat -c %u "$STICKY/wisp" 2>/dev/null)" = 0 ]; }
for i in $(seq 40); do
	timeout 30 "$JAILER" --id "race$i" --exec-file "$WISP" --uid "$JUID" --gid "$JGID" \
		--chroot-base-dir "$STICKY" -- --version </dev/null >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" = 0 ]; then
		built=$((built + 1))
		roots && [ -f "$STICKY/wisp/race$i/root/wisp" ] ||
			wrong+=" run $i: exit 0 but no jail in a root-owned $STICKY/wisp;"
	elif [ "$rc" = 1 ] || [ "$rc" = 2 ]; then
		[ "$rc" = 2 ] && checked=$((checked + 1)) || building=$((building + 1))
		grep -q 'undo:' "$TMP/err" && wrong+=" run $i: $(grep undo: "$TMP/err");"
		roots && [ -e "$STICKY/wisp/race$i" ] && wrong+=" run $i: exit $rc left $STICKY/wisp/race$i;"
	else
		wrong+=" run $i: exit $rc: $(head -1 "$TMP/err");"
	fi
	roots && rm -rf "$STICKY/wisp"
done
touch "$TMP/stop"
wait "$SWAP"
if [ -z "$wrong" ]; then ok "40 jails while <base>/wisp is swapped: $built built, refused $checked at the check, $building while building"
else bad "jails while <base>/wisp is swapped" "$wrong"; fi
empty "the race" "$VICTIM"
empty "the race" "$TMP/att/d"

summary jailer
