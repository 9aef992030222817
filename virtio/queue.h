/*
 * Split virtqueues (virtio 1.2, 2.7), device side.
 *
 *   descriptor table  16 bytes each: u64 addr, u32 len, u16 flags, u16 next
 *   available ring    u16 flags, u16 idx, u16 ring[num], u16 used_event
 *   used ring         u16 flags, u16 idx, {u32 id, u32 len} ring[num],
 *                     u16 avail_event
 *
 * The driver owns the descriptor table and the available ring; the device
 * owns the used ring. Every field the driver writes is hostile: indexes are
 * range-checked, chains are capped at the queue size, readable buffers
 * must precede writable ones, indirect tables are checked, and every
 * guest address goes through vm_gpa(). Each field is read from guest
 * memory exactly once, so a driver changing it under us cannot make a
 * checked value differ from a used one.
 *
 * A violation makes vq_pop() return VQ_BROKEN with q->error set; the
 * transport then marks the device DEVICE_NEEDS_RESET. Nothing here logs,
 * exits or touches memory outside the guest.
 */
#ifndef WISP_VIRTIO_QUEUE_H
#define WISP_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct vm;

/* The largest queue the device offers (QueueNumMax), and so the longest
 * chain and the largest indirect table it accepts. */
#define VQ_MAX_SIZE 256
#define VQ_MAX_SEGS VQ_MAX_SIZE

#define VRING_DESC_F_NEXT          1
#define VRING_DESC_F_WRITE         2
#define VRING_DESC_F_INDIRECT      4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY     1

/* Plain data: the part a snapshot saves. */
struct vq_state {
	uint16_t num; /* queue size, a power of two <= VQ_MAX_SIZE */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;     /* next available entry to take */
	uint16_t used_idx;       /* our copy of used->idx */
	uint16_t signalled_used; /* used idx at the last interrupt */
	bool signalled_valid;
};

struct vq {
	struct vq_state s;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;  /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	/*
	 * Host views of the rings and the size they were mapped for, set
	 * together by vq_activate(): every index into a ring is taken modulo
	 * @size, never modulo the QueueNum register (s.num), so nothing the
	 * driver writes later can make an index reach past what was mapped.
	 * NULL and 0 while the queue is not live.
	 */
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
	uint16_t size;
	/*
	 * Bumped by every vq_reset() and vq_activate(): a request records it
	 * when it takes a chain (vq_gen()) and its completion touches the
	 * ring only if vq_current() still holds, so a reset or a ring set up
	 * anew between the two is never written with a stale entry.
	 */
	uint32_t gen;
	const char *error;   /* why the queue broke */
	const struct vm *vm; /* its guest RAM, for the dirty log */
};

/* One descriptor chain: @nout device-readable iovecs, then @nin writable. */
struct vq_chain {
	uint16_t head;
	uint16_t nout, nin;
	uint64_t out_len, in_len;
	struct iovec iov[VQ_MAX_SEGS];
};

enum vq_pop_result { VQ_BROKEN = -1, VQ_EMPTY = 0, VQ_CHAIN = 1 };

/*
 * Reset to the state after device reset (QueueNum @num, nothing mapped);
 * the generation moves on, so completions of the old queue are dropped.
 */
void vq_reset(struct vq *q, uint16_t num);

/*
 * Check the ring addresses and size in s (alignment, all of each ring in
 * guest RAM) and map them. Returns 0, or -1 with q->error set.
 */
int vq_activate(struct vq *q, const struct vm *vm);

/* QueueReady = 0: unmap the rings; the registers keep their values. */
void vq_deactivate(struct vq *q);

/*
 * Take the next available chain into @c. VQ_EMPTY when the driver has
 * published nothing new; VQ_BROKEN (q->error set) when the ring or the
 * chain violates the spec.
 */
enum vq_pop_result vq_pop(struct vq *q, const struct vm *vm,
                          struct vq_chain *c);

/*
 * Walk the chain that starts at descriptor @head into @c, with every
 * check vq_pop() makes, without touching the available ring: a restored
 * device takes back the chains it held when the snapshot was made.
 * Returns 0, or -1 with q->error set.
 */
int vq_chain_at(struct vq *q, const struct vm *vm, uint16_t head,
                struct vq_chain *c);

/* The queue's generation now: record it with a request taken from it. */
static inline uint32_t vq_gen(const struct vq *q)
{
	return q->gen;
}

/*
 * Is the queue live and still the one a request taken at generation
 * @gen came from? A completion checks this before vq_push().
 */
static inline bool vq_current(const struct vq *q, uint32_t gen)
{
	return q->used && q->gen == gen;
}

/*
 * Put @head on the used ring with @len bytes written; not yet visible.
 * A no-op on a queue that is not live (reset meanwhile).
 */
void vq_push(struct vq *q, uint16_t head, uint32_t len);

/*
 * Make pushed entries visible (release barrier, then used->idx) and say
 * whether the driver wants an interrupt for them (EVENT_IDX or
 * NO_INTERRUPT). Call once per batch. On a queue that is not live
 * (reset meanwhile) it does nothing and returns false.
 */
bool vq_publish(struct vq *q);

/*
 * Ask for notifications again after a drain (EVENT_IDX: avail_event =
 * last_avail). Returns true when more chains arrived meanwhile, so the
 * caller must drain again before sleeping.
 */
bool vq_enable_notify(struct vq *q);

/* virtio's vring_need_event(): did [old, new) pass @event? */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx,
                                 uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
