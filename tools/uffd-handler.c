/*
 * uffd-handler: serve a VM's guest memory from a snapshot memory file,
 * page by page as the guest touches it, through userfaultfd.
 *
 *	uffd-handler SOCKET MEMFILE
 *
 * Start it, then load the snapshot with a Uffd memory backend at SOCKET.
 * It serves one VM and exits when that VM's process does. It is written
 * as the example to start from (prefetching, sharing one memory file
 * between clones, fetching pages over the network ...), so the protocol,
 * Firecracker's (docs/snapshotting/handling-page-faults-on-snapshot-
 * resume.md there, vmm/uffd.h here), is told along the code:
 *
 * 1. The handler listens on SOCKET and maps MEMFILE privately, read-only.
 * 2. The VMM maps guest memory anonymous, registers it with a new
 *    userfaultfd for missing pages, connects and sends one message: a
 *    JSON array of regions {base_host_virt_addr, size, offset, page_size}
 *    with the userfaultfd as SCM_RIGHTS. Nothing else is said on the
 *    socket.
 * 3. The first touch of a page in the VMM (by a vCPU, by KVM, by a
 *    device) sleeps and queues a UFFD_EVENT_PAGEFAULT naming the address.
 *    The handler copies the whole page holding it (4 KiB, or 2 MiB on
 *    hugetlbfs) from MEMFILE at offset + (page - base) with UFFDIO_COPY,
 *    which maps it into the VMM and wakes whoever sleeps on it.
 * 4. Non-cooperative events come only if the VMM asked for them:
 *    UFFD_EVENT_REMOVE (madvise(MADV_DONTNEED) of a range, as Firecracker
 *    does for the balloon): those pages are gone and a later fault must
 *    get zeros, not the file; UNMAP, REMAP and FORK likewise. While such
 *    an event is unread, UFFDIO_COPY fails with EAGAIN: the fault is
 *    retried once the events are read.
 * 5. The VMM exits. The userfaultfd does not tell (it pins the address
 *    space, not the process), so the handler watches a pidfd of the peer
 *    (SO_PEERCRED) and stops with it.
 *
 * If the handler dies, the VMM's next fault sleeps forever. When it meets
 * an error it cannot get past, it therefore kills the VMM, as
 * Firecracker's example handler does.
 *
 * Exit status: 0 when the VM's process is gone, 1 on a run-time error
 * (the VMM killed), 2 for a bad command line, MEMFILE or SOCKET.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 64
#define MAX_FDS     4  /* newer Firecrackers may send more than the uffd */
#define MSG_TIMEOUT 10 /* seconds for the VMM to send, once connected */

struct region {
	uint64_t base, size, offset, page_size;
	uint8_t *removed; /* one bit per page: serve zeros from now on */
};

struct fault {
	uint64_t addr;
	uint64_t done; /* bytes of its page already copied */
};

static struct {
	int uffd, pidfd;
	pid_t pid;
	const uint8_t *file;
	uint64_t file_size;
	const uint8_t *zeros;
	struct region r[MAX_REGIONS];
	unsigned n;
	struct fault *later; /* faults to retry after an EAGAIN */
	size_t nlater, caplater;
	bool gone; /* the VMM's address space is going away */
	uint64_t faults, copied, zeroed, present, retries, removes, unmaps;
} h = { .uffd = -1, .pidfd = -1 };

/* Fatal after the handshake: the VM could only hang, so it goes too. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "uffd-handler: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (h.pid > 0) {
		fprintf(stderr,
		        "; killing the VM (pid %d), whose memory "
		        "cannot be served\n",
		        (int)h.pid);
		if (h.pidfd < 0 ||
		    syscall(SYS_pidfd_send_signal, h.pidfd, SIGKILL, NULL, 0))
			kill(h.pid, SIGKILL);
	} else {
		fputc('\n', stderr);
	}
	exit(1);
}

/* ---- setting up ------------------------------------------------------ */

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, probe;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "uffd-handler: socket path '%s' is too long\n",
		        path);
		exit(2);
	}
	strcpy(addr.sun_path, path);
	/* A socket nobody accepts on was left by a dead handler. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&addr, sizeof(addr)) <
		            0 &&
		    errno == ECONNREFUSED)
			unlink(path);
		if (probe >= 0)
			close(probe);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 1) < 0) {
		fprintf(stderr, "uffd-handler: cannot listen on '%s': %s\n",
		        path, strerror(errno));
		exit(2);
	}
	return fd;
}

static void map_file(const char *path)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size == 0) {
		fprintf(stderr,
		        "uffd-handler: cannot use memory file '%s': %s\n", path,
		        fd < 0 ? strerror(errno)
		               : "not a regular file "
		                 "with data");
		exit(2);
	}
	/* Private: the VMM gets copies, the file never changes. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "uffd-handler: cannot map '%s': %s\n", path,
		        strerror(errno));
		exit(2);
	}
	close(fd);
	h.file = p;
	h.file_size = (uint64_t)st.st_size;
}

/* A non-negative integer member of a region object, or -1. */
static long long member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_integer(v) && json_integer_value(v) >= 0
	               ? json_integer_value(v)
	               : -1;
}

static void parse_regions(const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *a = json_loadb(buf, len, 0, &jerr), *o;
	uint64_t max_page = 0;
	size_t i;

	if (!json_is_array(a) || !json_array_size(a) ||
	    json_array_size(a) > MAX_REGIONS)
		die("the VMM's message is not a list of 1 to %d regions: %.*s",
		    MAX_REGIONS, (int)(len < 200 ? len : 200), buf);
	json_array_foreach(a, i, o)
	{
		struct region *r = &h.r[h.n++];
		long long ps = member(o, "page_size");

		/* Firecracker's older name; bytes too, KiB only if tiny. */
		if (ps < 0)
			ps = member(o, "page_size_kib");
		if (ps > 0 && ps < 4096)
			ps *= 1024;
		r->base = (uint64_t)member(o, "base_host_virt_addr");
		r->size = (uint64_t)member(o, "size");
		r->offset = (uint64_t)member(o, "offset");
		r->page_size = (uint64_t)ps;
		if (member(o, "base_host_virt_addr") < 0 ||
		    member(o, "size") <= 0 || member(o, "offset") < 0 ||
		    ps < 4096 || (ps & (ps - 1)) || r->base % r->page_size ||
		    r->size % r->page_size || r->offset % 4096)
			die("region %zu is not whole aligned pages: %.*s", i,
			    (int)(len < 200 ? len : 200), buf);
		if (r->offset > h.file_size ||
		    r->size > h.file_size - r->offset)
			die("region %zu wants [0x%llx, +0x%llx) of the memory "
			    "file, which has 0x%llx bytes",
			    i, (unsigned long long)r->offset,
			    (unsigned long long)r->size,
			    (unsigned long long)h.file_size);
		for (unsigned k = 0; k + 1 < h.n; k++)
			if (r->base < h.r[k].base + h.r[k].size &&
			    h.r[k].base < r->base + r->size)
				die("regions %u and %zu overlap", k, i);
		r->removed = calloc(r->size / r->page_size / 8 + 1, 1);
		if (!r->removed)
			die("out of memory");
		if (r->page_size > max_page)
			max_page = r->page_size;
	}
	json_decref(a);
	h.zeros = mmap(NULL, max_page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (h.zeros == MAP_FAILED)
		die("cannot map %llu bytes of zeros: %s",
		    (unsigned long long)max_page, strerror(errno));
}

/* Step 2: the one message, and the peer's identity. */
static void receive(int conn)
{
	struct timeval tv = { .tv_sec = MSG_TIMEOUT };
	union {
		struct cmsghdr c;
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	} ctl;
	static char buf[65536];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov,
		              .msg_iovlen = 1,
		              .msg_control = ctl.buf,
		              .msg_controllen = sizeof(ctl.buf) };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct cmsghdr *c;
	ssize_t n;
	int nfds = 0, fds[MAX_FDS];

	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		die("SO_PEERCRED: %s", strerror(errno));
	h.pid = cred.pid;
	h.pidfd = (int)syscall(SYS_pidfd_open, h.pid, 0);
	if (h.pidfd < 0 && errno == ESRCH)
		h.gone = true; /* gone before its first fault */
	setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	do
		n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(c), (size_t)nfds * sizeof(int));
	}
	if (n <= 0 || !nfds)
		die("no memory layout with a userfaultfd from the VMM: %s",
		    n < 0 ? strerror(errno) : "nothing received");
	h.uffd = fds[0];
	for (int i = 1; i < nfds; i++)
		close(fds[i]); /* guest_memfd and the like: not served here */
	if (nfds > 1)
		fprintf(stderr, "uffd-handler: ignoring %d extra fds\n",
		        nfds - 1);
	/* A blocking userfaultfd polls as POLLERR: make sure it is not. */
	fcntl(h.uffd, F_SETFL, fcntl(h.uffd, F_GETFL) | O_NONBLOCK);
	parse_regions(buf, (size_t)n);
}

/* ---- serving --------------------------------------------------------- */

static struct region *region_of(uint64_t addr)
{
	for (unsigned i = 0; i < h.n; i++)
		if (addr >= h.r[i].base && addr - h.r[i].base < h.r[i].size)
			return &h.r[i];
	return NULL;
}

/* Step 3. Returns 0 when the page is there, -EAGAIN to retry later. */
static int serve(struct fault *f)
{
	struct region *r = region_of(f->addr);
	uint64_t page, idx;
	struct uffdio_copy c;
	const uint8_t *src;
	bool zero;

	if (!r)
		die("fault at 0x%llx, outside every region",
		    (unsigned long long)f->addr);
	page = f->addr & ~(r->page_size - 1);
	idx = (page - r->base) / r->page_size;
	zero = r->removed[idx / 8] >> (idx % 8) & 1;
	src = zero ? h.zeros : h.file + r->offset + (page - r->base);
	c = (struct uffdio_copy){ .dst = page + f->done,
		                  .src = (uintptr_t)(src + f->done),
		                  .len = r->page_size - f->done };
	if (ioctl(h.uffd, UFFDIO_COPY, &c) == 0) {
		zero ? h.zeroed++ : h.copied++;
		return 0;
	}
	switch (errno) {
	case EAGAIN: /* an event is unread, or part of the page went in */
		if (c.copy > 0)
			f->done += (uint64_t)c.copy;
		h.retries++;
		return -EAGAIN;
	case EEXIST: {
		/* Two threads touched the page at once; the first copy won.
		 * Wake the range anyway so that nobody is left asleep. */
		struct uffdio_range w = { .start = page, .len = r->page_size };

		ioctl(h.uffd, UFFDIO_WAKE, &w);
		h.present++;
		return 0;
	}
	case ENOENT: /* unmapped meanwhile: nobody waits there any more */
		return 0;
	case ESRCH: /* the address space is gone: the VMM is exiting */
		h.gone = true;
		return 0;
	default:
		die("UFFDIO_COPY of 0x%llx bytes to 0x%llx: %s",
		    (unsigned long long)c.len, (unsigned long long)c.dst,
		    strerror(errno));
	}
}

static void mark_removed(uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < h.n; i++) {
		struct region *r = &h.r[i];
		uint64_t a = start > r->base ? start : r->base;
		uint64_t b = end < r->base + r->size ? end : r->base + r->size;

		for (uint64_t p = (a - r->base) / r->page_size;
		     a < b && p * r->page_size < b - r->base; p++)
			r->removed[p / 8] |= (uint8_t)(1 << (p % 8));
	}
}

static void defer(struct fault f)
{
	if (h.nlater == h.caplater) {
		size_t cap = h.caplater ? 2 * h.caplater : 64;
		struct fault *p = realloc(h.later, cap * sizeof(*p));

		if (!p)
			die("out of memory");
		h.later = p;
		h.caplater = cap;
	}
	h.later[h.nlater++] = f;
}

static void on_event(const struct uffd_msg *m)
{
	struct fault f = { 0 };

	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		h.faults++;
		f.addr = m->arg.pagefault.address;
		if (serve(&f) == -EAGAIN)
			defer(f);
		break;
	case UFFD_EVENT_REMOVE:
		/* A fault read before this event but caused after it would
		 * still get the file's page: the guest zeroes freed pages it
		 * reuses, so like Firecracker's example we live with it. */
		h.removes++;
		mark_removed(m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_UNMAP:
		h.unmaps++;
		mark_removed(m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_REMAP:
		for (unsigned i = 0; i < h.n; i++)
			if (h.r[i].base == m->arg.remap.from &&
			    h.r[i].size == m->arg.remap.len)
				h.r[i].base = m->arg.remap.to;
		break;
	case UFFD_EVENT_FORK:
		close((int)m->arg.fork.ufd); /* a child's memory: not ours */
		break;
	default:
		fprintf(stderr, "uffd-handler: ignoring event 0x%x\n",
		        m->event);
	}
}

/* Read every queued event; returns false when none was there. */
static bool drain(void)
{
	struct uffd_msg msgs[64];
	bool any = false;

	for (;;) {
		ssize_t n = read(h.uffd, msgs, sizeof(msgs));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return any;
		if (n <= 0)
			die("reading the userfaultfd: %s",
			    n < 0 ? strerror(errno) : "end of file");
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]); i++)
			on_event(&msgs[i]);
		any = true;
	}
}

static void serve_all(void)
{
	drain();
	/* EAGAIN: read the event in the way, then try again. */
	while (h.nlater && !h.gone) {
		size_t n = h.nlater;

		h.nlater = 0;
		for (size_t i = 0; i < n; i++) {
			struct fault f = h.later[i];

			if (serve(&f) == -EAGAIN)
				defer(f);
		}
		drain();
	}
}

/* Step 5: the VMM's process is gone once its pidfd polls readable. */
static bool peer_exited(const struct pollfd *p)
{
	if (h.gone)
		return true;
	if (h.pidfd >= 0)
		return p->revents & POLLIN;
	return kill(h.pid, 0) < 0 && errno == ESRCH; /* no pidfd (< 5.3) */
}

int main(int argc, char **argv)
{
	struct pollfd p[2];
	int lfd, conn;

	if (argc != 3) {
		fprintf(stderr, "usage: uffd-handler SOCKET MEMFILE\n");
		return 2;
	}
	map_file(argv[2]);
	lfd = listen_on(argv[1]);
	do
		conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0) {
		fprintf(stderr, "uffd-handler: accept on '%s': %s\n", argv[1],
		        strerror(errno));
		return 2;
	}
	/* One VM per handler: nobody else may connect from now on. */
	close(lfd);
	unlink(argv[1]);
	receive(conn);
	close(conn);
	printf("uffd-handler: serving '%s' to pid %d: %u region(s), "
	       "%llu-byte pages\n",
	       argv[2], (int)h.pid, h.n, (unsigned long long)h.r[0].page_size);
	fflush(stdout);

	p[0] = (struct pollfd){ .fd = h.uffd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = h.pidfd, .events = POLLIN };
	while (!peer_exited(&p[1])) {
		if (poll(p, 2, h.pidfd < 0 ? 1000 : -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (p[0].revents & (POLLERR | POLLNVAL))
			die("the userfaultfd reports an error");
		if (p[0].revents & POLLIN)
			serve_all();
	}
	printf("uffd-handler: pid %d exited; %llu faults: %llu pages copied "
	       "from the file, %llu zero pages, %llu already present, %llu "
	       "retries; %llu removed and %llu unmapped ranges\n",
	       (int)h.pid, (unsigned long long)h.faults,
	       (unsigned long long)h.copied, (unsigned long long)h.zeroed,
	       (unsigned long long)h.present, (unsigned long long)h.retries,
	       (unsigned long long)h.removes, (unsigned long long)h.unmaps);
	return 0;
}
