#include "uring.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

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

void uring_submit(struct uring *u)
{
	int ret = io_uring_submit(&u->ring);

	if (ret < 0)
		log_err("io_uring_submit: %s", strerror(-ret));
}

unsigned uring_reap(struct uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;
	uint64_t cnt;

	/* Clear the eventfd first: a completion after this refires it. */
	if (read(u->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
		log_err("io_uring eventfd: %s", strerror(errno));
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

void uring_cancel(struct uring *u, struct uring_req *r)
{
	struct io_uring_sqe *sqe = uring_sqe(u, NULL);

	if (!sqe) {
		log_err("io_uring: no room to cancel a request");
		return;
	}
	io_uring_prep_cancel(sqe, r, 0);
	io_uring_sqe_set_data(sqe, NULL);
	uring_submit(u);
}

void uring_wait(struct uring *u, const bool *busy)
{
	struct io_uring_cqe *cqe;

	while (*busy && u->ready) {
		int ret = io_uring_wait_cqe(&u->ring, &cqe);

		if (ret < 0 && ret != -EINTR) {
			log_err("io_uring_wait_cqe: %s", strerror(-ret));
			return;
		}
		uring_reap(u);
	}
}
