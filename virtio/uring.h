/*
 * A thin io_uring wrapper for device backends. One ring per VMM, served
 * on the event loop: requests are queued with uring_sqe(), sent in one
 * io_uring_submit() per batch, and completions are reaped when the ring's
 * eventfd fires, each calling its request's done() callback.
 */
#ifndef WISP_VIRTIO_URING_H
#define WISP_VIRTIO_URING_H

#include <liburing.h>

struct uring_req {
	/* Called on the event loop with the operation's result (>= 0 or
	 * -errno). */
	void (*done)(struct uring_req *r, int res);
};

struct uring {
	struct io_uring ring;
	int efd; /* readable when completions are waiting */
	unsigned inflight;
	bool ready;
};

/* Set up a ring of @entries with a completion eventfd. 0 or -errno. */
int uring_init(struct uring *u, unsigned entries);
void uring_destroy(struct uring *u);

/*
 * A submission entry for @r, or NULL when the ring is full even after
 * submitting what is queued (the caller retries after completions).
 */
struct io_uring_sqe *uring_sqe(struct uring *u, struct uring_req *r);

/* Send every queued entry. */
void uring_submit(struct uring *u);

/* Reap every completion (after efd fired); returns how many. */
unsigned uring_reap(struct uring *u);

/*
 * Ask the kernel to cancel @r (in flight); its done() still runs, with
 * -ECANCELED or its real result if it finished first. Sent at once.
 */
void uring_cancel(struct uring *u, struct uring_req *r);

/*
 * Block, running completions, until *@busy is false: for teardown, when
 * a request in flight must not outlive the memory it reads into.
 */
void uring_wait(struct uring *u, const bool *busy);

#endif
