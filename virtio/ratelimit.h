/*
 * Rate limiters for device queues: two token buckets, one counting bytes
 * and one counting operations, with Firecracker's semantics so its
 * `rate_limiter` bodies mean the same here.
 *
 * A bucket holds at most @size tokens and starts full; it refills
 * continuously at @size tokens per @refill_time_ms. @one_time_burst extra
 * tokens are spent first and never come back. An operation larger than
 * the whole bucket may go once the bucket is full, leaving the bucket in
 * debt; the debt is repaid by refilling before anything else passes. So
 * over any long run the rate is size / refill_time, whatever the sizes.
 *
 * A throttled device stops taking work and arms the limiter's timerfd
 * with rl_wait_ns(); the event loop calls it back when tokens are due.
 * Nothing here polls or sleeps. Time comes from the caller (CLOCK_MONOTONIC
 * nanoseconds), so the arithmetic is tested without clocks.
 */
#ifndef WISP_VIRTIO_RATELIMIT_H
#define WISP_VIRTIO_RATELIMIT_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>

struct rl_bucket {
	bool on;            /* size and refill time both non-zero */
	uint64_t size;      /* tokens when full */
	uint64_t refill_ns; /* time to refill from empty to full */
	uint64_t burst;     /* one-time burst tokens left */
	int64_t budget;     /* tokens now; negative after an overdraw */
	uint64_t last_ns;   /* when budget was last brought up to date */
	uint64_t rem;       /* token-nanoseconds not yet a whole token */
};

struct rate_limiter {
	struct rl_bucket bytes, ops;
	uint64_t throttled; /* how often a request had to wait (metrics) */
};

/* Set both buckets from @c (full, burst restored) at time @now_ns. */
void rl_configure(struct rate_limiter *rl, const struct rate_limiter_config *c,
                  uint64_t now_ns);

/* True when either bucket limits anything. */
bool rl_active(const struct rate_limiter *rl);

/*
 * Take @bytes and @ops tokens if both buckets have them (or are full and
 * the request is larger than the bucket); otherwise take nothing, count a
 * throttle and return false.
 */
bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
                uint64_t now_ns);

/*
 * For requests whose size is known only afterwards (a network frame
 * read from a tap): may one start now? True when both buckets have some
 * tokens; rl_charge() then takes the real amount, into debt if need be.
 */
bool rl_may_start(struct rate_limiter *rl, uint64_t now_ns);
void rl_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
               uint64_t now_ns);

/*
 * How long until a request of @bytes and @ops (0 and 0: any request, as
 * for rl_may_start) could pass; 0 if it can now.
 */
uint64_t rl_wait_ns(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
                    uint64_t now_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rl_now_ns(void);

/*
 * The timerfd side: a device embeds a struct rl_timer, creates it once
 * (rl_timer_init) and arms it (rl_timer_arm) when throttled; @fd is then
 * readable after @ns. Returns 0 or -1 (logged).
 */
struct rl_timer {
	int fd;
	bool armed;
};

int rl_timer_init(struct rl_timer *t);
void rl_timer_arm(struct rl_timer *t, uint64_t ns);
/* Consume the expiry after @fd fired; the timer is then disarmed. */
void rl_timer_ack(struct rl_timer *t);
void rl_timer_destroy(struct rl_timer *t);

#endif
