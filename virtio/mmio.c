#include "mmio.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MMIO_MAGIC   0x74726976 /* "virt" */
#define MMIO_VERSION 2
#define CONFIG_OFF   0x100

uint64_t virtio_mmio_offered(const struct virtio_mmio *t)
{
	return (t->ops->features & ~t->withheld) |
	       (1ULL << VIRTIO_F_VERSION_1) |
	       (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	       (1ULL << VIRTIO_RING_F_EVENT_IDX);
}

static struct vq *cur_vq(struct virtio_mmio *t)
{
	return t->queue_sel < t->ops->nqueues ? &t->vq[t->queue_sel] : NULL;
}

static void raise_irq(struct virtio_mmio *t, uint32_t why)
{
	uint64_t one = 1;

	t->isr |= why;
	if (write(t->irq_fd, &one, sizeof(one)) < 0)
		log_limited(&t->rl, LOG_WARN, "%s: irq eventfd: %s",
		            t->ops->name, strerror(errno));
}

void virtio_mmio_signal_used(struct virtio_mmio *t)
{
	raise_irq(t, VIRTIO_MMIO_INT_VRING);
}

int virtio_mmio_kick(struct virtio_mmio *t, unsigned q)
{
	uint64_t one = 1;

	if (q < t->ops->nqueues &&
	    write(t->notify_fd[q], &one, sizeof(one)) == sizeof(one))
		return 0;
	log_limited(&t->rl, LOG_WARN, "%s: notify: %s", t->ops->name,
	            strerror(errno));
	return -1;
}

void virtio_mmio_needs_reset(struct virtio_mmio *t, const char *why)
{
	if (t->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	log_limited(&t->rl, LOG_WARN,
	            "%s: %s; device needs reset (the VM goes on)", t->ops->name,
	            why);
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	raise_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed_locked(struct virtio_mmio *t)
{
	t->config_gen++;
	if (t->status & VIRTIO_CONFIG_S_DRIVER_OK)
		raise_irq(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	virtio_mmio_config_changed_locked(t);
	pthread_mutex_unlock(&t->lock);
}

/* Device reset (status 0): back to the state after power-on. */
static void reset(struct virtio_mmio *t)
{
	if (t->ops->reset)
		t->ops->reset(t);
	t->status = 0;
	t->dev_feat_sel = t->drv_feat_sel = 0;
	t->drv_features = 0;
	t->queue_sel = 0;
	t->isr = 0;
	for (unsigned i = 0; i < t->ops->nqueues; i++)
		vq_reset(&t->vq[i], VQ_MAX_SIZE);
}

/* Feature negotiation ends: accept only what we offered, and VERSION_1. */
static bool features_ok(struct virtio_mmio *t)
{
	uint64_t f = t->drv_features;

	if (f & ~virtio_mmio_offered(t))
		return false;
	if (!(f & (1ULL << VIRTIO_F_VERSION_1)))
		return false; /* a legacy driver: version 2 only */
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		t->vq[i].indirect = f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
		t->vq[i].event_idx = f & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	}
	return true;
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	uint32_t set = v & ~t->status;

	if (v == 0) {
		reset(t);
		return;
	}
	if (v & ~0xffu || (t->status & ~v & ~VIRTIO_CONFIG_S_NEEDS_RESET)) {
		/* Bits may only be added (4.2.2.1); anything else is a bug. */
		virtio_mmio_needs_reset(t, "driver cleared status bits");
		return;
	}
	if ((set & VIRTIO_CONFIG_S_FEATURES_OK) && !features_ok(t))
		v &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
	t->status = v | (t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if (!(set & VIRTIO_CONFIG_S_DRIVER_OK))
		return;
	if (!(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_mmio_needs_reset(t, "DRIVER_OK without FEATURES_OK");
		return;
	}
	if (t->ops->activate && t->ops->activate(t) < 0)
		virtio_mmio_needs_reset(t, "device failed to start");
}

/*
 * May the driver write the queue registers now? Only while it sets the
 * device up: after FEATURES_OK and before DRIVER_OK (virtio 1.2, 3.1.1),
 * as Firecracker allows. Once DRIVER_OK is set the rings are frozen:
 * requests in flight hold pointers into them, and a ring moved or
 * resized under a completion would be written out of bounds. A reset
 * (status 0) is the only way back. Later writes are ignored and counted.
 */
static bool queue_writable(struct virtio_mmio *t)
{
	uint32_t s = t->status;

	if ((s & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(s & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_FAILED |
	           VIRTIO_CONFIG_S_NEEDS_RESET)))
		return true;
	__atomic_fetch_add(&t->queue_writes_ignored, 1, __ATOMIC_RELAXED);
	log_limited(&t->rl, LOG_WARN,
	            "%s: queue register written with status 0x%x; ignored",
	            t->ops->name, s);
	return false;
}

static void set_addr(struct virtio_mmio *t, uint64_t *field, bool high,
                     uint32_t v)
{
	struct vq *q = cur_vq(t);

	if (!q || !queue_writable(t) || q->s.ready)
		return; /* 4.2.2.2: only while the queue is not ready */
	*field = high ? (*field & 0xffffffffULL) | ((uint64_t)v << 32)
	              : (*field & ~0xffffffffULL) | v;
}

static void queue_ready(struct virtio_mmio *t, uint32_t v)
{
	struct vq *q = cur_vq(t);

	if (!q || !queue_writable(t))
		return;
	if (!v) {
		vq_deactivate(q);
		return;
	}
	if (q->s.ready)
		return;
	if (vq_activate(q, t->vm) < 0) {
		virtio_mmio_needs_reset(t, q->error);
		return;
	}
	q->s.ready = true;
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct vq *q = cur_vq(t);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_feat_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_feat_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->status & VIRTIO_CONFIG_S_FEATURES_OK ||
		    t->drv_feat_sel > 1)
			break;
		if (t->drv_feat_sel)
			t->drv_features = (t->drv_features & 0xffffffffULL) |
			                  ((uint64_t)v << 32);
		else
			t->drv_features =
			        (t->drv_features & ~0xffffffffULL) | v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q && queue_writable(t) && !q->s.ready)
			q->s.num = (uint16_t)MIN(v, 0xffffu);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		queue_ready(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Reached only when KVM_IOEVENTFD is not bound. */
		if (v < t->ops->nqueues)
			virtio_mmio_kick(t, v);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->isr &= ~v;
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q)
			set_addr(t, &q->s.desc_gpa,
			         off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (q)
			set_addr(t, &q->s.avail_gpa,
			         off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (q)
			set_addr(t, &q->s.used_gpa,
			         off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	default:
		/* Read-only and legacy registers (GuestPageSize, QueuePFN). */
		log_limited(&t->rl, LOG_DEBUG,
		            "%s: write 0x%x to 0x%llx ignored", t->ops->name, v,
		            (unsigned long long)off);
		break;
	}
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct vq *q = cur_vq(t);
	uint64_t f = virtio_mmio_offered(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->dev_feat_sel == 0   ? (uint32_t)f
		       : t->dev_feat_sel == 1 ? (uint32_t)(f >> 32)
		                              : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? VQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->s.ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->isr;
	/* No shared memory region: a length of -1 (virtio 1.2, 4.2.2). */
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffff;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_gen;
	default:
		return 0; /* write-only, reserved and legacy registers */
	}
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (off >= CONFIG_OFF) {
		memset(data, 0, size);
		if (t->ops->config_read)
			t->ops->config_read(t, off - CONFIG_OFF, data, size);
	} else if (size == 4 && !(off & 3)) {
		v = reg_read(t, off);
		memcpy(data, &v, 4);
	} else {
		memset(data, 0, size); /* 4.2.2.2: registers are 32-bit */
	}
	pthread_mutex_unlock(&t->lock);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data,
                       uint32_t size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (off >= CONFIG_OFF) {
		if (t->ops->config_write)
			t->ops->config_write(t, off - CONFIG_OFF, data, size);
	} else if (size == 4 && !(off & 3)) {
		memcpy(&v, data, 4);
		reg_write(t, off, v);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_notify(struct virtio_mmio *t, unsigned q)
{
	pthread_mutex_lock(&t->lock);
	if (q < t->ops->nqueues && t->vq[q].s.ready &&
	    (t->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(t->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		t->ops->queue_notify(t, q);
	pthread_mutex_unlock(&t->lock);
}

/* Let KVM take QueueNotify writes and raise the IRQ without exits. */
static int bind_kvm(struct virtio_mmio *t)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)t->irq_fd, .gsi = t->irq };

	if (ioctl(t->vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_err("%s: KVM_IRQFD: %s", t->ops->name, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		struct kvm_ioeventfd io = {
			.datamatch = i,
			.addr = t->bus.base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = t->notify_fd[i],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};

		if (ioctl(t->vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
			log_err("%s: KVM_IOEVENTFD: %s", t->ops->name,
			        strerror(errno));
			return -1;
		}
	}
	t->kvm_bound = true;
	return 0;
}

int virtio_mmio_init(struct virtio_mmio *t, struct vm *vm,
                     const struct virtio_ops *ops, void *dev, uint64_t base,
                     unsigned irq)
{
	memset(t, 0, sizeof(*t));
	t->vm = vm;
	t->ops = ops;
	t->dev = dev;
	t->irq = irq;
	t->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5);
	t->irq_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUE; i++)
		t->notify_fd[i] = -1;
	if (ops->nqueues == 0 || ops->nqueues > VIRTIO_MMIO_MAX_QUEUE)
		return -1;
	pthread_mutex_init(&t->lock, NULL);
	reset(t);
	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned i = 0; i < ops->nqueues; i++)
		t->notify_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned i = 0; i < ops->nqueues; i++)
		if (t->notify_fd[i] < 0 || t->irq_fd < 0) {
			log_err("%s: eventfd: %s", ops->name, strerror(errno));
			return -1;
		}
	t->bus = (struct bus_dev){
		.name = ops->name,
		.base = base,
		.len = VIRTIO_MMIO_SLOT,
		.opaque = t,
		.read = mmio_read,
		.write = mmio_write,
	};
	if (bus_add(&vm->mmio, &t->bus) < 0)
		return -1;
	return vm->vm_fd >= 0 ? bind_kvm(t) : 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t->ops)
		return;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUE; i++)
		if (t->notify_fd[i] >= 0)
			close(t->notify_fd[i]);
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	pthread_mutex_destroy(&t->lock);
	t->ops = NULL;
}

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&t->lock);
	s->device_id = t->ops->device_id;
	s->nqueues = t->ops->nqueues;
	s->status = t->status;
	s->dev_feat_sel = t->dev_feat_sel;
	s->drv_feat_sel = t->drv_feat_sel;
	s->drv_features = t->drv_features;
	s->queue_sel = t->queue_sel;
	s->isr = t->isr;
	s->config_gen = t->config_gen;
	for (unsigned i = 0; i < t->ops->nqueues; i++)
		s->vq[i] = t->vq[i].s;
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio_restore(struct virtio_mmio *t,
                        const struct virtio_mmio_state *s, char *err,
                        size_t errlen)
{
	int rc = 0;

	if (s->device_id != t->ops->device_id ||
	    s->nqueues != t->ops->nqueues) {
		snprintf(err, errlen,
		         "%s: the snapshot has a device of type %u with %u "
		         "queues here",
		         t->ops->name, s->device_id, s->nqueues);
		return -1;
	}
	if (s->drv_features & ~virtio_mmio_offered(t)) {
		snprintf(err, errlen,
		         "%s: the snapshot's driver accepted features this "
		         "device does not offer (0x%llx)",
		         t->ops->name,
		         (unsigned long long)(s->drv_features &
		                              ~virtio_mmio_offered(t)));
		return -1;
	}
	/* Bytes from a file, not C bools yet: loading a 2 as bool is UB. */
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		uint8_t ready, valid;

		memcpy(&ready, &s->vq[i].ready, 1);
		memcpy(&valid, &s->vq[i].signalled_valid, 1);
		if (ready > 1 || valid > 1) {
			snprintf(err, errlen,
			         "%s: queue %u: a flag is %u, not 0 or 1",
			         t->ops->name, i, ready > 1 ? ready : valid);
			return -1;
		}
	}
	pthread_mutex_lock(&t->lock);
	t->status = s->status;
	t->dev_feat_sel = s->dev_feat_sel;
	t->drv_feat_sel = s->drv_feat_sel;
	t->drv_features = s->drv_features;
	t->queue_sel = s->queue_sel;
	t->isr = s->isr;
	t->config_gen = s->config_gen;
	for (unsigned i = 0; i < t->ops->nqueues; i++) {
		struct vq *q = &t->vq[i];

		vq_reset(q, VQ_MAX_SIZE);
		q->s = s->vq[i];
		q->indirect =
		        t->drv_features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
		q->event_idx =
		        t->drv_features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
		if (!q->s.ready)
			continue;
		q->s.ready = false;
		if (vq_activate(q, t->vm) < 0) {
			snprintf(err, errlen, "%s: queue %u: %s", t->ops->name,
			         i, q->error);
			rc = -1;
			break;
		}
		q->s.ready = true;
	}
	if (!rc && (t->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(t->status & VIRTIO_CONFIG_S_NEEDS_RESET) && t->ops->activate &&
	    t->ops->activate(t) < 0) {
		snprintf(err, errlen, "%s: cannot start the device again",
		         t->ops->name);
		rc = -1;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int virtio_mmio_cmdline(const struct virtio_mmio *t, char *buf, size_t len)
{
	int n = snprintf(buf, len, "virtio_mmio.device=4K@0x%llx:%u",
	                 (unsigned long long)t->bus.base, t->irq);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}
