#!/usr/bin/env bash
# Snapshot host tools, no KVM needed: wisp-snap (info, merge), wisp's
# flags that answer without a VM (--describe-snapshot, --version), and
# uffd-handler serving tests/uffd_client.c, which maps memory as wisp
# does and hands it over with uffd_attach() (4 KiB pages, 2 MiB pages,
# REMOVE events, hugetlbfs when huge pages can be reserved), then the
# errors on both sides.
set -u
: "${WISP_SNAP:?path to wisp-snap}" "${UFFD_HANDLER:?path to uffd-handler}"
: "${UFFD_CLIENT:?path to uffd_client}" "${WISP:?path to wisp}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# mem_file PATH PAGES: 4 KiB pages of a pattern of their own, every third
# one left zero (a hole, as snap_mem_write leaves it).
mem_file() {
	python3 - "$1" "$2" <<'PY'
import sys
path, pages = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for i in range(pages):
        if i % 3 == 0:
            f.seek(4096, 1)
        else:
            f.write(bytes((i * 7 + k) & 0xFF for k in range(256)) * 16)
    f.truncate()
PY
}

# --- wisp-snap ---------------------------------------------------------
python3 -c "
import sys; sys.path.insert(0, '$here/../fuzz'); import snap_seeds as s
open('$TMP/state', 'wb').write(s.state_file(
    [(0x55504356, 0, b'x' * 100), (0x55504356, 1, b'y' * 9), (7, 0, b'')]))
"
"$WISP_SNAP" info "$TMP/state" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "info" 0
expect_line "info" out "format version 2, 208 bytes, 3 sections, 109 bytes of payload"
expect_line "info" out '0x55504356 "VCPU" +1 +152 +9$'
printf 'WISPSNAP\003\0\0\0' >"$TMP/v3"
head -c 64 /dev/zero >>"$TMP/v3"
cp "$TMP/state" "$TMP/flipped"
printf 'X' | dd of="$TMP/flipped" bs=1 seek=40 conv=notrunc status=none
for bad in v3:"format version 3; this wisp reads versions 1 to 2" \
	none:"No such file or directory" flipped:"is corrupted"; do
	f=${bad%%:*}
	"$WISP_SNAP" info "$TMP/$f" >"$TMP/out" 2>"$TMP/err"
	RC=$?
	expect_rc "info $f" 2
	expect_line "info $f" err "${bad#*:}"
done
"$WISP_SNAP" frobnicate >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "usage" 2

# merge: the diff's data extents land on the base, holes leave it alone.
mem_file "$TMP/base" 64
python3 - "$TMP/diff" "$TMP/want" "$TMP/base" <<'PY'
import sys
diff, want, base = sys.argv[1:]
data = bytearray(open(base, "rb").read())
with open(diff, "wb") as f:
    f.truncate(len(data))
    for page in (0, 5, 6, 63):
        new = bytes([page | 0x80]) * 4096 if page != 6 else bytes(4096)
        f.seek(page * 4096)
        f.write(new)
        data[page * 4096:(page + 1) * 4096] = new
open(want, "wb").write(data)
PY
"$WISP_SNAP" merge "$TMP/base" "$TMP/diff" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "merge" 0
if cmp -s "$TMP/base" "$TMP/want"; then ok "merge: base now holds the diff's pages"; else bad "merge" "base differs from the expected image"; fi
"$WISP_SNAP" merge "$TMP/base" "$TMP/nodiff" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "merge, no diff" 1
expect_line "merge, no diff" err "cannot open diff '.*nodiff': No such file or directory"

# --- uffd-handler and uffd_attach() --------------------------------------
SOCK=$TMP/uffd.sock
HPID=

# start_handler MEMFILE: in the background, waits for its socket.
start_handler() {
	rm -f "$SOCK"
	"$UFFD_HANDLER" "$SOCK" "$1" >"$TMP/h.out" 2>"$TMP/h.err" &
	HPID=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && return 0
		sleep 0.05
	done
	bad "handler" "no socket at $SOCK"
}

# run_client NAME WANT_RC ARGS...: the client, then the handler's end.
run_client() {
	local name=$1 want=$2
	shift 2
	# In a subshell: the VM the handler kills is not reported as Killed.
	(
		timeout --kill-after=5 20 "$UFFD_CLIENT" "$@" >"$TMP/out" 2>"$TMP/err"
		echo $? >"$TMP/rc"
	) 2>/dev/null
	RC=$(cat "$TMP/rc")
	expect_rc "$name" "$want"
}

# wait_handler NAME WANT_RC: the handler exits once the client is gone.
wait_handler() {
	local i rc
	for i in $(seq 100); do
		kill -0 "$HPID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$HPID" 2>/dev/null; then
		kill "$HPID"
		bad "$1" "the handler outlived its VM"
	fi
	wait "$HPID"
	rc=$?
	if [ "$rc" = "$2" ]; then ok "$1: handler exit $2"; else bad "$1" "handler exit $rc, want $2"; cat "$TMP/h.err"; fi
}

mem_file "$TMP/mem" 1024
start_handler "$TMP/mem"
run_client "4 KiB pages" 0 "$SOCK" "$TMP/mem" 4096
expect_line "4 KiB pages" out "1024 pages of 4096 bytes checked"
wait_handler "4 KiB pages" 0
expect_line "4 KiB pages" h.out "serving '.*mem' to pid [0-9]+: 1 region\(s\), 4096-byte pages"
expect_line "4 KiB pages" h.out "exited; [0-9]+ faults: 1024 pages copied from the file, 0 zero pages"
[ ! -e "$SOCK" ] && ok "4 KiB pages: socket removed once connected" || bad "socket" "still there"

start_handler "$TMP/mem"
run_client "2 MiB at a time" 0 "$SOCK" "$TMP/mem" 2097152
expect_line "2 MiB at a time" out "2 pages of 2097152 bytes checked"
wait_handler "2 MiB at a time" 0
expect_line "2 MiB at a time" h.out "exited; [0-9]+ faults: 2 pages copied from the file"

start_handler "$TMP/mem"
run_client "REMOVE events" 0 "$SOCK" "$TMP/mem" 4096 remove
wait_handler "REMOVE events" 0
expect_line "REMOVE events" h.out "4 zero pages, .*; 1 removed"

# hugetlbfs: a few huge pages reserved for the test, the old count back.
old_huge=$(cat /proc/sys/vm/nr_hugepages)
trap 'echo "$old_huge" >/proc/sys/vm/nr_hugepages 2>/dev/null; rm -rf "$TMP"' EXIT
if echo $((old_huge + 4)) >/proc/sys/vm/nr_hugepages 2>/dev/null &&
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge $((old_huge + 4)) ]; then
	start_handler "$TMP/mem"
	run_client "hugetlbfs" 0 "$SOCK" "$TMP/mem" 2097152 hugetlb
	wait_handler "hugetlbfs" 0
	expect_line "hugetlbfs" h.out "2 pages copied from the file"
else
	bad "hugetlbfs" "cannot reserve 4 huge pages in /proc/sys/vm/nr_hugepages"
fi
echo "$old_huge" >/proc/sys/vm/nr_hugepages 2>/dev/null

# The VMM's errors: no handler, a stale socket, a path too long.
rm -f "$SOCK"
run_client "no handler" 2 "$SOCK" "$TMP/mem" 4096
expect_line "no handler" err "cannot connect to the page-fault handler at '.*uffd.sock': No such file or directory \(is the handler running\?\)"
python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$SOCK')"
run_client "stale socket" 2 "$SOCK" "$TMP/mem" 4096
expect_line "stale socket" err "Connection refused"
long=$TMP/$(printf 'x%.0s' $(seq 120))
run_client "long path" 2 "$long" "$TMP/mem" 4096
expect_line "long path" err "uffd socket path '.*' is [0-9]+ bytes; a Unix socket path holds 1 to 107"

# The handler's: a memory file too small for the VM (which it kills,
# since that VM could only hang), a message that is not the protocol.
mem_file "$TMP/small" 16
start_handler "$TMP/small"
run_client "memory file too small" 137 "$SOCK" "$TMP/mem" 4096
wait_handler "memory file too small" 1
expect_line "memory file too small" h.err "region 0 wants \[0x0, \+0x400000\) of the memory file, which has 0x10000 bytes; killing the VM"

start_handler "$TMP/mem"
(
	python3 - "$SOCK" <<'PY' >"$TMP/out" 2>&1
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
socket.send_fds(s, [b'{"not": "a list"}'], [os.open("/dev/null", os.O_RDONLY)])
time.sleep(10)
PY
	echo $? >"$TMP/rc"
) 2>/dev/null
RC=$(cat "$TMP/rc")
expect_rc "garbage message" 137
wait_handler "garbage message" 1
expect_line "garbage message" h.err "not a list of 1 to 64 regions"

"$UFFD_HANDLER" "$SOCK" "$TMP/none" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "handler, no memory file" 2
expect_line "handler, no memory file" err "cannot use memory file '.*none': No such file or directory"
"$UFFD_HANDLER" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "handler usage" 2

# --- wisp's answers without a VM ---------------------------------------
xz -dc "$here/fixtures/snap-v1/v1.state.xz" >"$TMP/v1.state"
"$WISP" --describe-snapshot "$TMP/v1.state" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "--describe-snapshot" 0
expect_line "--describe-snapshot" out '^v1\.0\.0$'
expect_line "--describe-snapshot" out '^format version 1, written by wisp 0\.1\.0; 1 vCPUs, 8 MiB of RAM'
head -c 100 "$TMP/v1.state" >"$TMP/cut.state"
"$WISP" --describe-snapshot "$TMP/cut.state" >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "--describe-snapshot of a cut file" 1
expect_line "--describe-snapshot of a cut file" err 'cut.state'
"$WISP" --snapshot-version >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "--snapshot-version" 0
expect_line "--snapshot-version" out '^v2\.0\.0$'
# Kata reads the first line as "<name> v<semver>", at least 0.21.1; an
# unknown flag before --version does not matter (Firecracker's parser).
"$WISP" --no-such-flag --version >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "--version" 0
expect_line "--version" out '^wisp v[0-9]+\.[0-9]+\.[0-9]+$'
"$WISP" --enable-pci >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "--enable-pci" 2
expect_line "--enable-pci" err 'virtio-mmio only'
"$WISP" --seccomp-filter /nonexistent.json >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "--seccomp-filter of a missing file" 2
expect_line "--seccomp-filter of a missing file" err '^wisp: --seccomp-filter /nonexistent.json: No such file or directory$'

summary snap
