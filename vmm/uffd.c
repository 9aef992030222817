/*
 * The Uffd memory backend's VMM side (uffd.h): a userfaultfd over guest
 * RAM, handed to the page-fault handler with Firecracker's message.
 */
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Not UFFD_USER_MODE_ONLY: most faults on guest memory are taken by the
 * kernel (KVM filling its page tables for a vCPU, copy_to_user in a
 * read), and that flag would make them fail with EFAULT.
 */
#define UFFD_FLAGS (O_CLOEXEC | O_NONBLOCK)

static int create_fd(char *err, size_t errlen)
{
	int fd = (int)syscall(SYS_userfaultfd, UFFD_FLAGS), e1, e2, dev;

	if (fd >= 0)
		return fd;
	e1 = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, UFFD_FLAGS);
		e2 = errno;
		close(dev);
		if (fd >= 0)
			return fd;
	} else {
		e2 = errno;
	}
	snprintf(err, errlen,
	         "cannot create a userfaultfd: userfaultfd(2): %s; "
	         "/dev/userfaultfd: %s",
	         strerror(e1), strerror(e2));
	return -1;
}

int uffd_open(uint64_t features, char *err, size_t errlen)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = create_fd(err, errlen);

	if (fd < 0)
		return -1;
	errno = 0;
	if (ioctl(fd, UFFDIO_API, &api) < 0 ||
	    (api.features & features) != features) {
		snprintf(err, errlen,
		         "userfaultfd: the kernel lacks API %llu with features "
		         "0x%llx: %s",
		         (unsigned long long)UFFD_API,
		         (unsigned long long)features,
		         errno ? strerror(errno) : "not offered");
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_handler(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (!len || len > UFFD_SOCK_PATH_MAX) {
		snprintf(err, errlen,
		         "uffd socket path '%s' is %zu bytes; a Unix socket "
		         "path holds 1 to %d",
		         path, len, UFFD_SOCK_PATH_MAX);
		return -1;
	}
	memcpy(addr.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen,
		         "cannot connect to the page-fault handler at '%s': %s "
		         "(is the handler running?)",
		         path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The message and the fd in one sendmsg: the handler reads them once. */
static int send_regions(int sock, int uffd, const char *path,
                        uint64_t host_addr, uint64_t size, uint64_t page_size,
                        char *err, size_t errlen)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	char json[256];
	struct iovec iov = { .iov_base = json };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	iov.iov_len = (size_t)snprintf(
	        json, sizeof(json),
	        "[{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":0,"
	        "\"page_size\":%llu,\"page_size_kib\":%llu}]",
	        (unsigned long long)host_addr, (unsigned long long)size,
	        (unsigned long long)page_size, (unsigned long long)page_size);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len) {
		snprintf(err, errlen,
		         "cannot send the memory layout to the page-fault "
		         "handler at '%s': %s",
		         path, n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

int uffd_handshake(int uffd, const char *sock_path, uint64_t host_addr,
                   uint64_t size, uint64_t page_size, char *err, size_t errlen)
{
	int sock = connect_handler(sock_path, err, errlen), rc;

	if (sock < 0)
		return -1;
	rc = send_regions(sock, uffd, sock_path, host_addr, size, page_size,
	                  err, errlen);
	close(sock);
	return rc;
}

int uffd_attach(void *host_addr, uint64_t size, uint64_t page_size,
                const char *sock_path, int *uffd_out, char *err, size_t errlen)
{
	uint64_t base = (uint64_t)(uintptr_t)host_addr;
	struct uffdio_register reg = {
		.range = { .start = base, .len = size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int sock, uffd, rc;

	if (page_size < 4096 || (page_size & (page_size - 1)) || !size ||
	    size % page_size || base % page_size) {
		snprintf(err, errlen,
		         "uffd: guest memory [0x%llx, +0x%llx) is not whole "
		         "pages of %llu bytes (a power of two, 4096 at least)",
		         (unsigned long long)base, (unsigned long long)size,
		         (unsigned long long)page_size);
		return -1;
	}
	sock = connect_handler(sock_path, err, errlen);
	if (sock < 0)
		return -1;
	uffd = uffd_open(0, err, errlen);
	if (uffd < 0) {
		close(sock);
		return -1;
	}
	errno = 0;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 ||
	    !(reg.ioctls & (1ULL << _UFFDIO_COPY))) {
		snprintf(err, errlen,
		         "uffd: cannot register guest memory [0x%llx, +0x%llx) "
		         "for missing pages: %s",
		         (unsigned long long)base, (unsigned long long)size,
		         errno ? strerror(errno) : "no UFFDIO_COPY there");
		goto fail;
	}
	rc = send_regions(sock, uffd, sock_path, base, size, page_size, err,
	                  errlen);
	if (rc < 0)
		goto fail;
	close(sock);
	*uffd_out = uffd;
	return 0;
fail:
	/* The last reference gone, the kernel unregisters the range. */
	close(uffd);
	close(sock);
	return -1;
}
