#!/usr/bin/env bash
# make perf: boot benchmarks of wisp, side by side with QEMU microvm on the
# same probe guest, written to docs/perf.md. Figures, not pass/fail: this
# machine is shared and noisy, so nothing here is a test.
#
#   RUNS=20           runs per figure
#   PERF_LINUX=1      also boot the Linux guest once (~100 s on kvm-pvm)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
RUNS=${RUNS:-20}
PERF_LINUX=${PERF_LINUX:-1}
WISP=$B/wisp
PROBE=$B/probe.elf
OUT=$(mktemp -d /tmp/wisp-perf.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cc -O2 -Wall -Werror -o "$B/bootbench" perf/bootbench.c

# stats < numbers-in-µs: "min median p90" in ms (median: the lower middle).
stats() {
	sort -n | awk '{a[NR] = $1}
		END { if (!NR) { print "n/a n/a n/a"; exit }
		      p = int(NR * 0.9 + 0.999); if (p > NR) p = NR
		      printf "%.2f %.2f %.2f\n", a[1] / 1000,
			     a[int((NR + 1) / 2)] / 1000, a[p] / 1000 }'
}

# bench NAME WANT-RC cmd...: runs, checks every exit status, leaves
# $OUT/NAME.tsv (run, µs, rc, maxrss KiB) and $OUT/NAME/run-*.log.
bench() {
	local name=$1 want=$2
	shift 2
	mkdir -p "$OUT/$name"
	"$B/bootbench" -n "$RUNS" -o "$OUT/$name" -- "$@" >"$OUT/$name.tsv"
	if awk -v w="$want" '$3 != w { bad = 1 } END { exit !bad }' "$OUT/$name.tsv"; then
		echo "perf: $name: a run exited with a status other than $want:" >&2
		cat "$OUT/$name.tsv" >&2
		exit 1
	fi
}

# logged NAME REGEX: the µs figure wisp logged in each run's log.
logged() {
	cat "$OUT/$1"/run-*.log | sed -nE "s/.*$2.*/\1/p"
}

echo "perf: wisp, probe guest, $RUNS runs each"
bench wisp_hello 0 "$WISP" --kernel "$PROBE" --cmdline probe=hello \
	--start-time-us '{T0}' --level debug
bench wisp_timer 0 "$WISP" --kernel "$PROBE" --cmdline probe=boot-timer \
	--start-time-us '{T0}'
read -r w_min w_med w_p90 < <(cut -d' ' -f2 "$OUT/wisp_hello.tsv" | stats)
read -r f_min f_med f_p90 < <(logged wisp_hello 'vcpu 0: first exit after ([0-9]+) us' | stats)
# The guest is done when it resets; wisp's log clock counts from {T0}.
read -r d_min d_med d_p90 < <(cat "$OUT"/wisp_hello/run-*.log |
	sed -nE 's/^\[ *([0-9]+)\.([0-9]+)\] wisp info: guest requested a reset.*/\1\2/p' |
	sed -E 's/^0+([0-9])/\1/' | stats)
read -r t_min t_med t_p90 < <(logged wisp_timer 'guest boot: ([0-9]+) us since start' | stats)

# QEMU as it runs on a kvm-pvm host; sets QEMU=(...) for probe scenario $1.
qemu_cmd() {
	QEMU=(qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off
		-enable-kvm -cpu EPYC -m 128 -nodefaults -no-user-config
		-display none -no-reboot -kernel "$PROBE" -append "probe=$1"
		-device isa-debug-exit,iobase=0xf4 -serial stdio)
}
echo "perf: QEMU microvm, same guest"
qemu_cmd hello
# isa-debug-exit turns the probe's status 0 into QEMU's exit status 1.
bench qemu_hello 1 "${QEMU[@]}"
read -r q_min q_med q_p90 < <(cut -d' ' -f2 "$OUT/qemu_hello.tsv" | stats)
ratio=$(awk -v q="$q_med" -v w="$w_med" 'BEGIN { printf "%.1f", q / w }')

# Memory: RSS of a monitor whose guest idles in HLT, minus the guest RAM it
# touched (the Rss of the 128 MiB guest mapping in smaps).
vmm_rss() { # vmm_rss PID GUEST_MIB -> "total_kib guest_kib"
	local size=$(($2 * 1024 * 1024)) cur=0 total=0 guest=0 a b key val
	while read -r key val _; do
		if [[ $key =~ ^([0-9a-f]+)-([0-9a-f]+)$ ]]; then
			a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
			cur=$((16#$b - 16#$a))
		elif [ "$key" = Rss: ]; then
			total=$((total + val))
			[ "$cur" = "$size" ] && guest=$((guest + val))
		fi
	done <"/proc/$1/smaps"
	echo "$total $guest"
}
rss_of() { # rss_of NAME cmd...: starts cmd, waits for "halting", measures
	local name=$1
	shift
	"$@" </dev/null >"$OUT/$name.out" 2>&1 &
	local pid=$!
	for _ in $(seq 100); do grep -q halting "$OUT/$name.out" && break; sleep 0.05; done
	sleep 0.2
	vmm_rss "$pid" 128
	kill -TERM "$pid"
	wait "$pid" || true
}
read -r wr_total wr_guest < <(rss_of wisp_rss "$WISP" --kernel "$PROBE" --cmdline probe=halt)
qemu_cmd halt
read -r qr_total qr_guest < <(rss_of qemu_rss "${QEMU[@]}")
w_over=$((wr_total - wr_guest))
q_over=$((qr_total - qr_guest))

# virtio-blk, driven by the probe guest from ring 3 (kvm-pvm emulates its
# CPL-0 code): RUNS_BLK runs of each; the I/O time is a run's exec-to-exit
# minus the median of setup-only runs (bench=none) of the same monitor.
RUNS_BLK=${RUNS_BLK:-5}
N4K=${N4K:-20000}
N1M=${N1M:-2000}
IMG_DIR=$(mktemp -d /dev/shm/wisp-perf.XXXXXX)
IMG=$IMG_DIR/bench.img
truncate -s 256M "$IMG"
dd if=/dev/urandom of="$IMG" bs=1M count=256 conv=notrunc status=none
blk_ini() { # blk_ini ARGS -> $OUT/blk.ini
	cat >"$OUT/blk.ini" <<INI
[machine]
mem_mib = 128
[boot]
kernel = $(realpath "$PROBE")
cmdline = probe=blk-bench $1
[drive.bench]
path = $IMG
[serial]
input = none
INI
}
qemu_blk() { # sets QEMU=(...) for blk-bench ARGS
	QEMU=(qemu-system-x86_64 -M microvm,x-option-roms=off,isa-serial=on,rtc=off,acpi=off
		-enable-kvm -cpu EPYC -m 128 -nodefaults -no-user-config
		-display none -no-reboot -kernel "$PROBE" -append "probe=blk-bench $1"
		-global virtio-mmio.force-legacy=false
		-drive "file=$IMG,format=raw,if=none,id=d0,aio=io_uring,cache=writeback"
		-device virtio-blk-device,drive=d0
		-device isa-debug-exit,iobase=0xf4 -serial stdio)
}
blk_bench() { # blk_bench MONITOR NAME ARGS
	local saved=$RUNS
	RUNS=$RUNS_BLK
	if [ "$1" = wisp ]; then
		blk_ini "$3"
		bench "$2" 0 "$WISP" --config "$OUT/blk.ini"
	else
		qemu_blk "$3"
		bench "$2" 1 "${QEMU[@]}"
	fi
	RUNS=$saved
}
# median µs of a bench's runs
med() { cut -d' ' -f2 "$OUT/$1.tsv" | sort -n | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'; }
echo "perf: virtio-blk, probe guest, $RUNS_BLK runs each (wisp and QEMU)"
for m in wisp qemu; do
	blk_bench $m "${m}_blk0" "bench=none"
	blk_bench $m "${m}_blk4k" "bench=4k n=$N4K"
	blk_bench $m "${m}_blk1m" "bench=1m n=$N1M"
done
iops() { awk -v n="$N4K" -v t="$(med "$1_blk4k")" -v b="$(med "$1_blk0")" 'BEGIN { printf "%.0f", n / ((t - b) / 1e6) }'; }
mibs() { awk -v n="$N1M" -v t="$(med "$1_blk1m")" -v b="$(med "$1_blk0")" 'BEGIN { printf "%.0f", n / ((t - b) / 1e6) }'; }
w_iops=$(iops wisp) q_iops=$(iops qemu) w_mibs=$(mibs wisp) q_mibs=$(mibs qemu)
fio_common=(--filename="$IMG" --ioengine=io_uring --iodepth=16 --runtime=5 --time_based --output-format=json)
h_iops=$(fio --name=r "${fio_common[@]}" --rw=randread --bs=4k | jq '.jobs[0].read.iops | floor')
h_mibs=$(fio --name=s "${fio_common[@]}" --iodepth=4 --rw=read --bs=1M | jq '.jobs[0].read.bw_bytes / 1048576 | floor')
rm -rf "$IMG_DIR"

linux_row="| exec → Linux /init (boot timer), 1 run | not run (PERF_LINUX=0) | | | |"
linux_net_row="Inside Linux: not run (PERF_LINUX=0)."
linux_dd_row="Linux guest dd: not run (PERF_LINUX=0)."
if [ "$PERF_LINUX" = 1 ] && [ -e "$B/guest/vmlinux" ]; then
	echo "perf: Linux guest, 1 boot (slow on kvm-pvm)"
	RUNS=1 bench linux 0 "$WISP" --kernel "$B/guest/vmlinux" \
		--initrd "$B/guest/initramfs.cpio" --mem-mib 256 \
		--cmdline 'console=ttyS0 reboot=k,panic_warm panic=1 wisp.run=true' \
		--start-time-us '{T0}'
	l=$(logged linux 'guest boot: ([0-9]+) us since start' | head -1)
	linux_row="| exec → Linux /init (boot timer), 1 run | $(awk -v l="$l" 'BEGIN { printf "%.0f", l / 1000 }') | | | |"
	# Reference: busybox dd inside Linux with its root on virtio-blk,
	# reading a second drive (8 MiB in /dev/shm) in 1 MiB blocks: the guest
	# kernel is slow at this on kvm-pvm (0.3 MiB/s), so keep it small.
	echo "perf: Linux guest on virtio-blk, dd of 8 MiB (1 boot)"
	DD_DIR=$(mktemp -d /dev/shm/wisp-dd.XXXXXX)
	cp "$B/guest/rootfs.ext4" "$DD_DIR/root.ext4"
	dd if=/dev/urandom of="$DD_DIR/data.img" bs=1M count=8 status=none
	cat >"$OUT/dd.ini" <<INI
[machine]
mem_mib = 256
[boot]
kernel = $(realpath "$B/guest/vmlinux")
cmdline = console=ttyS0 reboot=k,panic_warm panic=1
  wisp.run="time dd if=/dev/vdb of=/dev/null bs=1M"
[drive.root]
path = $DD_DIR/root.ext4
root = yes
[drive.data]
path = $DD_DIR/data.img
read_only = yes
INI
	RUNS=1 bench linux_dd 0 "$WISP" --config "$OUT/dd.ini"
	# busybox dd prints no rate; busybox time prints "real<TAB>0m 1.23s".
	dd_rate=$(cat "$OUT"/linux_dd/run-*.log | tr -d '\r' |
		sed -nE 's/^real[[:space:]]+([0-9]+)m ([0-9.]+)s.*/\1 \2/p' |
		awk '{ t = $1 * 60 + $2; if (t > 0) printf "%.2f MiB/s (%.2f s)", 8 / t, t }')
	rm -rf "$DD_DIR"
	linux_dd_row="Inside the Linux guest (root on virtio-blk, busybox \`time dd if=/dev/vdb of=/dev/null bs=1M\` over 8 MiB): ${dd_rate:-no timing printed}. On kvm-pvm this measures the guest kernel's emulated block path more than the device."
	# Reference: vsock and TCP from inside Linux (wisp-vsock and busybox nc
	# in the guest, tests/integration/*_peer.py style peers on the host).
	echo "perf: Linux guest, vsock 8 MiB each way and TCP 1 MiB in (1 boot)"
	LNS=wisp-perf-$$
	ip netns add "$LNS"
	ip netns exec "$LNS" ip link set lo up
	ip netns exec "$LNS" rootfs-tools/net-setup.sh host-only wtap0 172.16.0.1/24
	cat >"$OUT/lnet.ini" <<INI
[machine]
mem_mib = 256
[boot]
kernel = $(realpath "$B/guest/vmlinux")
initrd = $(realpath "$B/guest/initramfs.cpio")
cmdline = console=ttyS0 reboot=k,panic_warm panic=1
  wisp.run="ip addr add 172.16.0.2/24 dev eth0; ip link set eth0 up;
  wisp-vsock recv 5000; wisp-vsock send 2 6000 8388608; nc -l -p 5001 >/dev/null"
[serial]
output = $OUT/lnet.serial
input = none
[net.eth0]
tap = wtap0
[vsock]
guest_cid = 3
uds_path = $OUT/v.sock
INI
	ip netns exec "$LNS" "$WISP" --config "$OUT/lnet.ini" 2>"$OUT/lnet.err" &
	lpid=$!
	python3 tests/integration/vsock_peer.py listen "$OUT/v.sock_6000" 900 >"$OUT/lv.listen" &
	vl=$!
	python3 tests/integration/vsock_peer.py connect "$OUT/v.sock" 5000 8388608 900 >"$OUT/lv.connect" || true
	wait "$vl" || true
	head -c 1048576 /dev/urandom >"$OUT/tcp.bin"
	ip netns exec "$LNS" python3 - "$OUT/tcp.bin" >"$OUT/lv.tcp" 2>&1 <<'PY' || true
import socket, sys, time
data = open(sys.argv[1], "rb").read()
for _ in range(240):
    try:
        s = socket.create_connection(("172.16.0.2", 5001), timeout=5)
        break
    except OSError:
        time.sleep(0.5)
t = time.monotonic()
s.settimeout(600)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(f"{len(data) / (time.monotonic() - t) / 1e6:.3f} MB/s")
PY
	wait "$lpid" || true
	ip netns del "$LNS"
	l_h2g=$(sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p' "$OUT/lv.connect")
	l_g2h=$(sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p' "$OUT/lv.listen")
	linux_net_row="Inside the Linux guest (reference; on kvm-pvm the guest kernel is emulated): vsock host → guest ${l_h2g:-n/a} MB/s, guest → host ${l_g2h:-n/a} MB/s (8 MiB each, wisp-vsock); TCP host → guest $(cat "$OUT/lv.tcp" | tail -n 1) (1 MiB into busybox nc)."
fi

# The REST API: exec to the socket accepting, PUT round trips on one
# connection, InstanceStart to the probe's boot-timer write; QEMU's QMP
# socket for comparison.
RUNS_API=${RUNS_API:-50}
cc -O2 -Wall -Werror -o "$B/apibench" perf/apibench.c
echo "perf: REST API, $RUNS_API runs"
"$B/apibench" "$WISP" "$(realpath "$PROBE")" "$RUNS_API" >"$OUT/api.txt" 2>"$OUT/api.err"
api_stats() { # NAME -> "min median p99" in ms
	sed -n "s/^$1 //p" "$OUT/api.txt" | tr ' ' '\n' | sort -n |
		awk '{a[NR] = $1} END { p = int(NR * 0.99 + 0.999); if (p > NR) p = NR
			printf "%.3f %.3f %.3f\n", a[1] / 1000, a[int((NR + 1) / 2)] / 1000, a[p] / 1000 }'
}
read -r as_min as_med as_p99 <<<"$(api_stats socket)"
read -r ap_min ap_med ap_p99 <<<"$(api_stats put)"
read -r ai_min ai_med ai_p99 <<<"$(api_stats start)"
read -r aq_min aq_med aq_p99 <<<"$(api_stats qmp)"
api_ratio=$(awk -v a="$as_med" -v b="$aq_med" 'BEGIN { printf "%.1f", b / a }')

# virtio-net on a tap (wisp and QEMU, the probe guest in ring 3) and
# virtio-vsock host <-> guest (no vsock without vhost in QEMU).
N_NET=${N_NET:-100000}
RUNS_NET=${RUNS_NET:-5}
echo "perf: virtio-net, probe guest, $N_NET frames, $RUNS_NET runs (wisp and QEMU)"
perf/netbench.sh "$N_NET" "$RUNS_NET" >"$OUT/net.txt"
net_fig() { # MONITOR DIR BYTES FIELD(4: frames/s, 5: MiB/s)
	awk -v m="$1" -v d="$2" -v s="$3" -v f="$4" \
		'$2 == m && $3 == d && $4 == s { print $f }' "$OUT/net.txt"
}
net_row() { # DIR BYTES LABEL
	local wf wm qf qm
	wf=$(net_fig wisp "$1" "$2" 5) wm=$(net_fig wisp "$1" "$2" 6)
	qf=$(net_fig qemu "$1" "$2" 5) qm=$(net_fig qemu "$1" "$2" 6)
	echo "| $3 | $wf | $wm | $qf | $qm | $(awk -v a="$wf" -v b="$qf" 'BEGIN { printf "%.2f", a / b }') |"
}
net_rows="$(net_row tx 1514 "guest → tap, 1514-byte frames")
$(net_row tx 60 "guest → tap, 60-byte frames")
$(net_row rx 1514 "tap → guest, 1514-byte frames")
$(net_row rx 60 "tap → guest, 60-byte frames")"
VSOCK_MIB=${VSOCK_MIB:-256}
RUNS_VSOCK=${RUNS_VSOCK:-5}
echo "perf: virtio-vsock, probe guest, $VSOCK_MIB MiB, $RUNS_VSOCK runs"
perf/vsockbench.sh "$VSOCK_MIB" "$RUNS_VSOCK" >"$OUT/vsock.txt"
vs_g2h=$(sed -n 's/^vsock guest -> host: \([0-9.]*\) MiB.*/\1/p' "$OUT/vsock.txt")
vs_h2g=$(sed -n 's/^vsock host -> guest: \([0-9.]*\) MiB.*/\1/p' "$OUT/vsock.txt")

# MMDS: the probe guest's GETs to 169.254.169.254 on one kept-open
# connection, timed in the guest; guest → tap frames with MMDS off and on.
N_MMDS=${N_MMDS:-2000}
RUNS_MMDS=${RUNS_MMDS:-5}
NTX_MMDS=${NTX_MMDS:-200000}
echo "perf: MMDS, probe guest, $N_MMDS requests and $NTX_MMDS frames, $RUNS_MMDS runs"
perf/mmdsbench.sh "$N_MMDS" "$RUNS_MMDS" "$NTX_MMDS" >"$OUT/mmds.txt"
mmds_khz=$(awk '$2 == "tsc_khz" { print $3 }' "$OUT/mmds.txt")
read -r mm_n mm_min mm_med mm_p99 mm_bytes mm_warm <<<"$(awk '$2 == "rtt" { print $3, $4, $5, $6, $7, $8 }' "$OUT/mmds.txt")"
mmds_tx_row() { # BYTES LABEL
	awk -v s="$1" -v l="$2" '$2 == "tx" && $3 == s { printf "| %s | %s | %s | %s |\n", l, $4, $5, $6 }' "$OUT/mmds.txt"
}
mmds_rows="$(mmds_tx_row 1514 "guest → tap, 1514-byte frames")
$(mmds_tx_row 60 "guest → tap, 60-byte frames")"

# The cost of isolation: seccomp filters and the jailer (as root).
echo "perf: isolation (seccomp, jailer), $RUNS runs each"
RUNS=$RUNS perf/jailbench.sh >"$OUT/jail.txt"
jail_table=$(awk 'NR > 2 { label = $0; sub(/ +[0-9.]+ +[0-9.]+ *$/, "", label)
	n = split($0, f, " "); printf "| %s | %s | %s |\n", label, f[n - 1], f[n] }' "$OUT/jail.txt")

# Snapshots: the probe guest at 128 MiB and 1 GiB (create, load, the
# guest's first byte after it), QEMU's migration to a file as the peer,
# 50 clones of a probe guest idle in HLT, and with PERF_LINUX a Linux
# guest (initramfs, vsock echo server): loads and clones.
cc -O2 -Wall -Werror -o "$B/snapbench" perf/snapbench.c
SNAP_DIR=$OUT/snap
mkdir -p "$SNAP_DIR"
CLONES=${CLONES:-50}
# Linux clones: each has 2 vCPUs whose kernel work kvm-pvm emulates; 50 of
# them on this 2-CPU host starve each other past any sensible ping time.
LCLONES=${LCLONES:-10}
echo "perf: snapshots, probe guest, $RUNS loads at 128 MiB and 1 GiB (wisp and QEMU)"
for mib in 128 1024; do
	"$B/snapbench" probe "$WISP" "$(realpath "$PROBE")" "$SNAP_DIR" "$RUNS" "$mib" >"$OUT/snap-$mib.txt"
	"$B/snapbench" qemu "$(realpath "$PROBE")" "$SNAP_DIR" "$RUNS" "$mib" >"$OUT/qsnap-$mib.txt"
	rm -f "$SNAP_DIR"/*.mem "$SNAP_DIR"/*.mig
done
snap_fig() { # FILE KEY -> "median p90" in ms
	sed -n "s/^$2 //p" "$1" | tr ' ' '\n' | stats | awk '{ print $2, $3 }'
}
snap_row() { # MIB
	local f=$OUT/snap-$1.txt c l d e q ratio
	read -r _ c st ms ma <"$f"
	l=$(snap_fig "$f" load) r=$(snap_fig "$f" run) d=$(snap_fig "$f" dot)
	e=$(snap_fig "$f" exec) q=$(snap_fig "$OUT/qsnap-$1.txt" exec)
	ratio=$(awk -v q="${q%% *}" -v w="${e%% *}" 'BEGIN { printf "%.1f", q / w }')
	printf '| %s MiB | %.1f | %d / %d | %s | %s | %s | %s | %s | %s× |\n' "$1" \
		"$(awk -v c="$c" 'BEGIN { print c / 1000 }')" $((st / 1024)) $((ma / 1024)) \
		"${l/ / / }" "${r/ / / }" "${d/ / / }" "${e/ / / }" "${q/ / / }" "$ratio"
}
snap_rows="$(snap_row 128)
$(snap_row 1024)"
echo "perf: $CLONES clones of one snapshot (probe guest in HLT)"
"$B/snapbench" snap "$WISP" "$(realpath "$PROBE")" "$SNAP_DIR" 128 halt >/dev/null
"$B/snapbench" clones "$WISP" "$SNAP_DIR" "$SNAP_DIR/halt-128.state" "$SNAP_DIR/halt-128.mem" "$CLONES" >"$OUT/clones.txt"
avg() { tr ' ' '\n' | awk 'NF { s += $1; n++ } END { printf "%.0f", s / n }'; }
c_all=$(sed -n 's/^all //p' "$OUT/clones.txt")
c_pss=$(sed -n 's/^pss //p' "$OUT/clones.txt" | avg)
c_rss=$(sed -n 's/^rss //p' "$OUT/clones.txt" | avg)
clone_rows="| probe guest in HLT, 128 MiB | $CLONES | $(awk -v a="$c_all" 'BEGIN { printf "%.0f", a / 1000 }') | $c_pss | $c_rss | n/a |"
snap_linux="Linux guest: not run (PERF_LINUX=0)."
if [ "$PERF_LINUX" = 1 ] && [ -e "$B/guest/vmlinux" ]; then
	echo "perf: snapshot of the Linux guest (1 boot), $RUNS loads, $LCLONES clones"
	LS=$SNAP_DIR/linux.sock
	"$WISP" --api-sock "$LS" </dev/null >"$OUT/lsnap.out" 2>"$OUT/lsnap.err" &
	lpid=$!
	for _ in $(seq 200); do curl -s --unix-socket "$LS" -o /dev/null http://x/ && break; sleep 0.05; done
	lput() { curl -s --unix-socket "$LS" -X "${3:-PUT}" -H 'Content-Type: application/json' -d "$2" "http://x$1"; }
	lput /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
	lput /boot-source "{\"kernel_image_path\": \"$(realpath "$B/guest/vmlinux")\", \"initrd_path\": \"$(realpath "$B/guest/initramfs.cpio")\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 wisp.run=\\\"wisp-vsock echo 5000 & sleep 2; echo snap-ready; sleep 1000000\\\"\"}"
	lput /vsock "{\"guest_cid\": 3, \"uds_path\": \"$SNAP_DIR/linux.vsock\"}"
	lput /actions '{"action_type": "InstanceStart"}'
	for _ in $(seq 1800); do grep -q '^snap-ready' "$OUT/lsnap.out" && break; sleep 0.5; done
	lput /vm '{"state": "Paused"}' PATCH
	lput /snapshot/create "{\"snapshot_path\": \"$SNAP_DIR/linux.state\", \"mem_file_path\": \"$SNAP_DIR/linux.mem\"}"
	l_create=$(sed -n "s/.*snapshot Full: .* in \([0-9]*\) us.*/\1/p" "$OUT/lsnap.err")
	kill -9 "$lpid"
	wait "$lpid" 2>/dev/null || true
	"$B/snapbench" loads "$WISP" "$SNAP_DIR" "$SNAP_DIR/linux.state" "$SNAP_DIR/linux.mem" "$RUNS" 5000 >"$OUT/lloads.txt"
	"$B/snapbench" clones "$WISP" "$SNAP_DIR" "$SNAP_DIR/linux.state" "$SNAP_DIR/linux.mem" "$LCLONES" 5000 >"$OUT/lclones.txt"
	l_alloc=$(( $(stat -c %b "$SNAP_DIR/linux.mem") * 512 / 1048576 ))
	read -r ll_med ll_p90 <<<"$(snap_fig "$OUT/lloads.txt" load)"
	read -r lr_med lr_p90 <<<"$(snap_fig "$OUT/lloads.txt" run)"
	read -r lp_med lp_p90 <<<"$(snap_fig "$OUT/lloads.txt" pong)"
	snap_linux="Linux guest (256 MiB, 2 vCPUs, initramfs, \`wisp-vsock echo\` serving vsock port 5000): create $(awk -v c="$l_create" 'BEGIN { printf "%.0f", c / 1000 }') ms, memory file $l_alloc MiB allocated of 256; over $RUNS loads, median / p90: PUT /snapshot/load (resume_vm) → 204 $ll_med / $ll_p90 ms; the load's start → vCPU 0 in KVM_RUN (wisp's log) $lr_med / $lr_p90 ms; the 204 → the guest's \`pong\` over vsock $lp_med / $lp_p90 ms (the guest kernel's work, emulated on kvm-pvm)."
	lc_all=$(sed -n 's/^all //p' "$OUT/lclones.txt")
	lc_pss=$(sed -n 's/^pss //p' "$OUT/lclones.txt" | avg)
	lc_rss=$(sed -n 's/^rss //p' "$OUT/lclones.txt" | avg)
	lc_ping=$(sed -n 's/^ping //p' "$OUT/lclones.txt" | tr ' ' '\n' | stats | awk '{ print $2 }')
	clone_rows="$clone_rows
| Linux guest, 256 MiB | $LCLONES | $(awk -v a="$lc_all" 'BEGIN { printf "%.0f", a / 1000 }') | $lc_pss | $lc_rss | $lc_ping |"
fi
rm -rf "$SNAP_DIR"

host="$(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
[ -d /sys/module/kvm_pvm ] && host="$host, /dev/kvm is kvm-pvm"
cat >docs/perf.md <<MD
# Performance

Produced by \`make perf\` (perf/run.sh) on $(date -u +%Y-%m-%d), host: $host.
$RUNS runs per figure unless noted; min / median / p90 in milliseconds.
The machine is shared and noisy: compare figures from one run, not across
runs. QEMU is Debian's qemu-system-x86 $(qemu-system-x86_64 --version | head -1 | awk '{print $4}'), \`-M microvm\`, same probe guest.

## Boot

| figure | min | median | p90 | QEMU median |
|---|---|---|---|---|
| exec → first guest exit (probe, its first instruction is an OUT) | $f_min | $f_med | $f_p90 | |
| exec → boot-timer write (probe) | $t_min | $t_med | $t_p90 | |
| exec → guest done (probe printed one line and reset) | $d_min | $d_med | $d_p90 | |
| exec → process exit, same run (includes KVM teardown) | $w_min | $w_med | $w_p90 | $q_med |
$linux_row

QEMU microvm takes **${ratio}×** as long as wisp from exec to process exit
for the same guest (QEMU min $q_min, p90 $q_p90).

Where the time goes: "guest done" is when the probe's i8042 reset reaches
wisp. The rest of "process exit" is the host kernel destroying the VM when
wisp's file descriptors close; on this host that is dominated by the
in-kernel PIT, whose two I/O-bus devices each wait for an SRCU grace
period when unregistered, and by kvm-pvm's own teardown when /dev/kvm is
closed. QEMU pays the same teardown. Guest output is written to files
here: a monitor whose output goes to a pipe also pays for waking the
reader, which on this 2-CPU cloud VM can delay KVM's own workers by
milliseconds.

## virtio-blk

The probe guest (tests/guest/blk.c) reads a 256 MiB image in /dev/shm
through its own polled virtio-blk driver, from ring 3 (kvm-pvm runs guest
CPL-0 code one emulated instruction at a time; ring 3 runs natively), with
16 (4 KiB) or 4 (1 MiB) requests in flight. The same guest runs under
QEMU microvm with \`virtio-blk-device\`, \`aio=io_uring\`,
\`cache=writeback\`. Each figure: $N4K or $N1M requests, the median of
$RUNS_BLK runs minus the median of $RUNS_BLK setup-only runs. fio on the
host, same file, io_uring, is the ceiling.

| figure | wisp | QEMU microvm | wisp / QEMU | host fio |
|---|---|---|---|---|
| 4 KiB random read, IOPS (depth 16) | $w_iops | $q_iops | $(awk -v a="$w_iops" -v b="$q_iops" 'BEGIN { printf "%.2f", a / b }') | $h_iops |
| 1 MiB sequential read, MiB/s (depth 4) | $w_mibs | $q_mibs | $(awk -v a="$w_mibs" -v b="$q_mibs" 'BEGIN { printf "%.2f", a / b }') | $h_mibs |

$linux_dd_row

## REST API

perf/apibench.c; min / median / p99 in milliseconds. "Socket accepting"
is exec to the first connect() that succeeds ($RUNS_API runs); QEMU's
figure is the same for its QMP socket with the VM stopped (\`-S\`). The PUT
is \`PUT /machine-config\` on one kept-alive connection
($((RUNS_API * 20)) requests). InstanceStart is measured from sending it to
the probe guest's boot-timer write ($RUNS_API runs).

| figure | min | median | p99 | QEMU median |
|---|---|---|---|---|
| exec → API socket accepting | $as_min | $as_med | $as_p99 | $aq_med |
| PUT request round trip | $ap_min | $ap_med | $ap_p99 | |
| InstanceStart → boot-timer write (probe) | $ai_min | $ai_med | $ai_p99 | |

QEMU takes **${api_ratio}×** as long as wisp from exec to its control socket.

## virtio-net and virtio-vsock

perf/netbench.sh: the probe guest's net-bench scenario in ring 3 sends
$N_NET frames to a tap (guest → tap) or counts $N_NET frames that
perf/netflood.c pours into the tap (tap → guest); QEMU runs the same guest
with \`-device virtio-net-device\` on \`-netdev tap,vhost=off\`. Median of
$RUNS_NET runs, boot and exit (a run with no frames) subtracted.

| figure | wisp frames/s | wisp MiB/s | QEMU frames/s | QEMU MiB/s | wisp / QEMU |
|---|---|---|---|---|---|
$net_rows

perf/vsockbench.sh: the probe guest's vsock-bench scenario streams
$VSOCK_MIB MiB to or from tests/vsock_host.c on \`<uds_path>_7000\`
(Firecracker's host side), median of $RUNS_VSOCK runs: guest → host
**$vs_g2h MiB/s**, host → guest **$vs_h2g MiB/s**. QEMU has no vsock
without vhost-vsock, which this host lacks, so there is no peer figure.

$linux_net_row

## MMDS

perf/mmdsbench.sh (\`perf/mmdsbench.sh $N_MMDS $RUNS_MMDS $NTX_MMDS\`): the probe
guest's mmds-bench scenario opens one TCP connection to MMDS
(169.254.169.254:80, V1, on a tap in a network namespace) and sends $mm_warm
warm-up GETs, then $N_MMDS timed ones, all on that connection: MMDS, as
Firecracker's, keeps a connection open across requests, so this is a
request's round trip, not connect + GET + close. $RUNS_MMDS boots, $mm_n
requests pooled; each a $mm_bytes-byte response (\`GET /probe\`, text/plain).
Timed in the guest, from ring 3 (kvm-pvm runs it natively), with
\`rdtsc\` from queueing the request to the response whole and its ACK
queued; it includes the guest's own work (its frames built and
checksummed byte by byte, a transmit notify for the request and one for
the ACK, a receive notify per frame taken). The guest prints raw TSC
deltas; the host converts them at the vCPU's TSC rate as KVM reports it
(perf/tsckhz.c: \`KVM_GET_TSC_KHZ\` on a fresh vCPU, $mmds_khz kHz; wisp
does not change a booted VM's rate).

| figure | min | median | p99 |
|---|---|---|---|
| MMDS GET round trip, kept-open connection (µs) | $mm_min | $mm_med | $mm_p99 |

Its cost on other traffic through the same interface: net-bench's guest →
tap frames ($NTX_MMDS per run, the run's wall time minus a run with none,
as perf/netbench.sh) with and without \`mmds-config\` naming the interface
(with it every transmitted frame's first bytes are copied and checked for
the MMDS address before the tap write); $RUNS_MMDS interleaved runs of
each, medians. On this shared host a ratio within a few per cent of 1 is
inside the run-to-run noise: compare the two frame sizes.

| figure | MMDS off, frames/s | MMDS on, frames/s | on / off |
|---|---|---|---|
$mmds_rows

## Snapshots

perf/snapbench.c, $RUNS runs each, median / p90 in milliseconds. The
probe guest's \`dots\` scenario writes '.' to the serial port without
end, so its first byte on wisp's stdout after a load shows the restored
guest running. Memory files are mapped from the page cache (the case of
a snapshot in use). QEMU: the same guest, migrated to a file
(\`migrate exec:cat > FILE\`, QEMU's way to save a VM to a plain file)
and started with \`-incoming exec:cat FILE\`.

| guest RAM | create (ms) | state file / memory file on disk (KiB) | load → 204 | load → vCPU 0 in KVM_RUN | load → guest's first byte | exec → guest's first byte | QEMU: exec → guest's first byte | QEMU / wisp |
|---|---|---|---|---|---|---|---|---|
$snap_rows

"load" is PUT /snapshot/load with \`resume_vm\` sent on a connected API
socket, timed by the client; "vCPU 0 in KVM_RUN" is wisp's own figure
(its log: the load's start to the restored vCPU's first KVM_RUN, the
first guest instruction after the restore); the first byte is the
guest's next '.' reaching the client through wisp's stdout; "exec"
includes starting wisp and its API socket. Firecracker publishes < 8 ms
for a snapshot load.

$snap_linux

Clones: N wisp processes started at once, each loading the same
snapshot (File backend, \`resume_vm\`); "all" is the first exec to the
last 204. PSS and RSS (KiB, /proc/PID/smaps_rollup, half a second
later) per clone, averaged: pages of the memory file that no clone
wrote are shared through the page cache, so PSS is what each clone
really costs. The Linux row pings each clone's guest over its own vsock
socket (\`vsock_override\`); "ping" is the median from a clone's 204 to
its guest's answer. Linux clones are $LCLONES, not $CLONES: each has two
vCPUs whose guest-kernel work kvm-pvm emulates, and $CLONES of them on
this 2-CPU host starve one another (in one run a clone had not answered
its ping after 10 minutes).

| snapshot | clones | all loaded and running (ms) | PSS per clone (KiB) | RSS per clone (KiB) | ping (ms) |
|---|---|---|---|---|---|
$clone_rows

## Isolation

perf/jailbench.sh: the probe guest's boot-timer write and the whole run,
timed from just before exec, $RUNS interleaved runs of each setup; medians
in milliseconds.

| setup | exec → boot-timer write | exec → exit |
|---|---|---|
$jail_table

## Memory

RSS of the monitor while the probe guest (128 MiB) idles in HLT, minus the
guest RAM it has touched (the Rss of the guest mapping in /proc/PID/smaps):

| monitor | total RSS KiB | guest RAM touched KiB | monitor overhead KiB |
|---|---|---|---|
| wisp | $wr_total | $wr_guest | $w_over |
| QEMU microvm | $qr_total | $qr_guest | $q_over |

## How to reproduce

\`\`\`sh
make perf                 # RUNS=20 PERF_LINUX=1 by default
RUNS=50 PERF_LINUX=0 make perf
perf/mmdsbench.sh 2000 5     # the MMDS section alone (root)
\`\`\`
MD
echo "perf: results written to docs/perf.md"
cat docs/perf.md
