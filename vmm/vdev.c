/*
 * The device manager: the registry of device types, slots and IRQs, the
 * command line's announcement of the devices, and building, serving and
 * tearing down the VM's devices (see vdev.h).
 */
#include "vdev.h"
#include "log.h"
#include "util.h"
#include "vmm.h"

#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Adding a device type: its *_vdev.c and one line here. */
const struct vdev_type *const vdev_types[] = {
	&vdev_blk, &vdev_net, &vdev_vsock, &vdev_rng, NULL,
};

unsigned vdev_count(const struct config *c)
{
	unsigned n = 0;

	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++)
		n += (*ty)->count(c);
	return n;
}

int vdev_cmdline(struct config *c, char *out, size_t len, char *err,
                 size_t errlen)
{
	const char *user = c->cmdline ? c->cmdline : CONFIG_DEFAULT_CMDLINE;
	unsigned total = vdev_count(c);
	size_t off = 0;

	out[0] = '\0';
	if (total > VMM_MAX_VIRTIO) {
		snprintf(err, errlen,
		         "%u virtio devices configured: at most %u fit the "
		         "I/O APIC",
		         total, VMM_MAX_VIRTIO);
		return -1;
	}
	for (unsigned n = 0; n < total; n++)
		off += (size_t)snprintf(
		        out + off, len - off,
		        "%svirtio_mmio.device=4K@0x%llx:%u", off ? " " : "",
		        (unsigned long long)VDEV_BASE(n), VDEV_IRQ(n));
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		if (!(*ty)->count(c) || !(*ty)->boot_args)
			continue;
		off = strlen(out);
		if ((*ty)->boot_args(c, user, out + off, len - off, err,
		                     errlen) < 0)
			return -1;
	}
	return 0;
}

int vdev_build(struct vmm *m, char *err, size_t errlen)
{
	bool uring = false;

	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++)
		uring |= (*ty)->uring && (*ty)->count(&m->cfg);
	if (uring && uring_init(&m->uring, 2 * VQ_MAX_SIZE) < 0) {
		snprintf(err, errlen,
		         "io_uring: cannot set up (is io_uring disabled?)");
		return -1;
	}
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		for (unsigned i = 0; i < (*ty)->count(&m->cfg); i++) {
			unsigned n = m->nvdev;
			struct vdev_env env = {
				.vm = &m->vm,
				.uring = &m->uring,
				.loop = &m->loop,
				.cfg = &m->cfg,
				.vm_id = m->id,
				.mmds = m->mmds,
				.base = VDEV_BASE(n),
				.irq = VDEV_IRQ(n),
			};
			struct virtio_mmio *t;

			if (n == VMM_MAX_VIRTIO) {
				snprintf(err, errlen,
				         "too many virtio devices (at most %u)",
				         VMM_MAX_VIRTIO);
				return -1;
			}
			t = (*ty)->create(&env, i, err, errlen);
			if (!t)
				return -1;
			m->vdev[m->nvdev++] = (struct vdev){ .type = *ty,
				                             .t = t,
				                             .index = i };
		}
	}
	/* Every drive and tap is in the ring's table: lock it down. */
	if (m->uring.ready && uring_lock(&m->uring) < 0) {
		snprintf(err, errlen, "io_uring: cannot restrict the ring");
		return -1;
	}
	return 0;
}

void vdev_teardown(struct vmm *m)
{
	for (unsigned n = 0; n < m->nvdev; n++) {
		for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUE; q++) {
			struct vq_watch *w = &m->vq_watch[n][q];

			if (w->h.cb)
				evloop_del(&m->loop, &w->h);
			w->h.cb = NULL;
		}
	}
	for (unsigned n = 0; n < m->nvdev; n++)
		m->vdev[n].type->destroy(m->vdev[n].t);
	m->nvdev = 0;
	if (m->h_uring.cb)
		evloop_del(&m->loop, &m->h_uring);
	m->h_uring.cb = NULL;
	uring_destroy(&m->uring);
	m->uring.efd = -1;
}

static void on_vq_notify(struct ev_handler *h, uint32_t events)
{
	struct vq_watch *w = container_of(h, struct vq_watch, h);
	struct vmm *m = h->opaque;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) == sizeof(n))
		virtio_mmio_notify(w->t, w->q);
	/* Send what the queue drain asked for, run what completes at once. */
	uring_run(&m->uring);
}

static void on_uring(struct ev_handler *h, uint32_t events)
{
	uring_run(h->opaque);
}

int vdev_attach(struct vmm *m)
{
	for (unsigned n = 0; n < m->nvdev; n++) {
		struct virtio_mmio *t = m->vdev[n].t;

		for (unsigned q = 0; q < t->ops->nqueues; q++) {
			struct vq_watch *w = &m->vq_watch[n][q];

			*w = (struct vq_watch){
				.h = { t->notify_fd[q], on_vq_notify, m },
				.t = t,
				.q = q,
			};
			if (evloop_add(&m->loop, &w->h, EPOLLIN) < 0)
				return -1;
		}
	}
	if (m->uring.ready) {
		m->h_uring = (struct ev_handler){ m->uring.efd, on_uring,
			                          &m->uring };
		if (evloop_add(&m->loop, &m->h_uring, EPOLLIN) < 0)
			return -1;
	}
	return 0;
}

struct virtio_mmio *vdev_find(struct vmm *m, const struct vdev_type *type,
                              unsigned index)
{
	for (unsigned n = 0; n < m->nvdev; n++)
		if (m->vdev[n].type == type && m->vdev[n].index == index)
			return m->vdev[n].t;
	return NULL;
}

void vdev_quiesce(struct vmm *m, bool on)
{
	for (unsigned n = 0; n < m->nvdev; n++)
		if (m->vdev[n].type->quiesce)
			m->vdev[n].type->quiesce(m->vdev[n].t, on);
}

unsigned vdev_filter_fds(struct vmm *m, int *fds)
{
	unsigned k = 0;

	for (unsigned n = 0; n < m->nvdev; n++) {
		int fd = m->vdev[n].type->filter_fd
		                 ? m->vdev[n].type->filter_fd(m->vdev[n].t)
		                 : -1;

		if (fd >= 0)
			fds[k++] = fd;
	}
	return k;
}

void vdev_exit_cleanup(struct vmm *m)
{
	for (unsigned n = 0; n < m->nvdev; n++)
		if (m->vdev[n].type->exit_cleanup)
			m->vdev[n].type->exit_cleanup(m->vdev[n].t);
}
