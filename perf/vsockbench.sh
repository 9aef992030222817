#!/usr/bin/env bash
# virtio-vsock throughput, host <-> guest, with the probe guest: its
# vsock-bench scenario connects to host port 7000 and then, from ring 3
# (on kvm-pvm only ring-3 guest code runs natively), sends or receives
# MIB MiB in 64 KiB packets; tests/vsock_host.c on <uds_path>_7000 times
# from the first byte to the EOF. Prints each run and the median per
# direction. Usage: perf/vsockbench.sh [MIB [RUNS]]
set -eu
cd "$(dirname "$0")/.."
MIB=${1:-256}
RUNS=${2:-5}
WISP=${WISP:-build/wisp}
PROBE=${PROBE:-build/probe.elf}
HOST=${VSOCK_HOST:-build/vsock_host}
make -s "$WISP" "$PROBE" "$HOST"
PROBE=$(realpath "$PROBE") # the INI file's paths are relative to it
TMP=$(mktemp -d /tmp/wisp-vsockbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for dir in g2h h2g; do
	: >"$TMP/rates"
	for _ in $(seq "$RUNS"); do
		if [ "$dir" = g2h ]; then
			"$HOST" bench-recv "$TMP/v.sock_7000" >"$TMP/host" &
		else
			"$HOST" bench-send "$TMP/v.sock_7000" $((MIB << 20)) >"$TMP/host" &
		fi
		hpid=$!
		for _ in $(seq 100); do [ -S "$TMP/v.sock_7000" ] && break; sleep 0.02; done
		cat >"$TMP/vm.ini" <<INI
[machine]
mem_mib = 64
[boot]
kernel = $PROBE
cmdline = probe=vsock-bench dir=$dir n=$MIB hport=7000
[serial]
output = $TMP/serial
[vsock]
guest_cid = 3
uds_path = $TMP/v.sock
INI
		if ! timeout 120 "$WISP" --config "$TMP/vm.ini" 2>"$TMP/err" ||
		    ! wait "$hpid" || ! grep -q 'bench done' "$TMP/serial"; then
			kill "$hpid" 2>/dev/null || true
			echo "vsockbench: $dir run failed" >&2
			cat "$TMP/host" "$TMP/err" >&2
			exit 1
		fi
		sed -n 's/.*: \([0-9.]*\) MiB\/s$/\1/p' "$TMP/host" >>"$TMP/rates"
		echo "  $(cat "$TMP/host")"
	done
	case $dir in
	g2h) what="guest -> host" ;;
	h2g) what="host -> guest" ;;
	esac
	echo "vsock $what: $(median <"$TMP/rates") MiB/s (median of $RUNS runs of $MIB MiB)"
done
