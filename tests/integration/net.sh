#!/usr/bin/env bash
# virtio-net tier: the probe guest's driver (tests/guest/net.c) against a
# tap in a network namespace of the test's own, with tests/integration/
# net_peer.py on the host end checking every frame with a raw socket.
# Then the rate limiters (10 MiB/s over 50 MiB, both
# directions), a live PATCH of a limiter over the API, and bad taps.
set -u
: "${WISP:?path to wisp}" "${WISP_PLAIN:?path to the production wisp}" "${PROBE:?path to probe.elf}"
PROBE=$(realpath "$PROBE")
WISP=$(realpath "$WISP")
WISP_PLAIN=$(realpath "$WISP_PLAIN")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

NS=wisp-net-$$
TAP=wtap0
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
inns() { ip netns exec "$NS" "$@"; }
peer() { inns python3 "$here/net_peer.py" "$@"; }

ip netns add "$NS" || { bad "netns" "cannot create a network namespace"; summary net; exit 1; }
inns ip link set lo up
inns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
setup=$here/../../rootfs-tools/net-setup.sh
# The tap every test below uses, made the way a user makes one.
if inns "$setup" host-only "$TAP" 172.16.0.1/24 &&
	[ "$(inns ip -br addr show "$TAP" | awk '{ print $3 }')" = 172.16.0.1/24 ]; then
	ok "net-setup host-only: $TAP with 172.16.0.1/24"
else
	bad "net-setup host-only" "no $TAP with its address"
fi

# net_ini CMDLINE [EXTRA-NET-LINES]: a probe VM with one interface.
net_ini() {
	cat >"$TMP/net.ini" <<INI
[boot]
kernel = $PROBE
cmdline = probe=$1
[serial]
input = none
[net.eth0]
tap = $TAP
${2:-}
INI
}

# run_ns TIMEOUT ARGS...: run_wisp inside the namespace.
run_ns() {
	local t=$1
	shift
	timeout --kill-after=5 "$t" ip netns exec "$NS" "$WISP" "$@" \
		</dev/null >"$TMP/raw" 2>"$TMP/err"
	RC=$?
	tr -d '\r' <"$TMP/raw" >"$TMP/out"
}

# bg_ns ARGS...: wisp in the namespace, in the background ($PID).
bg_ns() {
	ip netns exec "$NS" "$WISP" "$@" </dev/null >"$TMP/raw" 2>"$TMP/err" &
	PID=$!
}

# wait_line PATTERN: until stdout of the background wisp has it (10 s).
wait_line() {
	for _ in $(seq 200); do
		tr -d '\r' <"$TMP/raw" | grep -Eq -- "$1" && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

no_sanitizer_report() {
	expect_no_line "$1" err 'AddressSanitizer|runtime error|LeakSanitizer'
}

# --- Frames out: 32 test frames must reach the tap, each intact. --------
net_ini "net-tx n=32" "mac = 06:00:ac:10:00:02"
peer recv "$TAP" 32 15 >"$TMP/peer" &
ppid=$!
for _ in $(seq 100); do grep -q listening "$TMP/peer" && break; sleep 0.05; done
run_ns 60 --config "$TMP/net.ini"
wait "$ppid"
prc=$?
expect_rc "net tx" 0
expect_line "net tx" out '^probe: net tx 32 frames mac 06:00:ac:10:00:02$'
cp "$TMP/peer" "$TMP/peer.out"
if [ "$prc" = 0 ] && grep -q '^received 32 of 32$' "$TMP/peer.out"; then
	ok "net tx: the host received all 32 frames intact"
else
	bad "net tx" "host side: $(tail -n 3 "$TMP/peer.out" | tr '\n' ' ')"
fi
expect_line "net tx: source MAC" peer.out '^frame 31 from 06:00:ac:10:00:02 len 136$'
no_sanitizer_report "net tx"

# --- Frames in: the host sends 32, the guest checks each byte. ------------
# With MRG_RXBUF the probe posts 512-byte buffers, so big frames span 3.
for mode in plain mrg; do
	net_ini "net-rx n=32 $([ $mode = mrg ] && echo mrg)"
	bg_ns --config "$TMP/net.ini"
	if wait_line '^probe: net rx ready'; then
		peer send "$TAP" 32 >/dev/null
	fi
	wait_exit 30
	want=1
	[ $mode = mrg ] && want=3
	expect_rc "net rx $mode" 0
	expect_line "net rx $mode" out "^probe: net rx 32 frames ok bytes=23506 maxbufs=$want\$"
	no_sanitizer_report "net rx $mode"
done

# --- A MAC made from the VM and interface ids, the same every run. -------
net_ini "net-tx n=1"
macs=()
for id in vm-a vm-a vm-b; do
	run_ns 30 --config "$TMP/net.ini" --id "$id"
	macs+=("$(sed -n 's/^probe: net tx 1 frames mac //p' "$TMP/out")")
done
if [[ ${macs[0]} =~ ^06(:[0-9a-f]{2}){5}$ ]] && [ "${macs[0]}" = "${macs[1]}" ] &&
	[ "${macs[0]}" != "${macs[2]}" ]; then
	ok "generated MAC: stable per VM id, locally administered (${macs[0]})"
else
	bad "generated MAC" "got '${macs[*]}'"
fi

# --- The tap is free the moment wisp has gone: a VM whose tap reads are
# still posted on io_uring when it exits, started again at once on the
# same tap, 20 times (the kernel's deferred teardown of the ring kept the
# tap attached a while and the next start found it busy). The production
# build: it exits fast enough to hit that window.
net_ini "net-bench dir=rx n=0 size=1514"
busy=0
for _ in $(seq 20); do
	timeout --kill-after=5 30 ip netns exec "$NS" "$WISP_PLAIN" \
		--config "$TMP/net.ini" </dev/null >/dev/null 2>"$TMP/err" ||
		busy=$((busy + 1))
done
if [ "$busy" = 0 ]; then
	ok "20 VMs one after another on one tap: each finds it free"
else
	bad "tap free after exit" "$busy of 20 starts failed: $(grep -m1 "^wisp:" "$TMP/err")"
fi

# --- Hostile rings: each stops the device, never wisp; malformed frames
# never reach the tap. The host must see exactly the 6 good frames.
net_ini net-hostile
peer recv "$TAP" 6 15 >"$TMP/peer" &
ppid=$!
for _ in $(seq 100); do grep -q listening "$TMP/peer" && break; sleep 0.05; done
run_ns 60 --config "$TMP/net.ini"
wait "$ppid"
prc=$?
expect_rc "net hostile" 0
for what in "writable transmit buffer" "readable receive buffer" \
	"tiny receive buffer" "receive head posted twice" \
	"transmit head out of range"; do
	expect_line "net hostile" out "^probe: hostile $what: needs reset\$"
done
expect_line "net hostile" out '^probe: malformed frames dropped$'
expect_line "net hostile" out '^probe: net-hostile ok$'
expect_line "net hostile" err 'virtio-net: writable buffer in the transmit queue; device needs reset'
no_sanitizer_report "net hostile"
if [ "$prc" = 0 ] && [ "$(grep -c '^frame ' "$TMP/peer")" = 6 ]; then
	ok "net hostile: only the 6 good frames reached the tap"
else
	bad "net hostile" "host side: $(tr '\n' ' ' <"$TMP/peer")"
fi

# --- Rate limiters: 10 MiB/s (1 MiB buckets refilled every 100 ms), 50 MiB
# of 1514-byte frames: the first MiB passes at once, 49 more take 4.9 s.
# The limiter sets the lower bound, which no load on the host can move.
# The upper bound only says the queue was resumed and not starved: how
# close a run comes to 5 s depends on the host's load, and make perf
# measures it (docs/perf.md), not this test.
limit_check() { # NAME SECONDS
	if awk -v t="$2" 'BEGIN { exit !(t >= 4.5 && t <= 20) }'; then
		ok "$1: 50 MiB at 10 MiB/s took $2 s (at least 4.5)"
	else
		bad "$1" "50 MiB at 10 MiB/s took $2 s, want 4.5 to 20"
	fi
}
net_ini "net-bench dir=tx n=34636 size=1514" "tx_bandwidth = 1048576 100"
t0=$(date +%s.%N)
run_ns 60 --config "$TMP/net.ini"
t1=$(date +%s.%N)
expect_rc "tx rate limit" 0
expect_line "tx rate limit" out '^probe: net bench tx 34636 frames bytes=52438904$'
limit_check "tx rate limit" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"

net_ini "net-bench dir=rx n=34636" "rx_bandwidth = 1048576 100"
peer flood "$TAP" 30 >/dev/null 2>&1 &
fpid=$!
sleep 0.3
t0=$(date +%s.%N)
run_ns 60 --config "$TMP/net.ini"
t1=$(date +%s.%N)
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
expect_rc "rx rate limit" 0
expect_line "rx rate limit" out '^probe: net bench rx 34636 frames bytes=52438904$'
limit_check "rx rate limit" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"

# --- A limiter changed live over the API: unlimited, then 1 MiB/s, then
# unlimited again; the tap's counters show each rate.
tap_bytes() { inns cat "/sys/class/net/$TAP/statistics/rx_bytes"; }
rate_over() { # SECONDS -> bytes per second seen at the tap
	local a b
	a=$(tap_bytes)
	sleep "$1"
	b=$(tap_bytes)
	awk -v a="$a" -v b="$b" -v t="$1" 'BEGIN { printf "%d", (b - a) / t }'
}
net_ini "net-bench dir=tx n=100000000 size=1514"
: >"$TMP/metrics"
rm -f "$SOCK"
ip netns exec "$NS" "$WISP" --api-sock "$SOCK" --config "$TMP/net.ini" \
	--metrics-path "$TMP/metrics" </dev/null >"$TMP/raw" 2>"$TMP/err" &
PID=$!
wait_line '^probe: net bench tx start' || bad "live limiter" "the guest did not start"
sleep 0.3
fast=$(rate_over 1.0)
api PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 104857, "refill_time": 100}}}'
expect "live limiter: PATCH 1 MiB/s" 204
sleep 0.3
slow=$(rate_over 2.0)
api PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 0, "refill_time": 0}}}'
expect "live limiter: PATCH unlimited" 204
sleep 0.3
again=$(rate_over 1.0)
api PUT /actions '{"action_type": "FlushMetrics"}'
expect "live limiter: FlushMetrics" 204
kill -TERM "$PID"
wait_exit 10
expect_rc "live limiter: SIGTERM" 0
echo "     (unlimited $fast B/s, limited $slow B/s, unlimited $again B/s)"
if [ "$slow" -ge 900000 ] && [ "$slow" -le 1250000 ]; then
	ok "live limiter: 1 MiB/s after the PATCH ($slow B/s)"
else
	bad "live limiter" "$slow B/s at the tap with a 1 MiB/s limit"
fi
if [ "$fast" -gt $((slow * 5)) ] && [ "$again" -gt $((slow * 5)) ]; then
	ok "live limiter: unlimited before and after"
else
	bad "live limiter" "unlimited rates $fast and $again B/s are not well above $slow"
fi
# Counters are deltas per line: add them up over the lines.
if jq -se '(map(.net_eth0.tx_rate_limiter_throttled) | add) > 0 and
	(map(.net_eth0.tx_packets_count) | add) > 0 and
	(map(.net.tx_bytes_count) | add) == (map(.net_eth0.tx_bytes_count) | add)' \
	"$TMP/metrics" >/dev/null; then
	ok "live limiter: metrics count the throttling and the frames"
else
	bad "live limiter" "metrics: $(head -c 300 "$TMP/metrics")"
fi
no_sanitizer_report "live limiter"

# --- net-setup.sh: bridge and NAT modes, removal, bad arguments. ----------
# A tap in a bridge: the probe's frames come out of the bridge.
inns "$setup" bridge wtap1 wbr0 && inns ip link set wbr0 up
if [ "$(inns cat /sys/class/net/wtap1/master/ifindex 2>/dev/null)" = "$(inns cat /sys/class/net/wbr0/ifindex)" ]; then
	ok "net-setup bridge: wtap1 is in wbr0"
else
	bad "net-setup bridge" "wtap1 is not in wbr0"
fi
net_ini "net-tx n=8"
sed -i "s/^tap = .*/tap = wtap1/" "$TMP/net.ini"
peer recv wbr0 8 15 >"$TMP/peer" &
ppid=$!
for _ in $(seq 100); do grep -q listening "$TMP/peer" && break; sleep 0.05; done
run_ns 60 --config "$TMP/net.ini"
wait "$ppid" && ok "net-setup bridge: the guest's frames cross the bridge" ||
	bad "net-setup bridge" "host side: $(tail -n 2 "$TMP/peer" | tr '\n' ' ')"
# NAT: the rules name the tap's subnet and the uplink; forwarding is on.
inns ip link add wup0 type veth peer name wup1
inns "$setup" nat wtap2 172.16.9.1/24 wup0 --user 65534
if inns nft list table ip wisp_wtap2 2>/dev/null | grep -q 'ip saddr 172.16.9.0/24 oifname "wup0" masquerade' &&
	[ "$(inns sysctl -n net.ipv4.ip_forward)" = 1 ] &&
	[ "$(inns cat /sys/class/net/wtap2/owner)" = 65534 ]; then
	ok "net-setup nat: masquerade of 172.16.9.0/24 out of wup0, forwarding on, tap owned by 65534"
else
	bad "net-setup nat" "$(inns nft list ruleset 2>&1 | head -5 | tr '\n' ' ')"
fi
inns "$setup" del wtap2
if ! inns ip link show wtap2 >/dev/null 2>&1 && ! inns nft list table ip wisp_wtap2 >/dev/null 2>&1; then
	ok "net-setup del: tap and rules gone"
else
	bad "net-setup del" "wtap2 or its rules are still there"
fi
for args in "host-only $TAP 10.0.0.1/24:already exists" \
	"host-only bad/name 10.0.0.1/24:letters, digits" \
	"host-only wtap3 10.0.0.1:needs a prefix length" \
	"nat wtap3 10.0.0.1/24 nosuch:no uplink interface 'nosuch'" \
	"bridge wtap3 $TAP:'$TAP' is not a bridge" "del nosuch:no interface 'nosuch'"; do
	# shellcheck disable=SC2086 # the arguments are words
	if inns "$setup" ${args%%:*} 2>"$TMP/err" || ! grep -q "${args#*:}" "$TMP/err"; then
		bad "net-setup ${args%%:*}" "no error '${args#*:}': $(cat "$TMP/err")"
	else
		ok "net-setup ${args%%:*}: refused (${args#*:})"
	fi
done
inns ip link show wtap3 >/dev/null 2>&1 && bad "net-setup" "a refused call left wtap3 behind" ||
	ok "net-setup: refused calls leave no interface"

# --- MMDS: the probe speaks ARP and TCP to 169.254.169.254 on eth0, which
# mmds-config names; wisp answers, and none of those frames reaches the
# tap (its receive counter stays put). V1 serves the --metadata value (700
# bytes and more: two segments of the probe's default MSS, 536); V2 wants a
# token the probe does not send.
long=hello-from-mmds-$(printf 'm%.0s' $(seq 700))
echo "{\"probe\": \"$long\"}" >"$TMP/meta.json"
tap_rx() { inns cat "/sys/class/net/$TAP/statistics/rx_packets"; }
mmds_config() { # FILE SCENARIO VERSION: the probe on eth0, which serves MMDS
	cat >"$1" <<JSON
{
  "boot-source": {"kernel_image_path": "$PROBE", "boot_args": "probe=$2"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "$TAP",
                          "guest_mac": "06:00:ac:10:00:02"}],
  "mmds-config": {"version": "$3", "network_interfaces": ["eth0"]}
}
JSON
}
# V1 also with MRG_RXBUF: the probe's 512-byte buffers, so the answer's
# frames span several (num_buffers).
for run in V1 V1-mrg V2; do
	v=${run%-mrg}
	mrg=$([ "$run" = V1-mrg ] && echo " mrg")
	mmds_config "$TMP/mmds.json" "mmds$mrg" "$v"
	: >"$TMP/metrics"
	before=$(tap_rx)
	run_ns 30 --no-api --config-file "$TMP/mmds.json" \
		--metadata "$TMP/meta.json" --metrics-path "$TMP/metrics"
	after=$(tap_rx)
	expect_rc "mmds $run" 0
	expect_line "mmds $run: ARP answered" out '^probe: mmds arp 06:01:23:45:67:01$'
	if [ "$v" = V1 ]; then
		expect_line "mmds $run: the store's value over TCP" out \
			'^probe: mmds status=200 body=hello-from-mmds-m{700}$'
	else
		expect_line "mmds V2: a GET without a token" out \
			'^probe: mmds status=401 body=No MMDS token provided'
	fi
	if [ "$before" = "$after" ]; then
		ok "mmds $run: no frame reached the tap"
	else
		bad "mmds $run" "the tap received $((after - before)) frames"
	fi
	# At least the ARP reply, the SYN-ACK, one data segment and the FIN
	# (more when an ACK goes alone: it depends on how the probe's frames
	# are batched).
	if jq -se 'map(.mmds.tx_frames // 0) | add >= 4' "$TMP/metrics" >/dev/null &&
		jq -se 'map(.mmds.connections_created // 0) | add == 1' "$TMP/metrics" >/dev/null; then
		ok "mmds $run: metrics count the frames and the connection"
	else
		bad "mmds $run" "metrics: $(head -c 400 "$TMP/metrics")"
	fi
	no_sanitizer_report "mmds $run"
done

# --- MMDS against a hostile guest (V2): a SYN with a bad checksum gets no
# answer, a forged token 401, the token flow 200 (a segment sent twice
# taken once), a request head that fills the connection's 2500 bytes a
# reset, 40 SYNs at once at most 30 connections and resets for the rest;
# then the service still answers, a token past its TTL is refused, and
# none of it reached the tap.
echo '{"probe": "hello-v2"}' >"$TMP/meta2.json"
mmds_config "$TMP/mmds-h.json" mmds-hostile V2
before=$(tap_rx)
run_ns 60 --no-api --config-file "$TMP/mmds-h.json" --metadata "$TMP/meta2.json"
after=$(tap_rx)
n="mmds hostile"
expect_rc "$n" 0
expect_line "$n: a SYN with a bad checksum is not answered" out '^probe: mmds bad checksum ignored$'
expect_line "$n: a forged token" out '^probe: mmds forged token status=401 body=MMDS token not valid\.$'
expect_line "$n: a session token" out '^probe: mmds token 48 bytes$'
expect_line "$n: the token's GET, a segment sent twice" out '^probe: mmds token, a segment twice, status=200 body=hello-v2$'
expect_line "$n: a request head that never ends" out '^probe: mmds endless request reset after 2500 bytes$'
flood=$(sed -n 's/^probe: mmds flood \([0-9]*\) connections \([0-9]*\) resets$/\1 \2/p' "$TMP/out")
if [ -n "$flood" ] && [ "${flood% *}" -le 30 ] && [ $((${flood% *} + ${flood#* })) = 40 ]; then
	ok "$n: 40 SYNs: ${flood% *} connections (30 at most), ${flood#* } resets"
else
	bad "$n: a SYN flood" "got '$flood' (connections resets)"
fi
expect_line "$n: the service still answers" out '^probe: mmds after all that status=200 body=hello-v2$'
expect_line "$n: a token past its TTL of 1 s" out '^probe: mmds expired token status=401 body=MMDS token not valid\.$'
if [ "$before" = "$after" ]; then ok "$n: no frame reached the tap"; else bad "$n" "the tap received $((after - before)) frames"; fi
no_sanitizer_report "$n"

# --- Bad taps: a clear message, nothing started. --------------------------
sed -i "s/^tap = .*/tap = nosuch0/" "$TMP/net.ini"
run_ns 30 --config "$TMP/net.ini"
expect_rc "missing tap" 1
expect_line "missing tap" err "tap 'nosuch0': no such interface"
[ -s "$TMP/out" ] && bad "missing tap" "the guest ran" || ok "missing tap: nothing started"
inns ip link add veth0 type veth peer name veth1
sed -i "s/^tap = .*/tap = veth0/" "$TMP/net.ini"
run_ns 30 --config "$TMP/net.ini"
expect_line "not a tap" err "tap 'veth0': not a tap interface"
net_ini "net-bench dir=tx n=100000000"
bg_ns --config "$TMP/net.ini"
first=$PID
wait_line '^probe: net bench tx start'
run_ns 30 --config "$TMP/net.ini"
expect_line "tap in use" err "tap '$TAP': busy"
PID=$first
kill -TERM "$PID"
wait_exit 10

summary net
