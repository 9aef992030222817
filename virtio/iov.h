/*
 * Scatter-gather lists: the iovecs of a descriptor chain (queue.h's
 * vq_chain) that a device reads its request from and writes its answer
 * into. Every helper walks at most @n entries and never past an entry's
 * iov_len, so a chain that is shorter than the device expects ends the
 * walk early instead of reaching past the guest's buffers; the copies say
 * so by returning false.
 */
#ifndef WISP_VIRTIO_IOV_H
#define WISP_VIRTIO_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes in @iov[0..@n). */
uint64_t iov_len(const struct iovec *iov, unsigned n);

/*
 * Copy @len bytes at offset @off of @iov[0..@n) into @dst, or @src into
 * them. False when the list ends first (what it held was copied).
 */
bool iov_copy_from(const struct iovec *iov, unsigned n, size_t off, void *dst,
                   size_t len);
bool iov_copy_to(const struct iovec *iov, unsigned n, size_t off,
                 const void *src, size_t len);

/*
 * @out = the bytes of @in[0..@n) from offset @skip on, at most @max of
 * them (SIZE_MAX: all), without empty entries. @out needs room for @n
 * entries. Returns the entries written.
 */
unsigned iov_slice(const struct iovec *in, unsigned n, size_t skip, size_t max,
                   struct iovec *out);

#endif
