#!/bin/sh
# mkdisk.sh PATH SIZE_MIB [--thin|--full]
#
# Creates a raw disk image of SIZE_MIB MiB for block-device tests, filled with
# zeroes.  --thin (the default) makes a sparse file (truncate): instant, and
# it exercises the holes a real thin image has.  --full allocates every block
# up front (fallocate, or writing zeroes where the file system cannot
# fallocate), for tests that must not hit ENOSPC or allocation latency.
# An existing regular file at PATH is replaced.
set -eu

die() {
	echo "mkdisk: $*" >&2
	exit 1
}

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	die "usage: $0 PATH SIZE_MIB [--thin|--full]"
fi
path=$1
size=$2
mode=${3:---thin}

case $size in
'' | *[!0-9]*) die "SIZE_MIB must be a positive integer, got '$size'" ;;
esac
[ "$size" -gt 0 ] || die "SIZE_MIB must be positive, got '$size'"
case $mode in
--thin | --full) ;;
*) die "unknown mode '$mode' (want --thin or --full)" ;;
esac
# Never truncate a block device or anything else that is not a plain file.
if [ -e "$path" ] && [ ! -f "$path" ]; then
	die "$path exists and is not a regular file"
fi

# Build under a temporary name next to PATH, then rename: a reader never sees
# a half-made image, and a failure leaves the old one alone.
tmp=$path.tmp.$$
trap 'rm -f "$tmp"' EXIT
rm -f "$tmp"
if [ "$mode" = --thin ]; then
	truncate -s "${size}M" "$tmp"
else
	fallocate -l "${size}M" "$tmp" 2>/dev/null ||
		dd if=/dev/zero of="$tmp" bs=1M count="$size" status=none
fi
mv -f "$tmp" "$path"
trap - EXIT
