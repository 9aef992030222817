#!/usr/bin/env bash
# virtio-net throughput on a tap, wisp and QEMU microvm (virtio-net-device,
# tap backend, vhost off) with the same probe guest in the same run. The
# guest's net-bench scenario runs from ring 3 (on kvm-pvm only ring-3
# guest code runs natively): dir=tx sends N frames as fast as the device
# takes them, dir=rx counts N frames perf/netflood.c pours into the tap.
# Each figure is the median of RUNS whole runs minus the median of a run
# with no frames (boot and exit). Prints one line per figure:
#
#   net MONITOR DIR BYTES FRAMES_PER_S MIB_PER_S
#
# Usage: perf/netbench.sh [N [RUNS]]   (needs root: a network namespace)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${2:-5}
B=${BUILD:-build}
WISP=$(realpath "${WISP:-$B/wisp}")
PROBE=$(realpath "${PROBE:-$B/probe.elf}")
cc -O2 -Wall -Werror -o "$B/netflood" perf/netflood.c
FLOOD=$(realpath "$B/netflood")
NS=wisp-netbench-$$
TMP=$(mktemp -d /tmp/wisp-netbench.XXXXXX)
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS" rootfs-tools/net-setup.sh host-only wtap0 172.16.0.1/24

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# run MONITOR ARGS: one run in the namespace; prints its µs.
run() {
	local mon=$1 args=$2 t0 t1 rc
	if [ "$mon" = wisp ]; then
		cat >"$TMP/vm.ini" <<INI
[boot]
kernel = $PROBE
cmdline = probe=net-bench $args
[serial]
output = $TMP/serial
input = none
[net.eth0]
tap = wtap0
INI
		t0=$(date +%s%N)
		ip netns exec "$NS" timeout 120 "$WISP" --config "$TMP/vm.ini" 2>"$TMP/err" && rc=0 || rc=$?
		t1=$(date +%s%N)
		[ "$rc" = 0 ] || { echo "netbench: wisp $args: exit $rc" >&2; cat "$TMP/err" >&2; exit 1; }
	else
		t0=$(date +%s%N)
		ip netns exec "$NS" timeout 120 qemu-system-x86_64 \
			-M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off \
			-enable-kvm -cpu EPYC -m 128 -nodefaults -no-user-config \
			-display none -no-reboot -kernel "$PROBE" \
			-append "probe=net-bench $args" \
			-global virtio-mmio.force-legacy=false \
			-netdev tap,id=n0,ifname=wtap0,script=no,downscript=no,vhost=off \
			-device virtio-net-device,netdev=n0 \
			-device isa-debug-exit,iobase=0xf4 -serial "file:$TMP/serial" \
			2>"$TMP/err" && rc=0 || rc=$?
		t1=$(date +%s%N)
		# isa-debug-exit: status (0 << 1) | 1 when the probe succeeded
		[ "$rc" = 1 ] || { echo "netbench: qemu $args: exit $rc" >&2; cat "$TMP/err" >&2; exit 1; }
	fi
	grep -q "probe: net bench" "$TMP/serial" ||
		{ echo "netbench: $mon $args: no result" >&2; cat "$TMP/serial" >&2; exit 1; }
	echo $(((t1 - t0) / 1000))
}

# figure MONITOR DIR BYTES: median of RUNS runs of N frames, baseline off.
figure() {
	local mon=$1 dir=$2 size=$3 fpid=
	: >"$TMP/base" && : >"$TMP/full"
	for _ in $(seq "$RUNS"); do
		run "$mon" "dir=$dir n=0 size=$size" >>"$TMP/base"
		if [ "$dir" = rx ]; then
			ip netns exec "$NS" "$FLOOD" wtap0 120 "$size" >/dev/null &
			fpid=$!
		fi
		run "$mon" "dir=$dir n=$N size=$size" >>"$TMP/full"
		[ -z "$fpid" ] || { kill "$fpid"; wait "$fpid" 2>/dev/null || true; }
		fpid=
	done
	awk -v n="$N" -v s="$size" -v m="$mon" -v d="$dir" \
		-v full="$(median <"$TMP/full")" -v base="$(median <"$TMP/base")" \
		'BEGIN { t = (full - base) / 1e6; if (t <= 0) t = 1e-6
			printf "net %s %s %d %.0f %.1f\n", m, d, s, n / t, n * s / t / 1048576 }'
}

for mon in wisp qemu; do
	for dir in tx rx; do
		for size in 1514 60; do
			figure "$mon" "$dir" "$size"
		done
	done
done
