#!/bin/sh
# build-rootfs.sh OUTDIR
#
# Builds the wisp guest's root file system from busybox-static and ./init, in
# two forms with the same contents:
#   OUTDIR/initramfs.cpio  newc cpio, uncompressed (boot with -initrd)
#   OUTDIR/rootfs.ext4     64 MiB ext4 image (boot with root=/dev/vda)
# Both are cached outside the repository, keyed on what determines them.
# initramfs.cpio is a symlink into the cache.  rootfs.ext4 is a sparse copy:
# a guest may mount it read-write, and that must not alter the cached image
# (the key would not notice).
#
# Runs as root: the device nodes /dev/console and /dev/null are made with
# mknod in a staging directory, and mkfs.ext4 -d / cpio copy them from there.
#
# Environment:
#   WISP_BUSYBOX    static busybox to install (default /bin/busybox)
#   WISP_CACHE_DIR  cache root (default $XDG_CACHE_HOME/wisp, else ~/.cache/wisp)
set -eu

die() {
	echo "build-rootfs: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
outdir=$1

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
init=$here/init
vsock_tool=$here/wisp-vsock.c
busybox=${WISP_BUSYBOX:-/bin/busybox}
cache_root=${WISP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}
ext4_mib=64

# Absolute paths: the build changes directory, and the symlinks must work
# from anywhere.
mkdir -p "$outdir" "$cache_root"
outdir=$(cd "$outdir" && pwd)
cache_root=$(cd "$cache_root" && pwd)

[ -x "$busybox" ] || die "$busybox not found (apt-get install busybox-static)"
# A dynamically linked busybox would need its libraries in the image.
if command -v file >/dev/null 2>&1; then
	file -L "$busybox" | grep -q 'statically linked' ||
		die "$busybox is not statically linked (install busybox-static)"
fi

# --- Cache key ----------------------------------------------------------------
# The busybox binary itself (2 MB, cheap to hash) rather than a package
# version: it is exactly what goes into the image.
export LC_ALL=C
key=$( {
	sha256sum <"$busybox"
	sha256sum <"$init"
	sha256sum <"$vsock_tool"
	sha256sum <"$self"
} | sha256sum | cut -c1-16)
cache=$cache_root/rootfs-$key

publish() {
	mkdir -p "$outdir"
	ln -sfn "$cache/initramfs.cpio" "$outdir/initramfs.cpio"
	# Replace, not overwrite in place: OUTDIR/rootfs.ext4 may still be a
	# symlink or a file a running guest has open.
	cp --sparse=always "$cache/rootfs.ext4" "$outdir/rootfs.ext4.tmp"
	mv -f "$outdir/rootfs.ext4.tmp" "$outdir/rootfs.ext4"
}

if [ -f "$cache/initramfs.cpio" ] && [ -f "$cache/rootfs.ext4" ]; then
	publish
	echo "build-rootfs: cache hit: $cache"
	exit 0
fi

# --- Build --------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (mknod for /dev/console and /dev/null)"
for tool in cpio mkfs.ext4 truncate; do
	command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/rootfs-$key.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP

root=$work/root
mkdir -p "$root"
cd "$root"
mkdir -p bin sbin usr/bin usr/sbin dev proc sys tmp root etc
chmod 1777 tmp
chmod 0700 root

cp "$busybox" bin/busybox
chmod 0755 bin/busybox
# One symlink per applet, at the path busybox itself reports (bin/ls,
# usr/bin/awk, ...).  Absolute targets, valid wherever the link lives.
"$busybox" --list-full | while read -r applet; do
	case $applet in
	bin/busybox | '') continue ;;
	esac
	mkdir -p "$(dirname "$applet")"
	ln -sf /bin/busybox "$applet"
done

# The guest end of the vsock tests (busybox has no AF_VSOCK), static.
${CC:-cc} -static -O2 -Wall -Werror -o bin/wisp-vsock "$vsock_tool" ||
	die "cannot build wisp-vsock (needs a static libc: libc6-dev)"
strip bin/wisp-vsock

cp "$init" init
chmod 0755 init
# rootfs.ext4 boots through /sbin/init (the kernel's default for a block
# root); replace busybox's init applet with the same script.
rm -f sbin/init
cp "$init" sbin/init
chmod 0755 sbin/init

# The kernel opens /dev/console for init's stdin/stdout/stderr before /init
# runs, i.e. before devtmpfs is mounted; without this node init has no output.
mknod -m 0600 dev/console c 5 1
mknod -m 0666 dev/null c 1 3

# Fixed timestamps: the archives then depend only on the inputs.
find . -exec touch -h -d @0 {} +

stage=$work/out
mkdir "$stage"

# newc, uncompressed, sorted, owned by root, no host inode/device numbers.
find . -mindepth 1 | sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible >"$stage/initramfs.cpio"

# mkfs.ext4 -d copies the tree (including the device nodes) into the new file
# system, so no loop mount is needed.  The label lets a guest find it.
# 4 KiB blocks and 256-byte inodes explicitly: for a file system this small
# mke2fs would pick its "small" profile (1 KiB blocks, 128-byte inodes whose
# timestamps end in 2038, which the kernel warns about at mount).
truncate -s "${ext4_mib}M" "$stage/rootfs.ext4"
mkfs.ext4 -q -F -b 4096 -I 256 -L wisp-root -d "$root" "$stage/rootfs.ext4" ||
	die "mkfs.ext4 failed"

cd /
# Rename the finished entry into place so a reader never sees half of it; if a
# concurrent build won, keep its entry.
if [ -d "$cache" ] && [ ! -f "$cache/rootfs.ext4" ]; then
	rm -rf "$cache"
fi
mv -T "$stage" "$cache" 2>/dev/null || [ -f "$cache/rootfs.ext4" ] ||
	die "cannot move the build into $cache"

publish
echo "build-rootfs: built rootfs-$key: $cache"
