#!/usr/bin/env bash
# Linux tier: boot the real guest kernel and initramfs (rootfs-tools) under
# wisp, run a command in it through wisp.run= and check what it printed and
# how wisp exited. Slow on kvm-pvm hosts (~100 s a boot, PVM.md), so it
# boots as few times as the checks need, one boot at a time.
set -u
: "${WISP:?path to wisp}" "${GUEST:?directory with vmlinux and initramfs.cpio}"
. "$(dirname "$0")/lib.sh"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}

for f in vmlinux initramfs.cpio; do
	[ -e "$GUEST/$f" ] || { bad "guest image" "$GUEST/$f missing: run make guest"; summary linux; exit 1; }
done
kver=$(strings "$GUEST/vmlinux" | sed -nE 's/^Linux version ([^ ]+) .*/\1/p' | head -1)

for n in 1 2; do
	name="linux, $n vCPU"
	start=$(date +%s)
	run_wisp "$BOOT_TIMEOUT" --kernel "$GUEST/vmlinux" \
		--initrd "$GUEST/initramfs.cpio" --vcpus "$n" --mem-mib 256 \
		--cmdline 'console=ttyS0 reboot=k,panic_warm panic=1 wisp.run="uname -r; nproc"'
	echo "     ($name: $(($(date +%s) - start)) s)"
	expect_rc "$name" 0
	expect_line "$name" out "^${kver//./\\.}$"
	expect_line "$name" out "^$n$"
	expect_line "$name" out '^wisp-init: exit status 0'
	expect_line "$name" err 'guest boot: [0-9]+ us since start'
	expect_no_line "$name" out 'Kernel panic|BUG:|Oops'
done

summary linux
