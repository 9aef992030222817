# The probe guest: a freestanding PVH ELF that wisp (and QEMU microvm) boot
# in milliseconds. Included from the top Makefile.

PROBE_CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-pic -fno-pie -nostdlib \
	-fno-stack-protector -fno-asynchronous-unwind-tables -mno-red-zone \
	-mgeneral-regs-only -mcmodel=small -Wall -Wextra -Werror \
	-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
PROBE_SRC := tests/guest/start.S tests/guest/probe.c

$(BUILD)/probe.elf: $(PROBE_SRC) tests/guest/probe.ld tests/guest/guest.mk
	@mkdir -p $(dir $@)
	$(CC) $(PROBE_CFLAGS) -static -no-pie -Wl,--build-id=none \
		-Wl,-T,tests/guest/probe.ld -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -o $@ $(PROBE_SRC)
