/*
 * The snapshot state file: round trips, every corruption and truncation
 * refused, and the old file surviving a writer that is killed or runs
 * out of space.
 */
#include "unit.h"
#include "snap_test.h"
#include "snapfile.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint8_t payload[100000 + 64]; /* room for the offsets below */

static void fill_payload(void)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + (i >> 8));
}

/* The sections every "good" file here holds. */
static const struct {
	uint32_t type, index, len;
} layout[] = {
	{ 1, 0, 0 },
	{ 1, 1, 1 },
	{ 2, 0, 7 },
	{ 2, 1, 8 },
	{ 2, 2, 9 },
	{ 3, 0, 100000 },
	{ 0x43505530, 7, 300 },
};

static int write_layout(const char *path, char *err, size_t errlen)
{
	struct snap_writer w;

	if (snap_write_begin(&w, path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(layout); i++)
		snap_write_section(&w, layout[i].type, layout[i].index,
		                   payload + i, layout[i].len);
	return snap_write_commit(&w, err, errlen);
}

static void check_layout(const struct snap_reader *r)
{
	ck_assert_uint_eq(r->count, ARRAY_SIZE(layout));
	for (size_t i = 0; i < ARRAY_SIZE(layout); i++) {
		uint64_t len = 99;
		const uint8_t *p = snap_read_section(r, layout[i].type,
		                                     layout[i].index, &len);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(len, layout[i].len);
		ck_assert(!memcmp(p, payload + i, len));
		ck_assert_uint_eq((uintptr_t)(p - r->data) % 8, 0);
		ck_assert_uint_eq(snap_read_nth(r, i)->type, layout[i].type);
	}
}

START_TEST(crc64_xz_check_value)
{
	const char *s = "123456789";

	ck_assert_uint_eq(snap_crc64(0, s, 9), 0x995dc9bbdf1939faULL);
	ck_assert_uint_eq(snap_crc64(snap_crc64(0, s, 4), s + 4, 5),
	                  0x995dc9bbdf1939faULL);
	ck_assert_uint_eq(snap_crc64(0, s, 0), 0);
}
END_TEST

/* Eight bytes at a time or one: any split of a buffer gives one CRC. */
START_TEST(crc64_any_split)
{
	uint8_t buf[300];
	uint64_t whole, bitwise = ~0ULL;

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	/* The definition: reflected, polynomial 0x42f0e1eba9ea3693. */
	for (unsigned i = 0; i < sizeof(buf); i++) {
		bitwise ^= buf[i];
		for (int k = 0; k < 8; k++)
			bitwise = bitwise & 1
			                  ? bitwise >> 1 ^ 0xc96c5795d7870f42ULL
			                  : bitwise >> 1;
	}
	whole = snap_crc64(0, buf, sizeof(buf));
	ck_assert_uint_eq(whole, ~bitwise);
	for (unsigned cut = 0; cut <= sizeof(buf); cut++)
		ck_assert_uint_eq(snap_crc64(snap_crc64(0, buf, cut), buf + cut,
		                             sizeof(buf) - cut),
		                  whole);
}
END_TEST

START_TEST(round_trip)
{
	char dir[64], path[128], err[512];
	struct snap_reader r;
	struct stat st;
	size_t want = SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE;

	fill_payload();
	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vm.snap", dir);
	ck_assert_msg(write_layout(path, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	for (size_t i = 0; i < ARRAY_SIZE(layout); i++)
		want += SNAP_SECTION_HEAD + ALIGN_UP(layout[i].len, 8);
	ck_assert_uint_eq(st.st_size, want);
	ck_assert_uint_eq(snap_test_count_tmp(dir), 0);

	ck_assert_msg(snap_read_open(&r, path, 1 << 20, err, sizeof(err)) == 0,
	              "%s", err);
	ck_assert_uint_eq(r.version, SNAP_VERSION);
	check_layout(&r);
	ck_assert_uint_eq(snap_read_count(&r, 2), 3);
	ck_assert_uint_eq(snap_read_count(&r, 9), 0);
	ck_assert_ptr_null(snap_read_section(&r, 2, 3, NULL));
	ck_assert_ptr_null(snap_read_nth(&r, ARRAY_SIZE(layout)));
	snap_read_close(&r);
	snap_read_close(&r); /* harmless twice */

	/* A second write replaces the first, atomically and completely. */
	ck_assert(write_layout(path, err, sizeof(err)) == 0);
	ck_assert(snap_read_open(&r, path, 1 << 20, err, sizeof(err)) == 0);
	snap_read_close(&r);
	snap_test_rmdir(dir);
}
END_TEST

/* A small file, in memory, with a few sections. */
static size_t small_file(uint8_t *buf, size_t cap)
{
	char dir[64], path[128], err[256];
	struct snap_writer w;
	size_t n;
	int fd;

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	ck_assert(snap_write_begin(&w, path, err, sizeof(err)) == 0);
	snap_write_section(&w, 5, 0, "hello", 5);
	snap_write_section(&w, 5, 1, "", 0);
	snap_write_section(&w, 6, 0, "12345678", 8);
	ck_assert(snap_write_commit(&w, err, sizeof(err)) == 0);
	fd = open(path, O_RDONLY);
	n = (size_t)read(fd, buf, cap);
	close(fd);
	snap_test_rmdir(dir);
	return n;
}

START_TEST(every_byte_corruption_detected)
{
	static const uint8_t flips[] = { 0x01, 0x80, 0xff, 0x10 };
	uint8_t buf[512];
	char err[256];
	struct snap_reader r;
	size_t n = small_file(buf, sizeof(buf));

	ck_assert_uint_eq(n, 16 + 16 + 8 + 16 + 16 + 8 + 24);
	ck_assert(snap_read_buffer(&r, buf, n, "s", err, sizeof(err)) == 0);
	snap_read_close(&r);
	for (size_t i = 0; i < n; i++) {
		for (size_t f = 0; f < ARRAY_SIZE(flips); f++) {
			buf[i] ^= flips[f];
			err[0] = 0;
			ck_assert_msg(snap_read_buffer(&r, buf, n, "s", err,
			                               sizeof(err)) < 0,
			              "byte %zu ^ 0x%x accepted", i, flips[f]);
			ck_assert(err[0]);
			ck_assert_uint_eq(r.count, 0);
			buf[i] ^= flips[f];
		}
	}
}
END_TEST

START_TEST(every_truncation_refused)
{
	uint8_t buf[512];
	char dir[64], path[128], err[256];
	struct snap_reader r;
	size_t n = small_file(buf, sizeof(buf));

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/cut", dir);
	for (size_t len = 0; len < n; len++) {
		/* A copy exactly @len long, so ASan sees any over-read. */
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, buf, len);
		ck_assert_msg(snap_read_buffer(&r, copy, len, "cut", err,
		                               sizeof(err)) < 0,
		              "length %zu accepted", len);
		free(copy);
		snap_test_write_file(path, buf, len);
		ck_assert(snap_read_open(&r, path, 1 << 20, err, sizeof(err)) <
		          0);
		ck_assert_ptr_nonnull(strstr(err, path));
	}
	snap_test_rmdir(dir);
}
END_TEST

START_TEST(magic_and_version_messages)
{
	uint8_t buf[512];
	char err[256];
	struct snap_reader r;
	size_t n = small_file(buf, sizeof(buf));

	buf[0] = 'X';
	ck_assert(snap_read_buffer(&r, buf, n, "f", err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "'f' is not a wisp snapshot (bad magic)");
	buf[0] = 'W';
	buf[8] = SNAP_VERSION + 1;
	snap_test_fix_crc(buf, n);
	ck_assert(snap_read_buffer(&r, buf, n, "f", err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "snapshot 'f' has format version 3; this wisp "
	                      "reads versions 1 to 2");
	buf[8] = 0;
	snap_test_fix_crc(buf, n);
	ck_assert(snap_read_buffer(&r, buf, n, "f", err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "snapshot 'f' has format version 0; this wisp "
	                      "reads versions 1 to 2");
	/* Version 1 (an older wisp's) is still read, and says it is. */
	buf[8] = 1;
	snap_test_fix_crc(buf, n);
	ck_assert(snap_read_buffer(&r, buf, n, "f", err, sizeof(err)) == 0);
	ck_assert_uint_eq(r.version, 1);
	snap_read_close(&r);
	buf[20] ^= 1;
	ck_assert(snap_read_buffer(&r, buf, n, "f", err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "snapshot 'f' is corrupted"));
	ck_assert(snap_read_buffer(&r, buf, 10, "f", err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "snapshot 'f' is 10 bytes, too short to be a "
	                      "wisp snapshot");
}
END_TEST

START_TEST(too_large_refused)
{
	char dir[64], path[128], err[512], want[512];
	struct snap_reader r;
	struct stat st;

	fill_payload();
	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/big", dir);
	ck_assert(write_layout(path, err, sizeof(err)) == 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(snap_read_open(&r, path, (uint64_t)st.st_size - 1, err,
	                         sizeof(err)) < 0);
	snprintf(want, sizeof(want),
	         "snapshot '%s' is %lld bytes, more than the %lld allowed",
	         path, (long long)st.st_size, (long long)st.st_size - 1);
	ck_assert_str_eq(err, want);
	ck_assert(snap_read_open(&r, path, (uint64_t)st.st_size, err,
	                         sizeof(err)) == 0);
	snap_read_close(&r);
	snprintf(path, sizeof(path), "%s/none", dir);
	ck_assert(snap_read_open(&r, path, 1 << 20, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOENT)));
	ck_assert(snap_read_open(&r, dir, 1 << 20, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	snap_test_rmdir(dir);
}
END_TEST

/*
 * Files with a good CRC and a bad structure: only the walk can tell.
 * Each is the header, the given words, the trailer (count, CRC).
 */
static int crafted(const uint64_t *words, size_t nwords, uint64_t count,
                   char *err, size_t errlen)
{
	uint8_t buf[256] = SNAP_MAGIC;
	size_t n = SNAP_HEADER_SIZE;
	struct snap_reader r;
	int rc;

	buf[8] = 1;
	if (nwords)
		memcpy(buf + n, words, nwords * 8);
	n += nwords * 8;
	memcpy(buf + n, "\xff\xff\xff\xff\0\0\0\0", 8);
	memcpy(buf + n + 8, &count, 8);
	n += SNAP_TRAILER_SIZE;
	snap_test_fix_crc(buf, n);
	rc = snap_read_buffer(&r, buf, n, "c", err, errlen);
	snap_read_close(&r);
	return rc;
}

#define SEC(type, index) ((uint64_t)(index) << 32 | (type))

START_TEST(structure_checked_behind_the_crc)
{
	char err[256];
	const uint64_t one[] = { SEC(1, 0), 8, 0x1122334455667788 };
	const uint64_t two_words[] = { SEC(1, 0), 16, 1, 2 };
	const uint64_t past[] = { SEC(1, 0), 9, 0 };
	const uint64_t huge[] = { SEC(1, 0), UINT64_MAX - 3, 0 };
	const uint64_t dup[] = { SEC(1, 2), 0, SEC(1, 2), 0 };
	const uint64_t pad[] = { SEC(1, 0), 3, 0x0100000000aabbcc };
	const uint64_t end[] = { SEC(SNAP_END, 0), 0 };
	const uint64_t cut[] = { SEC(1, 0), 0, SEC(2, 0) };

	ck_assert(crafted(one, 3, 1, err, sizeof(err)) == 0);
	ck_assert(crafted(NULL, 0, 0, err, sizeof(err)) == 0);
	ck_assert(crafted(two_words, 4, 2, err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "snapshot 'c': the trailer counts 2 sections, "
	                      "the file holds 1");
	ck_assert(crafted(one, 3, 2, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "more than fit"));
	ck_assert(crafted(dup, 4, 1, err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "snapshot 'c': more sections than the trailer's "
	                      "1");
	ck_assert(crafted(one, 3, 0, err, sizeof(err)) < 0);
	ck_assert(crafted(one, 3, UINT64_MAX, err, sizeof(err)) < 0);
	ck_assert(crafted(past, 3, 1, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "past the end"));
	ck_assert(crafted(huge, 3, 1, err, sizeof(err)) < 0);
	ck_assert(crafted(dup, 4, 2, err, sizeof(err)) < 0);
	ck_assert_str_eq(err, "snapshot 'c': section type 0x1 index 2 appears "
	                      "twice");
	ck_assert(crafted(pad, 3, 1, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "padding"));
	ck_assert(crafted(end, 2, 1, err, sizeof(err)) < 0);
	ck_assert(crafted(cut, 3, 1, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "cut off"));
}
END_TEST

START_TEST(writer_refuses_bad_sections)
{
	char dir[64], path[128], err[512];
	struct snap_writer w;
	struct snap_reader r;

	fill_payload();
	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/old", dir);
	ck_assert(write_layout(path, err, sizeof(err)) == 0);

	ck_assert(snap_write_begin(&w, path, err, sizeof(err)) == 0);
	ck_assert(snap_write_section(&w, 4, 4, "x", 1) == 0);
	ck_assert(snap_write_section(&w, 4, 4, "y", 1) < 0);
	ck_assert(snap_write_section(&w, 4, 5, "z", 1) < 0); /* sticky */
	ck_assert(snap_write_commit(&w, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "index 4: written twice"));
	snap_write_abort(&w); /* after commit: nothing to do */

	ck_assert(snap_write_begin(&w, path, err, sizeof(err)) == 0);
	ck_assert(snap_write_section(&w, SNAP_END, 0, "", 0) < 0);
	ck_assert(snap_write_commit(&w, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "reserved"));

	ck_assert(snap_write_begin(&w, path, err, sizeof(err)) == 0);
	ck_assert(snap_write_section(&w, 4, 4, "x", 1) == 0);
	snap_write_abort(&w);
	snap_write_abort(&w);

	ck_assert_uint_eq(snap_test_count_tmp(dir), 0);
	ck_assert(snap_read_open(&r, path, 1 << 20, err, sizeof(err)) == 0);
	check_layout(&r);
	snap_read_close(&r);
	snap_test_rmdir(dir);
}
END_TEST

START_TEST(begin_errors_name_the_file)
{
	char dir[64], path[128], err[512], want[512];
	struct snap_writer w;
	int pipefd[2], status;
	pid_t pid;

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/missing/vm.snap", dir);
	ck_assert(snap_write_begin(&w, path, err, sizeof(err)) < 0);
	snprintf(want, sizeof(want),
	         "snapshot '%s': cannot create '%s.tmp.%d': %s", path, path,
	         (int)getpid(), strerror(ENOENT));
	ck_assert_str_eq(err, want);
	snap_write_abort(&w);

	/* Root passes permission checks: ask as nobody, in a child. */
	snprintf(path, sizeof(path), "%s/vm.snap", dir);
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	if (pid == 0) {
		int rc = -2;

		if (setgid(65534) == 0 && setuid(65534) == 0)
			rc = snap_write_begin(&w, path, err, sizeof(err));
		if (write(pipefd[1], err, strlen(err) + 1) < 0)
			_exit(3);
		_exit(rc == -1 ? 0 : 1);
	}
	close(pipefd[1]);
	memset(err, 0, sizeof(err));
	ck_assert_int_gt(read(pipefd[0], err, sizeof(err) - 1), 0);
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_ptr_nonnull(strstr(err, strerror(EACCES)));
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_uint_eq(snap_test_count_tmp(dir), 0);
	snap_test_rmdir(dir);
}
END_TEST

/* The new file: 64 sections of 16 KiB, a little over 1 MiB. */
static void write_big(const char *path)
{
	struct snap_writer w;
	char err[512];

	if (snap_write_begin(&w, path, err, sizeof(err)) < 0)
		_exit(2);
	for (unsigned i = 0; i < 64; i++)
		snap_write_section(&w, 9, i, payload + i, 16384);
	_exit(snap_write_commit(&w, err, sizeof(err)) < 0 ? 3 : 0);
}

/* @path holds either the old layout or the complete big file. */
static bool old_or_new(const char *path)
{
	struct snap_reader r;
	char err[512];
	bool ok = true;

	if (snap_read_open(&r, path, 16 << 20, err, sizeof(err)) < 0)
		return false;
	if (snap_read_count(&r, 9)) {
		ok = r.count == 64;
		for (unsigned i = 0; ok && i < 64; i++) {
			uint64_t len;
			const void *p = snap_read_section(&r, 9, i, &len);

			ok = p && len == 16384 && !memcmp(p, payload + i, len);
		}
	} else {
		check_layout(&r);
	}
	snap_read_close(&r);
	return ok;
}

START_TEST(killed_writer_leaves_old_file)
{
	static const unsigned stops[] = { 0, 1, 3, 7 };
	char dir[64], path[128], err[512];
	uint64_t t0, full;
	int status;
	pid_t pid;

	fill_payload();
	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/vm.snap", dir);
	ck_assert(write_layout(path, err, sizeof(err)) == 0);

	/* Killed after a chosen number of sections, by the parent. */
	for (size_t s = 0; s < ARRAY_SIZE(stops); s++) {
		struct snap_writer w;
		int pipefd[2];
		char c;

		ck_assert_int_eq(pipe(pipefd), 0);
		pid = fork();
		if (pid == 0) {
			if (snap_write_begin(&w, path, err, sizeof(err)) < 0)
				_exit(2);
			for (unsigned i = 0; i < stops[s]; i++)
				snap_write_section(&w, 9, i, payload, 16384);
			if (write(pipefd[1], "k", 1) != 1)
				_exit(3);
			pause();
			_exit(4);
		}
		close(pipefd[1]);
		ck_assert_int_eq(read(pipefd[0], &c, 1), 1);
		close(pipefd[0]);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status));
		ck_assert(old_or_new(path));
		/* The dead writer's file stays, under its own name only. */
		ck_assert_uint_eq(snap_test_count_tmp(dir), s + 1);
	}

	/* Killed at arbitrary moments, the commit included. */
	t0 = util_now_us();
	pid = fork();
	if (pid == 0)
		write_big(path);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	full = util_now_us() - t0;
	ck_assert(write_layout(path, err, sizeof(err)) == 0);
	srand((unsigned)t0);
	for (int i = 0; i < 24; i++) {
		struct timespec ts;
		uint64_t us = (uint64_t)rand() % (full + full / 4 + 1);

		pid = fork();
		if (pid == 0)
			write_big(path);
		ts.tv_sec = (time_t)(us / 1000000);
		ts.tv_nsec = (long)(us % 1000000) * 1000;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(old_or_new(path), "after a kill at %llu us",
		              (unsigned long long)us);
	}
	snap_test_rmdir(dir);
}
END_TEST

static int write_small(const char *path, char *err, size_t errlen)
{
	struct snap_writer w;

	if (snap_write_begin(&w, path, err, errlen) < 0)
		return -1;
	snap_write_section(&w, 5, 0, "old", 3);
	return snap_write_commit(&w, err, errlen);
}

START_TEST(full_disk_keeps_old_file)
{
	char dir[64], mnt[96], path[160], err[512] = "", want[512];
	struct snap_writer w;
	struct snap_reader r;
	uint64_t len = 0;
	bool intact = false;
	int rc = 1, tmps;

	fill_payload();
	snap_test_dir(dir, sizeof(dir));
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	/* A mount namespace of the test's own: a crash leaks no mount. */
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_msg(mount("tmpfs", mnt, "tmpfs", 0, "size=64k") == 0,
	              "mount tmpfs: %s", strerror(errno));

	/* No assertion until the unmount: record, unmount, then check. */
	snprintf(path, sizeof(path), "%s/vm.snap", mnt);
	if (write_small(path, err, sizeof(err)) == 0 &&
	    snap_write_begin(&w, path, err, sizeof(err)) == 0) {
		for (unsigned i = 0; i < 8; i++)
			snap_write_section(&w, 9, i, payload, 16384);
		rc = snap_write_commit(&w, err, sizeof(err));
	}
	if (snap_read_open(&r, path, 1 << 20, want, sizeof(want)) == 0) {
		const void *p = snap_read_section(&r, 5, 0, &len);

		intact = r.count == 1 && p && len == 3 && !memcmp(p, "old", 3);
		snap_read_close(&r);
	}
	tmps = snap_test_count_tmp(mnt);
	umount2(mnt, MNT_DETACH);

	ck_assert_msg(rc == -1, "commit on a full disk: %d %s", rc, err);
	snprintf(want, sizeof(want),
	         "snapshot '%s': cannot write '%s.tmp.%d': %s", path, path,
	         (int)getpid(), strerror(ENOSPC));
	ck_assert_str_eq(err, want);
	ck_assert(intact);
	ck_assert_int_eq(tmps, 0);
	snap_test_rmdir(dir);
}
END_TEST

Suite *snapfile_suite(void)
{
	Suite *s = suite_create("snapfile");
	TCase *tc = tcase_create("container");
	TCase *atomic = tcase_create("atomic");

	tcase_add_test(tc, crc64_xz_check_value);
	tcase_add_test(tc, crc64_any_split);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, every_byte_corruption_detected);
	tcase_add_test(tc, every_truncation_refused);
	tcase_add_test(tc, magic_and_version_messages);
	tcase_add_test(tc, too_large_refused);
	tcase_add_test(tc, structure_checked_behind_the_crc);
	tcase_add_test(tc, writer_refuses_bad_sections);
	tcase_add_test(tc, begin_errors_name_the_file);
	suite_add_tcase(s, tc);
	tcase_add_test(atomic, killed_writer_leaves_old_file);
	tcase_add_test(atomic, full_disk_keeps_old_file);
	tcase_set_timeout(atomic, 60);
	suite_add_tcase(s, atomic);
	return s;
}
