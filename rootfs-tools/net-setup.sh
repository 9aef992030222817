#!/bin/sh
# net-setup.sh: the host side of a VM's network interface. wisp never
# creates or configures host networking; this script does, in one of
# three modes:
#
#   net-setup.sh host-only TAP ADDR/PREFIX [--user U]
#       a tap with an address: the host and the guest talk, nothing else
#   net-setup.sh nat TAP ADDR/PREFIX UPLINK [--user U]
#       host-only, plus forwarding and an nftables masquerade of the
#       tap's subnet out of UPLINK: the guest reaches what the host does
#   net-setup.sh bridge TAP BRIDGE [--user U]
#       a tap enslaved to BRIDGE (created if missing): the guest is a
#       peer on the bridge's segment, addressed by whatever serves it
#   net-setup.sh del TAP
#       remove the tap and the NAT rules made for it
#
# --user U lets user U (name or uid) open the tap, so an unprivileged or
# jailed wisp can use it. The guest still needs an address of its own in
# the subnet (ip= on its command line, or its init); see docs/api.md.
# Needs root (or CAP_NET_ADMIN), iproute2 and, for nat, nftables.
set -eu

die() {
	echo "net-setup: $*" >&2
	exit 1
}
usage() {
	sed -n '2,22s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

[ $# -ge 2 ] || usage
mode=$1
tap=$2
shift 2
case "$tap" in
"" | *[!A-Za-z0-9_.-]*) die "tap name '$tap': letters, digits, '_', '.', '-' only" ;;
esac
[ ${#tap} -le 15 ] || die "tap name '$tap' is longer than 15 characters"

# The nftables table of one tap's NAT rules (removed with the tap).
table="wisp_$(echo "$tap" | tr '.-' '__')"

make_tap() { # USER-ARGS...
	if ip link show dev "$tap" >/dev/null 2>&1; then
		die "interface '$tap' already exists"
	fi
	ip tuntap add dev "$tap" mode tap "$@" || die "cannot create tap '$tap'"
}

user_args() { # [--user U] -> tuntap's "user U"
	case "${1:-}" in
	"") ;;
	--user) [ $# -ge 2 ] || die "--user needs a user"; echo "user $2" ;;
	*) die "unknown option '$1'" ;;
	esac
}

check_cidr() {
	case "$1" in
	*/*) ;;
	*) die "address '$1' needs a prefix length (e.g. 172.16.0.1/24)" ;;
	esac
}

case "$mode" in
host-only)
	[ $# -ge 1 ] || usage
	addr=$1
	shift
	check_cidr "$addr"
	# shellcheck disable=SC2046 # user_args prints words to split
	make_tap $(user_args "$@")
	ip addr add "$addr" dev "$tap" || { ip link del "$tap"; die "bad address '$addr'"; }
	ip link set "$tap" up
	;;
nat)
	[ $# -ge 2 ] || usage
	addr=$1
	uplink=$2
	shift 2
	check_cidr "$addr"
	command -v nft >/dev/null || die "nft not found (apt-get install nftables)"
	ip link show dev "$uplink" >/dev/null 2>&1 || die "no uplink interface '$uplink'"
	# shellcheck disable=SC2046
	make_tap $(user_args "$@")
	ip addr add "$addr" dev "$tap" || { ip link del "$tap"; die "bad address '$addr'"; }
	ip link set "$tap" up
	# The subnet the address is in, as nftables wants it.
	subnet=$(ip -4 route show dev "$tap" proto kernel | awk '{ print $1; exit }')
	[ -n "$subnet" ] || { ip link del "$tap"; die "no route for '$addr' on '$tap'"; }
	sysctl -qw net.ipv4.ip_forward=1
	nft -f - <<NFT || { ip link del "$tap"; die "nftables refused the rules"; }
table ip $table {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr $subnet oifname "$uplink" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname "$tap" oifname "$uplink" accept
		iifname "$uplink" oifname "$tap" ct state established,related accept
		iifname "$uplink" oifname "$tap" drop
	}
}
NFT
	;;
bridge)
	[ $# -ge 1 ] || usage
	br=$1
	shift
	if ! ip link show dev "$br" >/dev/null 2>&1; then
		ip link add "$br" type bridge || die "cannot create bridge '$br'"
		ip link set "$br" up
	fi
	[ -d "/sys/class/net/$br/bridge" ] || die "'$br' is not a bridge"
	# shellcheck disable=SC2046
	make_tap $(user_args "$@")
	ip link set "$tap" master "$br" || { ip link del "$tap"; die "cannot add '$tap' to '$br'"; }
	ip link set "$tap" up
	;;
del)
	[ $# -eq 0 ] || usage
	ip link del "$tap" 2>/dev/null || die "no interface '$tap'"
	if command -v nft >/dev/null && nft list table ip "$table" >/dev/null 2>&1; then
		nft delete table ip "$table"
	fi
	;;
*)
	usage
	;;
esac
