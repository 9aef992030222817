#include "uring.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Rounds of submit-and-reap one uring_run() may take before yielding. */
#define RUN_ROUNDS 64

int uring_init(struct uring *u, unsigned entries)
{
	int ret;

	memset(u, 0, sizeof(*u));
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0)
		return -errno;
	ret = io_uring_queue_init(entries, &u->ring, 0);
	if (ret < 0) {
		close(u->efd);
		u->efd = -1;
		return ret;
	}
	ret = io_uring_register_eventfd(&u->ring, u->efd);
	if (ret < 0) {
		uring_destroy(u);
		return ret;
	}
	u->ready = true;
	return 0;
}

void uring_destroy(struct uring *u)
{
	if (u->ready)
		io_uring_queue_exit(&u->ring);
	if (u->efd >= 0)
		close(u->efd);
	u->ready = false;
	u->efd = -1;
	u->flush = NULL;
}

struct io_uring_sqe *uring_sqe(struct uring *u, struct uring_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* Full: send what is queued and try once more. */
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, r);
	u->inflight++;
	return sqe;
}

void uring_defer(struct uring *u, struct uring_flush *f)
{
	if (f->queued)
		return;
	f->queued = true;
	f->next = u->flush;
	u->flush = f;
}

/* Run every completion that is ready; returns how many. */
static unsigned reap(struct uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (io_uring_peek_cqe(&u->ring, &cqe) == 0 && cqe) {
		struct uring_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
		n++;
		if (r && r->done)
			r->done(r, res);
	}
	return n;
}

static void run_flushes(struct uring *u)
{
	while (u->flush) {
		struct uring_flush *f = u->flush;

		u->flush = f->next;
		f->queued = false;
		f->fn(f);
	}
}

void uring_run(struct uring *u)
{
	uint64_t cnt;
	unsigned rounds = 0;

	if (!u->ready)
		return;
	/* Clear the eventfd first: a completion after this refires it. */
	if (read(u->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_err("io_uring eventfd: %s", strerror(errno));
	for (;;) {
		int sent = 0;

		if (io_uring_sq_ready(&u->ring)) {
			sent = io_uring_submit(&u->ring);
			if (sent < 0)
				log_err("io_uring_submit: %s", strerror(-sent));
		}
		if (!reap(u) && sent <= 0)
			break;
		if (++rounds == RUN_ROUNDS) {
			cnt = 1; /* come back after the other events */
			if (write(u->efd, &cnt, sizeof(cnt)) < 0)
				log_err("io_uring eventfd: %s",
				        strerror(errno));
			break;
		}
	}
	run_flushes(u);
}

void uring_cancel(struct uring *u, struct uring_req *r)
{
	struct io_uring_sqe *sqe = uring_sqe(u, NULL);

	if (!sqe) {
		log_err("io_uring: no room to cancel a request");
		return;
	}
	io_uring_prep_cancel(sqe, r, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

void uring_cancel_fd(struct uring *u, int fd)
{
	struct io_uring_sqe *sqe = uring_sqe(u, NULL);

	if (!sqe) {
		log_err("io_uring: no room to cancel requests");
		return;
	}
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data(sqe, NULL);
}

void uring_drain(struct uring *u)
{
	struct io_uring_cqe *cqe;

	while (u->ready && u->inflight) {
		int ret;

		io_uring_submit(&u->ring);
		ret = io_uring_wait_cqe(&u->ring, &cqe);
		if (ret < 0 && ret != -EINTR) {
			log_err("io_uring_wait_cqe: %s", strerror(-ret));
			return;
		}
		reap(u);
	}
	run_flushes(u);
}

void uring_cancel_wait(struct uring *u, int fd, const bool *busy)
{
	struct __kernel_timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	struct io_uring_cqe *cqe;

	while (*busy && u->ready) {
		int ret;

		uring_cancel_fd(u, fd);
		io_uring_submit(&u->ring);
		ret = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
		if (ret < 0 && ret != -ETIME && ret != -EINTR) {
			log_err("io_uring_wait_cqe: %s", strerror(-ret));
			return;
		}
		reap(u);
	}
	run_flushes(u);
}
