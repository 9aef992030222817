/*
 * The PS/2 controller, reduced to what a guest uses to reset the machine
 * (Linux's reboot=k): command 0xFE on port 0x64. A reset ends the VM, as
 * in Firecracker; a reset right after a kernel panic is reported as a
 * crash (see panic_warm below).
 */
#include "devices.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#include <string.h>

#define I8042_CMD_RESET 0xfe
/*
 * Linux writes the BIOS warm-boot flag (0x1234 at 0x472) before a reset
 * when the reboot mode is warm; "reboot=panic_warm" makes that true for
 * resets after a panic only. Normal reboots write 0.
 */
#define BIOS_RESET_FLAG_ADDR 0x472
#define BIOS_RESET_WARM      0x1234

static void i8042_read(void *opaque, uint64_t off, uint8_t *data, uint32_t size)
{
	/* Status: both buffers empty, so the guest never waits on us. */
	memset(data, 0, size);
}

static void i8042_data_write(void *opaque, uint64_t off, const uint8_t *data,
                             uint32_t size)
{
	/* Keyboard commands are accepted and ignored. */
}

static void i8042_cmd_write(void *opaque, uint64_t off, const uint8_t *data,
                            uint32_t size)
{
	struct i8042 *k = opaque;
	const uint8_t *flag;
	uint16_t mode = 0;

	if (data[0] != I8042_CMD_RESET)
		return;
	flag = vm_gpa(k->vm, BIOS_RESET_FLAG_ADDR, 2);
	if (flag)
		memcpy(&mode, flag, 2);
	if (mode == BIOS_RESET_WARM) {
		log_err("guest reset after a kernel panic");
		vm_request_exit(k->vm, WISP_EXIT_GUEST_CRASH);
		return;
	}
	log_info("guest requested a reset through the i8042: stopping");
	vm_request_exit(k->vm, WISP_EXIT_OK);
}

int i8042_init(struct i8042 *k, struct vm *vm)
{
	memset(k, 0, sizeof(*k));
	k->vm = vm;
	k->data = (struct bus_dev){
		.name = "i8042 data",
		.base = I8042_DATA_PORT,
		.len = 1,
		.opaque = k,
		.read = i8042_read,
		.write = i8042_data_write,
	};
	k->cmd = (struct bus_dev){
		.name = "i8042 command",
		.base = I8042_CMD_PORT,
		.len = 1,
		.opaque = k,
		.read = i8042_read,
		.write = i8042_cmd_write,
	};
	if (bus_add(&vm->pio, &k->data) < 0)
		return -1;
	return bus_add(&vm->pio, &k->cmd);
}
