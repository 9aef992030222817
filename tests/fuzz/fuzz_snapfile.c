/*
 * libFuzzer target: a snapshot state file. The reader must refuse or
 * accept without touching a byte outside the buffer; what it accepts
 * must be self-consistent and, written again through the writer, give
 * back the very same bytes (the format has one encoding per content).
 * Every section's payload also goes through the configuration decoders
 * (vmm/snapconfig.h): what they accept must encode into records that
 * decode again, to the same records.
 *
 * Random bytes almost never carry a valid CRC-64, so an input whose
 * first byte is odd gets its magic, version and CRC set right before
 * parsing: the section walk behind the checksum is fuzzed too.
 */
#include "snapconfig.h"
#include "snapfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define check(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

static void fix_up(uint8_t *buf, size_t len)
{
	uint64_t crc;

	if (len < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE)
		return;
	memcpy(buf, SNAP_MAGIC, 8);
	buf[8] = SNAP_VERSION;
	memset(buf + 9, 0, 3);
	crc = snap_crc64(0, buf, len - 8);
	for (int i = 0; i < 8; i++)
		buf[len - 8 + i] = (uint8_t)(crc >> 8 * i);
}

/* Write @r's sections again and compare with the @len bytes at @buf. */
static void rewrite(const struct snap_reader *r, const uint8_t *buf, size_t len)
{
	char path[64], err[512];
	struct snap_writer w;
	uint8_t *again = malloc(len + 1);
	ssize_t n;
	int fd;

	check(again);
	snprintf(path, sizeof(path), "/dev/shm/fuzz_snapfile.%d",
	         (int)getpid());
	check(snap_write_begin(&w, path, err, sizeof(err)) == 0);
	for (unsigned i = 0; i < r->count; i++) {
		const struct snap_section *s = snap_read_nth(r, i);

		snap_write_section(&w, s->type, s->index, r->data + s->offset,
		                   s->len);
	}
	check(snap_write_commit(&w, err, sizeof(err)) == 0);
	fd = open(path, O_RDONLY);
	check(fd >= 0);
	n = read(fd, again, len + 1);
	close(fd);
	unlink(path);
	check(n == (ssize_t)len && !memcmp(again, buf, len));
	free(again);
}

/* Records of an accepted configuration decode to the same records. */
static void config_again(const struct config *c)
{
	static struct config again;
	size_t n1, n2;
	uint8_t *e1 = snapcfg_encode(c, &n1), *e2;
	char err[512];

	check(e1);
	check(snapcfg_decode(e1, n1, &again, err, sizeof(err)) == 0);
	e2 = snapcfg_encode(&again, &n2);
	check(e2 && n1 == n2 && !memcmp(e1, e2, n1));
	free(e1);
	free(e2);
}

/* A payload as a CONFIG section, of either format version. */
static void config(const uint8_t *p, uint64_t len)
{
	static struct config c;
	char err[512];

	err[0] = 0;
	if (snapcfg_decode(p, len, &c, err, sizeof(err)) == 0)
		config_again(&c);
	else
		check(err[0] && memchr(err, 0, sizeof(err)));
	if (len == SNAPCFG_LEGACY_SIZE &&
	    snapcfg_decode_legacy(p, len, &c, err, sizeof(err)) == 0)
		config_again(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct snap_reader r;
	char err[512];
	uint8_t *buf;
	size_t n;

	if (!len)
		return 0;
	/* An exact-size copy, so any over-read lands in a redzone. */
	n = len - 1;
	buf = malloc(n ? n : 1);
	check(buf);
	memcpy(buf, data + 1, n);
	if (data[0] & 1)
		fix_up(buf, n);

	err[0] = 0;
	if (snap_read_buffer(&r, buf, n, "fuzz", err, sizeof(err)) < 0) {
		check(err[0] && memchr(err, 0, sizeof(err)));
		check(r.count == 0 && !r.sections);
		free(buf);
		return 0;
	}
	check(r.size == n && r.version >= SNAP_VERSION_MIN &&
	      r.version <= SNAP_VERSION);
	for (unsigned i = 0; i < r.count; i++) {
		const struct snap_section *s = snap_read_nth(&r, i);
		uint64_t got_len;
		const uint8_t *p;
		uint8_t sum = 0;

		check(s && s->offset % 8 == 0);
		check(s->offset <= n - SNAP_TRAILER_SIZE &&
		      s->len <= n - SNAP_TRAILER_SIZE - s->offset);
		p = snap_read_section(&r, s->type, s->index, &got_len);
		check(p == r.data + s->offset && got_len == s->len);
		for (uint64_t k = 0; k < got_len; k++)
			sum ^= p[k]; /* every byte, for ASan */
		(void)sum;
		check(snap_read_count(&r, s->type) >= 1);
		config(p, got_len);
	}
	check(!snap_read_nth(&r, r.count));
	if (r.version == SNAP_VERSION) /* the writer writes no other */
		rewrite(&r, buf, n);
	snap_read_close(&r);
	free(buf);
	return 0;
}
