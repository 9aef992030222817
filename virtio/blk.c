#include "blk.h"
#include "iov.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR       512ULL
#define HDR_SIZE     16
#define DISCARD_SIZE 16 /* struct virtio_blk_discard_write_zeroes */

/*
 * The data of a request: @in[0..@cnt) without its first @skip bytes (the
 * header) and its last @trim (the status), into @out; @len its size.
 */
static unsigned data_iov(const struct iovec *in, unsigned cnt, size_t skip,
                         size_t trim, struct iovec *out, uint64_t *len)
{
	uint64_t all = iov_len(in, cnt);

	*len = all > skip + trim ? all - skip - trim : 0;
	return iov_slice(in, cnt, skip, *len, out);
}

/* Put the request on the used ring; the caller publishes the batch. */
static void finish(struct blk *b, struct blk_req *r, uint8_t status)
{
	struct vq *q = &b->t.vq[0];

	*r->status = status;
	vm_mark_dirty(b->t.vm, r->status, 1);
	/* What a read brought into guest RAM (the dirty log for snapshots). */
	if (r->reads && status == VIRTIO_BLK_S_OK)
		vm_mark_dirty_iov(b->t.vm, r->iov, r->niov, r->expect);
	vq_push(q, r->head, status == VIRTIO_BLK_S_OK ? r->written : 1);
	r->busy = false;
}

static void publish(struct blk *b)
{
	if (vq_publish(&b->t.vq[0]))
		virtio_mmio_signal_used(&b->t);
}

/* After a batch of completions: one used-index update, one interrupt. */
static void on_flush(struct uring_flush *f)
{
	struct blk *b = container_of(f, struct blk, flush);

	pthread_mutex_lock(&b->t.lock);
	publish(b);
	pthread_mutex_unlock(&b->t.lock);
}

/* Serve the queue again soon, from the event loop's notify handler. */
static void blk_kick(struct blk *b)
{
	uint64_t one = 1;

	if (write(b->t.notify_fd[0], &one, sizeof(one)) < 0)
		log_limited(&b->t.rl, LOG_WARN, "drive: kick: %s",
		            strerror(errno));
}

static void on_done(struct uring_req *ur, int res)
{
	struct blk_req *r = (struct blk_req *)ur;
	struct blk *b = r->blk;

	pthread_mutex_lock(&b->t.lock);
	b->inflight--;
	if (!vq_current(&b->t.vq[0], r->gen)) {
		/* The driver reset the device meanwhile: the request and the
		 * ring it came from are gone. */
		r->busy = false;
		/* A new request for the same head waits for this one. */
		if (b->holding && b->held.head == r->head)
			blk_kick(b);
	} else {
		finish(b, r,
		       res >= 0 && (uint64_t)res == r->expect
		               ? VIRTIO_BLK_S_OK
		               : VIRTIO_BLK_S_IOERR);
		uring_defer(b->uring, &b->flush);
	}
	pthread_mutex_unlock(&b->t.lock);
}

/* Sector range [sector, +bytes) inside the image? */
static bool in_image(const struct blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t off, end;

	if (sector > UINT64_MAX / SECTOR)
		return false;
	off = sector * SECTOR;
	return util_add_ok(off, bytes, &end) && end <= b->size;
}

/* Queue the host operation for @r; returns a status when done at once. */
static int start(struct blk *b, struct blk_req *r, uint32_t type,
                 uint64_t sector, const struct vq_chain *c)
{
	struct io_uring_sqe *sqe;
	uint64_t len;
	bool wr = type == VIRTIO_BLK_T_OUT;

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		/*
		 * The data must go the way the request says: a read's buffers
		 * device-writable (after the header, nothing readable), a
		 * write's device-readable (before the status, nothing
		 * writable but the status). Otherwise it would be answered as a
		 * success that moved no data.
		 */
		if (wr ? c->nin != 1 : c->out_len != HDR_SIZE)
			return VIRTIO_BLK_S_IOERR;
		if (wr)
			r->niov = data_iov(c->iov, c->nout, HDR_SIZE, 0, r->iov,
			                   &len);
		else
			r->niov = data_iov(c->iov + c->nout, c->nin, 0, 1,
			                   r->iov, &len);
		r->reads = !wr;
		if (wr && b->read_only)
			return VIRTIO_BLK_S_IOERR;
		if (len % SECTOR || !in_image(b, sector, len))
			return VIRTIO_BLK_S_IOERR;
		r->expect = len;
		r->written = wr ? 1 : (uint32_t)len + 1;
		if (wr) {
			b->stats.write_count++;
			b->stats.write_bytes += len;
		} else {
			b->stats.read_count++;
			b->stats.read_bytes += len;
		}
		if (!len)
			return VIRTIO_BLK_S_OK;
		sqe = uring_sqe(b->uring, &r->ur);
		if (!sqe)
			return VIRTIO_BLK_S_IOERR;
		if (wr)
			io_uring_prep_writev(sqe, b->slot, r->iov, r->niov,
			                     sector * SECTOR);
		else
			io_uring_prep_readv(sqe, b->slot, r->iov, r->niov,
			                    sector * SECTOR);
		uring_prep_fixed(sqe);
		return -1;
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flush_count++;
		if (b->read_only)
			return VIRTIO_BLK_S_OK;
		r->expect = 0;
		r->written = 1;
		sqe = uring_sqe(b->uring, &r->ur);
		if (!sqe)
			return VIRTIO_BLK_S_IOERR;
		io_uring_prep_fsync(sqe, b->slot, IORING_FSYNC_DATASYNC);
		uring_prep_fixed(sqe);
		return -1;
	case VIRTIO_BLK_T_GET_ID: {
		struct iovec out[VQ_MAX_SEGS];
		unsigned n =
		        data_iov(c->iov + c->nout, c->nin, 0, 1, out, &len);
		size_t k = MIN(len, (uint64_t)BLK_ID_LEN);

		iov_copy_to(out, n, 0, b->id, k);
		vm_mark_dirty_iov(b->t.vm, out, n, k);
		r->written = (uint32_t)k + 1;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct iovec seg[VQ_MAX_SEGS];
		uint8_t d[DISCARD_SIZE];
		uint64_t s_sector;
		uint32_t s_num, s_flags;
		unsigned n = data_iov(c->iov, c->nout, HDR_SIZE, 0, seg, &len);
		int mode;

		/* We offer one segment per request (max_*_seg = 1). */
		if (b->read_only || len != DISCARD_SIZE ||
		    !iov_copy_from(seg, n, 0, d, sizeof(d)))
			return VIRTIO_BLK_S_IOERR;
		memcpy(&s_sector, d, 8);
		memcpy(&s_num, d + 8, 4);
		memcpy(&s_flags, d + 12, 4);
		/* A flag the device does not know, or UNMAP on a DISCARD:
		 * UNSUPP (virtio 1.2, 5.2.6.2). */
		if (s_flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
		    (type == VIRTIO_BLK_T_DISCARD && s_flags)) {
			r->written = 1;
			return VIRTIO_BLK_S_UNSUPP;
		}
		if (!in_image(b, s_sector, (uint64_t)s_num * SECTOR))
			return VIRTIO_BLK_S_IOERR;
		mode = FALLOC_FL_KEEP_SIZE |
		       (type == VIRTIO_BLK_T_DISCARD ||
		                        (s_flags &
		                         VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		                ? FALLOC_FL_PUNCH_HOLE
		                : FALLOC_FL_ZERO_RANGE);
		r->expect = 0;
		r->written = 1;
		sqe = uring_sqe(b->uring, &r->ur);
		if (!sqe)
			return VIRTIO_BLK_S_IOERR;
		io_uring_prep_fallocate(sqe, b->slot, mode, s_sector * SECTOR,
		                        (uint64_t)s_num * SECTOR);
		uring_prep_fixed(sqe);
		return -1;
	}
	default:
		r->written = 1;
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Keep chain @c for later (a limiter or a stale request in the way). */
static void hold(struct blk *b, const struct vq_chain *c)
{
	if (c != &b->held)
		memcpy(&b->held, c, sizeof(*c));
	b->holding = true;
}

/* Take one chain; false when the device had to stop. */
static bool take(struct blk *b, const struct vq_chain *c, bool *completed)
{
	struct blk_req *r = &b->req[c->head];
	struct iovec *last;
	uint8_t hdr[HDR_SIZE];
	uint32_t type;
	uint64_t sector;
	int st;

	if (r->busy && vq_current(&b->t.vq[0], r->gen)) {
		virtio_mmio_needs_reset(&b->t, "request head reused in flight");
		return false;
	}
	if (r->busy) {
		/*
		 * A request from before a reset still holds the head's slot
		 * (its completion will come back to it): a driver may post
		 * the head again at once. The chain waits for that
		 * completion, which kicks the queue.
		 */
		hold(b, c);
		return false;
	}
	last = c->nin ? (struct iovec *)&c->iov[c->nout + c->nin - 1] : NULL;
	if (!last || !last->iov_len ||
	    !iov_copy_from(c->iov, c->nout, 0, hdr, sizeof(hdr))) {
		virtio_mmio_needs_reset(&b->t,
		                        "request without header or status");
		return false;
	}
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	if (rl_active(&b->rl) && b->timer.fd >= 0) {
		uint64_t now = rl_now_ns();
		uint64_t bytes = type == VIRTIO_BLK_T_IN ? c->in_len - 1
		                 : type == VIRTIO_BLK_T_OUT
		                         ? c->out_len - HDR_SIZE
		                         : 0;

		if (!rl_consume(&b->rl, bytes, 1, now)) {
			b->stats.rate_limiter_throttled_events++;
			hold(b, c);
			rl_timer_arm(&b->timer,
			             rl_wait_ns(&b->rl, bytes, 1, now));
			return false;
		}
	}
	*r = (struct blk_req){
		.ur.done = on_done,
		.blk = b,
		.busy = true,
		.head = c->head,
		.gen = vq_gen(&b->t.vq[0]),
		.status = (uint8_t *)last->iov_base + last->iov_len - 1,
	};
	st = start(b, r, type, sector, c);
	if (st == VIRTIO_BLK_S_IOERR || st == VIRTIO_BLK_S_UNSUPP)
		b->stats.invalid_reqs_count++;
	if (st >= 0) {
		finish(b, r, (uint8_t)st);
		*completed = true;
	} else {
		b->inflight++;
	}
	return true;
}

static void blk_notify(struct virtio_mmio *t, unsigned qi)
{
	struct blk *b = t->dev;
	struct vq *q = &t->vq[qi];
	bool completed = false;

	/* A throttled request goes first, or nothing does. */
	if (b->holding) {
		b->holding = false;
		if (!take(b, &b->held, &completed))
			goto out;
	}
	for (unsigned n = 0;; n++) {
		enum vq_pop_result res;

		if (n == VIRTIO_MMIO_BUDGET) {
			virtio_mmio_kick(t, qi);
			break;
		}
		res = vq_pop(q, t->vm, &b->chain);
		if (res == VQ_BROKEN) {
			virtio_mmio_needs_reset(t, q->error);
			break;
		}
		if (res == VQ_EMPTY) {
			if (!vq_enable_notify(q))
				break;
			continue;
		}
		if (!take(b, &b->chain, &completed))
			break;
	}
out:
	/* The caller's uring_run() sends what was queued. */
	if (completed)
		publish(b);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct blk *b = h->opaque;

	rl_timer_ack(&b->timer);
	virtio_mmio_notify(&b->t, 0);
	uring_run(b->uring);
}

static void blk_config_read(struct virtio_mmio *t, uint64_t off, uint8_t *data,
                            uint32_t size)
{
	struct blk *b = t->dev;

	if (off < sizeof(b->cfg) && size <= sizeof(b->cfg) - off)
		memcpy(data, (uint8_t *)&b->cfg + off, size);
}

static void blk_reset(struct virtio_mmio *t)
{
	struct blk *b = t->dev;

	/* Requests in flight finish into guest RAM (still mapped) but are
	 * not reported: the queue's generation no longer matches. */
	if (b)
		b->holding = false;
}

static const struct virtio_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
	            (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
	            (1ULL << VIRTIO_BLK_F_FLUSH) |
	            (1ULL << VIRTIO_BLK_F_DISCARD) |
	            (1ULL << VIRTIO_BLK_F_WRITE_ZEROES),
	.config_read = blk_config_read,
	.reset = blk_reset,
	.queue_notify = blk_notify,
};

static const struct virtio_ops blk_ro_ops = {
	.name = "virtio-blk (read-only)",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
	            (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
	            (1ULL << VIRTIO_BLK_F_FLUSH) | (1ULL << VIRTIO_BLK_F_RO),
	.config_read = blk_config_read,
	.reset = blk_reset,
	.queue_notify = blk_notify,
};

/* Open @path as @b's mode says; its usable size goes to @size. */
static int open_image(const struct blk *b, const char *path, uint64_t *size,
                      char *err, size_t errlen)
{
	int fd = open(path, (b->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
	                            (b->direct ? O_DIRECT : 0));
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "drive '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "drive '%s': not a file or block device",
		         path);
		close(fd);
		return -1;
	}
	*size = ALIGN_DOWN((uint64_t)st.st_size, SECTOR);
	return fd;
}

int blk_init(struct blk *b, struct vm *vm, struct uring *u,
             const struct blk_options *o, uint64_t base, unsigned irq,
             char *err, size_t errlen)
{
	const char *id = o->id ? o->id : o->path;

	memset(b, 0, sizeof(*b));
	b->timer.fd = -1;
	b->slot = -1;
	b->flush.fn = on_flush;
	b->uring = u;
	b->read_only = o->read_only;
	b->direct = o->direct;
	b->fd = open_image(b, o->path, &b->size, err, errlen);
	if (b->fd < 0)
		return -1;
	/* The ring reaches the image only through its file table. */
	b->slot = uring_file_add(u, b->fd);
	if (b->slot < 0) {
		snprintf(err, errlen, "drive '%s': io_uring: %s", o->path,
		         strerror(-b->slot));
		return -1;
	}
	/* The last 20 bytes of the path: unique enough, as QEMU does. The
	 * field is 20 bytes, NUL-padded only when the id is shorter. */
	memset(b->id, 0, sizeof(b->id));
	memcpy(b->id,
	       strlen(id) > BLK_ID_LEN ? id + strlen(id) - BLK_ID_LEN : id,
	       MIN(strlen(id), (size_t)BLK_ID_LEN));
	b->cfg.capacity = b->size / SECTOR;
	b->cfg.seg_max = BLK_SEG_MAX;
	b->cfg.blk_size = SECTOR;
	b->cfg.max_discard_sectors = UINT32_MAX;
	b->cfg.max_discard_seg = 1;
	b->cfg.discard_sector_alignment = 8;
	b->cfg.max_write_zeroes_sectors = UINT32_MAX;
	b->cfg.max_write_zeroes_seg = 1;
	b->cfg.write_zeroes_may_unmap = 1;
	if (virtio_mmio_init(&b->t, vm, o->read_only ? &blk_ro_ops : &blk_ops,
	                     b, base, irq) < 0) {
		snprintf(err, errlen, "drive '%s': cannot attach the device",
		         o->path);
		return -1;
	}
	if (o->no_flush)
		b->t.withheld = 1ULL << VIRTIO_BLK_F_FLUSH;
	if (o->loop) {
		b->loop = o->loop;
		if (o->rl)
			rl_configure(&b->rl, o->rl, rl_now_ns());
		if (rl_timer_init(&b->timer) < 0)
			goto no_timer;
		b->h_timer = (struct ev_handler){ b->timer.fd, on_timer, b };
		if (evloop_add(o->loop, &b->h_timer, EPOLLIN) < 0)
			goto no_timer;
	}
	return 0;
no_timer:
	snprintf(err, errlen, "drive '%s': no rate limiter timer", o->path);
	return -1;
}

void blk_set_rate_limiter(struct blk *b, const struct rate_limiter_config *rl)
{
	pthread_mutex_lock(&b->t.lock);
	rl_configure(&b->rl, rl, rl_now_ns());
	pthread_mutex_unlock(&b->t.lock);
	/* A request held under the old limits may go now: look again. */
	blk_kick(b);
}

int blk_set_path(struct blk *b, const char *path, char *err, size_t errlen)
{
	uint64_t size;
	int fd = open_image(b, path, &size, err, errlen);

	if (fd < 0)
		return -1;
	/*
	 * dup3 swaps the file under the same descriptor number at once;
	 * io_uring requests already submitted hold the old file.
	 */
	if (dup3(fd, b->fd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "drive '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	/* The ring's table still holds the old file: point it at the new. */
	if (uring_file_set(b->uring, b->slot, b->fd) < 0) {
		snprintf(err, errlen,
		         "drive '%s': io_uring: cannot switch "
		         "to the new file",
		         path);
		return -1;
	}
	pthread_mutex_lock(&b->t.lock);
	b->size = size;
	b->cfg.capacity = size / SECTOR;
	virtio_mmio_config_changed_locked(&b->t);
	pthread_mutex_unlock(&b->t.lock);
	return 0;
}

void blk_save(struct blk *b, struct blk_snap *s)
{
	pthread_mutex_lock(&b->t.lock);
	*s = (struct blk_snap){ .holding = b->holding,
		                .held_head = b->holding ? b->held.head : 0 };
	pthread_mutex_unlock(&b->t.lock);
}

int blk_restore(struct blk *b, const struct blk_snap *s, char *err,
                size_t errlen)
{
	int rc = 0;

	if (!s->holding)
		return 0;
	pthread_mutex_lock(&b->t.lock);
	if (s->held_head > UINT16_MAX ||
	    vq_chain_at(&b->t.vq[0], b->t.vm, (uint16_t)s->held_head,
	                &b->held) < 0) {
		snprintf(err, errlen, "drive: the throttled request: %s",
		         b->t.vq[0].error ? b->t.vq[0].error : "bad head");
		rc = -1;
	} else {
		b->holding = true;
		if (b->timer.fd >= 0)
			rl_timer_arm(&b->timer, 1);
	}
	pthread_mutex_unlock(&b->t.lock);
	return rc;
}

void blk_destroy(struct blk *b)
{
	if (b->h_timer.cb)
		evloop_del(b->loop, &b->h_timer);
	b->h_timer.cb = NULL;
	rl_timer_destroy(&b->timer);
	virtio_mmio_destroy(&b->t);
	if (b->slot >= 0 && b->uring)
		uring_file_del(b->uring, b->slot);
	b->slot = -1;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}
