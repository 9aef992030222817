/*
 * virtio-rng (virtio 1.2, 5.4): an entropy source for the guest. The
 * driver posts device-writable buffers on its one queue; wisp fills each
 * with bytes from the host's getrandom() and returns it. A restored or
 * cloned guest reads fresh host entropy through it and reseeds, so two
 * clones of one snapshot do not share a random future.
 *
 * Firecracker's PUT /entropy: an optional rate limiter (bytes and
 * requests). A request is at most RNG_MAX_REQ bytes however large the
 * guest's buffers; a chain with a device-readable descriptor is answered
 * with 0 bytes and counted (entropy_event_fails), as Firecracker does.
 */
#ifndef WISP_RNG_H
#define WISP_RNG_H

#include "evloop.h"
#include "mmio.h"
#include "queue.h"
#include "ratelimit.h"

#include <stdbool.h>
#include <stdint.h>

#define RNG_MAX_REQ (64 * 1024)

/* Firecracker's entropy metrics, in its order. */
#define RNG_STATS(X)                                                           \
	X(activate_fails)                                                      \
	X(entropy_event_fails)                                                 \
	X(entropy_event_count)                                                 \
	X(entropy_bytes)                                                       \
	X(host_rng_fails)                                                      \
	X(entropy_rate_limiter_throttled)                                      \
	X(rate_limiter_event_count)

#define RNG_STATS_FIELD(name) uint64_t name;
struct rng_stats {
	RNG_STATS(RNG_STATS_FIELD)
};

struct rng {
	struct virtio_mmio t;
	struct evloop *loop;
	struct rate_limiter rl;
	struct rl_timer timer;
	struct ev_handler h_timer;
	/* A request the rate limiter holds back: it goes first. */
	bool holding;
	struct vq_chain held, chain;
	struct rng_stats stats, reported; /* reported: at the last flush */
};

/* What a snapshot keeps beyond the transport: the held request. */
struct rng_snap {
	uint32_t holding;
	uint32_t held_head;
};

/*
 * Set up the device at @base on @irq with rate limiter @rl (NULL: none),
 * its timer on @loop (NULL: no rate limiting, for tests). 0, or -1 with
 * the reason in @err and nothing left behind.
 */
int rng_init(struct rng *r, struct vm *vm, struct evloop *loop,
             const struct rate_limiter_config *rl, uint64_t base, unsigned irq,
             char *err, size_t errlen);
void rng_destroy(struct rng *r);

void rng_save(struct rng *r, struct rng_snap *s);
int rng_restore(struct rng *r, const struct rng_snap *s, char *err,
                size_t errlen);

/*
 * Fill @len bytes at @p with host entropy (getrandom); false when the
 * host cannot (counted in host_rng_fails). Replaceable in tests.
 */
extern bool (*rng_fill)(void *p, size_t len);

#endif
