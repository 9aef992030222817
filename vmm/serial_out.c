/*
 * The UART's console output: a ring filled by vCPUs under the UART's
 * lock and written out by the event loop (serial.h says why).
 *
 * The loop reads the ring's extent under the lock and writes it without
 * the lock: the vCPUs only ever append behind @len, so the bytes being
 * written stay put, and a vCPU never waits for a write(2).
 */
#include "serial.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void count_missed(uint64_t n)
{
	atomic_fetch_add_explicit(&metrics.uart_missed_write_count, n,
	                          memory_order_relaxed);
}

/*
 * A descriptor we may write without blocking. A regular file never waits
 * for a reader and is written as it is (a description of our own would
 * have an offset of its own, and overwrite what shares the file). Other
 * kinds get a description of our own, so the caller's (a shell's
 * terminal, say) keeps its flags; failing that (no /proc in a jail, a
 * socket), the shared one is made non-blocking and given back at the end.
 */
static int open_nonblocking(struct serial_out *o, int fd)
{
	char path[32];
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, &st) < 0)
		return -1;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || (fl & O_NONBLOCK)) {
		o->fd = fd;
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	o->own_fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (o->own_fd >= 0) {
		o->fd = o->own_fd;
		return 0;
	}
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	o->restore_fl = fl;
	o->fd = fd;
	return 0;
}

int serial_out_init(struct serial_out *o, int fd)
{
	struct epoll_event ev = { .events = EPOLLOUT };

	*o = (struct serial_out){ .fd = -1,
		                  .own_fd = -1,
		                  .restore_fl = -1,
		                  .kick_fd = -1,
		                  .wait_fd = -1,
		                  .timer_fd = -1 };
	if (fd < 0)
		return 0;
	/*
	 * A console that cannot be written without blocking the event loop
	 * is not written at all (stdout closed, say): the VM runs anyway.
	 */
	if (open_nonblocking(o, fd) < 0) {
		log_at(errno == EBADF ? LOG_DEBUG : LOG_WARN,
		       "serial output (fd %d): %s; console output is discarded",
		       fd, strerror(errno));
		o->fd = -1;
		return 0;
	}
	/* malloc: pages are touched only as far as the guest prints. */
	o->buf = malloc(SERIAL_OUT_SIZE);
	o->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	o->wait_fd = epoll_create1(EPOLL_CLOEXEC);
	o->timer_fd =
	        timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!o->buf || o->kick_fd < 0 || o->wait_fd < 0 || o->timer_fd < 0) {
		log_err("serial output: %s", strerror(errno));
		return -1;
	}
	/* Files cannot be polled (EPERM), and they never have to be. */
	if (epoll_ctl(o->wait_fd, EPOLL_CTL_ADD, o->fd, &ev) < 0) {
		close(o->wait_fd);
		o->wait_fd = -1;
	}
	return 0;
}

bool serial_out_put(struct serial_out *o, uint8_t b)
{
	if (!o->buf)
		return false; /* no output configured: nothing is missed */
	if (o->len == SERIAL_OUT_SIZE || o->dead || o->closed) {
		count_missed(1);
		return false;
	}
	if (o->limited && !rl_consume(&o->rl, 1, 0, rl_now_ns())) {
		METRIC_INC(uart, rate_limiter_dropped_bytes);
		return false;
	}
	o->buf[(o->head + o->len) % SERIAL_OUT_SIZE] = b;
	o->len++;
	return o->len == 1 || o->len == SERIAL_OUT_BATCH;
}

void serial_out_limit(struct serial_out *o, const struct bucket_config *b)
{
	struct rate_limiter_config c = { .bandwidth = *b };

	rl_configure(&o->rl, &c, rl_now_ns());
	o->limited = b->set;
}

void serial_out_kick(struct serial_out *o)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is full, so the loop is woken anyway. */
	if (write(o->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("serial: output eventfd: %s", strerror(errno));
}

/* The reader went away (EPIPE, say): drop what is left and what comes. */
static void out_dead(struct serial *s, int err)
{
	struct serial_out *o = &s->out;

	METRIC_INC(uart, error_count);
	log_warn("serial output: %s; console output is dropped from now on",
	         strerror(err));
	pthread_mutex_lock(&s->lock);
	count_missed(o->len);
	o->len = 0;
	o->dead = true;
	pthread_mutex_unlock(&s->lock);
}

/*
 * Write the ring until it is empty (1), the descriptor is full (0) or
 * the reader is gone (-1); with @bounded, also stop after a ring's worth
 * (2: more is left). A guest printing as fast as a fast reader takes
 * its output would otherwise keep the event loop here for good.
 */
static int drain(struct serial *s, bool bounded)
{
	struct serial_out *o = &s->out;
	size_t done = 0;

	for (;;) {
		unsigned head, len;
		ssize_t n;

		pthread_mutex_lock(&s->lock);
		head = o->head;
		len = o->dead ? 0 : o->len;
		pthread_mutex_unlock(&s->lock);
		if (!len)
			return o->dead ? -1 : 1;
		if (bounded && done >= SERIAL_OUT_SIZE)
			return 2;
		n = write(o->fd, o->buf + head,
		          MIN(len, SERIAL_OUT_SIZE - head));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == EAGAIN))
			return 0;
		if (n < 0) {
			out_dead(s, errno);
			return -1;
		}
		METRIC_INC(uart, flush_count);
		done += (size_t)n;
		pthread_mutex_lock(&s->lock);
		o->head = (head + (unsigned)n) % SERIAL_OUT_SIZE;
		o->len -= (unsigned)n;
		pthread_mutex_unlock(&s->lock);
	}
}

/* Serve the ring at @at_us (CLOCK_MONOTONIC); false if the timer failed. */
static bool serve_at(struct serial_out *o, uint64_t at_us)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at_us / 1000000),
		              .tv_nsec = (long)(at_us % 1000000) * 1000 },
	};

	if (o->timed)
		return true;
	if (timerfd_settime(o->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return false;
	o->timed = true;
	return true;
}

/* Drain, and wait for room in the loop only while there is no room. */
static void serve(struct serial *s)
{
	struct serial_out *o = &s->out;
	bool full;
	int r;

	o->last_us = util_now_us();
	r = drain(s, true);
	/* More than a ring's worth: the rest on the loop's next turn. */
	if (r == 2)
		serve_at(o, o->last_us);
	full = r == 0;
	if (full == o->watching)
		return;
	/* Full, and not pollable (EPERM): try again after the gap. */
	if (full && evloop_add(o->loop, &o->h_fd, EPOLLOUT) < 0) {
		serve_at(o, o->last_us + SERIAL_OUT_GAP_US);
		return;
	}
	if (!full)
		evloop_del(o->loop, &o->h_fd);
	o->watching = full;
}

/* The ring has bytes: write them now, or after the gap (serial.h). */
static void on_kick(struct ev_handler *h, uint32_t events)
{
	struct serial *s = h->opaque;
	struct serial_out *o = &s->out;
	uint64_t n, at = o->last_us + SERIAL_OUT_GAP_US;
	unsigned len;

	if (read(h->fd, &n, sizeof(n)) != sizeof(n) || o->watching)
		return; /* full: EPOLLOUT says when to go on */
	pthread_mutex_lock(&s->lock);
	len = o->len;
	pthread_mutex_unlock(&s->lock);
	if (len >= SERIAL_OUT_BATCH || util_now_us() >= at || !serve_at(o, at))
		serve(s);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct serial *s = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) != sizeof(n))
		return;
	s->out.timed = false;
	if (!s->out.watching)
		serve(s);
}

static void on_writable(struct ev_handler *h, uint32_t events)
{
	serve(h->opaque);
}

int serial_attach(struct serial *s, struct evloop *loop)
{
	struct serial_out *o = &s->out;

	if (!o->buf)
		return 0;
	o->loop = loop;
	o->h_kick = (struct ev_handler){ o->kick_fd, on_kick, s };
	o->h_fd = (struct ev_handler){ o->fd, on_writable, s };
	o->h_timer = (struct ev_handler){ o->timer_fd, on_timer, s };
	if (evloop_add(loop, &o->h_kick, EPOLLIN) < 0) {
		o->h_kick.cb = NULL;
		return -1;
	}
	if (evloop_add(loop, &o->h_timer, EPOLLIN) < 0) {
		o->h_timer.cb = NULL;
		return -1;
	}
	return 0;
}

/* Give a shared description its flags back (a shell's terminal). */
static void restore_flags(struct serial_out *o)
{
	if (o->restore_fl >= 0 && fcntl(o->fd, F_SETFL, o->restore_fl) < 0)
		log_debug("serial output: flags: %s", strerror(errno));
	o->restore_fl = -1;
}

/* No more output: what is left counts as missed. */
static void out_close(struct serial *s)
{
	struct serial_out *o = &s->out;

	pthread_mutex_lock(&s->lock);
	count_missed(o->len);
	o->len = 0;
	o->closed = true;
	pthread_mutex_unlock(&s->lock);
	restore_flags(o);
}

void serial_flush_exit(struct serial *s)
{
	struct serial_out *o = &s->out;
	uint64_t end = util_now_us() + SERIAL_EXIT_MAX_MS * 1000ULL;

	if (!s->vm || !o->buf || o->closed)
		return;
	while (drain(s, false) == 0 && o->wait_fd >= 0 && util_now_us() < end) {
		struct epoll_event ev;
		int n = epoll_wait(o->wait_fd, &ev, 1, SERIAL_EXIT_STALL_MS);

		if (n == 0 || (n < 0 && errno != EINTR))
			break; /* the reader took nothing for that long */
	}
	out_close(s);
}

void serial_out_destroy(struct serial *s)
{
	struct serial_out *o = &s->out;

	if (o->buf && !o->closed) {
		drain(s, false);
		out_close(s);
	}
	restore_flags(o);
	if (o->watching)
		evloop_del(o->loop, &o->h_fd);
	if (o->h_kick.cb)
		evloop_del(o->loop, &o->h_kick);
	if (o->h_timer.cb)
		evloop_del(o->loop, &o->h_timer);
	if (o->own_fd >= 0)
		close(o->own_fd);
	if (o->kick_fd >= 0)
		close(o->kick_fd);
	if (o->wait_fd >= 0)
		close(o->wait_fd);
	if (o->timer_fd >= 0)
		close(o->timer_fd);
	free(o->buf);
	*o = (struct serial_out){ .fd = -1,
		                  .own_fd = -1,
		                  .restore_fl = -1,
		                  .kick_fd = -1,
		                  .wait_fd = -1,
		                  .timer_fd = -1 };
}
