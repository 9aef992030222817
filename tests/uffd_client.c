/*
 * The VMM's side of tests/integration/uffd.sh, without KVM: guest
 * memory mapped as wisp maps it, handed to a running uffd-handler with
 * uffd_attach(), then read by three threads at once (so faults on one
 * page race), checked against the memory file, written and read back.
 *
 *	uffd_client SOCKET MEMFILE PAGE_SIZE [remove | hugetlb]
 *
 * remove: the userfaultfd is opened with UFFD_FEATURE_EVENT_REMOVE, as
 * Firecracker does with a balloon, and a few pages are dropped with
 * MADV_DONTNEED after the writes: they must read back as zeros.
 * hugetlb: the memory is MAP_HUGETLB (PAGE_SIZE is the huge page size).
 * Exit status: 0, 1 on a wrong byte, 2 when uffd_attach() fails (its
 * message on stderr).
 */
#include "uffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint8_t *mem, *want;
static uint64_t size, page;

static void *reader(void *arg)
{
	uint64_t n = size / 4096, bad = 0;

	/* Two threads forwards, in step, fault on the same pages at once;
	 * one backwards meets them half-way. */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = arg == (void *)2 ? n - 1 - i : i;

		bad += memcmp(mem + p * 4096, want + p * 4096, 4096) != 0;
	}
	return (void *)(uintptr_t)bad;
}

/* uffd_attach(), taken apart so that REMOVE events can be asked for. */
static int attach_with_remove(const char *sock, int *out, char *err,
                              size_t errlen)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)mem, .len = size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = uffd_open(UFFD_FEATURE_EVENT_REMOVE, err, errlen);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		snprintf(err, errlen, "UFFDIO_REGISTER failed");
		return -1;
	}
	*out = fd;
	return uffd_handshake(fd, sock, (uintptr_t)mem, size, page, err,
	                      errlen);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 4 ? argv[4] : "";
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, fd, uffd = -1;
	char err[512];
	pthread_t t[3];
	uintptr_t bad = 0;
	struct stat st;
	uint8_t *raw;

	if (argc < 4)
		return 2;
	page = strtoull(argv[3], NULL, 0);
	fd = open(argv[2], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return 2;
	size = (uint64_t)st.st_size;
	want = malloc(size);
	if (!want || read(fd, want, size) != (ssize_t)size)
		return 2;
	close(fd);
	if (!strcmp(mode, "hugetlb"))
		flags |= MAP_HUGETLB;
	/* Aligned to the page size, as guest RAM is. */
	raw = mmap(NULL, size + page, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (raw == MAP_FAILED) {
		perror("uffd_client: mmap");
		return 2;
	}
	mem = (uint8_t *)(((uintptr_t)raw + page - 1) & ~(uintptr_t)(page - 1));

	if ((!strcmp(mode, "remove")
	             ? attach_with_remove(argv[1], &uffd, err, sizeof(err))
	             : uffd_attach(mem, size, page, argv[1], &uffd, err,
	                           sizeof(err))) < 0) {
		fprintf(stderr, "uffd_client: %s\n", err);
		return 2;
	}
	for (uintptr_t i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, reader, (void *)i);
	for (int i = 0; i < 3; i++) {
		void *r;

		pthread_join(t[i], &r);
		bad += (uintptr_t)r;
	}
	if (bad) {
		fprintf(stderr, "uffd_client: %lu pages differ from the file\n",
		        (unsigned long)bad);
		return 1;
	}
	/* Written pages are the VM's own now: they must read back. */
	for (uint64_t o = 0; o < size; o += 4096)
		memset(mem + o, (int)(o / 4096) | 1, 64);
	for (uint64_t o = 0; o < size; o += 4096)
		for (int k = 0; k < 64; k++)
			bad += mem[o + k] != (((o / 4096) & 0xff) | 1);
	if (!strcmp(mode, "remove")) {
		/* Pages 2 to 5 dropped: the handler must now serve zeros. */
		madvise(mem + 2 * page, 4 * page, MADV_DONTNEED);
		for (uint64_t o = 2 * page; o < 6 * page; o++)
			bad += mem[o] != 0;
		for (uint64_t o = 6 * page; o < size; o += 4096)
			bad += mem[o] != (((o / 4096) & 0xff) | 1);
	}
	if (bad) {
		fprintf(stderr, "uffd_client: %lu bytes read back wrong\n",
		        (unsigned long)bad);
		return 1;
	}
	printf("uffd_client: %llu pages of %llu bytes checked\n",
	       (unsigned long long)(size / page), (unsigned long long)page);
	return 0;
}
