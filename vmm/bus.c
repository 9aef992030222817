#include "bus.h"
#include "util.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10);
}

int bus_add(struct bus *b, struct bus_dev *d)
{
	uint64_t end;
	unsigned i;

	if (!d->len || !util_add_ok(d->base, d->len - 1, &end))
		return -EINVAL;
	if (b->n == BUS_MAX_DEVS)
		return -ENOSPC;
	for (i = 0; i < b->n; i++) {
		const struct bus_dev *o = b->devs[i];

		if (d->base <= o->base + (o->len - 1) && o->base <= end) {
			log_err("%s bus: %s [0x%llx-0x%llx] overlaps %s "
			        "[0x%llx-0x%llx]",
			        b->name, d->name, (unsigned long long)d->base,
			        (unsigned long long)end, o->name,
			        (unsigned long long)o->base,
			        (unsigned long long)(o->base + o->len - 1));
			return -EEXIST;
		}
		if (o->base > d->base)
			break;
	}
	memmove(&b->devs[i + 1], &b->devs[i], (b->n - i) * sizeof(b->devs[0]));
	b->devs[i] = d;
	b->n++;
	return 0;
}

struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t size)
{
	unsigned lo = 0, hi = b->n;
	uint64_t last;

	if (!size || !util_add_ok(addr, size - 1, &last))
		return NULL;
	/* Binary search for the last device with base <= addr. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (b->devs[mid]->base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	struct bus_dev *d = b->devs[lo - 1];
	if (last - d->base >= d->len)
		return NULL;
	return d;
}

bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t size,
                bool is_write)
{
	struct bus_dev *d = bus_find(b, addr, size);

	if (d && is_write && d->write) {
		d->write(d->opaque, addr - d->base, data, size);
		return true;
	}
	if (d && !is_write && d->read) {
		d->read(d->opaque, addr - d->base, data, size);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, size);
	if (!d)
		log_limited(&b->rl, LOG_DEBUG,
		            "%s: unhandled %s of %u at 0x%llx", b->name,
		            is_write ? "write" : "read", size,
		            (unsigned long long)addr);
	return d != NULL;
}
