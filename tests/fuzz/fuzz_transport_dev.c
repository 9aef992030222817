/*
 * The devices fuzz_transport drives, each with its host side: blk on
 * memfd images (a drive swap to a smaller one included), net on a
 * SOCK_SEQPACKET pair standing in for the tap, vsock on Unix sockets in
 * a directory of this process. The real device code runs; only io_uring
 * is the fake one.
 */
#include "blk.h"
#include "fuzz_transport.h"
#include "metrics.h"
#include "mmds.h"
#include "net.h"
#include "vsock_conn.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Room a well-formed chain may use in its slot (the rest: indirect). */
#define ROOM (FZ_SLOT - 16 * FZ_SEGS)

static void *at_gpa(struct fz *f, uint64_t gpa)
{
	return f->vm.mem + gpa; /* the slots lie inside guest RAM */
}

/* ---- blk ---------------------------------------------------------------- */

static const uint64_t img_size[2] = { 64 * 1024, 32 * 1024 };
static int img[2] = { -1, -1 };
static char img_path[2][32];
static struct blk blk;

static int blk_up(struct fz *f)
{
	struct blk_options o = { .path = img_path[0],
		                 .read_only = f->flags & 1,
		                 .no_flush = f->flags & 2 };
	char err[256];

	for (unsigned i = 0; i < 2; i++) {
		if (img[i] >= 0)
			continue;
		img[i] = memfd_create("wisp-fuzz-img", MFD_CLOEXEC);
		if (img[i] < 0 || ftruncate(img[i], (off_t)img_size[i]) < 0)
			abort();
		snprintf(img_path[i], sizeof(img_path[i]), "/proc/self/fd/%d",
		         img[i]);
	}
	if (blk_init(&blk, &f->vm, &f->uring, &o, FZ_BASE, FZ_IRQ, err,
	             sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	f->t = &blk.t;
	return 0;
}

/* header (16), data, status: any type, sector and size */
static unsigned blk_chain(struct fz *f, struct fz_in *in, unsigned q,
                          uint64_t at, struct fz_seg *seg)
{
	static const uint32_t types[] = {
		VIRTIO_BLK_T_IN,      VIRTIO_BLK_T_OUT,
		VIRTIO_BLK_T_FLUSH,   VIRTIO_BLK_T_GET_ID,
		VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES,
		VIRTIO_BLK_T_IN,      0xff, /* unsupported */
	};
	uint8_t how = fz_u8(in);
	uint32_t type = types[how % 8];
	uint64_t sector = fz_u8(in); /* past the end of the image too */
	uint32_t dlen = (fz_u8(in) % 4) * 512u + (how & 0x80 ? 1 : 0);
	uint8_t *hdr = at_gpa(f, at);
	unsigned n = 0;

	(void)q;
	memcpy(hdr, &type, 4);
	memset(hdr + 4, 0, 4);
	memcpy(hdr + 8, &sector, 8);
	seg[n++] = (struct fz_seg){ at, 16, false };
	if (type == VIRTIO_BLK_T_GET_ID) {
		dlen = 20;
	} else if (type == VIRTIO_BLK_T_DISCARD ||
	           type == VIRTIO_BLK_T_WRITE_ZEROES) {
		uint8_t *d = at_gpa(f, at + 0x100);
		uint64_t s = fz_u8(in);
		uint32_t num = fz_u8(in), fl = fz_u8(in) & 1;

		memcpy(d, &s, 8);
		memcpy(d + 8, &num, 4);
		memcpy(d + 12, &fl, 4);
		dlen = 16;
	} else if (type == VIRTIO_BLK_T_FLUSH) {
		dlen = 0;
	}
	if (dlen && (how & 0x40) && dlen > 1) {
		/* the data in two buffers */
		bool wr =
		        type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

		seg[n++] = (struct fz_seg){ at + 0x100, dlen / 2, wr };
		seg[n++] = (struct fz_seg){ at + 0x100 + dlen / 2,
			                    dlen - dlen / 2, wr };
	} else if (dlen) {
		seg[n++] =
		        (struct fz_seg){ at + 0x100, dlen,
			                 type == VIRTIO_BLK_T_IN ||
			                         type == VIRTIO_BLK_T_GET_ID };
	}
	seg[n++] = (struct fz_seg){ at + 0x10, 1, true };
	return n;
}

static void blk_host(struct fz *f, struct fz_in *in)
{
	char err[256];

	(void)f;
	/* The drive is swapped (PATCH /drives): the small image or back. */
	blk_set_path(&blk, img_path[fz_u8(in) & 1], err, sizeof(err));
}

static void blk_check(struct fz *f)
{
	struct stat st;

	(void)f;
	for (unsigned i = 0; i < 2; i++)
		if (fstat(img[i], &st) < 0 ||
		    (uint64_t)st.st_size != img_size[i])
			abort(); /* nothing may write past the end of a drive */
}

static void blk_down(struct fz *f)
{
	(void)f;
	blk_destroy(&blk);
}

const struct fz_dev fz_blk = {
	.name = "blk",
	.init = blk_up,
	.chain = blk_chain,
	.host = blk_host,
	.check = blk_check,
	.fini = blk_down,
};

/* ---- net ---------------------------------------------------------------- */

static struct net net;
static int peer = -1;
/* The mmds counters MMDS's network stack bumps; metrics.c is not linked. */
struct metrics metrics;

static int net_up(struct fz *f)
{
	static const struct rate_limiter_config none;
	/* MMDS on the interface (flags bit 1): its frames, its cancels. */
	static struct mmds *store;
	struct net_options o = { .id = "fuzz",
		                 .rx = &none,
		                 .tx = &none,
		                 .mmds_ipv4 = MMDS_DEFAULT_IPV4 };
	char err[256];
	int sp[2];

	if (f->flags & 2) {
		if (!store && !(store = mmds_new("fuzz")))
			abort();
		o.mmds = store;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	               0, sp) < 0)
		abort();
	/* No loop: the input fires the timers (OP_HOST), not the clock. */
	if (net_attach(&net, &f->vm, &f->uring, NULL, &o, sp[0],
	               f->flags & 1 ? 9000 : 1500, FZ_BASE, FZ_IRQ, err,
	               sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	peer = sp[1];
	f->t = &net.t;
	return 0;
}

/* rx: 1 to 3 writable buffers; tx: the header and a frame */
static unsigned net_chain(struct fz *f, struct fz_in *in, unsigned q,
                          uint64_t at, struct fz_seg *seg)
{
	uint8_t how = fz_u8(in);
	uint16_t len = fz_u16(in);

	if (q == NET_RXQ) {
		unsigned n = how % 3 + 1, each = ROOM / n;

		for (unsigned i = 0; i < n; i++)
			seg[i] = (struct fz_seg){ at + i * each,
				                  how & 0x80 ? each
				                             : len % each + 1,
				                  true };
		return n;
	}
	static const uint8_t gso[] = { VIRTIO_NET_HDR_GSO_NONE,
		                       VIRTIO_NET_HDR_GSO_TCPV4,
		                       VIRTIO_NET_HDR_GSO_UDP,
		                       VIRTIO_NET_HDR_GSO_TCPV6 };
	uint8_t *h = at_gpa(f, at);
	uint32_t frame = len % (ROOM - NET_HDR_LEN);

	memset(h, 0, NET_HDR_LEN);
	h[0] = how & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h[1] = gso[how >> 1 & 3] | (how & VIRTIO_NET_HDR_GSO_ECN);
	memset(h + NET_HDR_LEN, 0xff, frame < 6 ? frame : 6); /* broadcast */
	if (how & 0x40) {
		seg[0] = (struct fz_seg){ at, NET_HDR_LEN + frame, false };
		return 1;
	}
	seg[0] = (struct fz_seg){ at, NET_HDR_LEN, false };
	seg[1] = (struct fz_seg){ at + NET_HDR_LEN, frame, false };
	return 2;
}

/* What reached the tap: each a header and a frame of sane size. */
static void peer_drain(void)
{
	static uint8_t buf[NET_HDR_LEN + NET_MAX_FRAME + 1];

	for (;;) {
		ssize_t got = recv(peer, buf, sizeof(buf), MSG_TRUNC);

		if (got < 0)
			break;
		if (got < NET_HDR_LEN + NET_ETH_HLEN ||
		    got > NET_HDR_LEN + NET_MAX_FRAME)
			abort();
	}
}

static void net_host(struct fz *f, struct fz_in *in)
{
	uint8_t what = fz_u8(in);
	size_t len;

	(void)f;
	switch (what % 4) {
	case 0: /* a frame from the host, the input's bytes */
		len = fz_u16(in) % 9100;
		len = len < in->n ? len : in->n;
		if (len)
			(void)!send(peer, in->p, len, 0);
		in->p += len;
		in->n -= len;
		break;
	case 1:
		peer_drain();
		break;
	case 2: /* a timer is due (the clock is the input's) */
		if (net.rx_timer.armed)
			net.h_rx_timer.cb(&net.h_rx_timer, 0);
		break;
	case 3:
		if (net.tx_timer.armed)
			net.h_tx_timer.cb(&net.h_tx_timer, 0);
		break;
	}
}

static void net_check(struct fz *f)
{
	(void)f;
	peer_drain();
}

static void net_down(struct fz *f)
{
	(void)f;
	net_destroy(&net); /* cancels the reads in flight, closes the tap */
	close(peer);
	peer = -1;
}

const struct fz_dev fz_net = {
	.name = "net",
	.init = net_up,
	.chain = net_chain,
	.host = net_host,
	.check = net_check,
	.fini = net_down,
};

/* ---- vsock -------------------------------------------------------------- */

#define MAXH 16
#define TOP  "/dev/shm/wisp-fuzz-transport"

static struct vsock vs;
static char uds[108];
static int lfd = -1;  /* the host's listener on port 1 (uds_1) */
static int hfd[MAXH]; /* host ends: accepted or connected */
static unsigned nh;

/* Sockets of fuzzing processes that died (a crash skips the cleanup). */
static void remove_stale(void)
{
	DIR *d = opendir(TOP);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300];
		int pid;

		if (sscanf(e->d_name, "v%d.", &pid) != 1 ||
		    (kill(pid, 0) < 0 && errno == ESRCH)) {
			snprintf(path, sizeof(path), TOP "/%s", e->d_name);
			if (e->d_name[0] != '.')
				unlink(path);
		}
	}
	if (d)
		closedir(d);
}

static int vsock_up(struct fz *f)
{
	char err[256];

	if (lfd < 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		mkdir(TOP, 0700);
		remove_stale();
		/* One name per process: fork mode runs several at once. */
		snprintf(uds, sizeof(uds), TOP "/v%d.sock", (int)getpid());
		snprintf(a.sun_path, sizeof(a.sun_path), "%s_1", uds);
		unlink(a.sun_path);
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (lfd < 0 ||
		    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    listen(lfd, 64) < 0)
			abort();
	}
	if (vsock_init(&vs, &f->vm, &f->loop, 3, uds, FZ_BASE, FZ_IRQ, err,
	               sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	f->t = &vs.t;
	return 0;
}

static uint32_t vsock_port(struct fz_in *in)
{
	uint8_t b = fz_u8(in);

	switch (b & 3) {
	case 0:
		return 1; /* the listener */
	case 1:
		return VSOCK_LOCAL_PORT0 + (b >> 2 & 3); /* host-initiated */
	case 2:
		return 1024 + (b >> 2 & 3);
	default:
		return fz_u32(in);
	}
}

/* rx: a buffer; tx: a header (any op) and payload; event: 8 bytes */
static unsigned vsock_chain(struct fz *f, struct fz_in *in, unsigned q,
                            uint64_t at, struct fz_seg *seg)
{
	uint8_t how = fz_u8(in);
	uint16_t len = fz_u16(in);
	struct vsock_hdr h;

	if (q == 0) {
		if (how & 1) {
			seg[0] = (struct fz_seg){ at, VSOCK_HDR_SIZE, true };
			seg[1] = (struct fz_seg){ at + VSOCK_HDR_SIZE,
				                  len % (ROOM - VSOCK_HDR_SIZE),
				                  true };
			return 2;
		}
		seg[0] = (struct fz_seg){ at, len % ROOM + 1, true };
		return 1;
	}
	if (q == 2) {
		seg[0] = (struct fz_seg){ at, len % 16, true };
		return 1;
	}
	/* One field after the other: the input is read in this order. */
	h = (struct vsock_hdr){ .dst_cid = VSOCK_HOST_CID,
		                .len = len % (ROOM - VSOCK_HDR_SIZE),
		                .type = VIRTIO_VSOCK_TYPE_STREAM,
		                .buf_alloc = 256 * 1024 };
	h.src_cid = how & 0x80 ? fz_u8(in) : 3;
	h.src_port = vsock_port(in);
	h.dst_port = vsock_port(in);
	if (how & 0x40)
		h.type = fz_u8(in);
	h.op = fz_u8(in) % 8;
	h.flags = fz_u8(in) & 3;
	if (how & 0x20)
		h.buf_alloc = fz_u32(in);
	if (how & 0x10)
		h.fwd_cnt = fz_u32(in);
	if (how & 8)
		h.len = fz_u32(in); /* any length, past the chain too */
	memcpy(at_gpa(f, at), &h, sizeof(h));
	seg[0] = (struct fz_seg){ at, VSOCK_HDR_SIZE, false };
	if (!(len % (ROOM - VSOCK_HDR_SIZE)))
		return 1;
	seg[1] = (struct fz_seg){ at + VSOCK_HDR_SIZE,
		                  len % (ROOM - VSOCK_HDR_SIZE), false };
	return 2;
}

static void keep(int fd)
{
	if (fd < 0)
		return;
	if (nh < MAXH)
		hfd[nh++] = fd;
	else
		close(fd);
}

static void vsock_host(struct fz *f, struct fz_in *in)
{
	uint8_t what = fz_u8(in), b = fz_u8(in);
	int fd = nh ? hfd[b % nh] : -1;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[32], buf[4096];
	size_t len;

	(void)f;
	switch (what % 7) {
	case 0: /* a host program connects: CONNECT <port> */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", uds);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			abort();
		len = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n",
		                       b & 1 ? 1024 + (b >> 1 & 3)
		                             : fz_u32(in));
		(void)!send(fd, line, len, MSG_NOSIGNAL);
		keep(fd);
		break;
	case 1: /* the listener on port 1 takes what connected */
		while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0)
			keep(fd);
		break;
	case 2: /* a host end writes the input's bytes */
		len = fz_u8(in) * 16u;
		len = len < in->n ? len : in->n;
		if (fd >= 0 && len)
			(void)!send(fd, in->p, len, MSG_NOSIGNAL);
		in->p += len;
		in->n -= len;
		break;
	case 3:
		if (fd >= 0)
			shutdown(fd, SHUT_WR);
		break;
	case 4: /* a host end hangs up */
		if (fd >= 0) {
			close(fd);
			nh--;
			hfd[b % (nh + 1)] = hfd[nh];
		}
		break;
	case 5: /* a host end reads what came */
		while (fd >= 0 && recv(fd, buf, sizeof(buf), 0) > 0)
			;
		break;
	case 6: /* a snapshot was restored */
		vsock_transport_reset(&vs);
		break;
	}
}

static void vsock_check(struct fz *f)
{
	(void)f;
	if (vs.nconns > VSOCK_MAX_CONNS)
		abort();
}

static void vsock_down(struct fz *f)
{
	int fd;

	(void)f;
	vsock_destroy(&vs);
	while (nh)
		close(hfd[--nh]);
	while ((fd = accept4(lfd, NULL, NULL, 0)) >= 0)
		close(fd);
}

const struct fz_dev fz_vsock = {
	.name = "vsock",
	.init = vsock_up,
	.chain = vsock_chain,
	.host = vsock_host,
	.check = vsock_check,
	.fini = vsock_down,
};
