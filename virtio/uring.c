#include "uring.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Rounds of submit-and-reap one uring_run() may take before yielding. */
#define RUN_ROUNDS 64

/* The opcodes the devices submit; nothing else is accepted. */
static const uint8_t allowed_ops[] = {
	IORING_OP_READV,     IORING_OP_WRITEV,       IORING_OP_FSYNC,
	IORING_OP_FALLOCATE, IORING_OP_ASYNC_CANCEL,
};

/*
 * The raw calls: Debian's liburing 2.3 does not export these wrappers
 * from its shared library.
 */
static int ring_register(struct io_uring *ring, unsigned op, void *arg,
                         unsigned n)
{
	if (syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n) < 0)
		return -errno;
	return 0;
}

/*
 * The allowlist: those opcodes, on registered files only, with no flag
 * but FIXED_FILE and HARDLINK; of the register calls only a file table
 * update (a drive swapped for another file at run time).
 */
static int lock_down(struct uring *u)
{
	struct io_uring_restriction res[ARRAY_SIZE(allowed_ops) + 3];
	unsigned n = 0;
	int ret;

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; i < ARRAY_SIZE(allowed_ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = allowed_ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
	res[n++].register_op = IORING_REGISTER_FILES_UPDATE;
	ret = ring_register(&u->ring, IORING_REGISTER_RESTRICTIONS, res, n);
	if (ret >= 0)
		ret = ring_register(&u->ring, IORING_REGISTER_ENABLE_RINGS,
		                    NULL, 0);
	if (ret < 0) {
		log_err("io_uring: cannot lock the ring down: %s",
		        strerror(-ret));
		return ret;
	}
	u->locked = true;
	return 0;
}

int uring_init(struct uring *u, unsigned entries)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	int ret;

	memset(u, 0, sizeof(*u));
	for (unsigned i = 0; i < URING_FILES; i++)
		u->files[i] = -1;
	u->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->efd < 0)
		return -errno;
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret < 0) {
		close(u->efd);
		u->efd = -1;
		return ret;
	}
	u->ready = true;
	ret = io_uring_register_eventfd(&u->ring, u->efd);
	if (ret >= 0)
		ret = io_uring_register_files_sparse(&u->ring, URING_FILES);
	if (ret < 0) {
		uring_destroy(u);
		return ret;
	}
	return 0;
}

int uring_lock(struct uring *u)
{
	if (!u->ready)
		return -EINVAL;
	return u->locked ? 0 : lock_down(u);
}

/* Point @slot at @fd (-1: empty). */
static int update_slot(struct uring *u, int slot, int fd)
{
	int ret;

	if (!u->ready || slot < 0 || slot >= URING_FILES)
		return -EINVAL;
	ret = io_uring_register_files_update(&u->ring, (unsigned)slot, &fd, 1);
	if (ret < 0)
		return ret;
	u->files[slot] = fd;
	return 0;
}

int uring_file_add(struct uring *u, int fd)
{
	for (int i = 0; i < URING_FILES; i++)
		if (u->files[i] < 0) {
			int ret = update_slot(u, i, fd);

			return ret < 0 ? ret : i;
		}
	return -ENFILE;
}

int uring_file_set(struct uring *u, int slot, int fd)
{
	return update_slot(u, slot, fd);
}

void uring_files_release(struct uring *u)
{
	int fds[URING_FILES];
	int ret;

	if (!u->ready)
		return;
	for (unsigned i = 0; i < URING_FILES; i++)
		fds[i] = -1;
	ret = io_uring_register_files_update(&u->ring, 0, fds, URING_FILES);
	if (ret < 0)
		log_warn("io_uring: cannot release its files: %s",
		         strerror(-ret));
	for (unsigned i = 0; i < URING_FILES; i++)
		u->files[i] = -1;
}

void uring_file_del(struct uring *u, int slot)
{
	int ret;

	if (slot < 0 || slot >= URING_FILES || u->files[slot] < 0)
		return;
	ret = update_slot(u, slot, -1);
	if (ret < 0)
		log_warn("io_uring: cannot empty file slot %d: %s", slot,
		         strerror(-ret));
	u->files[slot] = -1;
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
	struct io_uring_sqe *sqe;

	/* Nothing is ever submitted on a ring that is not locked down. */
	if (!u->locked && uring_lock(u) < 0)
		return NULL;
	sqe = io_uring_get_sqe(&u->ring);

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
	uring_prep_fixed(sqe);
	io_uring_sqe_set_data(sqe, NULL);
}

void uring_cancel_file(struct uring *u, int slot)
{
	struct io_uring_sqe *sqe = uring_sqe(u, NULL);

	if (!sqe) {
		log_err("io_uring: no room to cancel requests");
		return;
	}
	io_uring_prep_cancel_fd(sqe, slot,
	                        IORING_ASYNC_CANCEL_ALL |
	                                IORING_ASYNC_CANCEL_FD_FIXED);
	uring_prep_fixed(sqe);
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

void uring_cancel_wait(struct uring *u, int slot, const bool *busy)
{
	struct __kernel_timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	struct io_uring_cqe *cqe;

	while (*busy && u->ready) {
		int ret;

		uring_cancel_file(u, slot);
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
