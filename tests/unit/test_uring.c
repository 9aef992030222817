/*
 * The io_uring wrapper's lockdown: the ring wisp's devices use accepts
 * their opcodes on registered files and refuses everything else, so it
 * cannot open a file or a socket the seccomp filters forbid.
 */
#include "unit.h"
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct uring ur;
static char path[] = "/tmp/wisp-uring-XXXXXX";
static int fd;

struct probe_req {
	struct uring_req ur; /* first: the completion callback */
	bool done;
	int res;
};

static void probe_done(struct uring_req *r, int res)
{
	struct probe_req *p = (struct probe_req *)r;

	p->done = true;
	p->res = res;
}

/* Run @p's request to its completion and return its result. */
static int complete(struct probe_req *p)
{
	for (int i = 0; i < 1000 && !p->done; i++) {
		struct io_uring_cqe *cqe;

		uring_run(&ur);
		if (!p->done)
			io_uring_wait_cqe(&ur.ring, &cqe);
	}
	uring_run(&ur);
	ck_assert(p->done);
	return p->res;
}

static void setup(void)
{
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "wisp-ring", 9), 9);
	ck_assert_int_eq(uring_init(&ur, 16), 0);
}

static void teardown(void)
{
	uring_destroy(&ur);
	close(fd);
	unlink(path);
	strcpy(path, "/tmp/wisp-uring-XXXXXX");
}

START_TEST(reads_a_registered_file)
{
	struct probe_req p = { .ur.done = probe_done };
	char buf[16] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };
	int slot = uring_file_add(&ur, fd);
	struct io_uring_sqe *sqe;

	ck_assert_int_ge(slot, 0);
	sqe = uring_sqe(&ur, &p.ur);
	io_uring_prep_readv(sqe, slot, &iov, 1, 0);
	uring_prep_fixed(sqe);
	ck_assert_int_eq(complete(&p), 9);
	ck_assert_str_eq(buf, "wisp-ring");
	/* An emptied slot reads nothing. */
	uring_file_del(&ur, slot);
	p = (struct probe_req){ .ur.done = probe_done };
	sqe = uring_sqe(&ur, &p.ur);
	io_uring_prep_readv(sqe, slot, &iov, 1, 0);
	uring_prep_fixed(sqe);
	ck_assert_int_eq(complete(&p), -EBADF);
}
END_TEST

START_TEST(refuses_unregistered_files)
{
	struct probe_req p = { .ur.done = probe_done };
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct io_uring_sqe *sqe = uring_sqe(&ur, &p.ur);

	io_uring_prep_readv(sqe, fd, &iov, 1, 0); /* a plain fd */
	ck_assert_int_eq(complete(&p), -EACCES);
}
END_TEST

START_TEST(refuses_openat_and_sockets)
{
	struct probe_req p = { .ur.done = probe_done };
	struct io_uring_sqe *sqe = uring_sqe(&ur, &p.ur);

	io_uring_prep_openat(sqe, AT_FDCWD, "/etc/passwd", O_RDONLY, 0);
	uring_prep_fixed(sqe);
	ck_assert_int_eq(complete(&p), -EACCES);
	p = (struct probe_req){ .ur.done = probe_done };
	sqe = uring_sqe(&ur, &p.ur);
	io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
	uring_prep_fixed(sqe);
	ck_assert_int_eq(complete(&p), -EACCES);
	p = (struct probe_req){ .ur.done = probe_done };
	sqe = uring_sqe(&ur, &p.ur);
	io_uring_prep_connect(sqe, 0, NULL, 0);
	uring_prep_fixed(sqe);
	ck_assert_int_eq(complete(&p), -EACCES);
}
END_TEST

START_TEST(refuses_register_calls)
{
	char buf[64];
	struct iovec iov = { buf, sizeof(buf) };

	ck_assert_int_eq(uring_lock(&ur), 0);
	/* Only a file table update is left (a drive swapped at run time). */
	ck_assert_int_eq(io_uring_register_buffers(&ur.ring, &iov, 1), -EACCES);
	ck_assert_int_eq(io_uring_unregister_eventfd(&ur.ring), -EACCES);
	ck_assert_int_eq(io_uring_unregister_files(&ur.ring), -EACCES);
	ck_assert_int_ge(uring_file_add(&ur, fd), 0);
}
END_TEST

Suite *uring_suite(void)
{
	Suite *s = suite_create("uring");
	TCase *tc = tcase_create("lockdown");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_a_registered_file);
	tcase_add_test(tc, refuses_unregistered_files);
	tcase_add_test(tc, refuses_openat_and_sockets);
	tcase_add_test(tc, refuses_register_calls);
	suite_add_tcase(s, tc);
	return s;
}
