#!/usr/bin/env bash
# MMDS with the probe guest, on a tap in a network namespace of its own:
#
# 1. Round trip: the guest's mmds-bench scenario opens one TCP connection
#    to 169.254.169.254:80 and sends W warm-up GETs, then N timed ones, on
#    it (MMDS keeps a connection open across requests, as Firecracker's
#    does). The guest times each request with rdtsc (from queueing the
#    request to the response whole and acknowledged) in ring 3 and prints
#    the raw TSC deltas; they are converted here with the vCPU's TSC rate
#    as KVM reports it (perf/tsckhz.c: KVM_GET_TSC_KHZ on a fresh vCPU;
#    wisp does not change it on boot). RUNS boots, all requests pooled.
# 2. Its cost on other traffic: the net-bench scenario's guest → tap
#    frames (perf/netbench.sh's tx figure: NTX frames, the run's wall time
#    minus a run with none) on the same interface with MMDS off and on
#    (on: every transmitted frame is peeked at for the MMDS address), in
#    interleaved runs, RUNS of each; medians.
#
# Prints:
#   mmds tsc_khz KHZ
#   mmds rtt REQUESTS MIN_US MEDIAN_US P99_US RESPONSE_BYTES WARM_UP
#   mmds tx BYTES OFF_FRAMES_PER_S ON_FRAMES_PER_S ON/OFF
#
# Usage: perf/mmdsbench.sh [N [RUNS [NTX]]]   (needs root: a network namespace)
set -eu
cd "$(dirname "$0")/.."
N=${1:-2000}
RUNS=${2:-5}
NTX=${3:-200000}
W=${MMDS_WARM:-200}
B=${BUILD:-build}
WISP=$(realpath "${WISP:-$B/wisp}")
PROBE=$(realpath "${PROBE:-$B/probe.elf}")
cc -O2 -Wall -Werror -o "$B/tsckhz" perf/tsckhz.c
KHZ=$("$B/tsckhz")
NS=wmb-mmdsbench-$$
TAP=wmbtap0
TMP=$(mktemp -d /tmp/wisp-mmdsbench.XXXXXX)
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS" rootfs-tools/net-setup.sh host-only "$TAP" 172.16.0.1/24
echo '{"latest": {"meta-data": {"instance-id": "i-0123456789abcdef0"}}, "probe": "hello from mmds"}' >"$TMP/meta.json"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# vm_json ARGS MMDS(0/1): the probe with one interface on the tap.
vm_json() {
	local mmds=
	[ "$2" = 1 ] && mmds=',
  "mmds-config": {"version": "V1", "network_interfaces": ["eth0"]}'
	cat >"$TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$PROBE", "boot_args": "probe=$1"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "$TAP"}]$mmds
}
JSON
}

# run ARGS MMDS WANT: one boot in the namespace, its serial output in
# $TMP/serial, which must have WANT; prints the run's µs.
run() {
	local t0 t1 rc
	vm_json "$1" "$2"
	t0=$(date +%s%N)
	ip netns exec "$NS" timeout 120 "$WISP" --no-api --config-file "$TMP/vm.json" \
		--metadata "$TMP/meta.json" </dev/null >"$TMP/serial" 2>"$TMP/err" && rc=0 || rc=$?
	t1=$(date +%s%N)
	if [ "$rc" != 0 ] || ! grep -q "$3" "$TMP/serial"; then
		echo "mmdsbench: $1 (mmds $2): exit $rc" >&2
		tail -n 5 "$TMP/serial" "$TMP/err" >&2
		exit 1
	fi
	echo $(((t1 - t0) / 1000))
}

echo "mmds tsc_khz $KHZ"
: >"$TMP/rtt"
for _ in $(seq "$RUNS"); do
	run "mmds-bench n=$N w=$W" 1 "probe: mmds bench done" >/dev/null
	tr -d '\r' <"$TMP/serial" | sed -n 's/^probe: mmds tsc //p' | tr ' ' '\n' >>"$TMP/rtt"
done
bytes=$(tr -d '\r' <"$TMP/serial" | sed -n 's/^probe: mmds bench n=[0-9]* bytes=//p')
sort -n "$TMP/rtt" | awk -v khz="$KHZ" -v b="$bytes" -v w="$W" '{ a[NR] = $1 }
	END { p = int(NR * 0.99 + 0.999); if (p > NR) p = NR
	      us = 1000 / khz
	      printf "mmds rtt %d %.1f %.1f %.1f %d %d\n", NR, a[1] * us,
		     a[int((NR + 1) / 2)] * us, a[p] * us, b, w }'

for size in 1514 60; do
	for m in 0 1; do : >"$TMP/base$m" && : >"$TMP/full$m"; done
	for _ in $(seq "$RUNS"); do
		for m in 0 1; do
			run "net-bench dir=tx n=0 size=$size" $m "probe: net bench" >>"$TMP/base$m"
			run "net-bench dir=tx n=$NTX size=$size" $m "probe: net bench" >>"$TMP/full$m"
		done
	done
	for m in 0 1; do
		awk -v n="$NTX" -v full="$(median <"$TMP/full$m")" -v base="$(median <"$TMP/base$m")" \
			'BEGIN { t = (full - base) / 1e6; if (t <= 0) t = 1e-6; printf "%.0f\n", n / t }' >"$TMP/fps$m"
	done
	awk -v s="$size" -v off="$(cat "$TMP/fps0")" -v on="$(cat "$TMP/fps1")" \
		'BEGIN { printf "mmds tx %d %d %d %.3f\n", s, off, on, on / off }'
done
