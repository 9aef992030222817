/* Helpers of the snapshot suites (snap_test.h). */
#include "unit.h"
#include "snap_test.h"
#include "snapfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void snap_test_dir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/wisp-snap.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	return remove(path);
}

void snap_test_rmdir(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int snap_test_count_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

void snap_test_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void snap_test_fix_crc(uint8_t *buf, size_t len)
{
	uint64_t crc = snap_crc64(0, buf, len - 8);

	for (int i = 0; i < 8; i++)
		buf[len - 8 + i] = (uint8_t)(crc >> 8 * i);
}
