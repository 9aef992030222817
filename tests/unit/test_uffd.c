/*
 * The Uffd backend's VMM side: the message a handler receives (byte for
 * byte Firecracker's), faults served through the userfaultfd it carries,
 * and the errors. tests/integration/snap.sh runs the real handler.
 */
#include "unit.h"
#include "snap_test.h"
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 16
#define SIZE  (PAGES * 4096)

static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	return fd;
}

/* What a handler reads: the text, and the one fd that came with it. */
static size_t recv_msg(int conn, char *buf, size_t len, int *fd)
{
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr m = { .msg_iov = &iov,
		            .msg_iovlen = 1,
		            .msg_control = ctl.b,
		            .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(conn, &m, 0);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->cmsg_type, SCM_RIGHTS);
	ck_assert_uint_eq(c->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	return (size_t)n;
}

static uint8_t pattern[SIZE];

struct server {
	int uffd;
	uint64_t base;
};

/* A handler in a thread: PAGES faults, each served from the pattern. */
static void *serve(void *arg)
{
	const struct server *sv = arg;
	int uffd = sv->uffd;

	for (int served = 0; served < PAGES;) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg m;
		struct uffdio_copy c;
		uint64_t page;

		poll(&p, 1, 5000);
		if (read(uffd, &m, sizeof(m)) != sizeof(m))
			continue;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			return (void *)1;
		page = m.arg.pagefault.address & ~4095ULL;
		c = (struct uffdio_copy){ .dst = page, .len = 4096 };
		c.src = (uintptr_t)pattern + (page - sv->base);
		if (ioctl(uffd, UFFDIO_COPY, &c) == 0)
			served++;
	}
	return NULL;
}

START_TEST(attach_sends_firecracker_message)
{
	char dir[64], path[128], err[512], buf[512], want[256], link[64];
	char target[64] = "";
	struct server th;
	uint8_t *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct stat a, b;
	pthread_t t;
	void *res;
	int l, conn, uffd = -1, got;

	for (size_t i = 0; i < SIZE; i++)
		pattern[i] = (uint8_t)(i * 31 + i / 4096);
	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/uffd.sock", dir);
	l = listen_at(path);
	/* The listen backlog takes the connection before accept(). */
	ck_assert_msg(uffd_attach(mem, SIZE, 4096, path, &uffd, err,
	                          sizeof(err)) == 0,
	              "%s", err);
	conn = accept(l, NULL, NULL);
	ck_assert_int_ge(conn, 0);
	recv_msg(conn, buf, sizeof(buf), &got);
	snprintf(want, sizeof(want),
	         "[{\"base_host_virt_addr\":%llu,\"size\":65536,\"offset\":0,"
	         "\"page_size\":4096,\"page_size_kib\":4096}]",
	         (unsigned long long)(uintptr_t)mem);
	ck_assert_str_eq(buf, want);
	/* Nothing more is said: the VMM hangs up. */
	ck_assert_int_eq(read(conn, buf, sizeof(buf)), 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", got);
	ck_assert_int_gt(readlink(link, target, sizeof(target) - 1), 0);
	ck_assert_str_eq(target, "anon_inode:[userfaultfd]");
	ck_assert_int_eq(fstat(got, &a), 0);
	ck_assert_int_eq(fstat(uffd, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);

	/* Served through the fd received, the memory reads the pattern. */
	th.uffd = got;
	th.base = (uintptr_t)mem;
	ck_assert_int_eq(pthread_create(&t, NULL, serve, &th), 0);
	ck_assert(!memcmp(mem, pattern, SIZE));
	ck_assert_int_eq(pthread_join(t, &res), 0);
	ck_assert_ptr_null(res);
	mem[5] = 0xaa; /* present now: no fault, no handler needed */
	ck_assert_uint_eq(mem[5], 0xaa);

	close(got);
	close(uffd);
	close(conn);
	close(l);
	munmap(mem, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

START_TEST(attach_errors)
{
	char dir[64], path[256], err[512], want[512];
	uint8_t *mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
	                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int uffd = -7, fd;

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	ck_assert(uffd_attach(mem, SIZE, 4096, path, &uffd, err, sizeof(err)) <
	          0);
	snprintf(want, sizeof(want),
	         "cannot connect to the page-fault handler at '%s': %s (is "
	         "the handler running?)",
	         path, strerror(ENOENT));
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(uffd, -7);

	/* A socket file whose handler is gone refuses. */
	fd = listen_at(path);
	close(fd);
	ck_assert(uffd_attach(mem, SIZE, 4096, path, &uffd, err, sizeof(err)) <
	          0);
	ck_assert_ptr_nonnull(strstr(err, strerror(ECONNREFUSED)));

	memset(path, 'p', 108);
	path[0] = '/';
	path[108] = 0;
	ck_assert(uffd_attach(mem, SIZE, 4096, path, &uffd, err, sizeof(err)) <
	          0);
	ck_assert_ptr_nonnull(strstr(err, "is 108 bytes; a Unix socket path "
	                                  "holds 1 to 107"));
	ck_assert(uffd_attach(mem, SIZE, 4096, "", &uffd, err, sizeof(err)) <
	          0);

	ck_assert(uffd_attach(mem + 1, SIZE, 4096, "/x", &uffd, err,
	                      sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "is not whole pages of 4096"));
	ck_assert(uffd_attach(mem, 0, 4096, "/x", &uffd, err, sizeof(err)) < 0);
	ck_assert(uffd_attach(mem, SIZE, 3000, "/x", &uffd, err, sizeof(err)) <
	          0);
	ck_assert(uffd_attach(mem, SIZE, 2 << 20, "/x", &uffd, err,
	                      sizeof(err)) < 0);
	ck_assert_int_eq(uffd, -7);

	ck_assert_int_lt(uffd_open(1ULL << 62, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "the kernel lacks"));
	fd = uffd_open(0, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	close(fd);

	/* Nothing was registered: the memory is plain memory. */
	mem[0] = 1;
	ck_assert_uint_eq(mem[0], 1);
	munmap(mem, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

/*
 * Without CAP_SYS_PTRACE (and vm.unprivileged_userfaultfd = 0, as here)
 * the syscall refuses a userfaultfd that kernel-mode faults may use;
 * /dev/userfaultfd, whose access is its file mode, still hands one out.
 */
START_TEST(falls_back_to_dev_userfaultfd)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct __user_cap_header_struct hdr = {
			.version = _LINUX_CAPABILITY_VERSION_3,
		};
		struct __user_cap_data_struct data[2];
		char err[512];
		int fd;

		if (syscall(SYS_capget, &hdr, data) < 0)
			_exit(10);
		data[CAP_SYS_PTRACE / 32].effective &=
		        ~(1u << (CAP_SYS_PTRACE % 32));
		if (syscall(SYS_capset, &hdr, data) < 0)
			_exit(11);
		/* With the sysctl at 1 the syscall still works: then this
		 * only shows uffd_open() does too. */
		fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 && errno != EPERM)
			_exit(12);
		if (fd >= 0)
			close(fd);
		fd = uffd_open(0, err, sizeof(err));
		_exit(fd >= 0 ? 0 : 13);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status 0x%x", status);
}
END_TEST

Suite *uffd_suite(void)
{
	Suite *s = suite_create("uffd");
	TCase *tc = tcase_create("attach");

	tcase_add_test(tc, attach_sends_firecracker_message);
	tcase_add_test(tc, attach_errors);
	tcase_add_test(tc, falls_back_to_dev_userfaultfd);
	suite_add_tcase(s, tc);
	return s;
}
