/*
 * Boot timer: the guest writes 123 to the first MMIO slot when it has
 * booted (its init does this), and wisp logs how long that took since the
 * process started and since the vCPUs started (InstanceStart).
 */
#include "devices.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#include <string.h>

static void boot_timer_read(void *opaque, uint64_t off, uint8_t *data,
                            uint32_t size)
{
	memset(data, 0, size);
}

static void boot_timer_write(void *opaque, uint64_t off, const uint8_t *data,
                             uint32_t size)
{
	struct boot_timer *t = opaque;
	uint64_t now = util_now_us();

	if (off != 0 || data[0] != BOOT_TIMER_MAGIC || t->fired)
		return;
	t->fired = true;
	log_info("guest boot: %llu us since start, %llu us since "
	         "InstanceStart",
	         (unsigned long long)(now - log_start_us()),
	         (unsigned long long)(now - t->vm->instance_start_us));
}

int boot_timer_init(struct boot_timer *t, struct vm *vm)
{
	memset(t, 0, sizeof(*t));
	t->vm = vm;
	t->dev = (struct bus_dev){
		.name = "boot timer",
		.base = BOOT_TIMER_ADDR,
		.len = BOOT_TIMER_LEN,
		.opaque = t,
		.read = boot_timer_read,
		.write = boot_timer_write,
	};
	return bus_add(&vm->mmio, &t->dev);
}
