/*
 * PIO and MMIO dispatch. Devices register fixed ranges at setup; a vCPU
 * exit looks its address up here. Registration happens before any vCPU
 * runs, so lookups take no lock.
 */
#ifndef WISP_BUS_H
#define WISP_BUS_H

#include "log.h"

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_DEVS 64

struct bus_dev {
	const char *name;
	uint64_t base;
	uint64_t len;
	void *opaque;
	/* @off is relative to @base; the access lies wholly inside. */
	void (*read)(void *opaque, uint64_t off, uint8_t *data, uint32_t size);
	void (*write)(void *opaque, uint64_t off, const uint8_t *data,
	              uint32_t size);
};

struct bus {
	const char *name;                   /* "pio" or "mmio", for messages */
	struct bus_dev *devs[BUS_MAX_DEVS]; /* sorted by base */
	unsigned n;
	struct log_ratelimit rl; /* for unmapped accesses */
};

void bus_init(struct bus *b, const char *name);

/*
 * Add @d (not copied; must outlive the bus). Returns 0, -EINVAL for an
 * empty or wrapping range, -EEXIST when it overlaps a registered device
 * (logged with both names), -ENOSPC when the bus is full.
 */
int bus_add(struct bus *b, struct bus_dev *d);

/* The device that holds all of [@addr, @addr + @size), or NULL. */
struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t size);

/*
 * Dispatch one access of @size (1..8) bytes. An access no device holds
 * reads as all ones and writes are dropped; returns false then.
 */
bool bus_access(struct bus *b, uint64_t addr, uint8_t *data, uint32_t size,
                bool is_write);

#endif
