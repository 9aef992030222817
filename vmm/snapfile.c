/*
 * The snapshot state file (layout in snapfile.h), writing side: a
 * buffered writer that renames a finished, fsynced temporary file over
 * the old one. snapfile_read.c reads it back.
 */
#include "snapfile.h"
#include "snaptmp.h"
#include "util.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sections are small; one 64 KiB buffer turns them into few writes. */
#define SNAP_WRITE_BUF (64 * 1024)

struct snap_key {
	uint32_t type;
	uint32_t index;
};

/* ---- CRC-64/XZ ------------------------------------------------------ */

/*
 * Slicing-by-8: table k holds the CRC of a byte followed by k zero bytes,
 * so eight table lookups fold in eight bytes at once (a state file is
 * checked on every load: ~5x faster than a byte at a time).
 */
static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	/* 0xc96c5795d7870f42 is 0x42f0e1eba9ea3693 bit-reversed. */
	for (unsigned i = 0; i < 256; i++) {
		uint64_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? c >> 1 ^ 0xc96c5795d7870f42ULL : c >> 1;
		crc_table[0][i] = c;
	}
	for (unsigned k = 1; k < 8; k++)
		for (unsigned i = 0; i < 256; i++)
			crc_table[k][i] =
			        crc_table[k - 1][i] >> 8 ^
			        crc_table[0][crc_table[k - 1][i] & 0xff];
}

uint64_t snap_crc64(uint64_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		crc ^= le64toh(w);
		crc = crc_table[7][crc & 0xff] ^ crc_table[6][crc >> 8 & 0xff] ^
		      crc_table[5][crc >> 16 & 0xff] ^
		      crc_table[4][crc >> 24 & 0xff] ^
		      crc_table[3][crc >> 32 & 0xff] ^
		      crc_table[2][crc >> 40 & 0xff] ^
		      crc_table[1][crc >> 48 & 0xff] ^ crc_table[0][crc >> 56];
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ crc >> 8;
	return ~crc;
}

/* ---- little-endian fields, written ---------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* ---- writing -------------------------------------------------------- */

static void fail_io(struct snap_writer *w, int e, const char *step)
{
	if (w->error)
		return;
	w->error = e;
	snprintf(w->msg, sizeof(w->msg), "cannot %s '%s': %s", step, w->tmp,
	         strerror(e));
}

static void flush(struct snap_writer *w)
{
	int rc = 0;

	if (w->used && !w->error)
		rc = util_write_all(w->fd, w->buf, w->used);
	if (rc < 0)
		fail_io(w, -rc, "write");
	w->used = 0;
}

/* Append @len bytes to the file, through the buffer unless large. */
static void out(struct snap_writer *w, const void *data, size_t len)
{
	int rc;

	if (!len)
		return;
	if (w->used + len > SNAP_WRITE_BUF)
		flush(w);
	if (w->error)
		return;
	if (len < SNAP_WRITE_BUF) {
		memcpy(w->buf + w->used, data, len);
		w->used += len;
		return;
	}
	rc = util_write_all(w->fd, data, len);
	if (rc < 0)
		fail_io(w, -rc, "write");
}

/* Append @len bytes covered by the CRC. */
static void emit(struct snap_writer *w, const void *data, size_t len)
{
	if (w->error)
		return;
	w->crc = snap_crc64(w->crc, data, len);
	out(w, data, len);
}

/* The writer's memory; the file and its name are handled by the caller. */
static void release(struct snap_writer *w)
{
	free(w->buf);
	free(w->keys);
	w->buf = NULL;
	w->keys = NULL;
	w->nkeys = w->capkeys = 0;
}

int snap_write_begin(struct snap_writer *w, const char *path, char *err,
                     size_t errlen)
{
	uint8_t head[SNAP_HEADER_SIZE] = SNAP_MAGIC;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	if (strlen(path) >= sizeof(w->path)) {
		snprintf(err, errlen, "snapshot '%s': %s", path,
		         strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(w->path, path);
	w->buf = malloc(SNAP_WRITE_BUF);
	if (!w->buf) {
		snprintf(err, errlen, "snapshot '%s': %s", path,
		         strerror(ENOMEM));
		return -1;
	}
	w->fd = snap_tmp_open(path, w->tmp, sizeof(w->tmp));
	if (w->fd < 0) {
		if (w->fd == -ENAMETOOLONG)
			snprintf(err, errlen, "snapshot '%s': %s", path,
			         strerror(-w->fd));
		else
			snprintf(err, errlen,
			         "snapshot '%s': cannot create '%s': %s", path,
			         w->tmp, strerror(-w->fd));
		w->fd = -1;
		release(w);
		return -1;
	}
	put32(head + 8, SNAP_VERSION);
	put32(head + 12, 0);
	emit(w, head, sizeof(head));
	return 0;
}

/* Remember (@type, @index); false if it was written already. */
static int add_key(struct snap_writer *w, uint32_t type, uint32_t index)
{
	for (size_t i = 0; i < w->nkeys; i++)
		if (w->keys[i].type == type && w->keys[i].index == index)
			return -EEXIST;
	if (w->nkeys == w->capkeys) {
		size_t cap = w->capkeys ? 2 * w->capkeys : 16;
		struct snap_key *k = realloc(w->keys, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		w->keys = k;
		w->capkeys = cap;
	}
	w->keys[w->nkeys++] = (struct snap_key){ type, index };
	return 0;
}

int snap_write_section(struct snap_writer *w, uint32_t type, uint32_t index,
                       const void *data, uint64_t len)
{
	static const uint8_t zeros[8];
	uint8_t head[SNAP_SECTION_HEAD];
	int rc;

	if (w->fd < 0)
		return -1;
	if (w->error)
		return -1;
	rc = type == SNAP_END ? -EINVAL : add_key(w, type, index);
	if (rc < 0) {
		w->error = -rc;
		if (rc == -EINVAL)
			snprintf(w->msg, sizeof(w->msg),
			         "section type 0x%x is reserved", type);
		else
			snprintf(w->msg, sizeof(w->msg),
			         "section type 0x%x index %u: %s", type, index,
			         rc == -EEXIST ? "written twice"
			                       : strerror(-rc));
		return -1;
	}
	put32(head, type);
	put32(head + 4, index);
	put64(head + 8, len);
	emit(w, head, sizeof(head));
	emit(w, data, len);
	emit(w, zeros, ALIGN_UP(len, 8) - len);
	w->count++;
	return w->error ? -1 : 0;
}

void snap_write_abort(struct snap_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
		unlink(w->tmp);
	}
	release(w);
}

int snap_write_commit(struct snap_writer *w, char *err, size_t errlen)
{
	char tmp[sizeof(w->tmp)];

	if (snap_write_finish(w, tmp, sizeof(tmp), err, errlen) < 0)
		return -1;
	return snap_tmp_place(tmp, w->path, "snapshot", err, errlen);
}

int snap_write_finish(struct snap_writer *w, char *tmp, size_t tmplen,
                      char *err, size_t errlen)
{
	uint8_t trailer[SNAP_TRAILER_SIZE];
	int fd = w->fd;

	if (fd < 0) {
		snprintf(err, errlen, "snapshot: commit without a write");
		return -1;
	}
	put32(trailer, SNAP_END);
	put32(trailer + 4, 0);
	put64(trailer + 8, w->count);
	emit(w, trailer, 16);
	put64(trailer + 16, w->crc);
	out(w, trailer + 16, 8); /* the CRC does not cover itself */
	flush(w);
	w->fd = -1;
	if (w->error) {
		snprintf(err, errlen, "snapshot '%s': %s", w->path, w->msg);
		close(fd);
		unlink(w->tmp);
		release(w);
		return -1;
	}
	snprintf(tmp, tmplen, "%s", w->tmp);
	release(w);
	return snap_tmp_finish(fd, tmp, w->path, "snapshot", err, errlen);
}
