# The probe guest: a freestanding ELF that wisp (and QEMU microvm) boot in
# milliseconds. Included from the top Makefile.

PROBE_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -nostdlib \
	-fno-stack-protector -fno-asynchronous-unwind-tables -mno-red-zone \
	-mgeneral-regs-only -mcmodel=small -Wall -Wextra -Werror \
	-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
PROBE_LDFLAGS := -static -no-pie -Wl,--build-id=none \
	-Wl,-T,tests/guest/probe.ld -Wl,-z,noexecstack \
	-Wl,--no-warn-rwx-segments
PROBE_SRC := tests/guest/start.S tests/guest/probe.c tests/guest/virtio.c \
	tests/guest/blk.c tests/guest/net.c tests/guest/vsock.c \
	tests/guest/rng.c
PROBE_DEPS := $(PROBE_SRC) tests/guest/probe.h tests/guest/virtio.h \
	tests/guest/inet.h tests/guest/probe.ld \
	tests/guest/guest.mk

# probe.elf boots through its PVH note (wisp and QEMU); probe64.elf has no
# note, so wisp enters it through the Linux 64-bit boot protocol.
$(BUILD)/probe.elf: $(PROBE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) $(PROBE_LDFLAGS) -o $@ $(PROBE_SRC)

$(BUILD)/probe64.elf: $(PROBE_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -DPROBE_NO_PVH_NOTE $(PROBE_LDFLAGS) \
		-Wl,-e,linux64_start -o $@ $(PROBE_SRC)
