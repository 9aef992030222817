#!/usr/bin/env bash
# Clients tier (as root): the command lines and API request sequences of
# Firecracker's real clients, replayed against wisp with the probe guest:
# firecracker-go-sdk (its default handler list, the jailer command it
# builds, snapshot create and load), firecracker-containerd (relative
# paths, FIFOs nobody reads, stub drives patched after boot, MMDS V1, the
# agent's vsock), Kata Containers (--version, a --config-file with 9
# drives and FIFOs, PATCH of placeholder drives, the hybrid vsock,
# SIGTERM; and its jailer line), flintlock (--no-api --config-file
# --metadata --boot-timer, SIGHUP) and the exec line of Firecracker's own
# jailer. Each step checks what the client itself checks: the status
# codes it requires, the fields it reads back, and the guest running.
# Interfaces are taps in a network namespace of the test's own.
set -u
: "${WISP:?path to wisp (the ASan build)}" "${WISP_PLAIN:?path to the production wisp}"
: "${JAILER:?path to wisp-jailer}" "${PROBE:?path to probe.elf}" "${VSOCK_HOST:?path to vsock_host}"
PROBE=$(realpath "$PROBE")
WISP=$(realpath "$WISP")
WISP_PLAIN=$(realpath "$WISP_PLAIN")
JAILER=$(realpath "$JAILER")
VSOCK_HOST=$(realpath "$VSOCK_HOST")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "clients tier: needs root (taps, the jailer)"
	exit 1
fi

NS=wisp-cl-$$
TAP=cltap0
PARENT=wisp-cl-$$ # the SDK's JailerConfig.ParentCgroup
cleanup() {
	end_jails
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS" && ip netns exec "$NS" "$here/../../rootfs-tools/net-setup.sh" \
	host-only "$TAP" 172.16.0.1/24 >/dev/null || {
	bad "netns" "cannot make $TAP in a network namespace"
	summary clients
	exit 1
}

# until_ok SECONDS CMD...: CMD until it succeeds, 0.05 s apart.
until_ok() {
	local n=$(($1 * 20))
	shift
	for _ in $(seq "$n"); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
serial_has() { tr -d '\r' <"$TMP/raw" | grep -Eq -- "$1"; }
ticks_past() { [ "$(grep -c 'tick' "$TMP/raw")" -gt "$1" ]; }
gone() { [ ! -e "/proc/${1:-0}" ]; }
# The SDK's waitForSocket: the socket file, then GET /machine-config 200.
sdk_ready() { [ -S "$SOCK" ] && api GET /machine-config && [ "$STATUS" = 200 ]; }
# Kata's waitVMMRunning: GET / until its state is "Running".
kata_ready() { [ -S "$SOCK" ] && api GET / && [ "$(jq -r .state <<<"$BODY" 2>/dev/null)" = Running ]; }

# launch DIR BIN ARGS...: BIN in the namespace with DIR as its working
# directory, in the background, as the clients exec it; PID is its pid.
launch() {
	local dir=$1
	shift
	cat "$TMP/err" >>"$TMP/allerr" 2>/dev/null
	(cd "$dir" && exec ip netns exec "$NS" "$@") </dev/null >"$TMP/raw" 2>"$TMP/err" &
	PID=$!
	PIDS+=("$PID")
	: >"$TMP/out"
}

# ready NAME PREDICATE: the client's wait for the API, 10 s.
ready() {
	if until_ok 10 "$2"; then
		ok "$1: the API answers"
	else
		[ -S "$SOCK" ] && bad "$1" "$SOCK never answered as the client waits for" ||
			bad "$1" "no socket $SOCK"
		return 1
	fi
}

# agent NAME UDS PORT: a client's guest agent dial over the hybrid vsock
# ("CONNECT PORT", "OK ..."); the probe (probe=vsock-host vport=PORT)
# echoes and then ends the VM, as an agent's shutdown does.
agent() {
	if timeout 30 "$VSOCK_HOST" echo "$2" "$3" 4096 $(($3 + 1)) >"$TMP/host" 2>&1 &&
		grep -q '^host: refused ok, echo 4096 bytes ok' "$TMP/host"; then
		ok "$1: CONNECT $3 over $(basename "$2") reached the guest's listener"
	else
		bad "$1" "the agent dial failed: $(cat "$TMP/host")"
	fi
	wait_exit 20
	expect_rc "$1: the VM ends when its agent does" 0
	expect_line "$1" out "^probe: vsock-host refused 1 echoed 4096 ok$"
}

b32() { python3 -c 'import base64,sys; print(base64.b32encode(sys.argv[1].encode()).decode().rstrip("="))' "$1"; }
mono_us() { python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)'; }
truncate -s 1M "$TMP/rootfs.img" "$TMP/data.img" "$TMP/data2.img"

# sdk_logging NAME CAPTURE METRICS: CreateLogFilesHandler (the LogFifo
# made and copied to CAPTURE, the METRICS file created) and
# BootstrapLoggingHandler, in $D.
sdk_logging() {
	mkfifo -m 0700 "$D/log.fifo"
	cat "$D/log.fifo" >"$D/$2" &
	PIDS+=("$!")
	touch "$D/$3"
	api PUT /logger '{"level":"Debug","log_path":"'"$D/log.fifo"'","show_level":true,"show_log_origin":false}'
	expect "$1: PutLogger to a FIFO" 204
	api PUT /metrics '{"metrics_path":"'"$D/$3"'"}'
	expect "$1: PutMetrics" 204
}

# --- firecracker-go-sdk: NewMachine + Start with the default handlers ----
# Config: LogFifo read by the SDK (FifoLogWriter), MetricsPath a file,
# one extra drive and the root drive (DrivesBuilder: the root last), one
# static interface with AllowMMDS, a vsock, MMDS V2 at a set address,
# metadata put by NewSetMetadataHandler. Seccomp.Enabled false: the SDK
# passes --no-seccomp.
D=$TMP/sdk
mkdir -p "$D"
SOCK=$D/fc.sock
ID=sdk-vm-1
launch "$D" "$WISP" --api-sock "$SOCK" --id "$ID" --no-seccomp
ready "sdk" sdk_ready || exit 1
sdk_logging "sdk" log.txt metrics
api PUT /machine-config '{"mem_size_mib":64,"smt":false,"vcpu_count":2}'
expect "sdk: PutMachineConfiguration" 204
api GET /machine-config
expect "sdk: refreshMachineConfiguration" 200 '.vcpu_count == 2 and .mem_size_mib == 64 and .smt == false'
api PUT /boot-source '{"boot_args":"console=ttyS0 reboot=k panic=1 pci=off probe=kbd","kernel_image_path":"'"$PROBE"'"}'
expect "sdk: PutGuestBootSource" 204
api PUT /drives/0 '{"drive_id":"0","is_read_only":false,"is_root_device":false,"path_on_host":"'"$TMP/data.img"'"}'
expect "sdk: PutGuestDriveByID 0" 204
api PUT /drives/root_drive '{"drive_id":"root_drive","is_read_only":false,"is_root_device":true,"path_on_host":"'"$TMP/rootfs.img"'"}'
expect "sdk: PutGuestDriveByID root_drive" 204
api PUT /network-interfaces/1 '{"guest_mac":"AA:FC:00:00:00:01","host_dev_name":"'"$TAP"'","iface_id":"1"}'
expect "sdk: PutGuestNetworkInterfaceByID 1" 204
api PUT /vsock '{"guest_cid":3,"uds_path":"'"$D/v.sock"'","vsock_id":"1"}'
expect "sdk: PutGuestVsock" 204
api PUT /mmds/config '{"ipv4_address":"169.254.169.250","network_interfaces":["1"],"version":"V2"}'
expect "sdk: PutMmdsConfig V2" 204
api PUT /mmds '{"latest":{"meta-data":{"instance-id":"'"$ID"'"}}}'
expect "sdk: PutMmds (SetMetadata)" 204
api PUT /actions '{"action_type":"InstanceStart"}'
expect "sdk: CreateSyncAction InstanceStart" 204
if until_ok 10 serial_has 'tick 3'; then ok "sdk: the guest runs"; else bad "sdk" "no ticks on the serial console"; fi

api GET /
expect "sdk: DescribeInstanceInfo" 200 '.id == "'"$ID"'" and .state == "Running" and (.vmm_version | length > 0) and (.app_name | length > 0)'
api GET /version
expect "sdk: GetFirecrackerVersion" 200 '.firecracker_version | length > 0'
api GET /vm/config
# Firecracker lists the root drive first, whatever the order of the PUTs.
expect "sdk: GetExportVMConfig" 200 '[.drives[].drive_id] == ["root_drive","0"] and .drives[0].is_root_device and ."network-interfaces"[0].iface_id == "1" and .vsock.guest_cid == 3 and ."machine-config".vcpu_count == 2 and ."mmds-config".version == "V2" and ."mmds-config".network_interfaces == ["1"]'
api PATCH /drives/0 '{"drive_id":"0","path_on_host":"'"$TMP/data2.img"'"}'
expect "sdk: UpdateGuestDrive" 204
api GET /vm/config
expect "sdk: the drive's new file" 200 '.drives[1].path_on_host == "'"$TMP/data2.img"'"'
# UpdateGuestNetworkInterfaceRateLimit sends the in limiter as both.
api PATCH /network-interfaces/1 '{"iface_id":"1","rx_rate_limiter":{"bandwidth":{"one_time_burst":0,"refill_time":100,"size":1048576}},"tx_rate_limiter":{"bandwidth":{"one_time_burst":0,"refill_time":100,"size":1048576}}}'
expect "sdk: UpdateGuestNetworkInterfaceRateLimit" 204
api PATCH /mmds '{"latest":{"meta-data":{"zone":"a"}}}'
expect "sdk: UpdateMetadata" 204
api GET /mmds
expect "sdk: GetMetadata" 200 '.latest."meta-data" == {"instance-id":"'"$ID"'","zone":"a"}'
api PATCH /vm '{"state":"Paused"}'
expect "sdk: PauseVM" 204
api GET /
expect "sdk: paused" 200 '.state == "Paused"'
api PUT /snapshot/create '{"mem_file_path":"'"$D/mem"'","snapshot_path":"'"$D/vmstate"'"}'
expect "sdk: CreateSnapshot" 204
api PATCH /vm '{"state":"Resumed"}'
expect "sdk: ResumeVM" 204
a=$(grep -c 'tick' "$TMP/raw")
if until_ok 10 ticks_past "$a"; then ok "sdk: resumed guest ticks"; else bad "sdk" "no tick after ResumeVM"; fi
api PUT /actions '{"action_type":"FlushMetrics"}'
expect "sdk: FlushMetrics" 204
if jq -e -s 'length >= 1 and (.[-1].put_api_requests | type == "object") and (.[-1].vcpu.exit_io_out > 0)' "$D/metrics" >/dev/null 2>&1; then
	ok "sdk: MetricsPath gets JSON lines"
else
	bad "sdk: metrics" "$(tail -c 400 "$D/metrics")"
fi
# Shutdown on x86: SendCtrlAltDel, then Wait.
api PUT /actions '{"action_type":"SendCtrlAltDel"}'
expect "sdk: Shutdown (SendCtrlAltDel)" 204
wait_exit 20
expect_rc "sdk: Wait" 0
expect_line "sdk: the guest got Ctrl-Alt-Del" out '^probe: ctrl-alt-del$'
[ -s "$D/log.txt" ] && ok "sdk: the log FIFO carried the log" || bad "sdk: logger" "nothing came through $D/log.fifo"

# WithSnapshot: the handler list less the boot ones, LoadSnapshot last
# (the logger and metrics still set first). The SDK sends no
# InstanceStart here: the load with resume_vm starts the VM.
rm -f "$D/log.fifo" "$SOCK"
SOCK=$D/fc2.sock
launch "$D" "$WISP" --api-sock "$SOCK" --id "$ID" --no-seccomp
ready "sdk snapshot" sdk_ready || exit 1
sdk_logging "sdk snapshot" log2.txt metrics2
api PUT /snapshot/load '{"mem_backend":{"backend_path":"'"$D/mem"'","backend_type":"File"},"resume_vm":true,"snapshot_path":"'"$D/vmstate"'"}'
expect "sdk snapshot: LoadSnapshot with resume_vm" 204
api GET /
expect "sdk snapshot: running" 200 '.state == "Running"'
if until_ok 10 serial_has 'tick'; then ok "sdk snapshot: the restored guest ticks"; else bad "sdk snapshot" "no tick after the load"; fi
api PUT /actions '{"action_type":"SendCtrlAltDel"}'
wait_exit 20
expect_rc "sdk snapshot: Shutdown" 0
expect_line "sdk snapshot: the restored guest got Ctrl-Alt-Del" out '^probe: ctrl-alt-del$'

# --- firecracker-go-sdk with JailerCfg ------------------------------------
# jail(): the jailer's flags in the SDK's order, NumaNode 0 as cpuset
# cgroups, ParentCgroup, Daemonize, a netns; after "--" --no-seccomp and
# --api-sock /run/firecracker.socket, driven from the host through
# <base>/<exec name>/<id>/root. NaiveChrootStrategy hard-links the
# kernel, the drives and the FIFOs into the root and passes their names.
BASE=$TMP/base
JID=sdk-jail-1
JROOT=$BASE/wisp/$JID/root
JUID=$((40000 + $$ % 10000))
mkdir -p "$JROOT"
ln "$PROBE" "$JROOT/probe.elf"
ln "$TMP/rootfs.img" "$JROOT/rootfs.img"
chown "$JUID:$JUID" "$JROOT/rootfs.img"
mkfifo -m 0700 "$D/jlog.fifo"
ln "$D/jlog.fifo" "$JROOT/jlog.fifo"
chown "$JUID:$JUID" "$JROOT/jlog.fifo"
cat "$D/jlog.fifo" >"$D/jlog.txt" &
PIDS+=("$!")
cpus=$(cat /sys/devices/system/node/node0/cpulist 2>/dev/null)
"$JAILER" --id "$JID" --uid "$JUID" --gid "$JUID" --exec-file "$WISP_PLAIN" \
	--cgroup cpuset.mems=0 --cgroup "cpuset.cpus=$cpus" --parent-cgroup "$PARENT" \
	--chroot-base-dir "$BASE" --netns "/var/run/netns/$NS" --daemonize \
	-- --no-seccomp --api-sock /run/firecracker.socket </dev/null >"$TMP/raw" 2>"$TMP/err"
RC=$?
expect_rc "sdk jailer: the daemonizing parent" 0
SOCK=$JROOT/run/firecracker.socket
if ready "sdk jailer" sdk_ready; then
	JPID=$(cat "$JROOT/wisp.pid" 2>/dev/null)
	PIDS+=("${JPID:-0}")
	# Firecracker's jailer execs /<exec name> with --id, the start times,
	# then the arguments after its "--".
	if tr '\0' ' ' <"/proc/${JPID:-0}/cmdline" 2>/dev/null | grep -Eq "^/wisp --id $JID --start-time-us [0-9]+ --start-time-cpu-us [0-9]+ --parent-cpu-time-us [0-9]+ --no-seccomp --api-sock /run/firecracker.socket \$"; then
		ok "sdk jailer: the jailed wisp's command line is Firecracker's jailer's"
	else
		bad "sdk jailer: exec line" "'$(tr '\0' ' ' <"/proc/${JPID:-0}/cmdline" 2>&1)'"
	fi
	api PUT /logger '{"level":"Debug","log_path":"jlog.fifo","show_level":true,"show_log_origin":false}'
	expect "sdk jailer: PutLogger, the FIFO's name in the jail" 204
	api PUT /machine-config '{"mem_size_mib":64,"smt":false,"vcpu_count":1}'
	expect "sdk jailer: PutMachineConfiguration" 204
	api PUT /boot-source '{"boot_args":"probe=flood kib=1 wait","kernel_image_path":"probe.elf"}'
	expect "sdk jailer: PutGuestBootSource, the kernel's name in the jail" 204
	api PUT /drives/root_drive '{"drive_id":"root_drive","is_read_only":false,"is_root_device":true,"path_on_host":"rootfs.img"}'
	expect "sdk jailer: PutGuestDriveByID" 204
	api PUT /network-interfaces/1 '{"guest_mac":"AA:FC:00:00:00:01","host_dev_name":"'"$TAP"'","iface_id":"1"}'
	expect "sdk jailer: the netns's tap" 204
	api PUT /actions '{"action_type":"InstanceStart"}'
	expect "sdk jailer: InstanceStart" 204
	api GET /
	expect "sdk jailer: DescribeInstanceInfo" 200 '.id == "'"$JID"'" and .state == "Running"'
	if until_ok 10 grep -q 'guest boot: [0-9]* us' "$D/jlog.txt"; then
		ok "sdk jailer: the guest booted (its boot-timer write is logged)"
	else
		bad "sdk jailer" "no boot-timer line in the log: $(tail -n 3 "$D/jlog.txt")"
	fi
	api PUT /actions '{"action_type":"SendCtrlAltDel"}'
	expect "sdk jailer: Shutdown" 204
	if until_ok 10 gone "$JPID"; then
		ok "sdk jailer: the jailed wisp ($JPID) exits"
	else
		bad "sdk jailer" "pid ${JPID:-none} still runs after Ctrl-Alt-Del"
	fi
fi

# --- firecracker-containerd: the runtime shim through the SDK -------------
# The noop jailer's command, run in the shim directory:
# "--api-sock firecracker.sock --id VMID"; the FIFOs are made by the shim
# and read by nobody; the vsock's uds_path is relative; the drives are
# the read-only root_drive, then a container stub and a drive-mount stub
# (ids the base32 of their file names, files of 512-byte sectors);
# CreateVM's static interface with AllowMMDS (so MMDS V1); CPUTemplate
# T2 on Intel hosts only, as the shim drops it elsewhere.
D=$TMP/shim
mkdir -p "$D"
SOCK=$D/firecracker.sock
ID=fc-ctr-vm-1
launch "$D" "$WISP" --api-sock firecracker.sock --id "$ID"
ready "containerd" sdk_ready || exit 1
mkfifo -m 0700 "$D/fc-logs.fifo" "$D/fc-metrics.fifo"
api PUT /logger '{"level":"Debug","log_path":"'"$D/fc-logs.fifo"'","show_level":true,"show_log_origin":false}'
expect "containerd: PutLogger to a FIFO nobody reads" 204
api PUT /metrics '{"metrics_path":"'"$D/fc-metrics.fifo"'"}'
expect "containerd: PutMetrics to a FIFO nobody reads" 204
tmpl=
grep -q 'vendor_id.*GenuineIntel' /proc/cpuinfo && tmpl='"cpu_template":"T2",'
api PUT /machine-config '{'"$tmpl"'"mem_size_mib":128,"smt":false,"vcpu_count":1}'
expect "containerd: PutMachineConfiguration ${tmpl:-without cpu_template}" 204
api GET /machine-config
expect "containerd: refreshMachineConfiguration" 200 '.vcpu_count == 1 and .mem_size_mib == 128'
api PUT /boot-source '{"boot_args":"console=ttyS0 noapic reboot=k panic=1 pci=off nomodules rw probe=vsock-host vport=10789","kernel_image_path":"'"$PROBE"'"}'
expect "containerd: PutGuestBootSource" 204
api PUT /drives/root_drive '{"drive_id":"root_drive","is_read_only":true,"is_root_device":true,"path_on_host":"'"$TMP/rootfs.img"'"}'
expect "containerd: the root drive, read-only" 204
CTR=$(b32 ctrstub0)
MNT=$(b32 drivemntstub0)
for stub in ctrstub0 drivemntstub0; do
	printf 'stub %s' "$stub" >"$D/$stub"
	truncate -s 512 "$D/$stub"
done
api PUT "/drives/$CTR" '{"drive_id":"'"$CTR"'","is_read_only":false,"is_root_device":false,"path_on_host":"'"$D/ctrstub0"'"}'
expect "containerd: container stub drive $CTR" 204
api PUT "/drives/$MNT" '{"cache_type":"Writeback","drive_id":"'"$MNT"'","is_read_only":false,"is_root_device":false,"path_on_host":"'"$D/drivemntstub0"'"}'
expect "containerd: drive-mount stub $MNT" 204
api PUT /network-interfaces/1 '{"guest_mac":"AA:FC:00:00:00:01","host_dev_name":"'"$TAP"'","iface_id":"1"}'
expect "containerd: static interface" 204
api PUT /vsock '{"guest_cid":0,"uds_path":"firecracker.vsock","vsock_id":"agent_api"}'
expect "containerd: PutGuestVsock as the shim sends it (guest_cid 0, relative uds_path)" 204
api PUT /mmds/config '{"network_interfaces":["1"],"version":"V1"}'
expect "containerd: PutMmdsConfig (the SDK's default V1)" 204
api PUT /actions '{"action_type":"InstanceStart"}'
expect "containerd: InstanceStart" 204
if until_ok 10 serial_has '^probe: vsock listening'; then ok "containerd: the guest's agent listens"; else bad "containerd" "the guest never listened"; fi
[ -S "$D/firecracker.vsock" ] && ok "containerd: the vsock's socket, relative to the shim directory" ||
	bad "containerd" "no $D/firecracker.vsock"
# The probe's agent ends the VM once served, so the shim's drive patches
# (after the agent dial in the shim) come first here.
api PATCH "/drives/$MNT" '{"drive_id":"'"$MNT"'","path_on_host":"'"$TMP/data.img"'"}'
expect "containerd: mountDrives: PatchAndMount" 204
api PATCH "/drives/$CTR" '{"drive_id":"'"$CTR"'","path_on_host":"'"$TMP/data2.img"'"}'
expect "containerd: container rootfs onto its stub" 204
api PATCH "/drives/$CTR" '{"drive_id":"'"$CTR"'","path_on_host":"ctrstub0"}'
expect "containerd: Release: the stub back, by its relative name" 204
api GET /vm/config
# Firecracker keeps path_on_host as it was given.
expect "containerd: the drives as patched" 200 '[.drives[] | .path_on_host] == ["'"$TMP/rootfs.img"'","ctrstub0","'"$TMP/data.img"'"]'
api PUT /mmds '{"latest":{"meta-data":{"task":"t1"}}}'
expect "containerd: SetVMMetadata" 204
api PATCH /mmds '{"latest":{"meta-data":{"image":"busybox"}}}'
expect "containerd: UpdateVMMetadata" 204
api GET /mmds
expect "containerd: GetVMMetadata" 200 '. == {"latest":{"meta-data":{"task":"t1","image":"busybox"}}}'
api PATCH /vm '{"state":"Paused"}'
expect "containerd: PauseVM" 204
api GET /
expect "containerd: isPaused" 200 '.state == "Paused"'
api PATCH /vm '{"state":"Resumed"}'
expect "containerd: ResumeVM" 204
api GET /
expect "containerd: StopVM's isPaused: not paused" 200 '.state == "Running"'
agent "containerd" "$D/firecracker.vsock" 10789

# --- Kata Containers (the Go runtime, fc.go) -------------------------------
# --version first: the first line's second field, less its "v", must be
# semver >= 0.21.1.
"$WISP" --version >"$TMP/version" 2>&1
ver=$(head -n 1 "$TMP/version" | awk '{ print $2 }')
ver=${ver#v}
if [[ "$ver" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]] &&
	[ "$(printf '%s\n0.21.1\n' "${ver%%[-+]*}" | sort -V | head -n 1)" = 0.21.1 ]; then
	ok "kata: --version '$(head -n 1 "$TMP/version")' parses as semver $ver >= 0.21.1"
else
	bad "kata: --version" "'$(head -n 1 "$TMP/version")' is not '<name> v<semver>' >= 0.21.1"
fi

# kata_config ROOT DIR [NETWORK]: DIR/fcConfig.json as Kata writes it
# (MarshalIndent, tabs): rootfs read-only and not root, drive_0..drive_7
# empty placeholders, logger and metrics FIFOs that Kata reads, the
# hybrid vsock (CID 3, vsock_id root), the interfaces (null: none).
# Paths are under ROOT; in the jail they are the jail's (ROOT = /).
kata_config() {
	local r=$1 i drives
	drives='{"drive_id":"rootfs","is_read_only":true,"is_root_device":false,"path_on_host":"'"$r/rootfs"'"}'
	for i in $(seq 0 7); do
		drives+=',{"drive_id":"drive_'"$i"'","is_read_only":false,"is_root_device":false,"path_on_host":"'"$r/drive_$i"'"}'
	done
	jq --tab . >"$2/fcConfig.json" <<JSON
{"boot-source":{"boot_args":"root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4 pci=off reboot=k panic=1 iommu=off net.ifnames=0 random.trust_cpu=on 8250.nr_uarts=0 agent.log_vport=1025 probe=vsock-host vport=1024","kernel_image_path":"$r/vmlinux"},
 "drives":[$drives],
 "logger":{"level":"Error","log_path":"$r/logs.fifo"},
 "machine-config":{"mem_size_mib":64,"smt":false,"vcpu_count":1},
 "metrics":{"metrics_path":"$r/metrics.fifo"},
 "network-interfaces":${3:-null},
 "vsock":{"guest_cid":3,"uds_path":"$r/kata.hvsock","vsock_id":"root"}}
JSON
}
# kata_files ROOT: the kernel, the image and the empty placeholders in
# the root; the FIFOs opened by their readers first, as Kata's
# fcListenToFifo does (metrics lines kept for the check).
kata_files() {
	local i
	cp "$PROBE" "$1/vmlinux"
	cp "$TMP/rootfs.img" "$1/rootfs"
	for i in $(seq 0 7); do : >"$1/drive_$i"; done
	mkfifo "$1/logs.fifo" "$1/metrics.fifo"
	cat "$1/logs.fifo" >/dev/null &
	PIDS+=("$!")
	cat "$1/metrics.fifo" >"$TMP/kata-metrics" &
	PIDS+=("$!")
}
VMPATH=$TMP/run/vc/firecracker/kata-sb-1
KROOT=$VMPATH/root
mkdir -p "$KROOT/run"
kata_files "$KROOT"
# fcAddNetDevice: the endpoint's name, its tap, no limits (empty buckets).
kata_config "$KROOT" "$VMPATH" '[{"guest_mac":"02:00:ca:fe:00:01","host_dev_name":"'"$TAP"'","iface_id":"eth0","rx_rate_limiter":{},"tx_rate_limiter":{}}]'
SOCK=$KROOT/run/firecracker.socket
launch "$VMPATH" "$WISP" --api-sock "$SOCK" --config-file "$VMPATH/fcConfig.json"
if ready "kata" kata_ready; then
	if chmod 0640 "$KROOT/kata.hvsock" 2>/dev/null && [ -S "$KROOT/kata.hvsock" ]; then
		ok "kata: the hybrid vsock socket is there to chmod once Running"
	else
		bad "kata" "no socket $KROOT/kata.hvsock when the VM runs"
	fi
	# GetThreadIDs (stats, vCPU pinning, vCPU threads into the sandbox
	# cgroup): the threads named "fc_vcpu N", N its vCPU's index.
	ids=$(for t in /proc/"$PID"/task/*; do
		[ "${t##*/}" = "$PID" ] || sed -n 's/^fc_vcpu *\([0-9][0-9]*\)$/\1/p' "$t/comm"
	done | xargs)
	check "kata: GetThreadIDs finds the vCPU thread by its name" 0 "$ids"
	api GET /vm/config
	expect "kata: 9 drives, the tap and the vsock from the file" 200 '[.drives[].drive_id] == ["rootfs","drive_0","drive_1","drive_2","drive_3","drive_4","drive_5","drive_6","drive_7"] and .drives[0].is_read_only and ."network-interfaces"[0].host_dev_name == "'"$TAP"'" and .vsock.guest_cid == 3'
	# hotplugBlockDevice: AddDevice patches a placeholder to the file,
	# RemoveDevice patches it back to the placeholder.
	api PATCH /drives/drive_0 '{"drive_id":"drive_0","path_on_host":"'"$TMP/data.img"'"}'
	expect "kata: hotplug add (PATCH drive_0)" 204
	api GET /vm/config
	expect "kata: drive_0 is the file" 200 '.drives[1].path_on_host == "'"$TMP/data.img"'"'
	api PATCH /drives/drive_0 '{"drive_id":"drive_0","path_on_host":"'"$KROOT/drive_0"'"}'
	expect "kata: hotplug remove (back to the empty placeholder)" 204
	agent "kata" "$KROOT/kata.hvsock" 1024
	# updateMetrics: json.Unmarshal of each line into FirecrackerMetrics:
	# its groups, where present, objects of numbers; block and vcpu there.
	if [ -s "$TMP/kata-metrics" ] && jq -e -s 'all(.[]; type == "object" and has("block") and has("vcpu") and
		all(to_entries[] | select(.key | IN("api_server", "block", "get_api_requests", "i8042", "latencies_us", "logger", "mmds", "net", "patch_api_requests", "put_api_requests", "rtc", "seccomp", "vcpu", "vmm", "uart", "signals", "vsock")) | .value;
			type == "object" and all(.. | scalars; type == "number")))' "$TMP/kata-metrics" >/dev/null 2>&1; then
		ok "kata: metrics lines decode as Kata's FirecrackerMetrics reads them"
	else
		bad "kata: metrics" "$(head -c 400 "$TMP/kata-metrics")"
	fi
else
	kill -9 "$PID" 2>/dev/null
fi

# StopVM: SIGTERM to the pid, then wait (15 s) for it to go. No network
# here: "network-interfaces": null.
rm -rf "$VMPATH"
mkdir -p "$KROOT/run"
kata_files "$KROOT"
kata_config "$KROOT" "$VMPATH"
sed -i 's/probe=vsock-host vport=1024/probe=kbd/' "$VMPATH/fcConfig.json"
launch "$VMPATH" "$WISP" --api-sock "$SOCK" --config-file "$VMPATH/fcConfig.json"
if ready "kata stop" kata_ready; then
	until_ok 10 serial_has 'tick 1' && kill -0 "$PID" && ok "kata stop: the guest runs" || bad "kata stop" "no tick"
	kill -TERM "$PID"
	wait_exit 15
	expect_rc "kata: SIGTERM ends wisp within fcStopSandboxTimeout" 0
fi

# Jailed: "--id ID --exec-file PATH --uid 0 --gid 0 --chroot-base-dir
# /run/vc --daemonize --netns NS -- --config-file /fcConfig.json", the resources
# in <base>/firecracker/<id>/root under the jail's paths, the API at the
# jail's default /run/firecracker.socket, the pid from
# <root>/firecracker.pid (so the exec file is named firecracker).
KBASE=$TMP/run/vc
mkdir -p "$TMP/bin"
cp "$WISP_PLAIN" "$TMP/bin/firecracker"
VMPATH=$KBASE/firecracker/kata-sb-2
KROOT=$VMPATH/root
mkdir -p "$KROOT/run"
kata_files "$KROOT"
kata_config "" "$KROOT"
kata_jail() { # NAME UID
	(cd "$VMPATH" && "$JAILER" --id kata-sb-2 --exec-file "$TMP/bin/firecracker" \
		--uid "$2" --gid "$2" --chroot-base-dir "$KBASE" --daemonize \
		--netns "/var/run/netns/$NS" -- --config-file /fcConfig.json) \
		</dev/null >"$TMP/raw" 2>"$TMP/err"
	RC=$?
	tr -d '\r' <"$TMP/raw" >"$TMP/out"
	expect_rc "$1: --uid $2 --gid $2 --daemonize" 0
	[ "$RC" = 0 ] || return
	until_ok 5 test -s "$KROOT/firecracker.pid"
	KPID=$(cat "$KROOT/firecracker.pid" 2>/dev/null)
	PIDS+=("${KPID:-0}")
	[ -n "$KPID" ] && [ -e "/proc/$KPID" ] && ok "$1: firecracker.pid names the running VMM ($KPID)" ||
		bad "$1" "no live pid in $KROOT/firecracker.pid"
	# No --api-sock: Firecracker serves the API on /run/firecracker.socket.
	ready "$1: the API on the jail's /run/firecracker.socket" kata_ready || return
	[ -S "$KROOT/kata.hvsock" ] && ok "$1: the hybrid vsock in the root" || bad "$1" "no $KROOT/kata.hvsock"
	api PATCH /drives/drive_0 '{"drive_id":"drive_0","path_on_host":"/drive_0"}'
	expect "$1: PATCH with the jail's path" 204
	kill -TERM "${KPID:-0}"
	if until_ok 15 gone "$KPID"; then ok "$1: SIGTERM ends it"; else bad "$1" "$KPID survives SIGTERM"; fi
}
SOCK=$KROOT/run/firecracker.socket
kata_jail "kata jailer" 0
# The same as a user that owns the root, to replay the rest where uid 0
# is refused.
if [ "$RC" = 2 ] && grep -q "uid '0'" "$TMP/err"; then
	chown -R "$JUID:$JUID" "$KROOT"
	kata_jail "kata jailer as uid $JUID" "$JUID"
fi

# --- flintlock -------------------------------------------------------------
# "--id UID --boot-timer --no-api --config-file firecracker.cfg
# --metadata metadata.json", stdout and stderr to files, the log and
# metrics files made first, the VmmConfig's JSON (smt true on amd64,
# mmds-config V1 naming the interface that allows metadata, the
# guest-agent vsock), stopped with SIGHUP.
S=$TMP/flintlock/ns1/vm1/01HX
mkdir -p "$S"
touch "$S/firecracker.log" "$S/firecracker.metrics"
flint_config() { # SMT
	cat >"$S/firecracker.cfg" <<JSON
{"drives":[{"drive_id":"root","path_on_host":"$TMP/rootfs.img","is_root_device":true,"is_read_only":false,"cache_type":"Unsafe"}],
 "boot-source":{"kernel_image_path":"$PROBE","boot_args":"console=ttyS0 ds=nocloud-net;s=http://169.254.169.254/latest/ i8042.dumbkbd i8042.noaux i8042.nomux i8042.nopnp panic=1 pci=off reboot=k probe=flood kib=1 wait"},
 "logger":{"log_path":"$S/firecracker.log","level":"Debug","show_level":true,"show_log_origin":true},
 "machine-config":{"vcpu_count":2,"mem_size_mib":64,"smt":$1,"track_dirty_pages":false},
 "metrics":{"metrics_path":"$S/firecracker.metrics"},
 "mmds-config":{"version":"V1","network_interfaces":["eth0"]},
 "network-interfaces":[{"iface_id":"eth0","host_dev_name":"$TAP","guest_mac":"AA:FF:00:00:00:01"}],
 "vsock":{"vsock_id":"guest-agent","guest_cid":3,"uds_path":"$S/firecracker.vsock"}}
JSON
}
cat >"$S/metadata.json" <<JSON
{"latest":{"meta-data":"instance_id: ns1/vm1\nlocal_hostname: vm1\n","user-data":"#cloud-config\nhostname: vm1\n","vendor-data":""}}
JSON
flint_run() { # NAME
	launch "$S" "$WISP" --id 01HX --boot-timer --no-api --config-file "$S/firecracker.cfg" \
		--metadata "$S/metadata.json"
	if until_ok 10 serial_has '^probe: flood done$'; then
		ok "$1: the guest boots"
		if until_ok 10 grep -q 'guest boot: [0-9]* us' "$S/firecracker.log"; then
			ok "$1: --boot-timer: the boot time in the log file"
		else
			bad "$1" "no boot-timer line in firecracker.log"
		fi
		kill -0 "$PID" && ok "$1: State: the process runs" || bad "$1" "wisp ended before Delete"
		kill -HUP "$PID"
		wait_exit 10
		[ "$RC" != 124 ] && ok "$1: SIGHUP ends it (exit $RC)" || bad "$1" "SIGHUP did not end it"
	else
		wait_exit 5
		bad "$1" "no boot (exit $RC): $(tail -n 3 "$TMP/err")"
	fi
}
flint_config true
flint_run "flintlock (smt true, as on amd64)"

# --- Firecracker's jailer: the exec line it gives firecracker -------------
# "--id ID --start-time-us T --start-time-cpu-us C --parent-cpu-time-us P"
# and then the jailer's arguments after its "--", here --api-sock.
D=$TMP/fcjail
mkdir -p "$D"
SOCK=$D/api.sock
launch "$D" "$WISP" --id fc-jailed-1 --start-time-us "$(mono_us)" --start-time-cpu-us 1500 \
	--parent-cpu-time-us 800 --api-sock "$SOCK"
if ready "jailer exec line" sdk_ready; then
	api GET /
	expect "jailer exec line: the id" 200 '.id == "fc-jailed-1" and .state == "Not started"'
	touch "$D/metrics"
	api PUT /metrics '{"metrics_path":"'"$D/metrics"'"}'
	api PUT /actions '{"action_type":"FlushMetrics"}'
	if jq -e -s '.[-1].api_server.process_startup_time_us > 0 and .[-1].api_server.process_startup_time_cpu_us > 0' "$D/metrics" >/dev/null 2>&1; then
		ok "jailer exec line: the startup times in the metrics"
	else
		bad "jailer exec line: metrics" "$(tail -c 300 "$D/metrics")"
	fi
	kill -0 "$PID" && kill -TERM "$PID"
	wait_exit 10
	expect_rc "jailer exec line: SIGTERM" 0
fi

# Every wisp this tier ran, the ASan build's reports included.
cat "$TMP/err" >>"$TMP/allerr"
expect_no_line "no sanitizer report" allerr 'Sanitizer|runtime error'

summary clients
