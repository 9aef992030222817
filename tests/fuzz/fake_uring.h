/*
 * A stand-in for virtio/uring.c in fuzz targets that must choose when and
 * how each io_uring request ends. It implements uring.h: devices queue
 * requests with uring_sqe() and fill the entry with the usual
 * io_uring_prep_*() calls, exactly as with the real ring; nothing reaches
 * a kernel ring. The requests wait here until the target completes one of
 * them: the operation is then done with plain syscalls (preadv, writev,
 * fdatasync, fallocate) and done() runs with its result, or with an
 * error or a short count the target chose.
 *
 * What the kernel guarantees is kept, nothing more: a request hard-linked
 * behind another (IOSQE_IO_HARDLINK) ends after it; the file and the
 * iovec array are taken when the request is submitted (uring_run()), as
 * io_uring takes them; a cancel reaches only requests already issued
 * (not those waiting on a link); a socket read or
 * write that would block does not end until the peer moves. Flushes
 * deferred by completions run at the next uring_run(), as the real one
 * runs them at the end of its batch.
 *
 * One ring per process, single-threaded, as the fuzz targets are.
 */
#ifndef WISP_FUZZ_FAKE_URING_H
#define WISP_FUZZ_FAKE_URING_H

#include "uring.h"

#include <stdbool.h>
#include <stdint.h>

/* How a request ends (fake_uring_complete()'s @mode, modulo the count). */
enum fake_end {
	FAKE_REAL,  /* the operation runs; its own result */
	FAKE_SHORT, /* the operation runs; @val caps the count it reports */
	FAKE_ERROR, /* nothing runs; an errno picked by @val */
	FAKE_MODES,
};

/* Requests in flight (submitted or not). */
unsigned fake_uring_pending(void);

/*
 * End the @k-th request in flight (oldest first, @k modulo the count), or
 * the request its hard link waits for. False when nothing was delivered:
 * none in flight, or a socket operation that would still block.
 */
bool fake_uring_complete(unsigned k, uint8_t mode, uint32_t val);

/* The next @n uring_sqe() calls find the ring full (they return NULL). */
void fake_uring_fail_next(unsigned n);

/*
 * End every request that can end, oldest first, with its real result,
 * as the VMM's loop would while it goes on (those queued meanwhile too);
 * a socket operation that would block stays in flight. Then the
 * deferred flushes.
 */
void fake_uring_complete_all(struct uring *u);

#endif
