/* virtio-rng: see rng.h. */
#include "rng.h"
#include "iov.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

static bool host_fill(void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		ssize_t n = getrandom(b, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		b += n;
		len -= (size_t)n;
	}
	return true;
}

bool (*rng_fill)(void *p, size_t len) = host_fill;

/*
 * Serve chain @c: false when the rate limiter holds it back (it is kept
 * and the timer armed). The lock is held.
 */
static bool serve(struct rng *r, struct vq_chain *c)
{
	struct vq *q = &r->t.vq[0];
	uint64_t want = c->in_len < RNG_MAX_REQ ? c->in_len : RNG_MAX_REQ;
	uint64_t done = 0;

	r->stats.entropy_event_count++;
	if (c->nout || !c->nin) {
		/* Nothing the device may write: an empty answer. */
		r->stats.entropy_event_fails++;
		vq_push(q, c->head, 0);
		return true;
	}
	if (rl_active(&r->rl) && r->timer.fd >= 0) {
		uint64_t now = rl_now_ns();

		if (!rl_consume(&r->rl, want, 1, now)) {
			r->stats.entropy_rate_limiter_throttled++;
			if (c != &r->held)
				r->held = *c;
			r->holding = true;
			rl_timer_arm(&r->timer,
			             rl_wait_ns(&r->rl, want, 1, now));
			return false;
		}
	}
	for (unsigned i = 0; i < c->nin && done < want; i++) {
		const struct iovec *v = &c->iov[c->nout + i];
		size_t n = v->iov_len < want - done ? v->iov_len
		                                    : (size_t)(want - done);

		if (!rng_fill(v->iov_base, n)) {
			r->stats.host_rng_fails++;
			done = 0;
			break;
		}
		done += n;
	}
	r->stats.entropy_bytes += done;
	vq_push(q, c->head, (uint32_t)done);
	return true;
}

static void rng_notify(struct virtio_mmio *t, unsigned qi)
{
	struct rng *r = t->dev;
	struct vq *q = &t->vq[qi];
	uint16_t used = q->s.used_idx;

	if (r->holding) {
		r->holding = false;
		if (!serve(r, &r->held))
			goto out;
	}
	for (unsigned n = 0;; n++) {
		enum vq_pop_result res;

		if (n == VIRTIO_MMIO_BUDGET) {
			virtio_mmio_kick(t, qi);
			break;
		}
		res = vq_pop(q, t->vm, &r->chain);
		if (res == VQ_BROKEN) {
			virtio_mmio_needs_reset(t, q->error);
			break;
		}
		if (res == VQ_EMPTY) {
			if (!vq_enable_notify(q))
				break;
			continue;
		}
		if (!serve(r, &r->chain))
			break;
	}
out:
	/* An interrupt only for chains answered, not for every notify. */
	if (q->s.used_idx != used && vq_publish(q))
		virtio_mmio_signal_used(t);
}

static void rng_reset(struct virtio_mmio *t)
{
	struct rng *r = t->dev;

	r->holding = false;
}

static const struct virtio_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.nqueues = 1,
	.reset = rng_reset,
	.queue_notify = rng_notify,
};

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct rng *r = h->opaque;

	(void)events;
	rl_timer_ack(&r->timer);
	pthread_mutex_lock(&r->t.lock);
	r->stats.rate_limiter_event_count++;
	pthread_mutex_unlock(&r->t.lock);
	virtio_mmio_notify(&r->t, 0);
}

int rng_init(struct rng *r, struct vm *vm, struct evloop *loop,
             const struct rate_limiter_config *rl, uint64_t base, unsigned irq,
             char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->timer.fd = -1;
	if (virtio_mmio_init(&r->t, vm, &rng_ops, r, base, irq) < 0)
		return util_err(err, errlen,
		                "entropy: cannot attach the device");
	if (!loop)
		return 0;
	r->loop = loop;
	if (rl)
		rl_configure(&r->rl, rl, rl_now_ns());
	if (rl_timer_init(&r->timer) < 0)
		goto fail;
	r->h_timer = (struct ev_handler){ r->timer.fd, on_timer, r };
	if (evloop_add(loop, &r->h_timer, EPOLLIN) < 0) {
		r->h_timer.cb = NULL;
		goto fail;
	}
	return 0;
fail:
	rng_destroy(r);
	return util_err(err, errlen, "entropy: no rate limiter timer");
}

void rng_destroy(struct rng *r)
{
	if (r->h_timer.cb)
		evloop_del(r->loop, &r->h_timer);
	r->h_timer.cb = NULL;
	rl_timer_destroy(&r->timer);
	virtio_mmio_destroy(&r->t);
}

void rng_save(struct rng *r, struct rng_snap *s)
{
	pthread_mutex_lock(&r->t.lock);
	*s = (struct rng_snap){ .holding = r->holding,
		                .held_head = r->holding ? r->held.head : 0 };
	pthread_mutex_unlock(&r->t.lock);
}

int rng_restore(struct rng *r, const struct rng_snap *s, char *err,
                size_t errlen)
{
	int rc = 0;

	if (s->holding > 1)
		return util_err(err, errlen,
		                "entropy: holding %u is not 0 or 1",
		                s->holding);
	if (!s->holding)
		return 0;
	pthread_mutex_lock(&r->t.lock);
	if (s->held_head > UINT16_MAX ||
	    vq_chain_at(&r->t.vq[0], r->t.vm, (uint16_t)s->held_head,
	                &r->held) < 0) {
		rc = util_err(err, errlen, "entropy: the held request: %s",
		              r->t.vq[0].error ? r->t.vq[0].error : "bad head");
	} else {
		r->holding = true;
		if (r->timer.fd >= 0)
			rl_timer_arm(&r->timer, 1);
	}
	pthread_mutex_unlock(&r->t.lock);
	return rc;
}
