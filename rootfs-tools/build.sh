#!/bin/sh
# build.sh OUTDIR
#
# Builds everything a wisp Linux guest needs into OUTDIR (`make guest` runs
# `rootfs-tools/build.sh build/guest`):
#   OUTDIR/vmlinux         guest kernel, ELF with the PVH entry note
#   OUTDIR/bzImage         the same kernel for the Linux boot protocol
#   OUTDIR/initramfs.cpio  busybox root file system, newc cpio
#   OUTDIR/rootfs.ext4     the same tree as a 64 MiB ext4 image
# Both steps are cached (see README.md); a second run takes well under a
# second.
set -eu

[ $# -eq 1 ] || {
	echo "usage: $0 OUTDIR" >&2
	exit 1
}
here=$(cd "$(dirname "$0")" && pwd)

# The kernel first: it is the slow step, and the one most likely to fail.
"$here/kernel/build-kernel.sh" "$1"
"$here/rootfs/build-rootfs.sh" "$1"
