#include "iov.h"

#include <string.h>

uint64_t iov_len(const struct iovec *iov, unsigned n)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* The one walk behind both copies: @to_iov says which way. */
static bool copy(const struct iovec *iov, unsigned n, size_t off, void *buf,
                 size_t len, bool to_iov)
{
	uint8_t *p = buf;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, k;
		uint8_t *base = iov[i].iov_base;

		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off < len ? l - off : len;
		if (to_iov)
			memcpy(base + off, p, k);
		else
			memcpy(p, base + off, k);
		p += k;
		len -= k;
		off = 0;
	}
	return len == 0;
}

bool iov_copy_from(const struct iovec *iov, unsigned n, size_t off, void *dst,
                   size_t len)
{
	return copy(iov, n, off, dst, len, false);
}

bool iov_copy_to(const struct iovec *iov, unsigned n, size_t off,
                 const void *src, size_t len)
{
	/* copy() only reads through @buf when @to_iov is set. */
	return copy(iov, n, off, (void *)src, len, true);
}

unsigned iov_slice(const struct iovec *in, unsigned n, size_t skip, size_t max,
                   struct iovec *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && max; i++) {
		uint8_t *p = in[i].iov_base;
		size_t l = in[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		if (l > max)
			l = max;
		if (l)
			out[k++] = (struct iovec){ p, l };
		max -= l;
	}
	return k;
}
