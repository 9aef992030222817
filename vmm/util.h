/* Small helpers shared by every part of the VMM. */
#ifndef WISP_UTIL_H
#define WISP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))
#define KIB           1024ULL
#define MIB           (1024ULL * KIB)
#define GIB           (1024ULL * MIB)

/*
 * The struct of type @type whose member @member is at @ptr: for a callback
 * handed a pointer to an embedded member (a uring_flush, a transport).
 */
#define container_of(ptr, type, member)                                        \
	((type *)((uint8_t *)(ptr)-offsetof(type, member)))

/* Round @x up to the power of two @a. */
#define ALIGN_UP(x, a)   (((x) + ((a)-1)) & ~((uint64_t)(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a)-1))

/* Process exit codes; documented in README.md and docs/architecture.md. */
enum wisp_exit {
	WISP_EXIT_OK = 0,          /* guest rebooted or powered off */
	WISP_EXIT_ERROR = 1,       /* the VMM failed at run time */
	WISP_EXIT_USAGE = 2,       /* bad command line or configuration */
	WISP_EXIT_GUEST_CRASH = 3, /* guest panic or triple fault */
	WISP_EXIT_KVM_ERROR = 4,   /* KVM internal error or failed entry */
};

/* CLOCK_MONOTONIC in microseconds. */
uint64_t util_now_us(void);

/*
 * Read a whole regular file of at most @max bytes into a malloc'd buffer.
 * Returns 0 and sets @buf and @len, or a negative errno (-EFBIG when larger
 * than @max).
 */
int util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/*
 * Open an existing file or FIFO to append lines to (logs, metrics), as
 * Firecracker does: nothing is created; a FIFO is opened read-write so
 * the open does not wait for a reader, and non-blocking so a stalled
 * reader costs lines, not the VMM. Returns the fd or -errno.
 */
int util_open_append(const char *path);

/* Write all of @len bytes, retrying on EINTR and short writes. */
int util_write_all(int fd, const void *buf, size_t len);

/* Parse a decimal or 0x-prefixed unsigned number that must fill @s. */
bool util_parse_u64(const char *s, uint64_t *out);

/* Format a setup error into @err (@errlen bytes); returns -1. */
__attribute__((format(printf, 3, 4))) int util_err(char *err, size_t errlen,
                                                   const char *fmt, ...);

/* Checked a + b for guest-supplied values; false on overflow. */
static inline bool util_add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

#endif
