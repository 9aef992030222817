#!/bin/sh
# build-kernel.sh OUTDIR
#
# Builds the wisp guest kernel (vmlinux with the PVH ELF note, and bzImage)
# from the Debian linux-source-6.1 tarball: tinyconfig + wisp.config + the
# kvm-pvm patches in patches/.  The result is cached outside the repository,
# keyed on everything that determines it, and OUTDIR/vmlinux and
# OUTDIR/bzImage are made symlinks to the cached files.
#
# Environment:
#   WISP_KERNEL_TARBALL  kernel source tarball
#                        (default /usr/src/linux-source-6.1.tar.xz)
#   WISP_CACHE_DIR       cache root (default $XDG_CACHE_HOME/wisp, else
#                        ~/.cache/wisp)
#   WISP_KERNEL_JOBS     make -j value (default 2: the build machines have two
#                        cores, and more jobs only thrash)
set -eu

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
outdir=$1

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
fragment=$here/wisp.config
tarball=${WISP_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
cache_root=${WISP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}
jobs=${WISP_KERNEL_JOBS:-2}

# Absolute paths: the build changes directory, and the symlinks must work
# from anywhere.
mkdir -p "$outdir" "$cache_root"
outdir=$(cd "$outdir" && pwd)
cache_root=$(cd "$cache_root" && pwd)

[ -f "$tarball" ] || die "kernel source $tarball not found (apt-get install linux-source-6.1)"

# --- Cache key ----------------------------------------------------------------
# The tarball is identified by its Debian package version when dpkg owns it
# (cheap and exact), else by name, size and mtime: hashing 130 MB on every
# `make guest` would cost more than the check is worth.
tarball_id=
if command -v dpkg-query >/dev/null 2>&1; then
	pkg=$(dpkg-query -S "$tarball" 2>/dev/null | sed -n '1s/:.*//p') || pkg=
	if [ -n "$pkg" ]; then
		tarball_id="$pkg $(dpkg-query -W -f='${Version}' "$pkg")"
	fi
fi
if [ -z "$tarball_id" ]; then
	tarball_id="$(basename "$tarball") $(stat -c '%s %Y' "$tarball")"
fi

# Patches are applied in name order; the glob sorts the same way everywhere
# (LC_ALL=C), and the same list feeds the key and the build.
export LC_ALL=C
set -- "$here"/patches/*.patch
[ -f "$1" ] || set --  # no patches: empty list, not a literal glob

# sha256sum prints paths; hash from $here so the key does not depend on where
# the repository is checked out.
key=$( {
	echo "tarball: $tarball_id"
	cd "$here"
	sha256sum wisp.config "$(basename "$self")"
	for p in "$@"; do
		sha256sum "patches/$(basename "$p")"
	done
} | sha256sum | cut -c1-16)

cache=$cache_root/kernel-$key

link_outputs() {
	mkdir -p "$outdir"
	ln -sfn "$cache/vmlinux" "$outdir/vmlinux"
	ln -sfn "$cache/bzImage" "$outdir/bzImage"
}

if [ -f "$cache/vmlinux" ]; then
	link_outputs
	echo "build-kernel: cache hit: $cache"
	exit 0
fi

# --- Build --------------------------------------------------------------------
# lz4 compresses the bzImage payload (see wisp.config); the kernel build
# would otherwise fail late with a less obvious message.
for tool in make gcc flex bison bc lz4 perl; do
	command -v "$tool" >/dev/null 2>&1 || die "missing build tool: $tool"
done

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/kernel-$key.work.XXXXXX")
log=$cache_root/kernel-$key.log
# The work tree is ~1.5 GB once built; never leave it behind.
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP

echo "build-kernel: cache miss, building kernel-$key (log: $log)"
start=$(date +%s)

src=$work/src
mkdir "$src"
tar -xf "$tarball" -C "$src" --strip-components=1

for p in "$@"; do
	echo "build-kernel: applying $(basename "$p")"
	patch -p1 -d "$src" --batch --forward --quiet <"$p" ||
		die "patch $(basename "$p") does not apply to $tarball"
done

# Run a make step with its output in the log; on failure show the end of it.
run_logged() {
	if ! "$@" >>"$log" 2>&1; then
		tail -n 60 "$log" >&2
		die "failed: $* (full log: $log)"
	fi
}

: >"$log"
run_logged make -C "$src" ARCH=x86_64 tinyconfig
# merge_config.sh -m only merges the fragment into .config; olddefconfig
# then resolves dependencies and defaults.
run_logged sh -c 'cd "$1" && ARCH=x86_64 ./scripts/kconfig/merge_config.sh -m .config "$2"' \
	sh "$src" "$fragment"
run_logged make -C "$src" ARCH=x86_64 olddefconfig

# kconfig drops options whose dependencies are unmet without an error, so
# check that every line of the fragment survived: "CONFIG_X=v" must appear
# as is, "# CONFIG_X is not set" must not be set to anything.
bad=$(
	sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*=.*\)$/set \1/p' \
		-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/unset \1/p' "$fragment" |
	while read -r kind line; do
		name=${line%%=*}
		case $kind in
		set)
			grep -qxF "$line" "$src/.config" ||
				echo "  $line (got: $(grep "^$name=" "$src/.config" || echo 'not set'))"
			;;
		unset)
			if grep -q "^$name=" "$src/.config"; then
				echo "  # $name is not set (got: $(grep "^$name=" "$src/.config"))"
			fi
			;;
		esac
	done
)
if [ -n "$bad" ]; then
	echo "build-kernel: these wisp.config lines did not survive olddefconfig" >&2
	echo "(a dependency is missing from the fragment, or something selects it):" >&2
	echo "$bad" >&2
	exit 1
fi

# A fixed banner (uname -v, the "Linux version" line): it then depends on
# the sources only, not on who built them when.
export KBUILD_BUILD_USER=wisp KBUILD_BUILD_HOST=wisp
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$(stat -c %Y "$tarball")" '+%Y-%m-%d')
export KBUILD_BUILD_TIMESTAMP

echo "build-kernel: config ok, compiling with -j$jobs"
run_logged make -C "$src" ARCH=x86_64 -j"$jobs" vmlinux bzImage

# A VMM enters vmlinux through the PVH note (Xen note type 0x12,
# XEN_ELFNOTE_PHYS32_ENTRY); make sure it is there.
if command -v readelf >/dev/null 2>&1; then
	readelf -n "$src/vmlinux" | grep -A1 '^ *Xen' | grep -q '0x00000012' ||
		die "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"
fi

# Assemble the cache entry under a temporary name and rename it into place, so
# a reader never sees a half-written entry.  If another build finished first,
# keep its entry.
stage=$work/out
mkdir "$stage"
cp "$src/vmlinux" "$stage/vmlinux"
cp "$src/arch/x86/boot/bzImage" "$stage/bzImage"
cp "$src/.config" "$stage/config"
cp "$src/System.map" "$stage/System.map"
mv "$log" "$stage/build.log"
log=$stage/build.log
if [ -d "$cache" ] && [ ! -f "$cache/vmlinux" ]; then
	rm -rf "$cache"  # not an entry this script made: no vmlinux
fi
mv -T "$stage" "$cache" 2>/dev/null || [ -f "$cache/vmlinux" ] ||
	die "cannot move the build into $cache"

link_outputs
echo "build-kernel: built kernel-$key in $(($(date +%s) - start)) s: $cache"
