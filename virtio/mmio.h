/*
 * virtio-mmio transport (virtio 1.2, 4.2.2; register layout version 2).
 *
 * The transport owns the registers, feature negotiation, the status state
 * machine, queue setup, notifications and interrupts; a device is a const
 * table of operations plus its own state and never knows it sits on MMIO.
 *
 * Threads: registers are accessed from vCPU threads, queues are served on
 * the event loop. A queue notification reaches the event loop through an
 * eventfd (bound by KVM_IOEVENTFD to the QueueNotify register, so the
 * guest's write does not even leave the kernel); interrupts leave through
 * an eventfd bound by KVM_IRQFD to the device's IRQ line. A mutex guards
 * the transport and device state between the two sides.
 */
#ifndef WISP_VIRTIO_MMIO_H
#define WISP_VIRTIO_MMIO_H

#include "bus.h"
#include "queue.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_MMIO_SLOT      0x1000 /* bytes of MMIO space per device */
#define VIRTIO_MMIO_MAX_QUEUE 4
#define VIRTIO_VENDOR_ID      0x57495350 /* "WISP" */

struct virtio_mmio;

struct virtio_ops {
	const char *name;
	uint32_t device_id;
	unsigned nqueues;
	uint64_t features; /* device-specific bits; VERSION_1 etc. added */
	/* Device configuration space (offset from 0x100), under the lock. */
	void (*config_read)(struct virtio_mmio *t, uint64_t off, uint8_t *data,
	                    uint32_t size);
	void (*config_write)(struct virtio_mmio *t, uint64_t off,
	                     const uint8_t *data, uint32_t size);
	/* DRIVER_OK was set: queues are ready to serve. 0 or -1. */
	int (*activate)(struct virtio_mmio *t);
	/* The driver reset the device: drop every request in flight. */
	void (*reset)(struct virtio_mmio *t);
	/* Queue @q was notified; called on the event loop, under the lock. */
	void (*queue_notify)(struct virtio_mmio *t, unsigned q);
};

struct virtio_mmio {
	struct bus_dev bus;
	struct vm *vm;
	const struct virtio_ops *ops;
	void *dev;
	unsigned irq;
	pthread_mutex_t lock;

	/* Registers (plain data, saved by snapshots). */
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel;
	uint64_t drv_features;
	uint32_t queue_sel;
	uint32_t isr;
	uint32_t config_gen;
	uint64_t withheld; /* device features this instance does not offer */
	/*
	 * Queue register writes outside setup, ignored (queue_writable);
	 * the vCPU adds under the lock, metrics read it atomically.
	 */
	uint64_t queue_writes_ignored;
	uint64_t queue_writes_reported; /* at the last metrics line */
	struct vq vq[VIRTIO_MMIO_MAX_QUEUE];

	int irq_fd;                           /* KVM_IRQFD, or polled */
	int notify_fd[VIRTIO_MMIO_MAX_QUEUE]; /* KVM_IOEVENTFD, or written */
	bool kvm_bound;
	struct log_ratelimit rl;
};

/*
 * Set up a device at @base (VIRTIO_MMIO_SLOT bytes) on @irq and register
 * it on the MMIO bus. With a real VM (vm->vm_fd >= 0) the notify and
 * interrupt eventfds are bound to KVM. Returns 0 or -1 (logged).
 */
int virtio_mmio_init(struct virtio_mmio *t, struct vm *vm,
                     const struct virtio_ops *ops, void *dev, uint64_t base,
                     unsigned irq);
void virtio_mmio_destroy(struct virtio_mmio *t);

/* All features the device offers: the device's plus the transport's. */
uint64_t virtio_mmio_offered(const struct virtio_mmio *t);

/*
 * The device's configuration space changed (a drive's new size, say):
 * bump the generation and tell a running driver. Takes the lock.
 */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* The same with the lock held, in the critical section that changed the
 * configuration: a driver reading generation, fields, generation on
 * another vCPU never sees a torn change under an unchanged generation. */
void virtio_mmio_config_changed_locked(struct virtio_mmio *t);

/* Serve queue @q after its notify eventfd fired (event loop). */
void virtio_mmio_notify(struct virtio_mmio *t, unsigned q);

/* Raise the used-buffer interrupt (caller holds the lock). */
void virtio_mmio_signal_used(struct virtio_mmio *t);

/*
 * Chains a device serves from one notification before it gives the
 * event loop back: a guest that keeps its ring full must not hold the
 * loop (and with it the API, signals and the other devices). A device
 * that stops at the budget calls virtio_mmio_kick() to be called again
 * after the loop's other work.
 */
#define VIRTIO_MMIO_BUDGET 256

/* Serve queue @q again from the event loop, as if the guest notified;
 * -1 when the eventfd could not be written (logged, rate-limited). */
int virtio_mmio_kick(struct virtio_mmio *t, unsigned q);

/*
 * The driver broke the protocol (a bad ring, say): set DEVICE_NEEDS_RESET,
 * send a configuration interrupt, log @why (rate-limited) and serve
 * nothing until the driver resets the device. The VM goes on.
 */
void virtio_mmio_needs_reset(struct virtio_mmio *t, const char *why);

/* The transport's registers and queues, as a snapshot keeps them. */
struct virtio_mmio_state {
	uint32_t device_id, nqueues;
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel;
	uint64_t drv_features;
	uint32_t queue_sel;
	uint32_t isr;
	uint32_t config_gen;
	uint32_t pad;
	struct vq_state vq[VIRTIO_MMIO_MAX_QUEUE];
};

/* Take the state (under the lock; the device is quiet, the VM paused). */
void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s);

/*
 * Give a freshly made transport @t the state @s: registers, negotiated
 * ring features, queues mapped again (each ring checked as QueueReady
 * checks it) and, for a driver that had said DRIVER_OK, the device
 * activated. Returns 0, or -1 with the reason in @err (a state for
 * another kind of device, a ring outside guest RAM).
 */
int virtio_mmio_restore(struct virtio_mmio *t,
                        const struct virtio_mmio_state *s, char *err,
                        size_t errlen);

/* The kernel command-line word that announces the device to Linux. */
int virtio_mmio_cmdline(const struct virtio_mmio *t, char *buf, size_t len);

#endif
