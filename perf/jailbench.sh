#!/usr/bin/env bash
# jailbench (as root): what isolation adds to a boot. The probe guest's
# boot-timer write, timed from just before exec (bootbench's {T0}, passed
# as --start-time-us, which wisp takes over the jailer's own), for wisp
# without seccomp filters, wisp (filters on, the default), jailed wisp,
# and jailed wisp in a v1 cgroup (memory, pids) and, where hugetlb is on
# cgroup v2, in a v2 one.
# Runs alternate, so drift on this shared machine hits each alike.
# Figures, not pass/fail.
#
#   RUNS=20     runs per figure
#   usage: perf/jailbench.sh     (after make all)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
RUNS=${RUNS:-20}
WISP=$(realpath "$B/wisp")
JAILER=$(realpath "$B/wisp-jailer")
PROBE=$(realpath "$B/probe.elf")
OUT=$(mktemp -d /tmp/wisp-jailbench.XXXXXX)
BASE=$OUT/base
PARENT=wisp-bench-$$
trap 'rmdir /sys/fs/cgroup/*/$PARENT/*/ /sys/fs/cgroup/*/$PARENT 2>/dev/null || true; rm -rf "$OUT"' EXIT
cc -O2 -Wall -Werror -o "$B/bootbench" perf/bootbench.c
mkdir -p "$BASE"
V2=$(grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null && echo 1 || true)

# one NAME ID cmd...: one bootbench run; its exit status must be 0.
one() {
	local name=$1 id=$2
	shift 2
	mkdir -p "$OUT/$name/$id"
	"$B/bootbench" -n 1 -o "$OUT/$name/$id" -- "$@" >>"$OUT/$name.tsv"
	if [ "$(tail -1 "$OUT/$name.tsv" | cut -d' ' -f3)" != 0 ]; then
		echo "jailbench: $name run $id failed:" >&2
		cat "$OUT/$name/$id/run-0.log" >&2
		exit 1
	fi
}

# jailed NAME ID [jailer flags]: a fresh jail each run, removed after.
jailed() {
	local name=$1 id=$2
	shift 2
	mkdir -p "$BASE/wisp/$id/root"
	cp "$PROBE" "$BASE/wisp/$id/root/probe.elf"
	one "$name" "$id" "$JAILER" --id "$id" --exec-file "$WISP" --uid 40000 \
		--gid 40000 --chroot-base-dir "$BASE" --parent-cgroup "$PARENT" "$@" \
		-- --kernel /probe.elf --cmdline probe=boot-timer --start-time-us '{T0}'
	rm -rf "$BASE/wisp/$id"
	rmdir /sys/fs/cgroup/*/"$PARENT/$id" 2>/dev/null || true
}

for i in $(seq "$RUNS"); do
	one noseccomp "n$i" "$WISP" --kernel "$PROBE" --cmdline probe=boot-timer \
		--start-time-us '{T0}' --no-seccomp
	one plain "p$i" "$WISP" --kernel "$PROBE" --cmdline probe=boot-timer \
		--start-time-us '{T0}'
	jailed jailed "j$i"
	jailed cgroup "c$i" --cgroup memory.limit_in_bytes=268435456 --cgroup pids.max=64
	[ -z "$V2" ] || jailed v2 "v$i" --cgroup-version 2 --cgroup hugetlb.2MB.max=0
done

# median < µs: the lower middle, in ms.
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.2f", a[int((NR + 1) / 2)] / 1000 }'; }

echo "jailbench: probe=boot-timer, $RUNS runs each, medians (ms)"
printf '%-32s %12s %14s\n' "" "guest boot" "exec to exit"
for name in noseccomp plain jailed cgroup ${V2:+v2}; do
	boot=$(cat "$OUT/$name"/*/run-0.log | sed -nE 's/.*guest boot: ([0-9]+) us since start.*/\1/p' | median)
	wall=$(cut -d' ' -f2 "$OUT/$name.tsv" | median)
	case $name in
	noseccomp) label="wisp --no-seccomp" ;;
	plain) label="wisp (seccomp filters)" ;;
	jailed) label="wisp-jailer" ;;
	cgroup) label="wisp-jailer + v1 memory, pids" ;;
	v2) label="wisp-jailer + v2 hugetlb" ;;
	esac
	printf '%-32s %12s %14s\n' "$label" "$boot" "$wall"
done
