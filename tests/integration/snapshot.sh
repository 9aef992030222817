#!/usr/bin/env bash
# Snapshot tier: PUT /snapshot/create and /snapshot/load with the probe
# guest's count scenario (a counter printed line by line, a 256 KiB
# pattern checked a page a line, each number written to and read back
# from a virtio-blk drive). A restore must carry on counting from the
# number it stopped at, never boot again, never find the pattern changed;
# clones of one snapshot run side by side on drives of their own; Diff
# snapshots merge onto their base; the Uffd backend serves the memory;
# and every bad file is refused with a message, the process left ready to
# load a good one. A snapshot cut short between its two files is refused,
# not run. A snapshot of the previous state file format (a fixture with a
# drive, a tap and vsock) loads with every field and goes on; hostile
# configuration sections of both formats are refused with their reason.
set -u
: "${WISP:?path to wisp (the test build)}" "${PROBE:?path to probe.elf}"
: "${WISP_SNAP:?path to wisp-snap}" "${UFFD_HANDLER:?path to uffd-handler}"
PROBE=$(realpath "$PROBE")
WISP=$(realpath "$WISP")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
declare -A VPID
SMALL=$TMP/small
NS=wisp-snap-$$
trap 'for p in "${VPID[@]}"; do kill -9 "$p" 2>/dev/null; done
	mountpoint -q "$SMALL" && umount "$SMALL"; ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"' EXIT

# vm NAME [wisp args]: a wisp serving the API on $TMP/NAME.sock, output
# in $TMP/NAME.raw and .err; the api helper then talks to it.
vm() {
	local n=$1
	shift
	SOCK=$TMP/$n.sock
	rm -f "$SOCK"
	"$WISP" --api-sock "$SOCK" --id "$n" "$@" </dev/null >"$TMP/$n.raw" 2>"$TMP/$n.err" &
	VPID[$n]=$!
	wait_api "$SOCK" "${VPID[$n]}"
}
use() { SOCK=$TMP/$1.sock; }
# The count lines NAME printed, whole lines only.
counts() { tr -d '\r' <"$TMP/$1.raw" | sed -n 's/^probe: count \([0-9][0-9]*\)$/\1/p'; }
last() { counts "$1" | tail -n 1; }
first() { counts "$1" | head -n 1; }
# wait_count NAME N: until NAME has printed count N (20 s at most).
wait_count() {
	for _ in $(seq 400); do
		[ "$(last "$1")" -ge "$2" ] 2>/dev/null && return 0
		kill -0 "${VPID[$1]}" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
stop() { kill -9 "${VPID[$1]}" 2>/dev/null; wait "${VPID[$1]}" 2>/dev/null; unset "VPID[$1]"; }
# The number sector 1 of a drive holds (the guest's last count write).
on_disk() { od -An -t u8 -j 512 -N 8 "$1" | tr -d ' '; }
# The drive belongs with the snapshot: a restored guest may be between
# writing sector 1 and reading it back. keep_disk SNAP copies the drive
# as it is at a snapshot, disk_back SNAP puts that copy back.
keep_disk() { cp --sparse=always "$TMP/disk.img" "$TMP/$1.disk"; }
disk_back() { cp --sparse=always "$TMP/$1.disk" "$TMP/disk.img"; }
# A VM's output as bad() shows it.
show() { tr -d '\r' <"$TMP/$1.raw" >"$TMP/out"; cp "$TMP/$1.err" "$TMP/err"; }

# boot_count NAME DISK [machine-config]: configure, start, count to 20.
boot_count() {
	: >"$TMP/$1.metrics"
	vm "$1" --metrics-path "$TMP/$1.metrics" || return 1
	api PUT /machine-config "${3:-{\"vcpu_count\": 2, \"mem_size_mib\": 128\}}"
	expect "$1: machine-config" 204
	api PUT /boot-source "{\"kernel_image_path\": \"$PROBE\", \"boot_args\": \"probe=count blk=1\"}"
	expect "$1: boot-source" 204
	api PUT /drives/d "{\"drive_id\": \"d\", \"path_on_host\": \"$2\", \"is_root_device\": false, \"is_read_only\": false}"
	expect "$1: drive" 204
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect "$1: InstanceStart" 204
	if wait_count "$1" 20; then ok "$1: counts"; else show "$1"; bad "$1" "never counted to 20"; fi
}
pause() { api PATCH /vm '{"state": "Paused"}'; expect "$1: pause" 204; }
resume() { api PATCH /vm '{"state": "Resumed"}'; expect "$1: resume" 204; }
# create NAME TYPE STATE MEM
create() {
	api PUT /snapshot/create "{\"snapshot_type\": \"$2\", \"snapshot_path\": \"$3\", \"mem_file_path\": \"$4\"}"
}
# load STATE MEM [RESUME [EXTRA-JSON]]: File backend.
load() {
	api PUT /snapshot/load "{\"snapshot_path\": \"$1\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$2\"}, \"resume_vm\": ${3:-true}${4:+, $4}}"
}
# goes_on NAME FROM: NAME's first whole line is FROM + 1, or FROM + 2
# when the snapshot caught a line half printed; it did not boot again,
# the pattern held, and it counts on 20 more.
goes_on() {
	local f
	wait_count "$1" $(($2 + 20))
	f=$(first "$1")
	if [ -n "$f" ] && [ "$f" -ge $(($2 + 1)) ] && [ "$f" -le $(($2 + 2)) ] &&
		[ "$(last "$1")" -ge $(($2 + 20)) ] && ! grep -q 'count ready\|FAIL' "$TMP/$1.raw"; then
		ok "$1: goes on counting from $2 (first line $f, then to $(last "$1"))"
	else
		show "$1"
		bad "$1: goes on from $2" "first whole line '${f}', last '$(last "$1")'"
	fi
}

"$here/../../rootfs-tools/mkdisk.sh" "$TMP/disk.img" 1 >/dev/null

# --- The rules: when a snapshot is taken or loaded, and bad bodies ------
vm early || exit 1
create early Full "$TMP/x.state" "$TMP/x.mem"
fault_has "create before start" 400 "not supported before starting"
stop early

boot_count a "$TMP/disk.img" || exit 1
create a Full "$TMP/x.state" "$TMP/x.mem"
fault_has "create while Running" 400 "Paused microVM (it is Running)"
pause a
api PUT /snapshot/create "{\"snapshot_path\": \"$TMP/x.state\"}"
fault_has "create without mem_file_path" 400 "missing field 'mem_file_path'"
create a Partial "$TMP/x.state" "$TMP/x.mem"
fault_has "snapshot_type Partial" 400 "snapshot_type 'Partial' is not Full or Diff"
create a Full "$TMP/x.state" "$TMP/x.state"
fault_has "one file for both" 400 "are the same file"
create a Full "$TMP/nodir/x.state" "$TMP/x.mem"
fault_has "no such directory" 400 "No such file or directory"
create a Diff "$TMP/x.state" "$TMP/x.mem"
fault_has "Diff without dirty tracking" 400 "needs track_dirty_pages"
load "$TMP/x.state" "$TMP/x.mem"
fault_has "load after start" 400 "not supported after starting"
[ ! -e "$TMP/x.mem" ] && [ -z "$(ls "$TMP" | grep '\.tmp\.')" ] &&
	ok "failed creates left no files" || bad "failed creates" "$(ls "$TMP")"

# --- Full snapshot, kill, restore: the guest goes on -------------------
create a Full "$TMP/s1.state" "$TMP/s1.mem"
expect "create Full" 204
keep_disk s1
N1=$(last a)
api PUT /actions '{"action_type": "FlushMetrics"}'
if jq -se 'map(select(.api_server)) | last | .latencies_us.full_create_snapshot > 0 and .put_api_requests.snapshot_create_fails >= 5 and .put_api_requests.snapshot_create_count - .put_api_requests.snapshot_create_fails == 1' "$TMP/a.metrics" >/dev/null; then
	ok "metrics: the create's latency and the counts ($(jq -s 'last | .latencies_us.full_create_snapshot' "$TMP/a.metrics") us)"
else
	bad "metrics" "$(tail -c 400 "$TMP/a.metrics")"
fi
sz=$(stat -c %s "$TMP/s1.mem")
used=$(du -k "$TMP/s1.mem" | cut -f1)
[ "$sz" = $((128 << 20)) ] && [ "$used" -lt 4096 ] &&
	ok "memory file: 128 MiB, $used KiB of it allocated (zero pages are holes)" ||
	bad "memory file" "$sz bytes, $used KiB allocated"
# The VM a snapshot was taken of goes on as it was.
resume a
wait_count a $((N1 + 10)) && ok "a: counts on after the snapshot" || bad "a after create" "stuck at $(last a)"
stop a
"$WISP_SNAP" info "$TMP/s1.state" >"$TMP/out" 2>&1
grep -q 'format version 2' "$TMP/out" && ok "wisp-snap info reads the state file" ||
	bad "wisp-snap info" "$(head -n 3 "$TMP/out")"

vm b || exit 1
disk_back s1
load "$TMP/s1.state" "$TMP/s1.mem"
expect "load, resume_vm" 204
goes_on b "$N1"
api GET /
expect "b: Running" 200 '.state == "Running"'
api GET /machine-config
expect "b: the snapshot's machine" 200 '.vcpu_count == 2 and .mem_size_mib == 128'
stop b
d=$(on_disk "$TMP/disk.img")
[ "$d" -gt "$N1" ] 2>/dev/null && ok "b: its drive works after the restore (sector 1 holds $d)" ||
	bad "b: drive" "sector 1 holds '$d', the snapshot was at $N1"

# --- Clones: paused, each given a drive of its own, resumed -----------
# c2 asks for kvmclock to move on by the wall-clock time since the
# snapshot: KVM gives that time only on some hosts (a TSC-stable master
# clock), and a snapshot without it is refused as Firecracker refuses it,
# leaving the process ready for a load without it. c3 asks for
# transparent huge pages instead of the snapshot's None.
extra_c2='"clock_realtime": true'
extra_c3='"huge_pages": "Transparent"'
for c in c1 c2 c3; do
	cp --sparse=always "$TMP/s1.disk" "$TMP/$c.img"
	vm "$c" || exit 1
	eval "extra=\${extra_$c:-}"
	load "$TMP/s1.state" "$TMP/s1.mem" false "$extra"
	if [ "$c" = c2 ] && [ "$STATUS" = 400 ]; then
		fault_has "c2: clock_realtime refused: the snapshot has no wall-clock time" 400 "holds no wall-clock time"
		load "$TMP/s1.state" "$TMP/s1.mem" false
	fi
	expect "$c: load paused${extra:+ ($extra)}" 204
	api GET /
	expect "$c: Paused" 200 '.state == "Paused"'
	api PATCH /drives/d "{\"drive_id\": \"d\", \"path_on_host\": \"$TMP/$c.img\"}"
	expect "$c: its own drive" 204
done
api GET /machine-config
expect "c3: huge_pages Transparent instead of the snapshot's" 200 '.huge_pages == "Transparent"'

sleep 0.3
[ -z "$(first c1)" ] && ok "a paused clone runs nothing" || bad "paused clone" "it printed $(first c1)"
before=$(on_disk "$TMP/disk.img")
for c in c1 c2 c3; do
	use "$c"
	resume "$c"
done
for c in c1 c2 c3; do goes_on "$c" "$N1"; done
for c in c1 c2 c3; do
	stop "$c"
	d=$(on_disk "$TMP/$c.img")
	[ "$d" -gt "$N1" ] 2>/dev/null && ok "$c: wrote its own drive ($d)" || bad "$c: drive" "sector 1 holds '$d'"
done
[ "$(on_disk "$TMP/disk.img")" = "$before" ] && ok "the clones left the snapshot's drive alone" ||
	bad "clones" "the original drive changed"

# --- Diff snapshots: Full, then Diff, merged; and a Diff of a restore --
boot_count d "$TMP/disk.img" '{"vcpu_count": 1, "mem_size_mib": 128, "track_dirty_pages": true}' || exit 1
pause d
create d Full "$TMP/base.state" "$TMP/base.mem"
expect "d: Full" 204
keep_disk base
resume d
wait_count d $(($(last d) + 20))
pause d
create d Diff "$TMP/diff.state" "$TMP/diff.mem"
expect "d: Diff" 204
keep_disk diff
N2=$(last d)
stop d
bu=$(du -k "$TMP/base.mem" | cut -f1)
du=$(du -k "$TMP/diff.mem" | cut -f1)
[ "$du" -lt "$bu" ] && [ "$(stat -c %s "$TMP/diff.mem")" = $((128 << 20)) ] &&
	ok "the Diff holds $du KiB (the Full $bu KiB)" || bad "Diff size" "$du KiB, Full $bu KiB"
vm e || exit 1
load "$TMP/diff.state" "$TMP/diff.mem"
fault_has "an unmerged Diff" 400 "holds only a Diff's pages: merge it"
load "$TMP/diff.state" "$TMP/base.mem"
fault_has "the Diff's state on its unmerged base" 400 "belongs to another snapshot"
cp "$TMP/base.mem" "$TMP/base-copy.mem" # untagged: cp keeps no xattrs
if "$WISP_SNAP" merge "$TMP/base.mem" "$TMP/diff.mem" >"$TMP/out" 2>&1; then
	ok "wisp-snap merge"
else
	bad "wisp-snap merge" "$(cat "$TMP/out")"
fi
disk_back diff
load "$TMP/diff.state" "$TMP/base.mem" true '"track_dirty_pages": true'
expect "load the merged Diff" 204
goes_on e "$N2"
# A Diff of the restored VM holds what it wrote since the load.
pause e
create e Diff "$TMP/diff2.state" "$TMP/diff2.mem"
expect "e: Diff after a restore" 204
keep_disk diff2
N3=$(last e)
stop e
"$WISP_SNAP" merge "$TMP/base.mem" "$TMP/diff2.mem" >"$TMP/out" 2>&1 || bad "second merge" "$(cat "$TMP/out")"
vm e2 || exit 1
load "$TMP/base.state" "$TMP/base.mem"
fault_has "the first state on the merged file" 400 "belongs to another snapshot"
disk_back diff2
load "$TMP/diff2.state" "$TMP/base.mem"
expect "load after two merges" 204
goes_on e2 "$N3"
stop e2
# The copy had no tag: the merge gives it the diff's.
"$WISP_SNAP" merge "$TMP/base-copy.mem" "$TMP/diff.mem" >"$TMP/out" 2>&1 || bad "merge untagged" "$(cat "$TMP/out")"
vm e3 || exit 1
disk_back diff
load "$TMP/diff.state" "$TMP/base-copy.mem"
expect "merge onto an untagged copy" 204
goes_on e3 "$N2"
stop e3

# --- Bad files: refused with a message, the process still usable ------
cp "$TMP/s1.state" "$TMP/bad.state"
head -c $(($(stat -c %s "$TMP/s1.state") / 2)) "$TMP/s1.state" >"$TMP/trunc.state"
head -c 4096 /dev/urandom >"$TMP/random.state"
cp "$TMP/s1.state" "$TMP/flip.state"
printf '\xff' | dd of="$TMP/flip.state" bs=1 seek=3000 conv=notrunc 2>/dev/null
cp "$TMP/s1.state" "$TMP/v3.state"
printf '\x03' | dd of="$TMP/v3.state" bs=1 seek=8 conv=notrunc 2>/dev/null
: >"$TMP/empty.state"
cp --sparse=always "$TMP/s1.mem" "$TMP/short.mem"
truncate -s 64M "$TMP/short.mem"
vm f0 || exit 1
api PUT /boot-source "{\"kernel_image_path\": \"$PROBE\"}"
load "$TMP/s1.state" "$TMP/s1.mem"
fault_has "load after configuring a kernel" 400 "not allowed after configuring boot-specific resources"
stop f0
vm f || exit 1
load "$TMP/none.state" "$TMP/s1.mem"
fault_has "no state file" 400 "No such file"
load "$TMP/trunc.state" "$TMP/s1.mem"
fault_has "truncated state file" 400 "trunc.state"
load "$TMP/random.state" "$TMP/s1.mem"
fault_has "random bytes" 400 "is not a wisp snapshot"
load "$TMP/flip.state" "$TMP/s1.mem"
fault_has "a flipped byte" 400 "is corrupted (CRC-64"
load "$TMP/v3.state" "$TMP/s1.mem"
fault_has "a newer format version" 400 "format version 3; this wisp reads versions 1 to 2"
load "$TMP/empty.state" "$TMP/s1.mem"
fault_has "an empty file" 400 "too short to be a wisp snapshot"
load "$TMP" "$TMP/s1.mem"
fault_has "a directory" 400 "not a regular file"
load "$TMP/s1.state" "$TMP/short.mem"
fault_has "memory file too short" 400 "67108864 bytes, the snapshot's guest has 134217728"
load "$TMP/s1.state" "$TMP/nomem"
fault_has "no memory file" 400 "No such file"
load "$TMP/s1.state" "$TMP/base-copy.mem"
fault_has "another snapshot's memory" 400 "belongs to another snapshot"
load "$TMP/s1.state" "$TMP/s1.mem" true '"network_overrides": [{"iface_id": "eth9", "host_dev_name": "tap9"}]'
fault_has "override of no interface" 400 "the snapshot has no interface 'eth9'"
load "$TMP/s1.state" "$TMP/s1.mem" true "\"vsock_override\": {\"uds_path\": \"$TMP/v.sock\"}"
fault_has "vsock override, no vsock" 400 "has no vsock device"
api PUT /snapshot/load "{\"snapshot_path\": \"$TMP/s1.state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$TMP/nouffd.sock\"}}"
fault_has "Uffd, no handler" 400 "nouffd.sock"
api GET /
expect "f: still Not started" 200 '.state == "Not started"'
api GET /vm/config
expect "f: the failed loads left the configuration alone" 200 '.["machine-config"].vcpu_count == 1 and (.drives | length) == 0'
disk_back s1
load "$TMP/s1.state" "$TMP/s1.mem"
expect "f: then a good load" 204
goes_on f "$N1"
stop f
grep -q 'AddressSanitizer\|runtime error' "$TMP"/*.err && bad "sanitizers" "$(grep -l 'AddressSanitizer\|runtime error' "$TMP"/*.err)" ||
	ok "no sanitizer reports so far"

# --- Hostile state files: valid containers, changed payloads -----------
# Bytes changed in each section (the CRC made right again), so only the
# checks behind the container stand in the way. Each load either is
# refused with a message or loads; a loaded one is resumed for a moment
# and must run or end with one of wisp's own exit statuses, never a
# crash, a hang or a sanitizer report.
mkdir -p "$TMP/mut"
python3 "$here/snap_mutate.py" "$TMP/s1.state" "$TMP/mut" 6 7 >"$TMP/mutants"
refused=0 loaded=0 broken=0
vm m || exit 1
while read -r f; do
	use m
	load "$f" "$TMP/s1.mem" false
	case $STATUS in
	400) refused=$((refused + 1)) ;;
	204)
		loaded=$((loaded + 1))
		api PATCH /vm '{"state": "Resumed"}'
		sleep 0.2
		pid=${VPID[m]}
		if kill -0 "$pid" 2>/dev/null; then
			api GET /
			[ "$STATUS" = 200 ] || { broken=$((broken + 1)); echo "     $f: the API stopped answering"; }
			stop m
		else
			wait "$pid"
			rc=$?
			unset "VPID[m]"
			[ "$rc" -le 4 ] || { broken=$((broken + 1)); echo "     $f: wisp ended with status $rc"; }
		fi
		vm m || exit 1
		;;
	*)
		broken=$((broken + 1))
		echo "     $f: status '$STATUS' $BODY"
		stop m
		vm m || exit 1
		;;
	esac
done <"$TMP/mutants"
stop m
n=$(wc -l <"$TMP/mutants")
[ "$broken" = 0 ] && [ $((refused + loaded)) = "$n" ] && [ "$refused" -gt 0 ] &&
	ok "$n hostile state files: $refused refused, $loaded loaded and ran or ended cleanly" ||
	bad "hostile state files" "$broken of $n broke wisp ($refused refused, $loaded loaded)"

# --- Format version 1: a snapshot of the wisp before, every field -----
# tests/integration/fixtures/snap-v1 (its README says how it was made):
# the configuration section is the raw structure of then. It loads in a
# network namespace with its tap and in the directory of its relative
# drive and vsock paths, shows the configuration the old wisp reported,
# and its guest goes on from count 32. Snapshotted again it is written
# as records (format version 2), which load the same.
FIX=$here/fixtures/snap-v1
V1=$TMP/v1
mkdir -p "$V1"
for f in v1.state v1.mem disk.img; do xz -dc "$FIX/$f.xz" >"$V1/$f"; done
# The guest's 256 KiB count pattern, zeroed in the fixture to keep it small.
python3 - "$V1/v1.mem" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0x1141A0)
    f.write(b"".join(struct.pack("<Q", (i * 0x9E3779B97F4A7C15 % 2**64) ^ 0x5157155151571551)
                     for i in range(32768)))
PY
cp --sparse=always "$V1/disk.img" "$V1/v1.disk"
v1_config() { jq -S '{"machine-config": .["machine-config"], drives, "network-interfaces": .["network-interfaces"], vsock}'; }
# vm1 NAME: a wisp as vm() does, in the namespace and the fixture's directory.
vm1() {
	SOCK=$TMP/$1.sock
	rm -f "$SOCK"
	(cd "$V1" && exec ip netns exec "$NS" "$WISP" --api-sock "$SOCK" --id "$1") </dev/null >"$TMP/$1.raw" 2>"$TMP/$1.err" &
	VPID[$1]=$!
	wait_api "$SOCK" "${VPID[$1]}"
}
if ip netns add "$NS" && ip netns exec "$NS" ip link set lo up &&
	ip netns exec "$NS" "$here/../../rootfs-tools/net-setup.sh" host-only wsnap0 172.16.9.1/24; then
	vm1 o1 || exit 1
	load "$V1/v1.state" "$V1/v1.mem"
	expect "format version 1: the previous wisp's snapshot loads" 204
	goes_on o1 32
	api GET /vm/config
	if [ "$STATUS" = 200 ] && diff <(v1_config <<<"$BODY") "$FIX/vm-config.json" >"$TMP/out"; then
		ok "format version 1: drive, interface, vsock and machine as the old wisp reported them"
	else
		bad "format version 1: the configuration" "$(head -c 600 "$TMP/out")"
	fi
	pause o1
	create o1 Full "$V1/v2.state" "$V1/v2.mem"
	expect "format version 1: snapshotted again" 204
	cp --sparse=always "$V1/disk.img" "$V1/v2.disk"
	NV=$(last o1)
	stop o1
	"$WISP_SNAP" info "$V1/v2.state" >"$TMP/out" 2>&1
	grep -q 'format version 2' "$TMP/out" && ok "written again as format version 2" ||
		bad "format version of the new file" "$(head -n 1 "$TMP/out")"
	vm1 o2 || exit 1
	cp --sparse=always "$V1/v2.disk" "$V1/disk.img"
	load "$V1/v2.state" "$V1/v2.mem"
	expect "format version 2 of that machine loads" 204
	goes_on o2 "$NV"
	api GET /vm/config
	if [ "$STATUS" = 200 ] && diff <(v1_config <<<"$BODY") "$FIX/vm-config.json" >"$TMP/out"; then
		ok "format version 2: every field through the records"
	else
		bad "format version 2: the configuration" "$(head -c 600 "$TMP/out")"
	fi
	stop o2

	# --- Hostile configuration sections: each refused with its reason ----
	# Records cut short, past the end, of unknown tags, values out of
	# range, for the records; wrong size, non-boolean bytes, unterminated
	# strings for the raw structure. A tag marked skippable loads.
	mkdir -p "$TMP/cmut"
	for st in v2 v1; do
		python3 "$here/snap_mutate.py" config "$V1/$st.state" "$TMP/cmut" >"$TMP/cmut-$st" ||
			bad "snap_mutate.py config $st" "it failed"
	done
	vm1 cm || exit 1
	while IFS=$'\t' read -r f want; do
		n=$(basename "$f" .state)
		mem=$V1/v2.mem
		case $n in v1-*) mem=$V1/v1.mem ;; esac
		use cm
		if [ "$want" = LOADS ]; then
			cp --sparse=always "$V1/v2.disk" "$V1/disk.img"
			load "$f" "$mem"
			expect "config $n: an unknown tag marked skippable is skipped" 204
			goes_on cm "$NV"
			stop cm
			vm1 cm || exit 1
		else
			load "$f" "$mem" false
			fault_has "config $n" 400 "$want"
		fi
	done < <(cat "$TMP/cmut-v2" "$TMP/cmut-v1")
	[ "$(wc -l <"$TMP/cmut-v2")" -ge 19 ] && [ "$(wc -l <"$TMP/cmut-v1")" -ge 5 ] ||
		bad "config mutants" "too few: $(wc -l "$TMP"/cmut-v*)"
	api GET /
	expect "cm: still Not started after the refusals" 200 '.state == "Not started"'
	cp --sparse=always "$V1/v1.disk" "$V1/disk.img"
	load "$V1/v1.state" "$V1/v1.mem"
	expect "cm: then the good file loads" 204
	goes_on cm 32
	stop cm
else
	bad "format version 1" "cannot make the network namespace $NS with the tap wsnap0"
fi

# --- The Uffd backend: pages served by uffd-handler --------------------
"$UFFD_HANDLER" "$TMP/uffd.sock" "$TMP/s1.mem" >"$TMP/uffd.out" 2>&1 &
hpid=$!
for _ in $(seq 100); do [ -S "$TMP/uffd.sock" ] && break; sleep 0.05; done
vm g || exit 1
disk_back s1
api PUT /snapshot/load "{\"snapshot_path\": \"$TMP/s1.state\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$TMP/uffd.sock\"}, \"resume_vm\": true}"
expect "load, Uffd backend" 204
goes_on g "$N1"
stop g
for _ in $(seq 100); do kill -0 "$hpid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$hpid" 2>/dev/null; then
	kill "$hpid"
	bad "uffd-handler" "still running after its VM ended"
else
	wait "$hpid"
	rc=$?
	[ "$rc" = 0 ] && ok "uffd-handler ends with its VM" || bad "uffd-handler" "exit $rc: $(tail -n 3 "$TMP/uffd.out")"
fi

# --- A create killed at each step: the pair at the paths restores ------
# The test build stops a create at a chosen point; wisp is killed there.
# Until the new state file is in place the old pair restores (from
# "<mem>.prev" once the new memory file is in); after, the new one.
for point in mem-tmp state-tmp mem state; do
	P=cut-$point
	vm hb || exit 1
	disk_back s1
	load "$TMP/s1.state" "$TMP/s1.mem"
	wait_count hb $((N1 + 5))
	pause hb
	create hb Full "$TMP/$P.state" "$TMP/$P.mem"
	keep_disk "$P"
	NH=$(last hb)
	stop hb
	WISP_SNAPSHOT_STALL=$point vm hs || exit 1
	disk_back "$P"
	load "$TMP/$P.state" "$TMP/$P.mem"
	wait_count hs $((NH + 5))
	pause hs
	NP=$(last hs)
	keep_disk "$P-new"
	create hs Full "$TMP/$P.state" "$TMP/$P.mem" &
	cpid=$!
	for _ in $(seq 200); do grep -q "stopped at $point " "$TMP/hs.err" && break; sleep 0.05; done
	grep -q "stopped at $point " "$TMP/hs.err" || bad "kill at $point" "the create never got there"
	stop hs
	wait "$cpid" 2>/dev/null
	if [ "$point" = state ]; then
		from=$NP
		disk_back "$P-new"
	else
		from=$NH
		disk_back "$P"
	fi
	vm hr || exit 1
	load "$TMP/$P.state" "$TMP/$P.mem"
	expect "killed at $point: the pair at the paths loads" 204
	goes_on hr "$from"
	if [ "$point" = mem ]; then
		grep -q "using '$TMP/$P.mem.prev'" "$TMP/hr.err" &&
			ok "killed at mem: the load fell back to the old memory file" ||
			bad "killed at mem" "no fallback to $P.mem.prev in the log"
	fi
	stop hr
done

# --- A full disk: the create fails, the snapshot there stays good -----
mkdir -p "$SMALL"
if mount -t tmpfs -o size=2m wisp-snap "$SMALL"; then
	vm k || exit 1
	disk_back s1
	load "$TMP/s1.state" "$TMP/s1.mem"
	wait_count k $((N1 + 5))
	pause k
	create k Full "$SMALL/k.state" "$SMALL/k.mem"
	expect "k: snapshot to a small file system" 204
	keep_disk k
	dd if=/dev/zero of="$SMALL/fill" bs=4k 2>/dev/null
	create k Full "$SMALL/k.state" "$SMALL/k.mem"
	fault_has "k: a full disk" 400 "No space left on device"
	[ -z "$(ls "$SMALL" | grep '\.tmp\.')" ] && ok "the failed create left no temporary file" ||
		bad "full disk" "$(ls "$SMALL")"
	stop k
	vm k2 || exit 1
	disk_back k
	load "$SMALL/k.state" "$SMALL/k.mem"
	expect "the earlier snapshot still loads" 204
	goes_on k2 "$(last k)"
	stop k2
	umount "$SMALL"
else
	bad "full disk" "cannot mount a tmpfs at $SMALL"
fi

# --- A custom CPU template lives in the snapshot ----------------------
# The template's CPUID and MSR values are in each vCPU's saved state: the
# restored guest (whose process was given no template) still sees them.
X24=xxxxxxxxxxxxxxxxxxxxxxxx
rounds() { tr -d '\r' <"$TMP/$1.raw" | grep -c '^probe: cpuid round'; }
vm tmpl || exit 1
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}'
api PUT /boot-source "{\"kernel_image_path\": \"$PROBE\", \"boot_args\": \"probe=cpuid loop=1\"}"
api PUT /cpu-config "{\"cpuid_modifiers\": [{\"leaf\": \"0x80000002\", \"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b01110000011100110110100101110111\"}]}], \"msr_modifiers\": [{\"addr\": \"0x277\", \"bitmap\": \"0b$X24${X24}xxxxxxxx00000100\"}]}"
expect "tmpl: PUT /cpu-config" 204
api PUT /actions '{"action_type": "InstanceStart"}'
expect "tmpl: InstanceStart" 204
for _ in $(seq 400); do [ "$(rounds tmpl)" -ge 2 ] && break; sleep 0.05; done
pause tmpl
create tmpl Full "$TMP/tmpl.state" "$TMP/tmpl.mem"
expect "tmpl: snapshot" 204
stop tmpl
vm tmpl2 || exit 1
load "$TMP/tmpl.state" "$TMP/tmpl.mem"
expect "tmpl2: load" 204
for _ in $(seq 400); do [ "$(rounds tmpl2)" -ge 2 ] && break; sleep 0.05; done
tr -d '\r' <"$TMP/tmpl2.raw" >"$TMP/tmpl2.out"
if [ "$(rounds tmpl2)" -ge 2 ] &&
	! grep -q '^probe: cpuid 0x80000002 eax=0x0 ' "$TMP/tmpl2.out" &&
	grep -q '^probe: cpuid 0x80000002 eax=0x70736977 ' "$TMP/tmpl2.out" &&
	! grep '^probe: msr 0x277 ' "$TMP/tmpl2.out" | grep -qv ' 0x7040600070404$'; then
	ok "tmpl2: the restored guest sees the template's CPUID and PAT"
else
	show tmpl2
	bad "template after restore" "$(grep -m3 'cpuid 0x8\|msr' "$TMP/tmpl2.out")"
fi
stop tmpl2

grep -l 'AddressSanitizer\|runtime error\|LeakSanitizer' "$TMP"/*.err >"$TMP/san" &&
	bad "sanitizers" "$(cat "$TMP/san")" || ok "no sanitizer reports"
summary snapshot
