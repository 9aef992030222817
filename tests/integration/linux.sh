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

# Root on virtio-blk: boot 1 writes a file to the ext4 root and reads a
# read-only second drive (and fails to write it); boot 2 reads the file.
cp "$GUEST/rootfs.ext4" "$TMP/root.ext4"
"$(dirname "$0")/../../rootfs-tools/mkdisk.sh" "$TMP/data.img" 16 >/dev/null
printf 'wisp-data-disk\n' | dd of="$TMP/data.img" conv=notrunc 2>/dev/null
token="token-$$-$RANDOM"
blk_boot() { # NAME COMMAND
	cat >"$TMP/blk.ini" <<INI
[machine]
mem_mib = 256
[boot]
kernel = $(realpath "$GUEST/vmlinux")
cmdline = console=ttyS0 reboot=k,panic_warm panic=1
  wisp.run="$2"
[drive.rootfs]
path = $TMP/root.ext4
root = yes
[drive.data]
path = $TMP/data.img
read_only = yes
INI
	local start
	start=$(date +%s)
	run_wisp "$BOOT_TIMEOUT" --config "$TMP/blk.ini"
	echo "     ($1: $(($(date +%s) - start)) s)"
	expect_rc "$1" 0
	expect_line "$1" out 'virtio_blk virtio0: \[vda\] 131072 512-byte logical blocks'
	expect_line "$1" out 'EXT4-fs \(vda\): mounted filesystem'
	expect_no_line "$1" out 'Kernel panic|BUG:|Oops|EXT4-fs error'
}
blk_boot "virtio-blk boot 1" "echo $token > /persist; sync; head -c 14 /dev/vdb; echo; echo x > /dev/vdb || echo vdb-refused"
expect_line "virtio-blk boot 1" out '^wisp-data-disk$'
expect_line "virtio-blk boot 1" out '^vdb-refused$'
expect_line "virtio-blk boot 1" out '^wisp-init: exit status 0'
blk_boot "virtio-blk boot 2" "cat /persist"
expect_line "virtio-blk boot 2" out "^$token\$"
if cmp -s -n 15 "$TMP/data.img" <(printf 'wisp-data-disk\n'); then
	ok "read-only drive unchanged"
else
	bad "read-only drive" "its first bytes changed"
fi
if e2fsck -fn "$TMP/root.ext4" >/dev/null 2>&1; then ok "root fs clean after two boots"
else bad "root fs" "e2fsck -fn reports errors"; fi

# The API with Linux, as an orchestrator drives it: configure over the
# socket, start, pause, resume, then Ctrl-Alt-Del: the guest's atkbd
# driver gets the keys, the kernel reboots (reboot=k), wisp exits 0.
start_api || { summary linux; exit 1; }
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
expect "api: machine-config" 204
api PUT /boot-source '{"kernel_image_path": "'"$(realpath "$GUEST/vmlinux")"'", "initrd_path": "'"$(realpath "$GUEST/initramfs.cpio")"'", "boot_args": "console=ttyS0 reboot=k,panic_warm panic=1 wisp.run=\"echo api-guest-up; sleep 3600\""}'
expect "api: boot-source" 204
truncate -s 1M "$TMP/small.img"
truncate -s 2M "$TMP/big.img"
api PUT /drives/data '{"drive_id": "data", "path_on_host": "'"$TMP/small.img"'", "is_root_device": false, "is_read_only": true}'
expect "api: drive" 204
start=$(date +%s)
api PUT /actions '{"action_type": "InstanceStart"}'
expect "api: InstanceStart" 204
for _ in $(seq $((BOOT_TIMEOUT * 2))); do
	grep -q '^api-guest-up' "$TMP/raw" && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.5
done
echo "     (api boot: $(($(date +%s) - start)) s)"
grep -q '^api-guest-up' "$TMP/raw" && ok "api: Linux guest up" || bad "api: Linux guest up" "no api-guest-up line"
# PATCH swaps the drive's file: the guest gets a config change and
# reads the new capacity (2 MiB: 4096 sectors).
api PATCH /drives/data '{"drive_id": "data", "path_on_host": "'"$TMP/big.img"'"}'
expect "api: PATCH drive" 204
for _ in $(seq 120); do
	grep -q 'new size: 4096 512-byte' "$TMP/raw" && break
	sleep 0.5
done
grep -q '\[vda\] new size: 4096 512-byte logical blocks' "$TMP/raw" &&
	ok "api: the guest sees the new drive size" ||
	bad "api: PATCH drive" "no 'new size' line from the guest"
api PATCH /vm '{"state": "Paused"}'
expect "api: pause Linux" 204
api GET /
expect "api: paused" 200 '.state == "Paused"'
sleep 1
api PATCH /vm '{"state": "Resumed"}'
expect "api: resume Linux" 204
api PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect "api: SendCtrlAltDel" 204
wait_exit 300
expect_rc "api: Linux reboots on Ctrl-Alt-Del" 0
expect_line "api: i8042 found" out 'serio: i8042 KBD port at 0x60,0x64 irq 1'
expect_line "api: keyboard found" out 'input: AT Raw Set 2 keyboard'
expect_line "api: Ctrl-Alt-Del reboot" out 'reboot: Restarting system'
expect_no_line "api: Linux" out 'Kernel panic|BUG:|Oops'

summary linux
