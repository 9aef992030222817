/*
 * Legacy devices on the PIO bus and the boot timer on the MMIO bus. Each
 * owns a bus_dev and keeps its state in a plain struct.
 */
#ifndef WISP_DEVICES_H
#define WISP_DEVICES_H

#include "bus.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ  4
#define SERIAL_RX_SIZE   1024

/*
 * 16550A UART. Written by vCPUs (PIO) and fed by the event loop (host
 * input), so a mutex guards the registers.
 */
struct serial {
	struct bus_dev dev;
	struct vm *vm;
	pthread_mutex_t lock;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending; /* THR-empty interrupt not yet seen in IIR */
	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_len;
	int rx_space_fd; /* eventfd poked when a full rx buffer drains */
};

int serial_init(struct serial *s, struct vm *vm, int out_fd);
void serial_destroy(struct serial *s);
/* Free room for host input, in bytes. */
unsigned serial_rx_room(struct serial *s);
/* Queue host input for the guest; returns bytes taken. */
unsigned serial_rx_push(struct serial *s, const uint8_t *buf, unsigned len);

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT  0x64

/*
 * Just enough of the PS/2 controller for a guest to reset the machine:
 * command 0xFE pulses the CPU reset line, which ends the VM.
 */
struct i8042 {
	struct bus_dev data, cmd;
	struct vm *vm;
};

int i8042_init(struct i8042 *k, struct vm *vm);

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
