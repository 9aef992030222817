/*
 * The PS/2 controller: enough for Linux's i8042 and atkbd drivers (booted
 * with i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd, as Firecracker
 * boots them) to find a keyboard, and for the host to press Ctrl-Alt-Del
 * on it; and command 0xFE, the reset line Linux pulls for reboot=k, which
 * ends the VM. A reset right after a kernel panic is reported as a crash
 * (see panic_warm below).
 *
 * The controller's registers are touched by vCPUs (port I/O) and by the
 * event loop (a key press), so a mutex guards them.
 */
#include "devices.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vm.h"

#include <string.h>

#define I8042_KBD_IRQ 1

/* Status register (port 0x64 read). */
#define ST_OBF     0x01 /* output buffer full: a byte waits at 0x60 */
#define ST_SYS     0x04 /* system flag: self test passed */
#define ST_CMD     0x08 /* the last write was to 0x64 */
#define ST_KBD_ENA 0x10 /* keyboard not inhibited */

/* Controller configuration byte (CTR). */
#define CTR_KBD_INT 0x01
#define CTR_SYS     0x04

/* Commands (port 0x64 write). */
#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_SELF_TEST  0xaa
#define CMD_KBD_TEST   0xab
#define CMD_KBD_OFF    0xad
#define CMD_KBD_ON     0xae
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_RESET      0xfe

#define KBD_ACK 0xfa

/*
 * Linux writes the BIOS warm-boot flag (0x1234 at 0x472) before a reset
 * when the reboot mode is warm; "reboot=panic_warm" makes that true for
 * resets after a panic only. Normal reboots write 0.
 */
#define BIOS_RESET_FLAG_ADDR 0x472
#define BIOS_RESET_WARM      0x1234

/* Caller holds the lock. */
static void push(struct i8042 *k, uint8_t b)
{
	if (k->len == I8042_BUF_SIZE)
		return;
	k->buf[(k->head + k->len++) % I8042_BUF_SIZE] = b;
}

static void flush(struct i8042 *k)
{
	k->head = k->len = 0;
}

/* Interrupt the guest when a byte waits and it wants to know. */
static void maybe_irq(struct i8042 *k)
{
	if (k->len && (k->ctr & CTR_KBD_INT))
		vm_irq_pulse(k->vm, I8042_KBD_IRQ);
}

static void status_read(void *opaque, uint64_t off, uint8_t *data,
                        uint32_t size)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	memset(data, 0, size);
	data[0] = k->status | (k->len ? ST_OBF : 0);
	pthread_mutex_unlock(&k->lock);
}

static void data_read(void *opaque, uint64_t off, uint8_t *data, uint32_t size)
{
	struct i8042 *k = opaque;

	memset(data, 0, size);
	METRIC_INC(i8042, read_count);
	pthread_mutex_lock(&k->lock);
	if (k->len) {
		data[0] = k->buf[k->head];
		k->head = (k->head + 1) % I8042_BUF_SIZE;
		k->len--;
		maybe_irq(k);
	} else {
		METRIC_INC(i8042, missed_read_count);
	}
	pthread_mutex_unlock(&k->lock);
}

static void data_write(void *opaque, uint64_t off, const uint8_t *data,
                       uint32_t size)
{
	struct i8042 *k = opaque;

	METRIC_INC(i8042, write_count);
	pthread_mutex_lock(&k->lock);
	k->status &= (uint8_t)~ST_CMD;
	switch (k->pending) {
	case CMD_WRITE_CTR:
		k->ctr = data[0];
		break;
	case CMD_WRITE_OUTP:
		k->outp = data[0];
		break;
	default:
		/* A byte for the keyboard: it acknowledges everything. */
		flush(k);
		push(k, KBD_ACK);
		maybe_irq(k);
		break;
	}
	k->pending = 0;
	pthread_mutex_unlock(&k->lock);
}

static void reset(struct i8042 *k)
{
	const uint8_t *flag = vm_gpa(k->vm, BIOS_RESET_FLAG_ADDR, 2);
	uint16_t mode = 0;

	METRIC_INC(i8042, reset_count);
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

static void cmd_write(void *opaque, uint64_t off, const uint8_t *data,
                      uint32_t size)
{
	struct i8042 *k = opaque;

	METRIC_INC(i8042, write_count);
	if (data[0] == CMD_RESET) {
		reset(k);
		return;
	}
	pthread_mutex_lock(&k->lock);
	k->status |= ST_CMD;
	k->pending = 0;
	switch (data[0]) {
	case CMD_READ_CTR:
		flush(k);
		push(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
		k->pending = data[0];
		break;
	case CMD_READ_OUTP:
		flush(k);
		push(k, k->outp);
		break;
	case CMD_SELF_TEST:
		flush(k);
		push(k, 0x55);
		break;
	case CMD_KBD_TEST:
		flush(k);
		push(k, 0x00);
		break;
	case CMD_KBD_OFF:
		k->status &= (uint8_t)~ST_KBD_ENA;
		break;
	case CMD_KBD_ON:
		k->status |= ST_KBD_ENA;
		break;
	default:
		METRIC_INC(i8042, missed_write_count);
		break;
	}
	pthread_mutex_unlock(&k->lock);
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Scan code set 2 make codes: left Ctrl, left Alt, Delete. */
	static const uint8_t keys[] = { 0x14, 0x11, 0xe0, 0x71 };
	int ret = 0;

	if (!k->vm)
		return -1;
	pthread_mutex_lock(&k->lock);
	if (I8042_BUF_SIZE - k->len < sizeof(keys)) {
		ret = -1; /* the guest is not reading its keyboard */
	} else {
		for (size_t i = 0; i < sizeof(keys); i++)
			push(k, keys[i]);
		maybe_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int i8042_init(struct i8042 *k, struct vm *vm)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->vm = vm;
	k->status = ST_SYS | ST_KBD_ENA;
	/* No translation bit: the guest sees scan code set 2 as it is. */
	k->ctr = CTR_KBD_INT | CTR_SYS;
	k->data = (struct bus_dev){
		.name = "i8042 data",
		.base = I8042_DATA_PORT,
		.len = 1,
		.opaque = k,
		.read = data_read,
		.write = data_write,
	};
	k->cmd = (struct bus_dev){
		.name = "i8042 command",
		.base = I8042_CMD_PORT,
		.len = 1,
		.opaque = k,
		.read = status_read,
		.write = cmd_write,
	};
	if (bus_add(&vm->pio, &k->data) < 0)
		return -1;
	return bus_add(&vm->pio, &k->cmd);
}

void i8042_save(struct i8042 *k, struct i8042_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&k->lock);
	st->status = k->status;
	st->ctr = k->ctr;
	st->outp = k->outp;
	st->pending = k->pending;
	st->head = k->head;
	st->len = k->len;
	memcpy(st->buf, k->buf, sizeof(st->buf));
	pthread_mutex_unlock(&k->lock);
}

int i8042_restore(struct i8042 *k, const struct i8042_state *st)
{
	if (st->head >= I8042_BUF_SIZE || st->len > I8042_BUF_SIZE)
		return -1;
	pthread_mutex_lock(&k->lock);
	k->status = st->status;
	k->ctr = st->ctr;
	k->outp = st->outp;
	k->pending = st->pending;
	k->head = st->head;
	k->len = st->len;
	memcpy(k->buf, st->buf, sizeof(k->buf));
	pthread_mutex_unlock(&k->lock);
	return 0;
}
