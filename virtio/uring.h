/*
 * A thin io_uring wrapper for device backends. One ring per VMM, served
 * on the event loop thread.
 *
 * Devices queue requests with uring_sqe() while they drain a virtqueue
 * (under their lock) and return; the outer handler (a queue notify, a
 * timer, the ring's eventfd) then calls uring_run() with no device lock
 * held. uring_run() sends what is queued and runs the completions that
 * are ready, again while completions queue more: a tap read that finds a
 * frame waiting completes during the submit, and its completion queues
 * the next read, so a busy tap drains in one call. Completions push used
 * entries and ask for a flush with uring_defer(); the flushes run once at
 * the end, so a whole batch costs one used-index update and at most one
 * interrupt per queue.
 *
 * The ring is locked down before it is used: it is made disabled, the
 * devices put their drives and taps in its table of registered ("fixed")
 * files, and uring_lock() then installs an IORING_REGISTER_RESTRICTIONS
 * allowlist and enables it. Only the opcodes the devices submit are
 * allowed (readv, writev, fsync, fallocate, cancel), every request must
 * name a registered file (IOSQE_FIXED_FILE), and the only register call
 * left is a file table update. So a compromised wisp cannot use the ring
 * to open files or sockets the seccomp filters forbid: it can only read
 * and write the drives and taps it was given.
 */
#ifndef WISP_VIRTIO_URING_H
#define WISP_VIRTIO_URING_H

#include <liburing.h>
#include <stdbool.h>

struct uring_req {
	/* Called on the event loop with the operation's result (>= 0 or
	 * -errno). Must not call uring_run(); may queue more requests. */
	void (*done)(struct uring_req *r, int res);
};

/* Work to do once after a batch of completions (publish a used ring). */
struct uring_flush {
	void (*fn)(struct uring_flush *f);
	struct uring_flush *next;
	bool queued;
};

/* Registered files: drives and taps. */
#define URING_FILES 32

struct uring {
	struct io_uring ring;
	int files[URING_FILES]; /* the host fd in each slot, or -1 */
	int efd;                /* readable when completions are waiting */
	unsigned inflight;
	bool ready;
	bool locked;               /* restrictions in force, ring enabled */
	struct uring_flush *flush; /* deferred, in no particular order */
};

/*
 * Set up a ring of @entries with a completion eventfd and an empty file
 * table, still disabled. 0 or -errno.
 */
int uring_init(struct uring *u, unsigned entries);

/*
 * Install the restrictions and enable the ring (above); once the devices
 * have registered their files, before the guest runs. The first
 * uring_sqe() does it too, so nothing is ever submitted unrestricted.
 * 0 or -errno (logged).
 */
int uring_lock(struct uring *u);

/*
 * Register @fd in a free slot of the ring's file table; requests on it
 * then name the slot with IOSQE_FIXED_FILE (uring_prep_fixed). Returns
 * the slot, or -errno.
 */
int uring_file_add(struct uring *u, int fd);
/*
 * Point @slot at @fd instead (a drive swapped for another file):
 * requests already submitted keep the old file. 0 or -errno.
 */
int uring_file_set(struct uring *u, int slot, int fd);
/* Empty @slot (the device is going away). */
void uring_file_del(struct uring *u, int slot);
/*
 * Empty the whole table at once, when the VM ends: the kernel tears a
 * ring down some time after the process is gone, and until then a tap
 * in its table stays attached (a VM started on it at once finds it busy).
 */
void uring_files_release(struct uring *u);

/* Make @sqe, already prepared with a slot as its fd, use the table. */
static inline void uring_prep_fixed(struct io_uring_sqe *sqe)
{
	sqe->flags |= IOSQE_FIXED_FILE;
}
void uring_destroy(struct uring *u);

/*
 * A submission entry for @r, or NULL when the ring is full even after
 * submitting what is queued (the caller retries after completions).
 */
struct io_uring_sqe *uring_sqe(struct uring *u, struct uring_req *r);

/* Run @f at the end of the current uring_run() (once, however often). */
void uring_defer(struct uring *u, struct uring_flush *f);

/*
 * Submit, run ready completions and repeat while there is progress, then
 * the deferred flushes. At most a bounded number of rounds: with more
 * left the eventfd is poked so the loop comes back after other events.
 * Never under a device lock (completions take their device's lock).
 */
void uring_run(struct uring *u);

/*
 * Ask the kernel to cancel @r (in flight); its done() still runs, with
 * -ECANCELED or its real result if it finished first.
 */
void uring_cancel(struct uring *u, struct uring_req *r);
/* The same for every request on the file in @slot. */
void uring_cancel_file(struct uring *u, int slot);

/*
 * Block, running completions, until *@busy is false, cancelling every
 * request on the file in @slot again and again (a hard-linked request is issued
 * only when the one before it ends): for teardown, when a request in flight
 * must not outlive the memory it reads into.
 */
void uring_cancel_wait(struct uring *u, int slot, const bool *busy);

/* Block, running completions, until no request is in flight. */
void uring_drain(struct uring *u);

#endif
