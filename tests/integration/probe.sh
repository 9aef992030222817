#!/usr/bin/env bash
# Probe-guest tier: boot the tiny test guest (tests/guest) under wisp for
# every scenario and check what it printed, what wisp logged and how wisp
# exited; then feed wisp bad configs and bad kernels.
set -u
: "${WISP:?path to wisp}" "${PROBE:?path to probe.elf}" "${PROBE64:?path to probe64.elf}"
PROBE=$(realpath "$PROBE")
. "$(dirname "$0")/lib.sh"

probe() { # probe SCENARIO [wisp args...]
	local s=$1
	shift
	run_wisp 60 --kernel "$PROBE" --cmdline "probe=$s" "$@"
}

probe hello
expect_rc hello 0
if [ "$(cat "$TMP/out")" = "probe: hello" ]; then ok "hello: output is exactly the line"
else bad hello "stdout is '$(head -c 200 "$TMP/out")'"; fi
expect_line hello err 'guest requested a reset'

# Without a template: wisp's rules (the hypervisor bit), the PAT at reset.
probe cpuid
expect_rc cpuid 0
expect_line cpuid out '^probe: cpuid 0x1 eax=0x[0-9a-f]+ ebx=0x[0-9a-f]+ ecx=0x[89a-f][0-9a-f]{7} edx=0x[0-9a-f]+$'
expect_line cpuid out '^probe: msr 0x277 0x7040600070406$'

probe boot-timer
expect_rc boot-timer 0
expect_line boot-timer err 'guest boot: [0-9]+ us since start, [0-9]+ us since InstanceStart'

# RAM seen = all of it but the 385 KiB between the EBDA and 1 MiB.
for mem in 128 3072 4096; do
	probe memory --mem-mib "$mem"
	expect_rc "memory $mem" 0
	top=$mem
	[ "$mem" -gt 3072 ] && top=$((mem + 1024)) # above the MMIO hole
	expect_line "memory $mem" out "^probe: memory ram_kib=$((mem * 1024 - 385)) top_mib=$top .* ok$"
done

for n in 1 2 32; do
	probe vcpus --vcpus "$n"
	expect_rc "vcpus $n" 0
	expect_line "vcpus $n" out "^probe: vcpus $n$"
done

# probe64.elf has no PVH note: wisp enters it by Linux's 64-bit boot
# protocol, and it reads the command line and e820 from boot_params.
run_wisp 60 --kernel "$PROBE64" --cmdline probe=hello
expect_rc "64-bit entry hello" 0
expect_line "64-bit entry hello" out '^probe: hello$'
run_wisp 60 --kernel "$PROBE64" --cmdline probe=memory --mem-mib 4096
expect_line "64-bit entry memory" out "^probe: memory ram_kib=$((4096 * 1024 - 385)) top_mib=5120 .* ok$"
run_wisp 60 --kernel "$PROBE64" --cmdline probe=vcpus --vcpus 4
expect_line "64-bit entry vcpus" out '^probe: vcpus 4$'

# Serial input: stdin reaches the guest's UART receiver.
echo "ping 123" | timeout 60 "$WISP" --kernel "$PROBE" --cmdline probe=echo >"$TMP/out" 2>"$TMP/err"
RC=$?
expect_rc "serial input" 0
expect_line "serial input" out '^probe: echo ping 123$'

# halt: the guest idles in HLT until wisp is told to stop.
"$WISP" --kernel "$PROBE" --cmdline probe=halt </dev/null >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 100); do grep -q halting "$TMP/out" && break; sleep 0.1; done
sleep 0.5
if kill -0 "$pid" 2>/dev/null; then ok "halt: still running while the guest halts"
else bad halt "wisp exited while the guest was halted"; fi
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then bad halt "no exit 10 s after SIGTERM"; kill -9 "$pid"; fi
wait "$pid"
RC=$?
expect_rc "halt SIGTERM" 0
expect_line halt err 'stopping the VM on signal'

probe panic
expect_rc "guest panic" 3
expect_line "guest panic" err 'guest reset after a kernel panic'

# A guest the host cannot run: kvm-pvm stops with an emulation failure,
# which wisp reports with the instruction bytes; real KVM triple-faults.
probe int3
if [ -d /sys/module/kvm_pvm ]; then
	expect_rc "KVM internal error" 4
	expect_line "KVM internal error" err 'KVM internal error, suberror 1 \(emulation failure\) at rip=0x[0-9a-f]+, instruction bytes cc'
else
	expect_rc "int3 without IDT" 3
fi

probe no-such-scenario
expect_rc "guest failure" 3
expect_line "guest failure" out '^probe: unknown scenario no-such-scenario$'
expect_line "guest failure" err 'guest triple fault'

# The same guest from a config file, with serial output to a file.
cat >"$TMP/vm.ini" <<INI
[machine]
vcpus = 2
mem_mib = 64

[boot]
kernel = $PROBE
cmdline = probe=vcpus

[serial]
output = serial.log
input = none
INI
run_wisp 60 --config "$TMP/vm.ini"
expect_rc "config file" 0
expect_line "config file" serial.log '^probe: vcpus 2$'
run_wisp 60 --config "$TMP/vm.ini" --vcpus 3 # flags override the file
expect_line "config override" serial.log '^probe: vcpus 3$'

# Console output never stops the guest: into a FIFO of one page that
# nobody reads, the guest prints 96 KiB and then writes the boot timer
# (wisp logs it: a sign of life outside the console); the API answers,
# the metrics count the bytes that did not fit, and Ctrl-Alt-Del ends
# the run. The FIFO holds the first page of the output, in order, and
# every byte the guest wrote is either there or counted as missed.
mkfifo "$TMP/con"
exec 7<>"$TMP/con"
python3 -c 'import fcntl; fcntl.fcntl(7, 1031, 4096)' # F_SETPIPE_SZ
: >"$TMP/metrics"
rm -f "$SOCK"
: >"$TMP/raw" # wait_exit reads it: the console is the FIFO here
"$WISP" --api-sock "$SOCK" --kernel "$PROBE" --cmdline "probe=flood kib=96 wait" \
	--metrics-path "$TMP/metrics" </dev/null >"$TMP/con" 2>"$TMP/err" &
PID=$!
if wait_api "$SOCK" "$PID"; then
	for _ in $(seq 1200); do
		grep -q 'guest boot:' "$TMP/err" && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	expect_line "stalled console" err 'guest boot: [0-9]+ us since start'
	api GET /
	expect "stalled console: the API answers" 200 '.state == "Running"'
	api PUT /actions '{"action_type": "FlushMetrics"}'
	expect "stalled console: FlushMetrics" 204
	if jq -e -s 'map(.uart.missed_write_count) | add > 0' "$TMP/metrics" >/dev/null; then
		ok "stalled console: uart.missed_write_count > 0"
	else
		bad "stalled console" "no missed writes counted: $(tail -c 400 "$TMP/metrics")"
	fi
	# Its response may be lost to the exit it causes; the exit is the check.
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	wait_exit 20
	expect_rc "stalled console: Ctrl-Alt-Del" 0
	expect_line "stalled console" err 'guest requested a reset'
fi
python3 -c '
import fcntl, os, sys
fcntl.fcntl(7, fcntl.F_SETFL, os.O_NONBLOCK)
while True:
    try:
        b = os.read(7, 65536)
    except BlockingIOError:
        break
    sys.stdout.buffer.write(b)' >"$TMP/con.out"
exec 7<&-
if [ "$(wc -c <"$TMP/con.out")" = 4096 ] &&
	awk '$3 != sprintf("%06d", NR - 1) { exit 1 }' "$TMP/con.out"; then
	ok "stalled console: the FIFO holds the first 64 lines, in order"
else
	bad "stalled console" "FIFO: $(wc -c <"$TMP/con.out") bytes, starting $(head -c 80 "$TMP/con.out")"
fi
# 96 KiB of lines and "probe: flood done\n": 98322 port writes.
if jq -e -s '(map(.uart.write_count) | add) == 98322 and (map(.uart.missed_write_count) | add) == 98322 - 4096' "$TMP/metrics" >/dev/null; then
	ok "stalled console: each byte reached the FIFO or was counted missed"
else
	bad "stalled console" "uart counters: $(jq -c -s 'map(.uart)' "$TMP/metrics")"
fi

# A reader that falls behind loses nothing of a normal run: 48 KiB into
# a one-page pipe whose reader starts only once the guest has asked to
# stop; what is still in wisp's buffer goes out before it exits.
python3 - "$WISP" "$PROBE" "$TMP" <<'PY'
import fcntl, os, subprocess, sys, time
wisp, probe, tmp = sys.argv[1:4]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
with open(tmp + "/err", "wb") as err:
    p = subprocess.Popen([wisp, "--kernel", probe, "--cmdline", "probe=flood kib=48"],
                         stdin=subprocess.DEVNULL, stdout=w, stderr=err)
os.close(w)
end = time.time() + 60
while p.poll() is None and time.time() < end:
    with open(tmp + "/err", "rb") as f:
        if b"guest requested a reset" in f.read():
            break
    time.sleep(0.01)
with open(tmp + "/out", "wb") as out:
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        out.write(b)
sys.exit(p.wait())
PY
RC=$?
expect_rc "slow console reader" 0
if [ "$(wc -l <"$TMP/out")" = 769 ] &&
	awk 'NR <= 768 && $3 != sprintf("%06d", NR - 1) { exit 1 } NR == 769 && $0 != "probe: flood done" { exit 1 }' "$TMP/out"; then
	ok "slow console reader: all 768 lines and the last one, in order"
else
	bad "slow console reader" "$(wc -l <"$TMP/out") lines, ending $(tail -n 1 "$TMP/out")"
fi

# virtio-rng through the probe's own driver: two 64-byte requests filled
# (different, not zero), a device-readable buffer answered with 0 bytes,
# a 96 KiB one given 64 KiB (a request's most); without [entropy] the
# guest finds no device.
rng_probe() { # ENABLED
	cat >"$TMP/rng.ini" <<INI
[machine]
mem_mib = 64
[boot]
kernel = $PROBE
cmdline = probe=rng
[entropy]
enabled = $1
INI
	run_wisp 60 --config "$TMP/rng.ini"
}
rng_probe yes
expect_rc "virtio-rng" 0
expect_line "virtio-rng" out '^probe: rng 64 64 0 65536$'
expect_line "virtio-rng" out '^probe: rng ok$'
rng_probe no
expect_rc "no virtio-rng without [entropy] (the guest fails: a triple fault)" 3
expect_line "no virtio-rng without [entropy]" out '^probe: rng FAIL no device$'

# virtio-blk through the probe's own driver: a drive whose sector 0 says
# WISPDISK; reads, a write that must reach the image, flush, GET_ID and
# out-of-range requests; then a read-only drive; then hostile rings, each
# of which must leave wisp running and the device in NEEDS_RESET.
"$(dirname "$0")/../../rootfs-tools/mkdisk.sh" "$TMP/disk.img" 1 >/dev/null
printf 'WISPDISK' | dd of="$TMP/disk.img" conv=notrunc 2>/dev/null
blk_probe() { # SCENARIO READ_ONLY [CACHE]
	cat >"$TMP/blk.ini" <<INI
[machine]
mem_mib = 64
[boot]
kernel = $PROBE
cmdline = probe=$1
[drive.disk0]
path = $TMP/disk.img
read_only = $2
cache = ${3:-writeback}
INI
	run_wisp 60 --config "$TMP/blk.ini"
}
blk_probe blk-rw no
expect_rc "virtio-blk" 0
expect_line "virtio-blk" out '^probe: blk write, flush, read back ok$'
expect_line "virtio-blk" out '^probe: blk id disk0$'
expect_line "virtio-blk" out '^probe: blk out-of-range ioerr ok$'
expect_line "virtio-blk" out '^probe: blk-rw ok$'
if [ "$(dd if="$TMP/disk.img" bs=512 skip=1 count=1 2>/dev/null | head -c 16)" = probe-wrote-this ]; then
	ok "virtio-blk: the guest's write is in the image"
else
	bad "virtio-blk" "sector 1 of the image lacks the guest's write"
fi
# cache = none: O_DIRECT, the probe's buffers are sector-aligned.
blk_probe blk-rw no none
expect_rc "virtio-blk O_DIRECT" 0
expect_line "virtio-blk O_DIRECT" out '^probe: blk-rw ok$'
cp "$TMP/disk.img" "$TMP/disk.before"
blk_probe blk-ro yes
expect_rc "virtio-blk read-only" 0
expect_line "virtio-blk read-only" out '^probe: blk-ro ok$'
if cmp -s "$TMP/disk.img" "$TMP/disk.before"; then ok "read-only image unchanged"
else bad "virtio-blk read-only" "the image changed"; fi
# The benchmark scenario (ring 3, 16 requests in flight), kept small here.
truncate -s 4M "$TMP/bench.img"
cp "$TMP/disk.img" "$TMP/disk.keep"
cp "$TMP/bench.img" "$TMP/disk.img"
for args in "bench=4k n=500" "bench=1m n=20"; do
	blk_probe "blk-bench $args" no
	expect_rc "blk-bench $args" 0
	expect_line "blk-bench $args" out '^probe: bench done$'
done
# A drive rate limiter: 100 requests a second (bucket of 100, refilled
# every second), 300 reads: 100 at once, 200 more take 2 s.
cat >>"$TMP/blk.ini" <<INI
ops = 100 1000
INI
sed -i 's/^cmdline = .*/cmdline = probe=blk-bench bench=4k n=300/' "$TMP/blk.ini"
t0=$(date +%s.%N)
run_wisp 60 --config "$TMP/blk.ini"
t1=$(date +%s.%N)
expect_rc "blk rate limit" 0
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
# At least 2 s is the limiter's doing; the upper bound only says the
# queue was resumed (the exact figure depends on the host's load).
if awk -v t="$secs" 'BEGIN { exit !(t >= 1.9 && t <= 15) }'; then
	ok "blk rate limit: 300 requests at 100/s took $secs s (at least 1.9)"
else
	bad "blk rate limit" "300 requests at 100/s took $secs s, want 1.9 to 15"
fi
cp "$TMP/disk.keep" "$TMP/disk.img"
blk_probe blk-hostile no
expect_rc "hostile rings" 0
for what in "head out of range" "descriptor loop" "buffer outside RAM" "4 GiB buffer" "avail index far ahead"; do
	expect_line "hostile rings" out "^probe: hostile $what: needs reset$"
done
expect_line "hostile rings" out '^probe: blk-hostile ok$'
expect_line "hostile rings" err 'virtio-blk: loop in a descriptor chain; device needs reset'
# Queue registers rewritten with reads in flight (O_DIRECT keeps them in
# flight), a reset with reads in flight, data buffers the wrong way.
blk_probe blk-requeue no none
expect_rc "blk requeue" 0
expect_line "blk requeue" out '^probe: blk requeue ignored ok$'
expect_line "blk requeue" out '^probe: blk reset in flight ok$'
expect_line "blk requeue" out '^probe: blk wrong direction ioerr ok$'
expect_line "blk requeue" err 'queue register written with status 0xf; ignored'
# The ignored writes show in the metrics (3 rounds of 4 writes).
: >"$TMP/requeue.metrics"
run_wisp 60 --config "$TMP/blk.ini" --metrics-path "$TMP/requeue.metrics"
expect_rc "blk requeue metrics" 0
n=$(jq -s '[.[].block.queue_writes_ignored] | add' "$TMP/requeue.metrics" 2>/dev/null)
if [ "${n:-0}" -ge 12 ] 2>/dev/null; then
	ok "blk requeue: metrics count $n ignored queue register writes"
else
	bad "blk requeue metrics" "block.queue_writes_ignored summed to '${n:-}', want at least 12"
fi

# virtio-vsock through the probe's own driver, with tests/vsock_host.c as
# the host program a Firecracker user would write.
: "${VSOCK_HOST:?path to vsock_host}"
vsock_ini() { # "SCENARIO ARGS"
	cat >"$TMP/vsock.ini" <<INI
[machine]
mem_mib = 64
[boot]
kernel = $PROBE
cmdline = probe=$1
[vsock]
guest_cid = 3
uds_path = $TMP/v.sock
INI
}
no_sanitizer() { expect_no_line "$1" err 'Sanitizer|runtime error'; }
host_ok() { # NAME REGEX: the host program exited 0 and printed REGEX
	if [ "$HRC" = 0 ]; then ok "$1: host program exit 0"
	else bad "$1" "host program exit $HRC: $(tail -n 3 "$TMP/host")"; fi
	expect_line "$1" host "$2"
}
# wisp in the background while the host program runs in the foreground.
vsock_run_bg() { # HOST-ARGS...
	timeout --kill-after=5 60 "$WISP" --config "$TMP/vsock.ini" \
		--metrics-path "$TMP/metrics" </dev/null >"$TMP/raw" 2>"$TMP/err" &
	local pid=$!
	"$VSOCK_HOST" "$@" >"$TMP/host" 2>&1
	HRC=$?
	wait "$pid"
	RC=$?
	tr -d '\r' <"$TMP/raw" >"$TMP/out"
}
: >"$TMP/metrics"

# Host-initiated: a CONNECT to a port the guest does not listen on is
# closed; CONNECT 5000, sent with the first data bytes, gets "OK <port>"
# and 100003 bytes come back XORed (more than the guest's 32 KiB window).
vsock_ini "vsock-host vport=5000"
vsock_run_bg echo "$TMP/v.sock" 5000 100003 5001
expect_rc "vsock host connect" 0
host_ok "vsock host connect" '^host: refused ok, echo 100003 bytes ok, host port [0-9]+$'
expect_line "vsock host connect" out '^probe: vsock-host refused 1 echoed 100003 ok$'
no_sanitizer "vsock host connect"
if [ ! -e "$TMP/v.sock" ]; then ok "vsock: uds_path removed at exit"
else bad "vsock" "uds_path left behind"; fi
if jq -e 'select(.vsock.conns_added == 2 and .vsock.conns_removed == 2 and .vsock.rx_bytes_count == 100003 and .vsock.tx_bytes_count == 100003)' "$TMP/metrics" >/dev/null; then
	ok "vsock: metrics count the connections and bytes"
else bad "vsock metrics" "$(tail -c 600 "$TMP/metrics")"; fi

# Guest-initiated: port 6001 has no listener (RST); port 6000 takes 1 MiB
# from the guest while the host waits 300 ms before reading, so the guest
# runs out of wisp's credit, and sends 128 KiB into the guest's 16 KiB
# window; then both sides shut down and see each other's EOF.
"$VSOCK_HOST" serve "$TMP/v.sock_6000" 1048576 131072 300 >"$TMP/host" 2>&1 &
hpid=$!
for _ in $(seq 100); do [ -S "$TMP/v.sock_6000" ] && break; sleep 0.05; done
vsock_ini "vsock-guest hport=6000 n=1048576 m=131072"
run_wisp 60 --config "$TMP/vsock.ini"
wait "$hpid"
HRC=$?
expect_rc "vsock guest connect" 0
host_ok "vsock guest connect" '^host: received 1048576 sent 131072 eof ok$'
expect_line "vsock guest connect" out '^probe: vsock refused ok$'
expect_line "vsock guest connect" out '^probe: vsock-guest sent 1048576 received 131072 stalls [1-9][0-9]* ok$'
no_sanitizer "vsock guest connect"

# Hostile rings: each leaves wisp running and the device in NEEDS_RESET,
# then a reset makes it serve again (a REQUEST for port 1 gets its RST).
vsock_ini vsock-hostile
run_wisp 60 --config "$TMP/vsock.ini"
expect_rc "vsock hostile" 0
for what in "short header" "writable tx buffer" "descriptor loop" "read-only rx buffer"; do
	expect_line "vsock hostile" out "^probe: hostile $what: needs reset$"
done
expect_line "vsock hostile" out '^probe: vsock-hostile ok$'
expect_line "vsock hostile" err 'virtio-vsock: tx packet shorter than its header; device needs reset'
no_sanitizer "vsock hostile"

# The benchmark scenario from ring 3, small here (perf/vsockbench.sh).
for dir in g2h h2g; do
	if [ $dir = g2h ]; then "$VSOCK_HOST" bench-recv "$TMP/v.sock_7000" >"$TMP/host" 2>&1 &
	else "$VSOCK_HOST" bench-send "$TMP/v.sock_7000" $((8 << 20)) >"$TMP/host" 2>&1 & fi
	hpid=$!
	for _ in $(seq 100); do [ -S "$TMP/v.sock_7000" ] && break; sleep 0.05; done
	vsock_ini "vsock-bench dir=$dir n=8 hport=7000"
	run_wisp 60 --config "$TMP/vsock.ini"
	wait "$hpid"
	HRC=$?
	expect_rc "vsock bench $dir" 0
	host_ok "vsock bench $dir" "^host: $dir 8388608 bytes in "
	expect_line "vsock bench $dir" out '^probe: bench done$'
done

# uds_path: a socket file left by a dead process is replaced; one a live
# wisp listens on is refused, and that wisp goes on.
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/v.sock"
vsock_ini vsock-hostile
run_wisp 60 --config "$TMP/vsock.ini"
expect_rc "vsock stale socket" 0
expect_line "vsock stale socket" err 'removed stale socket .*/v.sock'
vsock_ini halt
"$WISP" --config "$TMP/vsock.ini" </dev/null >"$TMP/out1" 2>"$TMP/err1" &
pid=$!
for _ in $(seq 100); do [ -S "$TMP/v.sock" ] && break; sleep 0.05; done
run_wisp 30 --config "$TMP/vsock.ini"
expect_rc "vsock live socket" 1
expect_line "vsock live socket" err "vsock uds_path '.*/v.sock' is in use by another process"
if kill -0 "$pid" 2>/dev/null && [ -S "$TMP/v.sock" ]; then ok "vsock live socket: its owner goes on"
else bad "vsock live socket" "the first wisp or its socket is gone"; fi
kill -TERM "$pid"
wait "$pid"
RC=$?
expect_rc "vsock live socket owner" 0

# Bad configs: exit 2, one message naming file, line and key, no guest.
bad_config() { # NAME EXPECTED-MESSAGE INI-TEXT
	printf '%s\n' "$3" >"$TMP/bad.ini"
	run_wisp 30 --config "$TMP/bad.ini"
	expect_rc "$1" 2
	expect_line "$1" err "$2"
	[ -s "$TMP/out" ] && bad "$1" "the guest ran" || ok "$1: nothing started"
}
bad_config "unknown key" "bad.ini:2: \[machine\] cpus: unknown key" $'[machine]\ncpus = 2'
bad_config "bad number" "bad.ini:3: \[machine\] vcpus: '0' is not" $'[machine]\n\nvcpus = 0'
bad_config "unknown section" "bad.ini:2: unknown section \[drive\]" $'[drive]\npath = x'
bad_config "missing kernel" "\[boot\] kernel: '/nonexistent/vmlinux': No such file" $'[boot]\nkernel = /nonexistent/vmlinux'
bad_config "no kernel" "no kernel: set \[boot\] kernel" $'[machine]\nvcpus = 1'
bad_config "missing drive" "\[drive.d\] path: '/nonexistent.img': No such file" $'[drive.d]\npath = /nonexistent.img'

# Bad kernels: exit 2 and a sentence saying what is wrong.
bad_kernel() { # NAME EXPECTED-MESSAGE FILE
	run_wisp 30 --kernel "$3" --cmdline probe=hello
	expect_rc "$1" 2
	expect_line "$1" err "$2"
}
head -c 2000 "$PROBE" >"$TMP/truncated.elf"
bad_kernel "truncated ELF" "past the end of the file" "$TMP/truncated.elf"
echo "hello" >"$TMP/text"
bad_kernel "text file" "too short for an ELF or bzImage" "$TMP/text"
bad_kernel "shared object" "not an executable" /bin/true
: >"$TMP/empty"
bad_kernel "empty file" "too short" "$TMP/empty"
run_wisp 30 --kernel "$PROBE" --mem-mib 1
expect_rc "too little memory" 2
run_wisp 30 --kernel "$PROBE" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
expect_rc "long cmdline" 2
expect_line "long cmdline" err "more than the 2047"

summary probe
