#include "queue.h"
#include "vm.h"

#include <string.h>

#define DESC_SIZE 16

static uint16_t ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}

static void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

static size_t avail_size(uint16_t num)
{
	return 6 + 2 * (size_t)num; /* flags, idx, ring, used_event */
}

static size_t used_size(uint16_t num)
{
	return 6 + 8 * (size_t)num; /* flags, idx, ring, avail_event */
}

void vq_reset(struct vq *q, uint16_t num)
{
	uint32_t gen = q->gen;

	memset(q, 0, sizeof(*q));
	q->s.num = num;
	q->gen = gen + 1;
}

static int broken(struct vq *q, const char *why)
{
	q->error = why;
	return VQ_BROKEN;
}

int vq_activate(struct vq *q, const struct vm *vm)
{
	uint16_t num = q->s.num;

	q->vm = vm;
	q->gen++;
	q->desc = q->avail = q->used = NULL;
	q->size = 0;
	if (!num || num > VQ_MAX_SIZE || (num & (num - 1)))
		return broken(q, "queue size is not a power of two up to 256"),
		       -1;
	/* Alignment the split ring requires (2.7 table). */
	if ((q->s.desc_gpa & 15) || (q->s.avail_gpa & 1) || (q->s.used_gpa & 3))
		return broken(q, "misaligned ring address"), -1;
	q->desc = vm_gpa(vm, q->s.desc_gpa, (uint64_t)num * DESC_SIZE);
	q->avail = vm_gpa(vm, q->s.avail_gpa, avail_size(num));
	q->used = vm_gpa(vm, q->s.used_gpa, used_size(num));
	if (!q->desc || !q->avail || !q->used) {
		q->desc = q->avail = q->used = NULL;
		return broken(q, "ring outside guest RAM"), -1;
	}
	q->size = num;
	return 0;
}

void vq_deactivate(struct vq *q)
{
	q->s.ready = false;
	q->desc = q->avail = q->used = NULL;
	q->size = 0;
	q->gen++;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* One copy out of guest memory: checks and use see the same values. */
static struct desc read_desc(const uint8_t *table, uint16_t i)
{
	struct desc d;

	memcpy(&d, table + (size_t)i * DESC_SIZE, sizeof(d));
	return d;
}

/* Append one buffer to @c, enforcing readable-before-writable. */
static int add_seg(struct vq *q, const struct vm *vm, struct vq_chain *c,
                   const struct desc *d)
{
	bool wr = d->flags & VRING_DESC_F_WRITE;
	void *p;

	if (c->nout + c->nin == VQ_MAX_SEGS)
		return broken(q, "descriptor chain longer than the queue");
	if (!wr && c->nin)
		return broken(q, "readable descriptor after a writable one");
	p = vm_gpa(vm, d->addr, d->len);
	if (!p)
		return broken(q, "descriptor buffer outside guest RAM");
	c->iov[c->nout + c->nin] = (struct iovec){ p, d->len };
	if (wr) {
		c->nin++;
		c->in_len += d->len;
	} else {
		c->nout++;
		c->out_len += d->len;
	}
	return 0;
}

/* Walk an indirect table (2.7.5.3): its own chain, no nesting. */
static int walk_indirect(struct vq *q, const struct vm *vm, struct vq_chain *c,
                         const struct desc *ind)
{
	uint32_t n = ind->len / DESC_SIZE;
	const uint8_t *table;
	uint16_t i = 0;

	if (!q->indirect)
		return broken(q, "indirect descriptor not negotiated");
	if (ind->flags & VRING_DESC_F_NEXT)
		return broken(q, "indirect descriptor with NEXT set");
	if (ind->len % DESC_SIZE || n == 0 || n > VQ_MAX_SEGS)
		return broken(q, "bad indirect table length");
	table = vm_gpa(vm, ind->addr, ind->len);
	if (!table)
		return broken(q, "indirect table outside guest RAM");
	/* At most n steps: a loop in the table ends as "too long". */
	for (uint32_t steps = 0;; steps++) {
		struct desc d = read_desc(table, i);

		if (steps == n)
			return broken(q, "loop in an indirect table");
		if (d.flags & VRING_DESC_F_INDIRECT)
			return broken(q, "nested indirect descriptor");
		if (add_seg(q, vm, c, &d) < 0)
			return VQ_BROKEN;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return broken(q, "indirect next index out of range");
		i = d.next;
	}
}

int vq_chain_at(struct vq *q, const struct vm *vm, uint16_t head,
                struct vq_chain *c)
{
	uint16_t num = q->size, i;

	if (!q->s.ready || !q->desc || head >= num)
		return broken(q, "head index out of range");
	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	i = head;
	for (unsigned steps = 0;; steps++) {
		struct desc d = read_desc(q->desc, i);

		if (steps == num)
			return broken(q, "loop in a descriptor chain");
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* An indirect descriptor is the whole chain. */
			if (steps)
				return broken(q, "indirect descriptor inside a "
				                 "chain");
			return walk_indirect(q, vm, c, &d) < 0 ? -1 : 0;
		}
		if (add_seg(q, vm, c, &d) < 0)
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= num)
			return broken(q, "next index out of range");
		i = d.next;
	}
}

enum vq_pop_result vq_pop(struct vq *q, const struct vm *vm, struct vq_chain *c)
{
	uint16_t num = q->size, avail_idx, head;

	if (!q->s.ready || !q->desc)
		return VQ_EMPTY;
	avail_idx = ld16(q->avail + 2);
	if (avail_idx == q->s.last_avail)
		return VQ_EMPTY;
	if ((uint16_t)(avail_idx - q->s.last_avail) > num)
		return broken(q, "available index ran more than a queue ahead");
	/* Read the ring entry only after seeing the index that covers it. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = ld16(q->avail + 4 + 2 * (size_t)(q->s.last_avail % num));
	if (head >= num)
		return broken(q, "head index out of range");

	if (vq_chain_at(q, vm, head, c) < 0)
		return VQ_BROKEN;
	q->s.last_avail++;
	return VQ_CHAIN;
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	uint8_t *e;
	uint32_t id = head;

	if (!q->used)
		return;
	e = q->used + 4 + 8 * (size_t)(q->s.used_idx % q->size);
	memcpy(e, &id, 4);
	memcpy(e + 4, &len, 4);
	q->s.used_idx++;
	if (q->vm)
		vm_mark_dirty(q->vm, e, 8);
}

bool vq_publish(struct vq *q)
{
	uint16_t old = q->s.signalled_used, now = q->s.used_idx;
	bool valid = q->s.signalled_valid;

	if (!q->used)
		return false;
	/* The entries must be visible before the index that covers them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	st16(q->used + 2, now);
	if (q->vm)
		vm_mark_dirty(q->vm, q->used + 2, 2);
	/* Order the index store before reading the driver's used_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(ld16(q->avail) & VRING_AVAIL_F_NO_INTERRUPT);
	q->s.signalled_used = now;
	q->s.signalled_valid = true;
	if (!valid)
		return true;
	return vq_need_event(ld16(q->avail + 4 + 2 * (size_t)q->size), now,
	                     old);
}

bool vq_enable_notify(struct vq *q)
{
	uint8_t *p;

	if (!q->used)
		return false;
	/* avail_event, or the flags */
	p = q->event_idx ? q->used + 4 + 8 * (size_t)q->size : q->used;
	st16(p, q->event_idx ? q->s.last_avail : 0); /* flags: no NO_NOTIFY */
	if (q->vm)
		vm_mark_dirty(q->vm, p, 2);
	/* The store must be visible before we look at avail->idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ld16(q->avail + 2) != q->s.last_avail;
}
