#include "fake_uring.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* More than every device of a target can have in flight at once. */
#define SLOTS 1024
/* Completions fake_uring_complete_all() delivers at most: a device may
 * queue a new request from each completion. */
#define ALL_ROUNDS 4096

struct slot {
	bool used;
	bool submitted; /* its file and iovecs are taken */
	bool cancel;    /* a cancel reached it */
	int fd;         /* the file it holds from its submission on */
	struct uring_req *r;
	struct io_uring_sqe sqe; /* what the device prepared */
	struct slot *after;      /* hard-linked behind this one */
	struct iovec *iov;       /* the imported copy */
};

static struct slot slots[SLOTS];
static struct slot *order[SLOTS]; /* in flight, oldest first */
static unsigned npending, fail_next;
static struct uring *ring;

int uring_init(struct uring *u, unsigned entries)
{
	(void)entries;
	memset(u, 0, sizeof(*u));
	u->efd = -1;
	u->ready = true;
	for (unsigned i = 0; i < URING_FILES; i++)
		u->files[i] = -1;
	ring = u;
	return 0;
}

/* The real ring's file table and lockdown, as the devices see them. */
int uring_lock(struct uring *u)
{
	u->locked = true;
	return 0;
}

int uring_file_add(struct uring *u, int fd)
{
	for (int i = 0; i < URING_FILES; i++)
		if (u->files[i] < 0) {
			u->files[i] = fd;
			return i;
		}
	return -ENFILE;
}

int uring_file_set(struct uring *u, int slot, int fd)
{
	if (slot < 0 || slot >= URING_FILES)
		return -EINVAL;
	u->files[slot] = fd;
	return 0;
}

void uring_file_del(struct uring *u, int slot)
{
	if (slot >= 0 && slot < URING_FILES)
		u->files[slot] = -1;
}

void uring_files_release(struct uring *u)
{
	for (unsigned i = 0; i < URING_FILES; i++)
		u->files[i] = -1;
}

/* The host file a request names: a slot of the table, as the real
 * ring's restrictions require (-1: refused, as EACCES would be). */
static int request_fd(const struct io_uring_sqe *sqe)
{
	if (!(sqe->flags & IOSQE_FIXED_FILE) || sqe->fd < 0 ||
	    sqe->fd >= URING_FILES || !ring)
		return -1;
	return ring->files[sqe->fd];
}

static void forget(struct slot *s)
{
	if (s->used && s->fd >= 0)
		close(s->fd);
	free(s->iov);
	memset(s, 0, sizeof(*s));
}

void uring_destroy(struct uring *u)
{
	for (unsigned i = 0; i < SLOTS; i++)
		forget(&slots[i]);
	npending = fail_next = 0;
	u->ready = false;
	u->inflight = 0;
	u->flush = NULL;
}

struct io_uring_sqe *uring_sqe(struct uring *u, struct uring_req *r)
{
	struct slot *s = NULL, *prev = npending ? order[npending - 1] : NULL;

	if (fail_next) {
		fail_next--;
		return NULL;
	}
	for (unsigned i = 0; i < SLOTS && !s; i++)
		if (!slots[i].used)
			s = &slots[i];
	if (!s)
		return NULL; /* full, as a real ring can be */
	/* The previous entry is complete by now: is this one linked? */
	if (prev && !prev->submitted &&
	    (prev->sqe.flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)))
		s->after = prev;
	s->used = true;
	s->fd = -1;
	s->r = r;
	order[npending++] = s;
	u->inflight++;
	return &s->sqe;
}

void uring_defer(struct uring *u, struct uring_flush *f)
{
	if (f->queued)
		return;
	f->queued = true;
	f->next = u->flush;
	u->flush = f;
}

/*
 * What io_uring_submit() does: take a reference to the file (a drive
 * swapped by dup3 later does not change it) and copy the iovecs in.
 */
static void submit_all(void)
{
	for (unsigned i = 0; i < npending; i++) {
		struct slot *s = order[i];
		uint8_t op = s->sqe.opcode;
		size_t n = s->sqe.len;

		if (s->submitted)
			continue;
		s->submitted = true;
		s->fd = request_fd(&s->sqe) < 0 ? -1
		                                : fcntl(request_fd(&s->sqe),
		                                        F_DUPFD_CLOEXEC, 0);
		if ((op != IORING_OP_READV && op != IORING_OP_WRITEV) ||
		    n > IOV_MAX)
			continue;
		s->iov = calloc(n ? n : 1, sizeof(*s->iov));
		if (!s->iov)
			abort();
		memcpy(s->iov, (const void *)(uintptr_t)s->sqe.addr,
		       n * sizeof(*s->iov));
	}
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
	if (!u->ready)
		return;
	submit_all();
	run_flushes(u);
}

static bool is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Do the operation; -EAGAIN only when a socket would block. */
static int perform(const struct slot *s)
{
	const struct io_uring_sqe *e = &s->sqe;
	int n = (int)e->len, fd = s->fd;
	ssize_t ret;

	if (fd < 0)
		return -EBADF; /* it was closed before the submission */
	switch (e->opcode) {
	case IORING_OP_READV:
	case IORING_OP_WRITEV:
		if (!s->iov)
			return -EINVAL; /* more than IOV_MAX */
		if (is_socket(fd))
			ret = e->opcode == IORING_OP_READV
			              ? readv(fd, s->iov, n)
			              : writev(fd, s->iov, n);
		else
			ret = e->opcode == IORING_OP_READV
			              ? preadv(fd, s->iov, n, (off_t)e->off)
			              : pwritev(fd, s->iov, n, (off_t)e->off);
		break;
	case IORING_OP_FSYNC:
		ret = fdatasync(fd);
		break;
	case IORING_OP_FALLOCATE:
		ret = fallocate(fd, (int)e->len, (off_t)e->off, (off_t)e->addr);
		break;
	default:
		fprintf(stderr, "fake_uring: opcode %u not faked\n", e->opcode);
		abort();
	}
	return ret < 0 ? -errno : (int)ret;
}

static int result(const struct slot *s, uint8_t mode, uint32_t val)
{
	static const int errs[] = { EIO,     ECANCELED, EINTR,  ENOSPC,
		                    ENOBUFS, EBADF,     EFAULT, EINVAL };
	int res;

	if (mode % FAKE_MODES == FAKE_ERROR)
		return s->cancel
		               ? -ECANCELED
		               : -errs[val % (sizeof(errs) / sizeof(errs[0]))];
	res = perform(s);
	if (res == -EAGAIN)
		return s->cancel ? -ECANCELED : -EAGAIN;
	if (mode % FAKE_MODES == FAKE_SHORT && res > 0)
		res = (int)(val % ((uint32_t)res + 1));
	return res;
}

/* Take @s off the ring and run its completion with @res. */
static void deliver(struct slot *s, int res)
{
	struct uring_req *r = s->r;
	unsigned i = 0;

	while (order[i] != s)
		i++;
	memmove(order + i, order + i + 1,
	        (npending - i - 1) * sizeof(order[0]));
	npending--;
	for (unsigned k = 0; k < npending; k++)
		if (order[k]->after == s)
			order[k]->after = NULL;
	forget(s);
	ring->inflight--;
	if (r && r->done)
		r->done(r, res);
}

unsigned fake_uring_pending(void)
{
	return npending;
}

bool fake_uring_complete(unsigned k, uint8_t mode, uint32_t val)
{
	struct slot *s;
	int res;

	if (!npending)
		return false;
	submit_all(); /* completions are reaped after a submit */
	s = order[k % npending];
	while (s->after)
		s = s->after;
	res = result(s, mode, val);
	if (res == -EAGAIN)
		return false;
	deliver(s, res);
	return true;
}

void fake_uring_fail_next(unsigned n)
{
	fail_next = n;
}

void uring_cancel(struct uring *u, struct uring_req *r)
{
	(void)u;
	for (unsigned i = 0; i < npending; i++)
		if (order[i]->r == r && !order[i]->after)
			order[i]->cancel = true;
}

void uring_cancel_file(struct uring *u, int slot)
{
	(void)u;
	for (unsigned i = 0; i < npending; i++)
		if (order[i]->sqe.fd == slot && !order[i]->after)
			order[i]->cancel = true;
}

void fake_uring_complete_all(struct uring *u)
{
	unsigned i = 0;

	submit_all();
	for (unsigned n = 0; i < npending && n < ALL_ROUNDS;) {
		struct slot *s = order[i];
		int res;

		if (s->after) {
			i++;
			continue;
		}
		res = result(s, FAKE_REAL, 0);
		if (res == -EAGAIN) {
			i++; /* waits for the peer, as it would */
			continue;
		}
		deliver(s, res);
		submit_all();
		n++;
		i = 0; /* what it queued may go too */
	}
	run_flushes(u);
}

void uring_drain(struct uring *u)
{
	fake_uring_complete_all(u);
}

void uring_cancel_wait(struct uring *u, int slot, const bool *busy)
{
	while (*busy && u->ready) {
		struct slot *s = NULL;
		int res;

		submit_all();
		uring_cancel_file(u, slot);
		for (unsigned i = 0; i < npending && !s; i++)
			if (order[i]->sqe.fd == slot && !order[i]->after)
				s = order[i];
		if (!s) {
			/* The real one would wait here for ever. */
			fprintf(stderr,
			        "fake_uring: cancel_wait on slot %d "
			        "with nothing in flight on it\n",
			        slot);
			abort();
		}
		res = result(s, FAKE_REAL, 0);
		deliver(s, res == -EAGAIN ? -ECANCELED : res);
	}
	run_flushes(u);
}
