/*
 * The 16550A UART on COM1: registers and host input (serial.c), and the
 * console output (serial_out.c).
 *
 * Output never makes a vCPU wait for whoever reads the console. A THR
 * write puts the byte in a ring of SERIAL_OUT_SIZE; the event loop writes
 * the ring to the output descriptor without blocking and, when the
 * reader falls behind, waits for room (EPOLLOUT) while the guest goes on.
 * A full ring drops what the guest writes next and counts it
 * (uart.missed_write_count in the metrics). The vCPU wakes the loop
 * (an eventfd) only when the ring goes from empty to not empty, or
 * past SERIAL_OUT_BATCH bytes. A guest that prints a byte at a time
 * would have the loop write a byte at a time: the loop writes at most
 * once per SERIAL_OUT_GAP_US unless SERIAL_OUT_BATCH bytes wait, and the
 * first byte after a quiet spell goes out at once.
 */
#ifndef WISP_SERIAL_H
#define WISP_SERIAL_H

#include "bus.h"
#include "evloop.h"
#include "ratelimit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define SERIAL_COM1_BASE  0x3f8
#define SERIAL_COM1_IRQ   4
#define SERIAL_RX_SIZE    1024
#define SERIAL_OUT_SIZE   (64 * 1024)
#define SERIAL_OUT_BATCH  4096
#define SERIAL_OUT_GAP_US 1000
/* At exit: give up on a reader that takes nothing for this long... */
#define SERIAL_EXIT_STALL_MS 500
/* ... and on one that takes bytes, after this long in all. */
#define SERIAL_EXIT_MAX_MS 5000

/*
 * Console output. @buf, @head, @len, @rl, @dead and @closed are under
 * the UART's lock; the rest belongs to the event loop (and to whoever sets
 * it up and tears it down).
 */
struct serial_out {
	int fd;         /* non-blocking; -1: output is discarded */
	int own_fd;     /* a description of our own of the caller's fd */
	int restore_fl; /* flags to give a shared description back, or -1 */
	int kick_fd;    /* eventfd: the ring has bytes again */
	int wait_fd;    /* epoll set of @fd alone: the wait at exit */
	int timer_fd;   /* the next write when the last was too recent */
	uint8_t *buf;   /* SERIAL_OUT_SIZE */
	unsigned head, len;
	bool limited; /* @rl drops the bytes over its rate */
	struct rate_limiter rl;
	bool dead;        /* the reader went away: output is dropped */
	bool closed;      /* flushed for the exit: output is dropped */
	bool watching;    /* @fd is in the loop's set, for EPOLLOUT */
	bool timed;       /* @timer_fd is armed */
	uint64_t last_us; /* when the loop last wrote */
	struct evloop *loop;
	struct ev_handler h_kick, h_fd, h_timer;
};

/*
 * 16550A UART. Written by vCPUs (PIO) and fed by the event loop (host
 * input), so a mutex guards the registers.
 */
struct serial {
	struct bus_dev dev;
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending; /* THR-empty interrupt not yet seen in IIR */
	uint8_t rx[SERIAL_RX_SIZE];
	unsigned rx_head, rx_len;
	int rx_space_fd; /* eventfd poked when a full rx buffer drains */
	struct serial_out out;
};

/*
 * Set up the UART on @vm's PIO bus, its output going to @out_fd (-1:
 * nowhere). A pipe, FIFO, terminal or socket is written through a
 * non-blocking description of our own (/proc/self/fd), or, where that
 * cannot be opened, the shared one is made non-blocking until
 * serial_flush_exit() or serial_destroy(). Returns 0 or -1.
 */
int serial_init(struct serial *s, struct vm *vm, int out_fd);
/* Drain the output from @loop from now on. 0 or -1. */
int serial_attach(struct serial *s, struct evloop *loop);
/*
 * The VM ends (event loop thread, its loop done): write out what the
 * ring holds, waiting for room at most SERIAL_EXIT_STALL_MS at a time
 * and SERIAL_EXIT_MAX_MS in all; what still does not fit is counted as
 * missed, and so is any output after this.
 */
void serial_flush_exit(struct serial *s);
/* Write what fits without waiting, unwatch, close; for a second init. */
void serial_destroy(struct serial *s);

/* The UART's registers and unread host input, for snapshots. */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, thri_pending;
	uint32_t rx_head, rx_len;
	uint8_t rx[SERIAL_RX_SIZE];
};
void serial_save(struct serial *s, struct serial_state *st);
/* Refuses (-1) a state whose buffer indexes are out of range. */
int serial_restore(struct serial *s, const struct serial_state *st);
/* Free room for host input, in bytes. */
unsigned serial_rx_room(struct serial *s);
/* Queue host input for the guest; returns bytes taken. */
unsigned serial_rx_push(struct serial *s, const uint8_t *buf, unsigned len);

/* serial_out.c, for serial.c: set up, put a byte (lock held), wake. */
int serial_out_init(struct serial_out *o, int fd);
bool serial_out_put(struct serial_out *o, uint8_t b);
void serial_out_kick(struct serial_out *o);
/*
 * PUT /serial's rate_limiter (unset: none), before the vCPUs run: bytes
 * the guest writes beyond it are dropped and counted
 * (uart.rate_limiter_dropped_bytes), as Firecracker does.
 */
void serial_out_limit(struct serial_out *o, const struct bucket_config *b);
void serial_out_destroy(struct serial *s);

#endif
