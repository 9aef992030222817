/*
 * Guest memory files: full snapshots with holes where pages are zero,
 * diffs holding exactly the dirty pages, merges giving the later image
 * byte for byte, and the errors.
 */
#include "unit.h"
#include "snap_test.h"
#include "snapmem.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PS     4096ULL
#define NPAGES 70ULL /* more than one bitmap word */
#define SIZE   (NPAGES * PS)

static uint8_t *new_mem(void)
{
	uint8_t *m = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	return m;
}

/* Page @i gets a pattern of its own, seeded by @gen. */
static void fill_page(uint8_t *m, uint64_t i, unsigned gen)
{
	for (uint64_t k = 0; k < PS; k++)
		m[i * PS + k] = (uint8_t)(i * 13 + k * 7 + gen + 1) | 1;
}

static uint8_t *read_all(const char *path, uint64_t want)
{
	uint8_t *buf = malloc(want + 1);
	int fd = open(path, O_RDONLY);

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, want + 1), (ssize_t)want);
	close(fd);
	return buf;
}

/* Pages of @path the file system holds as data, as a 64-bit map. */
static uint64_t data_pages(const char *path, uint64_t *hi)
{
	int fd = open(path, O_RDONLY);
	uint64_t map[2] = { 0, 0 };
	off_t off = 0, data, hole;

	ck_assert_int_ge(fd, 0);
	while ((data = lseek(fd, off, SEEK_DATA)) >= 0) {
		hole = lseek(fd, data, SEEK_HOLE);
		ck_assert_int_gt(hole, data);
		for (uint64_t p = (uint64_t)data / PS; p * PS < (uint64_t)hole;
		     p++)
			map[p / 64] |= 1ULL << (p % 64);
		off = hole;
	}
	ck_assert_int_eq(errno, ENXIO);
	close(fd);
	*hi = map[1];
	return map[0];
}

#define BIT(p) (1ULL << (p))

START_TEST(full_write_leaves_holes)
{
	char dir[64], path[128], err[512];
	uint8_t *m = new_mem(), *f;
	uint64_t lo, hi;
	struct stat st;

	for (uint64_t p = 0; p < 4; p++)
		fill_page(m, p, 0);
	fill_page(m, 20, 0);
	m[69 * PS + PS - 1] = 0x80; /* one byte, at the very end */
	m[30 * PS] = 1;
	m[30 * PS] = 0; /* touched, but zero again: a hole too */

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mem", dir);
	ck_assert_msg(snap_mem_write(path, m, SIZE, NULL, PS, NULL, err,
	                             sizeof(err)) == 0,
	              "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_size, SIZE);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* Six pages of data; a little slack for the file system's own. */
	ck_assert_uint_ge((uint64_t)st.st_blocks * 512, 6 * PS);
	ck_assert_uint_le((uint64_t)st.st_blocks * 512, 8 * PS);
	lo = data_pages(path, &hi);
	ck_assert_uint_eq(lo, BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(20));
	ck_assert_uint_eq(hi, BIT(69 - 64));
	f = read_all(path, SIZE);
	ck_assert(!memcmp(f, m, SIZE));
	free(f);
	ck_assert_int_eq(snap_test_count_tmp(dir), 0);
	munmap(m, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

START_TEST(diff_write_holds_only_dirty_pages)
{
	char dir[64], path[128], err[512];
	uint64_t dirty[2] = { 0, 0 }, lo, hi;
	uint8_t *m = new_mem(), *f;
	struct stat st;

	for (uint64_t p = 0; p < NPAGES; p++)
		fill_page(m, p, 0);
	memset(m + 40 * PS, 0, PS); /* dirty and zero: must be data */
	dirty[0] = BIT(1) | BIT(2) | BIT(3) | BIT(40) | BIT(63);
	dirty[1] = BIT(66 - 64) | ~0ULL << (NPAGES - 64); /* past the end */

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/diff", dir);
	ck_assert_msg(snap_mem_write(path, m, SIZE, dirty, PS, NULL, err,
	                             sizeof(err)) == 0,
	              "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_size, SIZE);
	lo = data_pages(path, &hi);
	ck_assert_uint_eq(lo, dirty[0]);
	ck_assert_uint_eq(hi, BIT(66 - 64));
	f = read_all(path, SIZE);
	for (uint64_t p = 0; p < NPAGES; p++) {
		bool d = p < 64 ? dirty[0] >> p & 1 : p == 66;
		static const uint8_t zero[PS];

		ck_assert(!memcmp(f + p * PS, d ? m + p * PS : zero, PS));
	}
	free(f);
	munmap(m, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

START_TEST(merge_gives_the_later_image)
{
	char dir[64], base[128], d1[128], d2[128], err[512];
	uint64_t dirty1[2] = { 0, 0 }, dirty2[2] = { 0, 0 };
	uint8_t *m = new_mem(), *f;

	for (uint64_t p = 0; p < NPAGES; p += 2)
		fill_page(m, p, 0);
	snap_test_dir(dir, sizeof(dir));
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(d1, sizeof(d1), "%s/d1", dir);
	snprintf(d2, sizeof(d2), "%s/d2", dir);
	ck_assert(snap_mem_write(base, m, SIZE, NULL, PS, NULL, err,
	                         sizeof(err)) == 0);

	/* Generation 1: pages rewritten, one zeroed, one newly written. */
	fill_page(m, 0, 1);
	fill_page(m, 5, 1);
	memset(m + 10 * PS, 0, PS);
	fill_page(m, 65, 1);
	dirty1[0] = BIT(0) | BIT(5) | BIT(10);
	dirty1[1] = BIT(65 - 64);
	ck_assert(snap_mem_write(d1, m, SIZE, dirty1, PS, NULL, err,
	                         sizeof(err)) == 0);
	/* Generation 2, on top of it. */
	fill_page(m, 5, 2);
	memset(m + 66 * PS, 0, PS);
	fill_page(m, 69, 2);
	dirty2[0] = BIT(5);
	dirty2[1] = BIT(66 - 64) | BIT(69 - 64);
	ck_assert(snap_mem_write(d2, m, SIZE, dirty2, PS, NULL, err,
	                         sizeof(err)) == 0);

	ck_assert_msg(snap_mem_merge(base, d1, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_msg(snap_mem_merge(base, d2, err, sizeof(err)) == 0, "%s",
	              err);
	f = read_all(base, SIZE);
	ck_assert(!memcmp(f, m, SIZE));
	free(f);
	munmap(m, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

/* Tags travel: the write sets them, a merge hands the diff's id on. */
START_TEST(tags_follow_the_files)
{
	char dir[64], base[128], d1[128], err[512];
	uint64_t dirty[2] = { BIT(3), 0 };
	struct snap_mem_tag full = { .id = "full-0123456789",
		                     .kind = SNAP_MEM_FULL },
	                    dt = { .id = "diff-0123456789",
		                   .kind = SNAP_MEM_DIFF },
	                    got;
	uint8_t *m = new_mem();
	int fd, rc;

	fill_page(m, 3, 0);
	snap_test_dir(dir, sizeof(dir));
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(d1, sizeof(d1), "%s/d1", dir);
	ck_assert(snap_mem_write(base, m, SIZE, NULL, PS, &full, err,
	                         sizeof(err)) == 0);
	fd = open(base, O_RDONLY);
	rc = snap_mem_tag_get(fd, &got);
	close(fd);
	if (rc == 0) /* this file system keeps no user xattrs */
		goto out;
	ck_assert_int_eq(rc, 1);
	ck_assert(!memcmp(&got, &full, sizeof(got)));

	/* A full file is not a diff to merge. */
	ck_assert(snap_mem_write(d1, m, SIZE, dirty, PS, &full, err,
	                         sizeof(err)) == 0);
	ck_assert(snap_mem_merge(base, d1, err, sizeof(err)) < 0);
	ck_assert_msg(strstr(err, "not the memory file of a Diff"), "%s", err);

	ck_assert(snap_mem_write(d1, m, SIZE, dirty, PS, &dt, err,
	                         sizeof(err)) == 0);
	ck_assert_msg(snap_mem_merge(base, d1, err, sizeof(err)) == 0, "%s",
	              err);
	fd = open(base, O_RDONLY);
	ck_assert_int_eq(snap_mem_tag_get(fd, &got), 1);
	close(fd);
	ck_assert(!memcmp(got.id, dt.id, SNAP_ID_LEN));
	ck_assert_int_eq(got.kind, SNAP_MEM_FULL);
out:
	munmap(m, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

START_TEST(errors_name_the_file)
{
	char dir[64], path[128], other[128], err[512], want[512];
	uint8_t *m = new_mem();

	snap_test_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/mem", dir);
	ck_assert(snap_mem_write(path, m, SIZE, NULL, 1000, NULL, err,
	                         sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "not whole pages of 1000"));
	ck_assert(snap_mem_write(path, m, SIZE, NULL, 2048, NULL, err,
	                         sizeof(err)) < 0);
	ck_assert(snap_mem_write(path, m, SIZE - 1, NULL, PS, NULL, err,
	                         sizeof(err)) < 0);
	ck_assert(snap_mem_write(path, m, 0, NULL, PS, NULL, err, sizeof(err)) <
	          0);
	ck_assert(snap_mem_write(path, m, SIZE, NULL, 64 * PS, NULL, err,
	                         sizeof(err)) < 0);

	snprintf(path, sizeof(path), "%s/no/mem", dir);
	ck_assert(snap_mem_write(path, m, SIZE, NULL, PS, NULL, err,
	                         sizeof(err)) < 0);
	snprintf(want, sizeof(want),
	         "memory file '%s': cannot create '%s.tmp.%d': %s", path, path,
	         (int)getpid(), strerror(ENOENT));
	ck_assert_str_eq(err, want);

	snprintf(path, sizeof(path), "%s/a", dir);
	snprintf(other, sizeof(other), "%s/b", dir);
	ck_assert(snap_mem_write(path, m, SIZE, NULL, PS, NULL, err,
	                         sizeof(err)) == 0);
	ck_assert(snap_mem_merge(path, other, err, sizeof(err)) < 0);
	snprintf(want, sizeof(want), "cannot open diff '%s': %s", other,
	         strerror(ENOENT));
	ck_assert_str_eq(err, want);
	ck_assert(snap_mem_merge(other, path, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "cannot open base"));
	ck_assert(snap_mem_merge(path, path, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "not two memory files of one VM"));
	ck_assert(snap_mem_write(other, m, SIZE - PS, NULL, PS, NULL, err,
	                         sizeof(err)) == 0);
	ck_assert(snap_mem_merge(path, other, err, sizeof(err)) < 0);
	ck_assert_ptr_nonnull(strstr(err, "not two memory files of one VM"));
	ck_assert(snap_mem_merge(path, dir, err, sizeof(err)) < 0);
	ck_assert_int_eq(snap_test_count_tmp(dir), 0);
	munmap(m, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

/*
 * In a mount namespace of the test's own: a full tmpfs, and a ramfs,
 * which knows no holes (every byte is data to SEEK_DATA).
 */
START_TEST(full_disk_and_holeless_file_system)
{
	char dir[64], mnt[96], ram[96], path[160], err[512] = "";
	char err2[512] = "", want[512];
	uint64_t dirty[2] = { BIT(3), 0 };
	uint8_t *m = new_mem(), *f = NULL, *old = NULL;
	int rc, rc2, rc3, tmps;

	for (uint64_t p = 0; p < NPAGES; p++)
		fill_page(m, p, 0);
	snap_test_dir(dir, sizeof(dir));
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", dir);
	snprintf(ram, sizeof(ram), "%s/ramfs", dir);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	ck_assert_int_eq(mkdir(ram, 0700), 0);
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=128k"), 0);
	ck_assert_int_eq(mount("ramfs", ram, "ramfs", 0, NULL), 0);

	/* No assertion until the unmounts: record, unmount, then check. */
	snprintf(path, sizeof(path), "%s/mem", mnt);
	rc = snap_mem_write(path, m, 16 * PS, NULL, PS, NULL, err, sizeof(err));
	if (rc == 0) {
		old = read_all(path, 16 * PS);
		rc = snap_mem_write(path, m, SIZE, NULL, PS, NULL, err,
		                    sizeof(err)) < 0
		             ? 1
		             : 0;
		f = read_all(path, 16 * PS);
	}
	tmps = snap_test_count_tmp(mnt);
	snprintf(want, sizeof(want), "%s/full", ram);
	rc2 = snap_mem_write(want, m, SIZE, NULL, PS, NULL, err2, sizeof(err2));
	snprintf(path, sizeof(path), "%s/diff", ram);
	rc3 = snap_mem_write(path, m, SIZE, dirty, PS, NULL, err2,
	                     sizeof(err2));
	umount2(mnt, MNT_DETACH);
	umount2(ram, MNT_DETACH);

	ck_assert_msg(rc == 1, "%d %s", rc, err);
	snprintf(want, sizeof(want),
	         "memory file '%s/mem': cannot write '%s/mem.tmp.%d': %s", mnt,
	         mnt, (int)getpid(), strerror(ENOSPC));
	ck_assert_str_eq(err, want);
	ck_assert(!memcmp(f, old, 16 * PS));
	ck_assert_int_eq(tmps, 0);
	ck_assert_int_eq(rc2, 0);
	ck_assert_int_eq(rc3, -1);
	ck_assert_msg(strstr(err2, "does not keep holes at 4096-byte pages"),
	              "%s", err2);
	free(f);
	free(old);
	munmap(m, SIZE);
	snap_test_rmdir(dir);
}
END_TEST

Suite *snapmem_suite(void)
{
	Suite *s = suite_create("snapmem");
	TCase *tc = tcase_create("memory files");

	tcase_add_test(tc, full_write_leaves_holes);
	tcase_add_test(tc, diff_write_holds_only_dirty_pages);
	tcase_add_test(tc, merge_gives_the_later_image);
	tcase_add_test(tc, tags_follow_the_files);
	tcase_add_test(tc, errors_name_the_file);
	tcase_add_test(tc, full_disk_and_holeless_file_system);
	suite_add_tcase(s, tc);
	return s;
}
