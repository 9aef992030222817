/*
 * The snapshot state file (layout in snapfile.h), reading side: every
 * size, offset and count is checked against the buffer before a pointer
 * into it is handed out, so no input makes the reader touch a byte past
 * the file (tests/fuzz/fuzz_snapfile.c holds it to that).
 */
#include "snapfile.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int cmp_key(const void *a, const void *b)
{
	const struct snap_section *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* The section walk; the header and CRC are already checked. */
static int walk(struct snap_reader *r, const char *name, char *err,
                size_t errlen)
{
	const uint8_t *p = r->data;
	size_t end = r->size - SNAP_TRAILER_SIZE, off = SNAP_HEADER_SIZE;
	uint64_t claimed = get64(p + end + 8);
	struct snap_section *sorted;

	if (get32(p + end) != SNAP_END || get32(p + end + 4)) {
		snprintf(err, errlen, "snapshot '%s': no end marker", name);
		return -1;
	}
	/* Each section takes 16 bytes at least: bounds the allocation. */
	if (claimed > (end - SNAP_HEADER_SIZE) / SNAP_SECTION_HEAD) {
		snprintf(err, errlen,
		         "snapshot '%s': the trailer counts %llu sections, "
		         "more than fit in the file",
		         name, (unsigned long long)claimed);
		return -1;
	}
	r->sections = calloc(claimed ? claimed : 1, sizeof(*r->sections));
	if (!r->sections) {
		snprintf(err, errlen, "snapshot '%s': %s", name,
		         strerror(ENOMEM));
		return -1;
	}
	while (off < end) {
		struct snap_section s;
		size_t room;

		if (end - off < SNAP_SECTION_HEAD) {
			snprintf(err, errlen,
			         "snapshot '%s': section %u at offset %zu is "
			         "cut "
			         "off by the trailer",
			         name, r->count, off);
			return -1;
		}
		room = end - off - SNAP_SECTION_HEAD;
		s.type = get32(p + off);
		s.index = get32(p + off + 4);
		s.len = get64(p + off + 8);
		s.offset = off + SNAP_SECTION_HEAD;
		/* len <= room < SIZE_MAX - 7: the rounding cannot wrap. */
		if (s.len > room || ALIGN_UP(s.len, 8) > room) {
			snprintf(err, errlen,
			         "snapshot '%s': section %u (type 0x%x) at "
			         "offset "
			         "%zu claims %llu bytes, past the end",
			         name, r->count, s.type, off,
			         (unsigned long long)s.len);
			return -1;
		}
		if (s.type == SNAP_END || r->count == claimed) {
			snprintf(err, errlen,
			         "snapshot '%s': more sections than the "
			         "trailer's "
			         "%llu",
			         name, (unsigned long long)claimed);
			return -1;
		}
		if (!all_zero(p + s.offset + s.len,
		              ALIGN_UP(s.len, 8) - s.len)) {
			snprintf(err, errlen,
			         "snapshot '%s': section %u has non-zero "
			         "padding",
			         name, r->count);
			return -1;
		}
		r->sections[r->count++] = s;
		off = s.offset + ALIGN_UP(s.len, 8);
	}
	if (r->count != claimed) {
		snprintf(err, errlen,
		         "snapshot '%s': the trailer counts %llu sections, the "
		         "file holds %u",
		         name, (unsigned long long)claimed, r->count);
		return -1;
	}
	if (r->count < 2)
		return 0;
	sorted = malloc(r->count * sizeof(*sorted));
	if (!sorted) {
		snprintf(err, errlen, "snapshot '%s': %s", name,
		         strerror(ENOMEM));
		return -1;
	}
	memcpy(sorted, r->sections, r->count * sizeof(*sorted));
	qsort(sorted, r->count, sizeof(*sorted), cmp_key);
	for (unsigned i = 1; i < r->count; i++) {
		if (cmp_key(&sorted[i - 1], &sorted[i]))
			continue;
		snprintf(err, errlen,
		         "snapshot '%s': section type 0x%x index %u appears "
		         "twice",
		         name, sorted[i].type, sorted[i].index);
		free(sorted);
		return -1;
	}
	free(sorted);
	return 0;
}

int snap_read_buffer(struct snap_reader *r, const void *buf, size_t len,
                     const char *name, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	uint64_t want, got;
	uint32_t version;

	memset(r, 0, sizeof(*r));
	if (len < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE) {
		snprintf(err, errlen,
		         "snapshot '%s' is %zu bytes, too short to be a wisp "
		         "snapshot",
		         name, len);
		return -1;
	}
	if (memcmp(p, SNAP_MAGIC, 8)) {
		snprintf(err, errlen, "'%s' is not a wisp snapshot (bad magic)",
		         name);
		return -1;
	}
	/* Before the CRC: a later format may place its checksum elsewhere. */
	version = get32(p + 8);
	if (version < SNAP_VERSION_MIN || version > SNAP_VERSION) {
		snprintf(err, errlen,
		         "snapshot '%s' has format version %u; this wisp reads "
		         "versions %u to %u",
		         name, version, SNAP_VERSION_MIN, SNAP_VERSION);
		return -1;
	}
	want = get64(p + len - 8);
	got = snap_crc64(0, p, len - 8);
	if (want != got) {
		snprintf(err, errlen,
		         "snapshot '%s' is corrupted (CRC-64 %016llx, the "
		         "trailer says %016llx)",
		         name, (unsigned long long)got,
		         (unsigned long long)want);
		return -1;
	}
	if (get32(p + 12)) {
		snprintf(err, errlen, "snapshot '%s' has unknown flags 0x%x",
		         name, get32(p + 12));
		return -1;
	}
	r->data = p;
	r->size = len;
	r->version = version;
	if (walk(r, name, err, errlen) < 0) {
		free(r->sections);
		memset(r, 0, sizeof(*r));
		return -1;
	}
	return 0;
}

int snap_read_open(struct snap_reader *r, const char *path, uint64_t max_size,
                   char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	struct stat st;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = util_read_file(path, max_size > SIZE_MAX ? SIZE_MAX : max_size,
	                    &buf, &len);
	if (rc == -EFBIG && stat(path, &st) == 0) {
		snprintf(err, errlen,
		         "snapshot '%s' is %lld bytes, more than the %llu "
		         "allowed",
		         path, (long long)st.st_size,
		         (unsigned long long)max_size);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read snapshot '%s': %s", path,
		         rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return -1;
	}
	if (snap_read_buffer(r, buf, len, path, err, errlen) < 0) {
		free(buf);
		return -1;
	}
	r->owned = buf;
	return 0;
}

const void *snap_read_section(const struct snap_reader *r, uint32_t type,
                              uint32_t index, uint64_t *len)
{
	for (unsigned i = 0; i < r->count; i++) {
		const struct snap_section *s = &r->sections[i];

		if (s->type != type || s->index != index)
			continue;
		if (len)
			*len = s->len;
		return r->data + s->offset;
	}
	return NULL;
}

unsigned snap_read_count(const struct snap_reader *r, uint32_t type)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->count; i++)
		n += r->sections[i].type == type;
	return n;
}

const struct snap_section *snap_read_nth(const struct snap_reader *r,
                                         unsigned i)
{
	return i < r->count ? &r->sections[i] : NULL;
}

void snap_read_close(struct snap_reader *r)
{
	free(r->sections);
	free(r->owned);
	memset(r, 0, sizeof(*r));
}
