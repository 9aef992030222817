#include "ratelimit.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000ULL

typedef unsigned __int128 u128;

static void bucket_set(struct rl_bucket *b, const struct bucket_config *c,
                       uint64_t now_ns)
{
	*b = (struct rl_bucket){ 0 };
	if (!c->set || !c->size || !c->refill_time_ms)
		return; /* Firecracker: a zero size or refill time is no limit
		         */
	b->on = true;
	b->size = c->size > INT64_MAX ? INT64_MAX : c->size;
	b->refill_ns = c->refill_time_ms > UINT64_MAX / NS_PER_MS
	                       ? UINT64_MAX
	                       : c->refill_time_ms * NS_PER_MS;
	b->burst = c->one_time_burst;
	b->budget = (int64_t)b->size;
	b->last_ns = now_ns;
}

/*
 * Bring the budget up to @now_ns. Time is counted in token x nanosecond
 * units with the remainder kept (@rem), so no fraction of a token is lost
 * however often this runs.
 */
static void refill(struct rl_bucket *b, uint64_t now_ns)
{
	u128 acc, add;

	if (!b->on || now_ns <= b->last_ns)
		return;
	if (b->budget >= (int64_t)b->size) {
		b->last_ns = now_ns;
		b->rem = 0;
		return;
	}
	acc = (u128)(now_ns - b->last_ns) * b->size + b->rem;
	add = acc / b->refill_ns;
	b->last_ns = now_ns;
	if (add >= (u128)((int64_t)b->size - b->budget)) {
		b->budget = (int64_t)b->size;
		b->rem = 0;
		return;
	}
	b->budget += (int64_t)add;
	b->rem = (uint64_t)(acc % b->refill_ns);
}

/* May @n tokens go now? Either they are there, or the bucket is full. */
static bool bucket_can(const struct rl_bucket *b, uint64_t n)
{
	u128 avail;

	if (!b->on || b->budget >= (int64_t)b->size)
		return true;
	if (b->budget < 0)
		return n <= b->burst;
	avail = (u128)b->burst + (uint64_t)b->budget;
	return n <= avail;
}

static void bucket_take(struct rl_bucket *b, uint64_t n)
{
	uint64_t from_burst = n < b->burst ? n : b->burst;

	if (!b->on)
		return;
	b->burst -= from_burst;
	n -= from_burst;
	/* At most size (<= INT64_MAX) plus a debt of one request. */
	if (n > (uint64_t)INT64_MAX)
		n = INT64_MAX;
	if (b->budget < INT64_MIN + (int64_t)n)
		b->budget = INT64_MIN;
	else
		b->budget -= (int64_t)n;
}

/* Nanoseconds from @now_ns until bucket_can(b, n). */
static uint64_t bucket_wait(const struct rl_bucket *b, uint64_t n,
                            uint64_t now_ns)
{
	uint64_t want = n > b->burst ? n - b->burst : 0;
	uint64_t target = want < b->size ? want : b->size;
	u128 deficit, t;

	if (bucket_can(b, n))
		return 0;
	deficit = (u128)((int64_t)target - b->budget);
	/* the first time (after last_ns) the refill adds @deficit tokens */
	t = (deficit * b->refill_ns - b->rem + b->size - 1) / b->size;
	t += b->last_ns;
	if (t <= now_ns)
		return 1; /* due: a refill at the next call passes it */
	t -= now_ns;
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

void rl_configure(struct rate_limiter *rl, const struct rate_limiter_config *c,
                  uint64_t now_ns)
{
	bucket_set(&rl->bytes, &c->bandwidth, now_ns);
	bucket_set(&rl->ops, &c->ops, now_ns);
}

bool rl_active(const struct rate_limiter *rl)
{
	return rl->bytes.on || rl->ops.on;
}

bool rl_consume(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
                uint64_t now_ns)
{
	refill(&rl->bytes, now_ns);
	refill(&rl->ops, now_ns);
	if (!bucket_can(&rl->bytes, bytes) || !bucket_can(&rl->ops, ops)) {
		rl->throttled++;
		return false;
	}
	bucket_take(&rl->bytes, bytes);
	bucket_take(&rl->ops, ops);
	return true;
}

bool rl_may_start(struct rate_limiter *rl, uint64_t now_ns)
{
	refill(&rl->bytes, now_ns);
	refill(&rl->ops, now_ns);
	if (bucket_can(&rl->bytes, 1) && bucket_can(&rl->ops, 1))
		return true;
	rl->throttled++;
	return false;
}

void rl_charge(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
               uint64_t now_ns)
{
	refill(&rl->bytes, now_ns);
	refill(&rl->ops, now_ns);
	bucket_take(&rl->bytes, bytes);
	bucket_take(&rl->ops, ops);
}

uint64_t rl_wait_ns(struct rate_limiter *rl, uint64_t bytes, uint64_t ops,
                    uint64_t now_ns)
{
	uint64_t a, b;

	refill(&rl->bytes, now_ns);
	refill(&rl->ops, now_ns);
	a = bucket_wait(&rl->bytes, bytes ? bytes : 1, now_ns);
	b = bucket_wait(&rl->ops, ops ? ops : 1, now_ns);
	return a > b ? a : b;
}

uint64_t rl_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rl_timer_init(struct rl_timer *t)
{
	t->armed = false;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0) {
		log_err("rate limiter timerfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void rl_timer_arm(struct rl_timer *t, uint64_t ns)
{
	struct itimerspec its = { 0 };

	if (t->armed)
		return; /* an earlier expiry comes first and re-checks */
	if (!ns)
		ns = 1;
	its.it_value.tv_sec = (time_t)(ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
	if (timerfd_settime(t->fd, 0, &its, NULL) < 0)
		log_err("rate limiter timer: %s", strerror(errno));
	else
		t->armed = true;
}

void rl_timer_ack(struct rl_timer *t)
{
	uint64_t n;

	if (read(t->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("rate limiter timer: %s", strerror(errno));
	t->armed = false;
}

void rl_timer_destroy(struct rl_timer *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->armed = false;
}
