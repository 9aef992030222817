#!/usr/bin/env bash
# API tier: wisp's REST API over a real Unix socket, driven with curl the
# way Firecracker's users drive it: every endpoint, its errors and its
# state rules, a full flow with the probe guest (configure, start, pause,
# resume, Ctrl-Alt-Del), the JSON config file, and clients that misbehave.
set -u
: "${WISP:?path to wisp (the ASan build)}" "${PROBE:?path to probe.elf}"
# WISP_PLAIN: the production build, for the memory-growth check.
PROBE=$(realpath "$PROBE")
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")

# --- Before boot: every resource and its validation --------------------
start_api --id test-vm-1 || exit 1
api GET /
expect "GET /" 200 '.id == "test-vm-1" and .state == "Not started" and .app_name == "wisp" and (.vmm_version | length > 0)'
api GET /version
expect "GET /version" 200 '.firecracker_version | length > 0'
api GET /machine-config
expect "GET /machine-config default" 200 '. == {"vcpu_count":1,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}'

api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256, "track_dirty_pages": true}'
expect "PUT /machine-config" 204
api GET /machine-config
expect "GET after PUT" 200 '.vcpu_count == 2 and .mem_size_mib == 256 and .track_dirty_pages == true'
api PATCH /machine-config '{"mem_size_mib": 64}'
expect "PATCH /machine-config" 204
api GET /machine-config
expect "PATCH kept the rest" 200 '.vcpu_count == 2 and .mem_size_mib == 64 and .track_dirty_pages == true'
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
api GET /machine-config
expect "PUT resets omitted fields" 200 '.track_dirty_pages == false'

api PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}'
fault_has "vcpu_count 0" 400 "vcpu_count 0 is not in 1..32"
api PUT /machine-config '{"vcpu_count": 33, "mem_size_mib": 64}'
fault_has "vcpu_count 33" 400 "vcpu_count 33"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 0}'
fault_has "mem 0" 400 "mem_size_mib 0"
api PUT /machine-config '{"vcpu_count": "1", "mem_size_mib": 64}'
fault_has "wrong type" 400 "'vcpu_count' must be a non-negative integer"
api PUT /machine-config '{"vcpu_count": -1, "mem_size_mib": 64}'
fault_has "negative" 400 "'vcpu_count' must be a non-negative integer"
api PUT /machine-config '{"vcpu_count": 1.5, "mem_size_mib": 64}'
fault_has "not an integer" 400 "'vcpu_count' must be"
api PUT /machine-config '{"mem_size_mib": 64}'
fault_has "missing field" 400 "missing field 'vcpu_count'"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "vcpus": 2}'
fault_has "unknown field" 400 "unknown field 'vcpus'"
api PUT /machine-config '{"vcpu_count": 3, "mem_size_mib": 64, "smt": true}'
fault_has "smt with 3 vCPUs (Firecracker: 1 or even)" 400 "vcpu_count 3 with smt: 1 or an even number"
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "smt": true}'
expect "smt with 2 vCPUs" 204
api GET /machine-config
expect "GET /machine-config: smt" 200 '.smt == true and .vcpu_count == 2'
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "7M"}'
fault_has "huge_pages" 400 "huge_pages '7M' is not None, Transparent or 2M"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 63, "huge_pages": "2M"}'
fault_has "huge odd size" 400 "multiple of the 2 MiB"
api PATCH /machine-config '{}'
fault_has "empty PATCH" 400 "empty PATCH"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64,'
fault_has "bad JSON" 400 "not valid JSON"
api PUT /machine-config '[1, 2]'
fault_has "not an object" 400 "must be a JSON object"
api PUT /machine-config '{"vcpu_count": 1, "vcpu_count": 2, "mem_size_mib": 64}'
fault_has "duplicate key" 400 "duplicate"
api PUT /machine-config
fault_has "PUT without a body" 400 "Empty PUT request"
api GET /machine-config
expect "failed requests changed nothing" 200 '.vcpu_count == 1 and .mem_size_mib == 64'

api PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinux"}'
fault_has "kernel missing" 400 "No such file"
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "initrd_path": "/nonexistent"}'
fault_has "initrd missing" 400 "initrd_path '/nonexistent'"
api PUT /boot-source '{"boot_args": "x"}'
fault_has "boot-source needs a kernel" 400 "missing field 'kernel_image_path'"
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'"}'
expect "PUT /boot-source" 204
api GET /vm/config
expect "default boot_args are Firecracker's" 200 '."boot-source".boot_args | startswith("reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux")'

truncate -s 1M "$TMP/disk.img" "$TMP/disk2.img" "$TMP/ro.img"
chmod 0444 "$TMP/ro.img"
api PUT /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$TMP/disk.img"'", "is_root_device": true, "is_read_only": false, "cache_type": "Writeback", "rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}}}'
expect "PUT /drives" 204
api PUT /drives/data '{"drive_id": "other", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": false}'
fault_has "drive id mismatch" 400 "The id from the path does not match the id from the body!"
api PUT /drives/data '{"drive_id": "data", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": true}'
fault_has "second root" 400 "already the root device"
api PUT /drives/data '{"drive_id": "data", "path_on_host": "/nonexistent", "is_root_device": false}'
fault_has "drive path missing" 400 "No such file"
api PUT /drives/data '{"drive_id": "data", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": false, "cache_type": "None"}'
fault_has "cache_type" 400 "cache_type 'None'"
api PUT /drives/data '{"drive_id": "data", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": false, "rate_limiter": {"bandwidth": {"size": 1}}}'
fault_has "token bucket needs refill_time" 400 "missing field 'refill_time'"
api PUT /drives/da.ta '{"drive_id": "da.ta", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": false}'
fault_has "bad drive id" 400 "API Resource IDs can only contain alphanumeric characters and underscores."
api PUT /drives/da-ta '{"drive_id": "da-ta", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": false}'
fault_has "drive id with '-' (Firecracker refuses it)" 400 "only contain alphanumeric"
api PUT /drives/ '{"drive_id": "", "path_on_host": "'"$TMP/disk2.img"'", "is_root_device": false}'
fault_has "empty drive id" 400 "The ID cannot be empty."
api PUT /network-interfaces/e.0 '{"iface_id": "e.0", "host_dev_name": "tap0"}'
fault_has "bad interface id" 400 "only contain alphanumeric"
api PUT /network-interfaces/eth9 '{"iface_id": "eth8", "host_dev_name": "tap0"}'
fault_has "interface id mismatch" 400 "The id from the path [eth9] does not match the id from the body [eth8]!"
if [ "$(id -u)" != 0 ]; then
	api PUT /drives/ro '{"drive_id": "ro", "path_on_host": "'"$TMP/ro.img"'", "is_root_device": false}'
	fault_has "read-only file as a rw drive" 400 "Permission denied"
fi
api PUT /drives/ro '{"drive_id": "ro", "path_on_host": "'"$TMP/ro.img"'", "is_root_device": false, "is_read_only": true, "io_engine": "Sync"}'
expect "PUT read-only drive" 204
api PATCH /drives/rootfs '{"drive_id": "rootfs", "path_on_host": "'"$TMP/disk2.img"'"}'
fault_has "PATCH drive before boot" 400 "not supported before starting"

api PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02"}'
expect "PUT /network-interfaces" 204
api PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:00:02"}'
fault_has "duplicate MAC" 400 "already used by 'eth0'"
api PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "06:00:ac:10:00"}'
fault_has "bad MAC" 400 "is not a MAC address"
api PUT /network-interfaces/eth2 '{"iface_id": "eth2", "host_dev_name": "tap2", "mtu": 67}'
fault_has "mtu below 68 (Firecracker's range)" 400 "mtu 67 is not in 68..65535"
api PUT /network-interfaces/eth2 '{"iface_id": "eth2", "host_dev_name": "tap2", "mtu": 9000}'
expect "PUT /network-interfaces with mtu" 204
api GET /vm/config
expect "GET /vm/config: the interface's mtu" 200 '."network-interfaces"[] | select(.iface_id == "eth2") | .mtu == 9000'

api PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "a-very-long-name-x"}'
fault_has "bad tap name" 400 "is not an interface name"
api PUT /vsock '{"guest_cid": 4294967296, "uds_path": "/tmp/v.sock"}'
fault_has "vsock cid over 32 bits" 400 "guest_cid 4294967296 is not a 32-bit number"
api PUT /vsock '{"guest_cid": 3, "uds_path": "'"$TMP/v.sock"'"}'
expect "PUT /vsock" 204

touch "$TMP/log" "$TMP/metrics"
api PUT /logger '{"log_path": "'"$TMP/log"'", "level": "debug", "show_level": true, "show_log_origin": true}'
expect "PUT /logger" 204
api PUT /logger '{"level": "loud"}'
fault_has "bad level" 400 "level 'loud'"
api PUT /logger '{"log_path": "/nonexistent/log"}'
fault_has "log path missing" 400 "No such file"
api PUT /metrics '{"metrics_path": "'"$TMP/metrics"'", "properties": {"n": 1}}'
fault_has "metrics property not a string" 400 "properties: 'n' must be a string"
api PUT /metrics '{"metrics_path": "'"$TMP/metrics"'", "emit_id": true, "properties": {"bundle_id": "fn-abc", "customer_id": "1234"}}'
expect "PUT /metrics (emit_id, properties)" 204
api PUT /metrics '{"metrics_path": "'"$TMP/metrics"'"}'
fault_has "metrics set twice" 400 "can be set once"

api GET /vm/config
expect "GET /vm/config" 200 '.drives[0].drive_id == "rootfs" and .drives[0].is_root_device and .drives[0].cache_type == "Writeback" and .drives[0].rate_limiter.bandwidth.size == 1000 and .drives[1].is_read_only and ."network-interfaces"[0].guest_mac == "06:00:ac:10:00:02" and .vsock.guest_cid == 3 and ."machine-config".mem_size_mib == 64 and .logger.level == "debug" and (.metrics.metrics_path | endswith("metrics")) and .metrics.emit_id == true and .metrics.properties.customer_id == "1234" and .balloon == null'

api GET /nonexistent
fault_has "unknown path (400, as Firecracker)" 400 "Invalid request method and/or path: GET /nonexistent."
api DELETE /machine-config
fault_has "wrong method" 400 "Invalid request method and/or path: DELETE /machine-config."
api PUT /drives/a/b '{}'
expect "path with extra segment" 400
api PATCH /vm '{"state": "Paused"}'
fault_has "pause before boot" 400 "not supported before starting"
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
fault_has "ctrl-alt-del before boot" 400 "not supported before starting"
api PUT /actions '{"action_type": "FlushMetrics"}'
expect "FlushMetrics before boot" 204
if jq -e -s 'length >= 1 and (.[-1].put_api_requests.metrics_count >= 1) and (.[-1] | has("block_rootfs") | not) and .[-1].id == "test-vm-1" and .[-1].properties == {"bundle_id": "fn-abc", "customer_id": "1234"} and (.[-1] | keys_unsorted | .[0:3]) == ["utc_timestamp_ms", "id", "properties"]' "$TMP/metrics" >/dev/null; then
	ok "a metrics line before boot: API counts, no devices yet, the id and properties"
else
	bad "metrics before boot" "$(tail -c 600 "$TMP/metrics")"
fi
api PUT /actions '{"action_type": "Reboot"}'
fault_has "unknown action" 400 "action_type 'Reboot'"
STATUS=$(curl -s --unix-socket "$SOCK" -o "$TMP/body" -w '%{http_code}' -X GET --data-binary '{}' http://localhost/)
BODY=$(cat "$TMP/body")
fault_has "GET with a body" 400 "cannot have a body"

# A kernel that is no kernel: InstanceStart fails, nothing is left
# started, and a fixed configuration starts.
head -c 4096 /dev/urandom >"$TMP/junk"
api PUT /boot-source '{"kernel_image_path": "'"$TMP/junk"'"}'
api PUT /actions '{"action_type": "InstanceStart"}'
fault_has "InstanceStart with a bad kernel" 400 "kernel '$TMP/junk'"
api GET /
expect "still not started" 200 '.state == "Not started"'
# 2 MiB huge pages: they start when the host has 32 free for 64 MiB,
# else InstanceStart says why and the VM stays startable.
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=hello"}'
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "huge_pages": "2M"}'
expect "huge_pages 2M" 204
free_huge=$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)
api PUT /actions '{"action_type": "InstanceStart"}'
if [ "${free_huge:-0}" -ge 32 ]; then
	expect "InstanceStart in huge pages ($free_huge free)" 204
	wait_exit 10
	expect_rc "huge-page guest ran" 0
else
	fault_has "InstanceStart without free huge pages" 400 "cannot create the VM"
	cat "$TMP/err" "$TMP/log" | grep -q 'nr_hugepages' && ok "the log says to reserve huge pages" ||
		bad "huge pages" "the log does not mention nr_hugepages"
	kill "$PID"
	wait_exit 10
	expect_rc "SIGTERM before boot" 0
fi
grep -q 'debug' "$TMP/log" && grep -Eq 'routes.c:[0-9]+' "$TMP/log" &&
	ok "logger: log_path gets the lines, with level and origin" ||
	bad "logger" "$TMP/log lacks level/origin lines: $(head -3 "$TMP/log")"

# --- A full flow with the probe guest ----------------------------------
rm -f "$TMP/metrics"
touch "$TMP/metrics"
start_api || exit 1
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "huge_pages": "Transparent"}'
expect "machine-config huge_pages Transparent" 204
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=kbd"}'
api PUT /drives/d0 '{"drive_id": "d0", "path_on_host": "'"$TMP/disk.img"'", "is_root_device": false}'
api PUT /metrics '{"metrics_path": "'"$TMP/metrics"'"}'
api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart" 204
api GET /
expect "running" 200 '.state == "Running"'
api GET /machine-config
expect "GET /machine-config: Transparent" 200 '.huge_pages == "Transparent"'
# Guest RAM is the one 64 MiB mapping; MADV_HUGEPAGE makes it eligible
# for transparent huge pages whenever the host's THP mode is madvise or
# always.
thp=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {sz = 0} /^Size:/ {sz = $2} /^THPeligible:/ && sz == 65536 {print $2}' "/proc/$PID/smaps")
if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
	check "guest RAM not THP-eligible on a host with THP off" 0 "$thp"
else
	check "guest RAM is THP-eligible (huge_pages Transparent)" 1 "$thp"
fi
api PUT /actions '{"action_type": "InstanceStart"}'
fault_has "second InstanceStart" 400 "not supported after starting"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
fault_has "machine-config after boot" 400 "not supported after starting"
api PUT /drives/d1 '{"drive_id": "d1", "path_on_host": "'"$TMP/disk.img"'", "is_root_device": false}'
fault_has "drives after boot" 400 "not supported after starting"
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'"}'
fault_has "boot-source after boot" 400 "not supported after starting"
for _ in $(seq 100); do grep -q 'tick 3' "$TMP/raw" && break; sleep 0.05; done

api PATCH /vm '{"state": "Paused"}'
expect "pause" 204
api GET /
expect "paused" 200 '.state == "Paused"'
a=$(grep -c tick "$TMP/raw")
sleep 0.5
b=$(grep -c tick "$TMP/raw")
[ "$a" = "$b" ] && ok "paused guest does not run ($a ticks, still $b after 0.5 s)" ||
	bad "pause" "ticks went from $a to $b while paused"
api PATCH /vm '{"state": "Paused"}'
expect "pause twice" 204
api PATCH /vm '{"state": "Running"}'
fault_has "bad vm state" 400 "state 'Running' is not Paused or Resumed"
api PATCH /vm '{"state": "Resumed"}'
expect "resume" 204
sleep 0.5
c=$(grep -c tick "$TMP/raw")
[ "$c" -gt "$b" ] && ok "resumed guest runs ($b -> $c ticks)" || bad "resume" "ticks stuck at $c"

api PATCH /drives/d0 '{"drive_id": "d0", "path_on_host": "'"$TMP/disk2.img"'"}'
expect "PATCH drive path" 204
api GET /vm/config
expect "PATCH drive shows" 200 ".drives[0].path_on_host == \"$TMP/disk2.img\""
api PATCH /drives/d0 '{"drive_id": "d0", "path_on_host": "/nonexistent"}'
fault_has "PATCH drive to a missing file" 400 "No such file"
api PATCH /drives/d0 '{"drive_id": "d0", "is_read_only": true}'
fault_has "PATCH drive with a PUT-only field" 400 "unknown field 'is_read_only'"
api PATCH /drives/nope '{"drive_id": "nope", "path_on_host": "'"$TMP/disk.img"'"}'
fault_has "PATCH unknown drive" 400 "no drive 'nope'"
api PATCH /drives/d0 '{"drive_id": "d0", "rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 100}}}'
expect "PATCH drive bandwidth" 204
api PATCH /drives/d0 '{"drive_id": "d0", "rate_limiter": {"ops": {"size": 1000, "refill_time": 1000}}}'
expect "PATCH drive ops" 204
api GET /vm/config
expect "PATCH of one bucket keeps the other" 200 ".drives[0].rate_limiter.bandwidth.size == 1048576 and .drives[0].rate_limiter.ops.size == 1000"
api PATCH /drives/d0 '{"drive_id": "d0", "rate_limiter": {"bandwidth": {"size": 0, "refill_time": 100}}}'
expect "PATCH drive bandwidth off" 204
api GET /vm/config
expect "a bucket of size 0 is no limit" 200 ".drives[0].rate_limiter.bandwidth == null and .drives[0].rate_limiter.ops.size == 1000"
api GET /vm/config
expect "failed PATCH kept the path" 200 ".drives[0].path_on_host == \"$TMP/disk2.img\""

api PUT /actions '{"action_type": "FlushMetrics"}'
expect "FlushMetrics" 204
if jq -e -s 'length >= 1 and (.[-1].vcpu.exit_io_out > 0) and (.[-1].put_api_requests.actions_count >= 1) and (.[-1] | has("block_d0")) and .[-1].utc_timestamp_ms > 0 and (.[-1] | has("id") or has("properties") | not)' "$TMP/metrics" >/dev/null; then
	ok "metrics line has vCPU exits, API counts and the drive (no id, no properties unless asked)"
else
	bad "metrics" "$(tail -c 600 "$TMP/metrics")"
fi

api PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect "SendCtrlAltDel" 204
wait_exit 20
expect_rc "Ctrl-Alt-Del ends the VM" 0
expect_line "Ctrl-Alt-Del reached the guest" out '^probe: ctrl-alt-del$'
[ -e "$SOCK" ] && bad "socket" "$SOCK left behind" || ok "API socket removed at exit"

# --- The socket path -----------------------------------------------------
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
start_api && ok "stale socket file replaced"
"$WISP" --api-sock "$SOCK" </dev/null >/dev/null 2>"$TMP/err2"
RC=$?
[ "$RC" = 2 ] && grep -q 'in use' "$TMP/err2" && ok "live socket refused: exit 2, says in use" ||
	bad "live socket" "exit $RC: $(cat "$TMP/err2")"

kill "$PID"
wait_exit 10

# --- Misbehaving clients ---------------------------------------------------
# Against the production build: under ASan freed memory sits in a
# quarantine, so only the real binary can show that nothing grows.
WISP_ASAN=$WISP
WISP=${WISP_PLAIN:-$WISP}
start_api || exit 1
python3 "$HERE/api_clients.py" "$SOCK" "$PID" && ok "misbehaving clients (see above)" ||
	bad "misbehaving clients" "api_clients.py failed"
api GET /
expect "still serving after the abuse" 200 '.state == "Not started"'
kill "$PID"
wait_exit 10
WISP=$WISP_ASAN

start_api --http-api-max-payload-size 100 || exit 1
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": false, "huge_pages": "None", "smt": false}'
fault_has "body over --http-api-max-payload-size" 413 "100"
api GET /
expect "new connection after 413" 200
kill "$PID"
wait_exit 10

# --- PUT /serial: the console to a file or a FIFO -----------------------
# serial_boot NAME BODY: a probe=hello guest with PUT /serial BODY, run to
# its end.
serial_boot() {
	start_api || return 1
	api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=hello"}'
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
	api PUT /serial "$2"
	expect "$1: PUT /serial" 204
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect "$1: InstanceStart" 204
	wait_exit 20
	expect_rc "$1" 0
}
start_api || exit 1
api PUT /serial '{"serial_out_path": 7}'
fault_has "serial_out_path not a string" 400 "serial: 'serial_out_path' must be a string"
api PUT /serial '{"serial_out_path": ""}'
fault_has "serial_out_path empty" 400 "'serial_out_path' must be a path"
api PUT /serial '{"serial_out": "/tmp/x"}'
fault_has "serial unknown field" 400 "serial: unknown field 'serial_out'"
api PUT /serial '{"rate_limiter": {"size": 10}}'
fault_has "serial rate_limiter" 400 "serial: rate_limiter: missing field 'refill_time'"
api PUT /serial ''
fault_has "serial empty body" 400 "Empty PUT request."
api GET /serial
expect "GET /serial (400, as Firecracker answers a method a path does not take)" 400
# A file that cannot be made: InstanceStart says so, nothing is started.
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=hello"}'
api PUT /serial '{"serial_out_path": "'"$TMP"'/no/such/dir/console"}'
expect "PUT /serial to a missing directory" 204
api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart with an unopenable serial file" 400
grep -q "serial output '$TMP/no/such/dir/console': No such file" "$TMP/err" &&
	ok "the log names the serial file" || bad "serial open error" "not in the log"
api GET /
expect "still not started after the serial error" 200 '.state == "Not started"'
kill "$PID"
wait_exit 10

serial_boot "serial to a new file" '{"serial_out_path": "'"$TMP/console"'"}'
check "the guest's output is in the file" "probe: hello" "$(tr -d '\r' <"$TMP/console")"
expect_no_line "stdout has none of it" out 'probe: hello'
printf 'old contents, longer than the guest writes\n' >"$TMP/console"
serial_boot "serial to an existing file" '{"serial_out_path": "'"$TMP/console"'"}'
check "an existing file is truncated" "probe: hello" "$(tr -d '\r' <"$TMP/console")"
rm -f "$TMP/fifo" && mkfifo "$TMP/fifo"
serial_boot "serial to a FIFO no one reads yet" '{"serial_out_path": "'"$TMP/fifo"'"}'
rm -f "$TMP/fifo" && mkfifo "$TMP/fifo"
timeout 30 cat "$TMP/fifo" >"$TMP/fifo.out" &
cat_pid=$!
serial_boot "serial to a FIFO with a reader" '{"serial_out_path": "'"$TMP/fifo"'"}'
wait "$cat_pid"
check "the FIFO's reader got the output" "probe: hello" "$(tr -d '\r' <"$TMP/fifo.out")"
# {} after a path: the console is stdout again.
start_api || exit 1
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=hello"}'
api PUT /serial '{"serial_out_path": "'"$TMP/console2"'"}'
api PUT /serial '{}'
expect "PUT /serial {}" 204
api PUT /actions '{"action_type": "InstanceStart"}'
wait_exit 20
expect_line "PUT /serial {} is stdout" out '^probe: hello$'
[ -e "$TMP/console2" ] && bad "PUT /serial {}" "the first path was opened" || ok "the replaced path was never made"
# The rate limiter: 4 bytes and no refill to speak of; the rest dropped
# and counted.
rm -f "$TMP/metrics" && touch "$TMP/metrics"
start_api || exit 1
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=hello"}'
api PUT /metrics '{"metrics_path": "'"$TMP/metrics"'"}'
api PUT /serial '{"serial_out_path": "'"$TMP/console"'", "rate_limiter": {"size": 4, "refill_time": 1000000}}'
api PUT /actions '{"action_type": "InstanceStart"}'
wait_exit 20
expect_rc "rate-limited serial" 0
check "the limit let 4 bytes through" "prob" "$(cat "$TMP/console")"
if jq -e -s 'map(.uart.rate_limiter_dropped_bytes) | add == 9' "$TMP/metrics" >/dev/null; then
	ok "uart.rate_limiter_dropped_bytes counts the 9 dropped"
else
	bad "serial rate limiter metric" "$(jq -c -s 'map(.uart)' "$TMP/metrics")"
fi
start_api || exit 1
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=kbd"}'
api PUT /actions '{"action_type": "InstanceStart"}'
api PUT /serial '{"serial_out_path": "'"$TMP/console"'"}'
fault_has "PUT /serial after boot" 400 "not supported after starting"
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_exit 20

# --- PUT /cpu-config: a custom CPU template the guest sees -------------
# The brand string's first word becomes "wisp", PAT's PA0 write-through
# (04); the template also clears CPUID.1:ECX.hypervisor, which wisp's own
# rules set again after the template (they win, docs/api.md).
X24=xxxxxxxxxxxxxxxxxxxxxxxx
X31=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
cat >"$TMP/cpu.json" <<JSON
{"kvm_capabilities": ["1"],
 "cpuid_modifiers": [
  {"leaf": "0x80000002", "subleaf": "0x0", "flags": 0, "modifiers": [
    {"register": "eax", "bitmap": "0b01110000011100110110100101110111"}]},
  {"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [
    {"register": "ecx", "bitmap": "0b0$X31"}]}],
 "msr_modifiers": [{"addr": "0x277", "bitmap": "0b$X24${X24}xxxxxxxx00000100"}]}
JSON
start_api || exit 1
api PUT /cpu-config '{"cpuid_modifiers": [{"leaf": 1, "subleaf": "0x0", "flags": 0, "modifiers": []}]}'
fault_has "cpu-config leaf as a number" 400 "cpu-config: cpuid_modifiers[0]: 'leaf' must be a string"
api PUT /cpu-config '{"cpuid_modifiers": [{"leaf": "1", "subleaf": "0x0", "flags": 0, "modifiers": []}]}'
fault_has "cpu-config leaf without 0x" 400 "prefix the number with 0x (hex) or 0b (binary)"
api PUT /cpu-config '{"msr_modifiers": [{"addr": "0x277", "bitmap": "0b2"}]}'
fault_has "cpu-config bad bitmap" 400 "bitmap '0b2': '2' is not 0, 1 or x"
api PUT /cpu-config '{"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [{"register": "rax", "bitmap": "0b1"}]}]}'
fault_has "cpu-config bad register" 400 "register 'rax' is not eax, ebx, ecx or edx"
api PUT /cpu-config '{"vcpu_features": []}'
fault_has "cpu-config aarch64 field" 400 "cpu-config: unknown field 'vcpu_features'"
# A leaf KVM does not have fails InstanceStart and leaves it startable.
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=cpuid"}'
api PUT /cpu-config '{"cpuid_modifiers": [{"leaf": "0x4fffffff", "subleaf": "0x0", "flags": 0, "modifiers": []}]}'
expect "PUT /cpu-config with a leaf KVM lacks" 204
api PUT /actions '{"action_type": "InstanceStart"}'
fault_has "InstanceStart with a leaf KVM lacks" 400 "CPUID leaf 0x4fffffff subleaf 0x0 is not supported by KVM"
api PUT /cpu-config '{"kvm_capabilities": ["4000000"]}'
api PUT /actions '{"action_type": "InstanceStart"}'
fault_has "InstanceStart with a capability KVM lacks" 400 "lacks capability 4000000"
api PUT /cpu-config "$(cat "$TMP/cpu.json")"
expect "PUT /cpu-config" 204
api GET /vm/config
expect "GET /vm/config shows no cpu-config (as Firecracker)" 200 '."cpu-config" == null'
api PUT /actions '{"action_type": "InstanceStart"}'
expect "InstanceStart with a CPU template" 204
wait_exit 20
expect_rc "cpuid guest" 0
expect_line "the guest sees the template's brand string" out '^probe: cpuid 0x80000002 eax=0x70736977 '
expect_line "wisp's hypervisor bit wins over the template" out '^probe: cpuid 0x1 .*ecx=0x[89a-f][0-9a-f]{7} '
expect_line "the guest sees the template's PAT" out '^probe: msr 0x277 0x7040600070404$'
start_api || exit 1
api PUT /boot-source '{"kernel_image_path": "'"$PROBE"'", "boot_args": "probe=kbd"}'
api PUT /actions '{"action_type": "InstanceStart"}'
api PUT /cpu-config '{}'
fault_has "PUT /cpu-config after boot" 400 "not supported after starting"
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_exit 20

# --- Firecracker JSON config file --------------------------------------
cat >"$TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$PROBE", "boot_args": "probe=hello"},
  "drives": [],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}
}
JSON
run_wisp 30 --no-api --config-file "$TMP/vm.json"
expect_rc "--config-file --no-api" 0
expect_line "--config-file --no-api" out '^probe: hello$'
jq '."machine-config".vcpu_count = 0' "$TMP/vm.json" >"$TMP/bad.json"
run_wisp 30 --no-api --config-file "$TMP/bad.json"
expect_rc "--config-file with a bad value" 2
expect_line "--config-file with a bad value" err "bad.json: machine-config: vcpu_count 0"
sed 's/probe=hello/probe=cpuid/' "$TMP/vm.json" | jq --arg p "$TMP/cpu.json" '. + {"cpu-config": $p}' >"$TMP/cpu-vm.json"
run_wisp 30 --no-api --config-file "$TMP/cpu-vm.json"
expect_rc "--config-file with a cpu-config file" 0
expect_line "--config-file with a cpu-config file" out '^probe: cpuid 0x80000002 eax=0x70736977 '
jq --slurpfile t "$TMP/cpu.json" '. + {"cpu-config": $t[0]}' "$TMP/cpu-vm.json" >"$TMP/cpu-vm2.json"
run_wisp 30 --no-api --config-file "$TMP/cpu-vm2.json"
expect_line "--config-file with an inline cpu-config" out '^probe: msr 0x277 0x7040600070404$'
jq '. + {"cpu-config": {"msr_modifiers": [{"addr": "0x277"}]}}' "$TMP/vm.json" >"$TMP/bad.json"
run_wisp 30 --no-api --config-file "$TMP/bad.json"
expect_rc "--config-file with a bad cpu-config" 2
expect_line "--config-file with a bad cpu-config" err "bad.json: cpu-config: msr_modifiers\[0\]: missing field 'bitmap'"
jq '. + {"cpu-config": "/nonexistent/cpu.json"}' "$TMP/vm.json" >"$TMP/bad.json"
run_wisp 30 --no-api --config-file "$TMP/bad.json"
expect_line "--config-file with a missing cpu-config file" err "bad.json: cpu-config: /nonexistent/cpu.json: No such file"
jq '. + {"balloon": {"amount_mib": 1}}' "$TMP/vm.json" >"$TMP/bad.json"
run_wisp 30 --no-api --config-file "$TMP/bad.json"
expect_line "--config-file with balloon" err "balloon: not supported"
echo '{"boot-source": ' >"$TMP/bad.json"
run_wisp 30 --no-api --config-file "$TMP/bad.json"
expect_rc "--config-file not JSON" 2
expect_line "--config-file not JSON" err 'bad.json:[0-9]+:[0-9]+: '
run_wisp 30 --no-api
expect_rc "--no-api alone" 2
expect_line "--no-api alone" err 'needs a configuration'

# A config file with the API on: boots at once, the API stays up.
sed 's/probe=hello/probe=kbd/' "$TMP/vm.json" >"$TMP/kbd.json"
start_api --config-file "$TMP/kbd.json" || exit 1
api GET /
expect "--config-file with --api-sock runs" 200 '.state == "Running"'
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_exit 20
expect_rc "--config-file VM ends on Ctrl-Alt-Del" 0

summary api
