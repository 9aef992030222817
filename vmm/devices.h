/*
 * Legacy devices on the PIO bus and the boot timer on the MMIO bus. Each
 * owns a bus_dev and keeps its state in a plain struct. The UART has a
 * header of its own (serial.h).
 */
#ifndef WISP_DEVICES_H
#define WISP_DEVICES_H

#include "bus.h"
#include "serial.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64

#define I8042_BUF_SIZE 16
/* What wisp adds to a command line that says nothing about the i8042. */
#define I8042_CMDLINE "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"

/*
 * The PS/2 controller with a keyboard behind it: command 0xFE pulses the
 * CPU reset line, which ends the VM; the host can press Ctrl-Alt-Del.
 * vCPUs and the event loop both touch it, under @lock.
 */
struct i8042 {
	struct bus_dev data, cmd;
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t status, ctr, outp;
	uint8_t pending; /* command waiting for its byte at 0x60, or 0 */
	uint8_t buf[I8042_BUF_SIZE];
	unsigned head, len;
};

int i8042_init(struct i8042 *k, struct vm *vm);

struct i8042_state {
	uint8_t status, ctr, outp, pending;
	uint32_t head, len;
	uint8_t buf[I8042_BUF_SIZE];
};
void i8042_save(struct i8042 *k, struct i8042_state *st);
int i8042_restore(struct i8042 *k, const struct i8042_state *st);
/*
 * Queue the Ctrl-Alt-Del key presses and interrupt the guest. -1 when the
 * guest left no room in the keyboard buffer (it does not read it).
 */
int i8042_ctrl_alt_del(struct i8042 *k);

/* The first device slot of the MMIO hole. */
#define BOOT_TIMER_ADDR  0xc0000000ULL
#define BOOT_TIMER_LEN   0x1000
#define BOOT_TIMER_MAGIC 123

/* A guest writes 123 here when it has booted; wisp logs the time. */
struct boot_timer {
	struct bus_dev dev;
	struct vm *vm;
	bool fired;
};

int boot_timer_init(struct boot_timer *t, struct vm *vm);

#endif
