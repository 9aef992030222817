/* Scratch directories and files for the snapshot suites. */
#ifndef WISP_SNAP_TEST_H
#define WISP_SNAP_TEST_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

/* A fresh directory under /tmp; its name in @buf. */
void snap_test_dir(char *buf, size_t len);
/* Remove @dir and everything in it. */
void snap_test_rmdir(const char *dir);
/* Entries of @dir whose name holds ".tmp.": writers' temporary files. */
int snap_test_count_tmp(const char *dir);
/* Create or replace @path with @len bytes of @data. */
void snap_test_write_file(const char *path, const void *data, size_t len);
/* Recompute a state file's trailing CRC after an edit. */
void snap_test_fix_crc(uint8_t *buf, size_t len);
/* ck_assert that two token buckets are the same. */
void snap_test_same_bucket(const struct bucket_config *x,
                           const struct bucket_config *y);
/* ck_assert field by field that @x and @y are the same snapshot machine. */
void snap_test_same_config(const struct config *x, const struct config *y);

#endif
