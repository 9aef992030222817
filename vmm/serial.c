/*
 * 8250/16550A UART on COM1, enough for Linux's 8250 driver to probe it as
 * a 16550A and run an interrupt-driven console. Transmit is immediate
 * (the THR is always empty: bytes go to the output ring, serial_out.c);
 * receive has a host-side buffer.
 */
#include "serial.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum {
	UART_RBR_THR = 0, /* DLL when DLAB */
	UART_IER = 1,     /* DLM when DLAB */
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

#define LCR_DLAB     0x80
#define IER_RDI      0x01
#define IER_THRI     0x02
#define IIR_NONE     0x01
#define IIR_THRI     0x02
#define IIR_RDI      0x04
#define IIR_FIFO     0xc0
#define FCR_FIFO_EN  0x01
#define FCR_CLEAR_RX 0x02
#define LSR_DR       0x01
#define LSR_THRE     0x20
#define LSR_TEMT     0x40
#define MCR_LOOP     0x10
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80

static uint8_t iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_FIFO_EN) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* Called with the lock held after any state change. */
static void update_irq(struct serial *s, uint8_t before)
{
	/* ISA lines are edges: pulse when an interrupt becomes pending. */
	if ((iir(s) & IIR_NONE) == 0 &&
	    ((before & IIR_NONE) || (before & 0x0f) != (iir(s) & 0x0f)))
		vm_irq_pulse(s->vm, SERIAL_COM1_IRQ);
}

static void rx_put(struct serial *s, uint8_t b)
{
	if (s->rx_len == SERIAL_RX_SIZE)
		return; /* overrun: the byte is lost, as on hardware */
	s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_SIZE] = b;
	s->rx_len++;
}

/* A full receive buffer got room: the console reads its input again. */
static void rx_room(struct serial *s)
{
	uint64_t one = 1;

	if (s->rx_space_fd >= 0 && write(s->rx_space_fd, &one, sizeof(one)) < 0)
		log_debug("serial: rx eventfd: %s", strerror(errno));
}

static uint8_t rx_get(struct serial *s)
{
	uint8_t b;

	if (!s->rx_len)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
	if (s->rx_len-- == SERIAL_RX_SIZE)
		rx_room(s);
	return b;
}

static void serial_write(void *opaque, uint64_t off, const uint8_t *data,
                         uint32_t size)
{
	struct serial *s = opaque;
	uint8_t v = data[0], before;
	bool wake = false;

	METRIC_INC(uart, write_count);
	pthread_mutex_lock(&s->lock);
	before = iir(s);
	switch (off) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
		} else if (s->mcr & MCR_LOOP) {
			rx_put(s, v);
		} else {
			wake = serial_out_put(&s->out, v);
			s->thri_pending = true;
		}
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises it at once. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thri_pending = true;
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR_FCR:
		s->fcr = v & (FCR_FIFO_EN | 0xc0);
		/* Linux's 8250 driver clears the FIFO as it starts, maybe
		 * with a full buffer of early input behind it. */
		if (v & FCR_CLEAR_RX) {
			if (s->rx_len == SERIAL_RX_SIZE)
				rx_room(s);
			s->rx_len = 0;
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		break; /* LSR and MSR are read-only */
	}
	update_irq(s, before);
	pthread_mutex_unlock(&s->lock);
	if (wake)
		serial_out_kick(&s->out);
	(void)size;
}

static uint8_t msr(const struct serial *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	return (uint8_t)(((m & 0x01) ? MSR_DSR : 0) |
	                 ((m & 0x02) ? MSR_CTS : 0) |
	                 ((m & 0x04) ? MSR_RI : 0) |
	                 ((m & 0x08) ? MSR_DCD : 0));
}

static void serial_read(void *opaque, uint64_t off, uint8_t *data,
                        uint32_t size)
{
	struct serial *s = opaque;
	uint8_t v = 0, before;

	METRIC_INC(uart, read_count);
	pthread_mutex_lock(&s->lock);
	before = iir(s);
	switch (off) {
	case UART_RBR_THR:
		v = (s->lcr & LCR_DLAB) ? s->dll : rx_get(s);
		break;
	case UART_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR_FCR:
		v = iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if ((v & 0x0f) == IIR_THRI)
			s->thri_pending = false;
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
		break;
	case UART_MSR:
		v = msr(s);
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	update_irq(s, before);
	pthread_mutex_unlock(&s->lock);
	memset(data, v, size);
}

int serial_init(struct serial *s, struct vm *vm, int out_fd)
{
	memset(s, 0, sizeof(*s));
	s->vm = vm;
	s->mcr = 0x08; /* OUT2: interrupts routed, as firmware leaves it */
	s->lcr = 0x03; /* 8n1 */
	s->dll = 0x0c; /* 9600 baud */
	pthread_mutex_init(&s->lock, NULL);
	s->rx_space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (serial_out_init(&s->out, out_fd) < 0 || s->rx_space_fd < 0)
		return -1;
	s->dev = (struct bus_dev){
		.name = "serial (COM1)",
		.base = SERIAL_COM1_BASE,
		.len = 8,
		.opaque = s,
		.read = serial_read,
		.write = serial_write,
	};
	return bus_add(&vm->pio, &s->dev);
}

void serial_save(struct serial *s, struct serial_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&s->lock);
	st->ier = s->ier;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->scr = s->scr;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->fcr = s->fcr;
	st->thri_pending = s->thri_pending;
	st->rx_head = s->rx_head;
	st->rx_len = s->rx_len;
	memcpy(st->rx, s->rx, sizeof(st->rx));
	pthread_mutex_unlock(&s->lock);
}

int serial_restore(struct serial *s, const struct serial_state *st)
{
	if (st->rx_head >= SERIAL_RX_SIZE || st->rx_len > SERIAL_RX_SIZE)
		return -1;
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier;
	s->lcr = st->lcr;
	s->mcr = st->mcr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->thri_pending = st->thri_pending;
	s->rx_head = st->rx_head;
	s->rx_len = st->rx_len;
	memcpy(s->rx, st->rx, sizeof(s->rx));
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void serial_destroy(struct serial *s)
{
	if (!s->vm)
		return; /* never initialised */
	serial_out_destroy(s);
	if (s->rx_space_fd >= 0)
		close(s->rx_space_fd);
	s->rx_space_fd = -1;
	pthread_mutex_destroy(&s->lock);
	s->vm = NULL;
}

unsigned serial_rx_room(struct serial *s)
{
	unsigned room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_RX_SIZE - s->rx_len;
	pthread_mutex_unlock(&s->lock);
	return room;
}

unsigned serial_rx_push(struct serial *s, const uint8_t *buf, unsigned len)
{
	unsigned n = 0;
	uint8_t before;

	pthread_mutex_lock(&s->lock);
	before = iir(s);
	while (n < len && s->rx_len < SERIAL_RX_SIZE)
		rx_put(s, buf[n++]);
	update_irq(s, before);
	pthread_mutex_unlock(&s->lock);
	return n;
}
