/* Helpers of the snapshot suites (snap_test.h). */
#include "unit.h"
#include "snap_test.h"
#include "snapfile.h"
#include "config.h"

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

void snap_test_same_bucket(const struct bucket_config *x,
                           const struct bucket_config *y)
{
	ck_assert_int_eq(x->set, y->set);
	ck_assert_uint_eq(x->size, y->size);
	ck_assert_uint_eq(x->one_time_burst, y->one_time_burst);
	ck_assert_uint_eq(x->refill_time_ms, y->refill_time_ms);
}

static void same_rl(const struct rate_limiter_config *x,
                    const struct rate_limiter_config *y)
{
	snap_test_same_bucket(&x->bandwidth, &y->bandwidth);
	snap_test_same_bucket(&x->ops, &y->ops);
}

/* Every field a snapshot keeps, field by field. */
void snap_test_same_config(const struct config *x, const struct config *y)
{
	ck_assert_uint_eq(x->vcpus, y->vcpus);
	ck_assert_uint_eq(x->mem_mib, y->mem_mib);
	ck_assert_int_eq(x->huge_pages, y->huge_pages);
	ck_assert_int_eq(x->smt, y->smt);
	ck_assert_uint_eq(x->ndrives, y->ndrives);
	for (unsigned i = 0; i < x->ndrives; i++) {
		const struct drive_config *d = &x->drives[i],
		                          *e = &y->drives[i];

		ck_assert_str_eq(d->id, e->id);
		ck_assert_str_eq(d->path, e->path);
		ck_assert_int_eq(d->root, e->root);
		ck_assert_int_eq(d->read_only, e->read_only);
		ck_assert_int_eq(d->direct, e->direct);
		ck_assert_int_eq(d->no_flush, e->no_flush);
		ck_assert_int_eq(d->io_sync, e->io_sync);
		ck_assert_str_eq(d->partuuid, e->partuuid);
		same_rl(&d->rl, &e->rl);
	}
	ck_assert_uint_eq(x->nnets, y->nnets);
	for (unsigned i = 0; i < x->nnets; i++) {
		const struct net_config *n = &x->nets[i], *o = &y->nets[i];

		ck_assert_str_eq(n->id, o->id);
		ck_assert_str_eq(n->host_dev_name, o->host_dev_name);
		ck_assert_int_eq(n->has_mac, o->has_mac);
		ck_assert_mem_eq(n->mac, o->mac, 6);
		same_rl(&n->rx, &o->rx);
		same_rl(&n->tx, &o->tx);
	}
	ck_assert_int_eq(x->vsock.present, y->vsock.present);
	ck_assert_uint_eq(x->vsock.guest_cid, y->vsock.guest_cid);
	ck_assert_str_eq(x->vsock.uds_path, y->vsock.uds_path);
	ck_assert_str_eq(x->vsock.id, y->vsock.id);
}
