/*
 * The CONFIG section's records (snapconfig.h has the format): the
 * machine's own fields here, each device type's in the struct
 * snapcfg_type of its struct vdev_conf, found through vdev_types[].
 */
#include "snapconfig.h"
#include "util.h"
#include "vdev.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(unsigned) == 4, "vcpu_count is a u32");

/* SNAPCFG_HUGE_PAGES: enum huge_pages, one byte in the record. */
static bool huge_get(const void *item, uint8_t *v)
{
	v[0] = (uint8_t)((const struct config *)item)->huge_pages;
	return true;
}

static void huge_set(void *item, const uint8_t *v)
{
	((struct config *)item)->huge_pages = v[0];
}

/* SNAPCFG_SMT: a record only when SMT is on, so older files read as off
 * and a machine without it encodes as before. */
static bool smt_get(const void *item, uint8_t *v)
{
	v[0] = 1;
	return ((const struct config *)item)->smt;
}

static void smt_set(void *item, const uint8_t *v)
{
	((struct config *)item)->smt = v[0];
}

static const struct snapcfg_field machine_fields[] = {
	SNAPCFG_FIELD(struct config, vcpus, SNAPCFG_VCPUS, SNAPCFG_U32, true,
	              "vcpu_count"),
	SNAPCFG_FIELD(struct config, mem_mib, SNAPCFG_MEM_MIB, SNAPCFG_U64,
	              true, "mem_size_mib"),
	SNAPCFG_CUSTOM_FIELD(SNAPCFG_HUGE_PAGES, 1, HUGE_PAGES_THP, huge_get,
	                     huge_set, "huge_pages"),
	SNAPCFG_CUSTOM_FIELD(SNAPCFG_SMT, 1, 1, smt_get, smt_set, "smt"),
};

/*
 * The machine, as a type of one whose instance is struct config itself;
 * the device types' count records follow its fields.
 */
static const struct snapcfg_type machine = {
	.fields = machine_fields,
	.nfields = ARRAY_SIZE(machine_fields),
};

/* The records of device type @ty, or NULL when it has none. */
static const struct snapcfg_type *snap_of(const struct vdev_type *ty)
{
	return ty->conf ? ty->conf->snap : NULL;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- encoding ------------------------------------------------------- */

struct out {
	uint8_t *p;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const void *v, size_t n)
{
	if (o->failed)
		return;
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *p;

		while (cap - o->len < n)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p) {
			o->failed = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, v, n);
	o->len += n;
}

static void put_record(struct out *o, uint16_t tag, unsigned i, const void *v,
                       uint32_t n)
{
	uint8_t head[SNAPCFG_RECORD_HEAD];

	put16(head, tag);
	put16(head + 2, (uint16_t)i);
	put32(head + 4, n);
	put(o, head, sizeof(head));
	put(o, v, n);
}

/*
 * The value of @f in @item: its bytes at *@v (in @tmp or in @item), its
 * length returned; 0 when an optional field is not set (no record).
 */
static uint32_t value_of(const struct snapcfg_field *f, const uint8_t *item,
                         uint8_t tmp[SNAPCFG_VALUE_MAX], const void **v)
{
	const uint8_t *p = item + f->off;
	const struct bucket_config *b = (const void *)p;
	uint32_t u32;
	uint64_t u64;
	size_t n;

	*v = tmp;
	switch (f->kind) {
	case SNAPCFG_U32:
		memcpy(&u32, p, 4);
		put32(tmp, u32);
		return 4;
	case SNAPCFG_U64:
		memcpy(&u64, p, 8);
		put64(tmp, u64);
		return 8;
	case SNAPCFG_BOOL:
		tmp[0] = *(const bool *)p;
		return 1;
	case SNAPCFG_STR:
		n = strnlen((const char *)p, f->size - 1);
		*v = p;
		return n || f->required ? (uint32_t)n + 1 : 0;
	case SNAPCFG_BUCKET:
		put64(tmp, b->size);
		put64(tmp + 8, b->one_time_burst);
		put64(tmp + 16, b->refill_time_ms);
		return b->set ? 24 : 0;
	case SNAPCFG_CUSTOM:
		return f->get(item, tmp) ? f->len : 0;
	}
	return 0;
}

/* The records of instance @i of @st, kept at @item. */
static void put_fields(struct out *o, const struct snapcfg_type *st,
                       const void *item, unsigned i)
{
	for (unsigned k = 0; k < st->nfields; k++) {
		const struct snapcfg_field *f = &st->fields[k];
		uint8_t tmp[SNAPCFG_VALUE_MAX];
		const void *v;
		uint32_t n = value_of(f, item, tmp, &v);

		if (n)
			put_record(o, f->tag, i, v, n);
	}
}

uint8_t *snapcfg_encode(const struct config *c, size_t *len)
{
	struct out o = { 0 };
	uint8_t version[4];

	put32(version, SNAPCFG_VERSION);
	put(&o, version, sizeof(version));
	put_fields(&o, &machine, c, 0);
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct snapcfg_type *st = snap_of(*ty);
		uint8_t n[4];

		if (!st || !st->count_tag)
			continue;
		put32(n, (*ty)->count(c));
		put_record(&o, st->count_tag, 0, n, sizeof(n));
	}
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct snapcfg_type *st = snap_of(*ty);
		const struct vdev_conf *conf = (*ty)->conf;

		if (!st)
			continue;
		for (unsigned i = 0; i < (*ty)->count(c) && i < conf->max; i++)
			put_fields(&o, st, conf->item((struct config *)c, i),
			           i);
	}
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	*len = o.len;
	return o.p;
}

/* ---- decoding ------------------------------------------------------- */

/* The machine or a device type, and what its records gave. */
struct table {
	const struct vdev_type *ty; /* NULL: the machine */
	const struct snapcfg_type *st;
	unsigned slots; /* its instances' slots: conf->max, 1 */
	uint32_t *seen; /* a mask per slot, a bit per field */
	uint32_t count; /* its count record's value (st->count_tag) */
	bool counted;   /* that record was given */
};

/*
 * The machine (t[0]) and the device types with records, in registry
 * order. Every configurable device has an IRQ of its own (vdev.h), so
 * the types' slots, and the types, fit in VMM_MAX_VIRTIO.
 */
struct dec {
	struct config *c;
	unsigned n;
	struct table t[1 + VMM_MAX_VIRTIO];
	uint32_t seen[1 + VMM_MAX_VIRTIO];
};

static void dec_init(struct dec *d, struct config *c)
{
	unsigned slots = 1;

	memset(d, 0, sizeof(*d));
	d->c = c;
	d->t[0] = (struct table){ .st = &machine, .slots = 1, .seen = d->seen };
	d->n = 1;
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct snapcfg_type *st = snap_of(*ty);
		unsigned max;

		if (!st)
			continue;
		max = (*ty)->conf->max;
		assert(d->n < ARRAY_SIZE(d->t) &&
		       max <= ARRAY_SIZE(d->seen) - slots);
		d->t[d->n++] = (struct table){ .ty = *ty,
			                       .st = st,
			                       .slots = max,
			                       .seen = d->seen + slots };
		slots += max;
	}
}

/* The structure slot @i of @t lives in. */
static uint8_t *item_of(const struct dec *d, const struct table *t, unsigned i)
{
	return t->ty ? t->ty->conf->item(d->c, i) : (uint8_t *)d->c;
}

/* "drive 2: path_on_host", "vsock: uds_path", for messages. */
static const char *field_name(const struct table *t, const char *name,
                              unsigned i, char *buf, size_t len)
{
	if (!t->ty)
		snprintf(buf, len, "%s", name);
	else if (t->st->count_tag)
		snprintf(buf, len, "%s %u: %s", t->st->name, i, name);
	else
		snprintf(buf, len, "%s: %s", t->st->name, name);
	return buf;
}

static uint32_t value_len(const struct snapcfg_field *f)
{
	switch (f->kind) {
	case SNAPCFG_U32:
		return 4;
	case SNAPCFG_U64:
		return 8;
	case SNAPCFG_BOOL:
		return 1;
	case SNAPCFG_BUCKET:
		return 24;
	case SNAPCFG_CUSTOM:
		return f->len;
	case SNAPCFG_STR:
		break;
	}
	return 0;
}

/* The value @v of @n bytes of field @f into @item, checked. */
static int set_value(const struct snapcfg_field *f, uint8_t *item,
                     const uint8_t *v, uint32_t n, const char *what, char *err,
                     size_t errlen)
{
	uint8_t *p = item + f->off;
	/* The largest value of a one-byte field that has a range. */
	uint8_t top = f->kind == SNAPCFG_BOOL     ? 1
	              : f->kind == SNAPCFG_CUSTOM ? f->top
	                                          : 0;
	uint32_t u32;
	uint64_t u64;

	if (f->kind == SNAPCFG_STR) {
		const uint8_t *nul = n ? memchr(v, 0, n) : NULL;

		if (n > f->size)
			return util_err(
			        err, errlen,
			        "%s: a string of %u bytes, the field holds "
			        "%zu",
			        what, n, f->size);
		if (!nul || nul != v + n - 1)
			return util_err(
			        err, errlen,
			        "%s: the string is not NUL-terminated at "
			        "its end",
			        what);
		memcpy(p, v, n);
		return 0;
	}
	if (n != value_len(f))
		return util_err(err, errlen, "%s: %u bytes, want %u", what, n,
		                value_len(f));
	if (top && v[0] > top)
		return util_err(err, errlen,
		                "%s: %u is not one of its values%s", what, v[0],
		                f->kind == SNAPCFG_BOOL ? " (a boolean: 0 or 1)"
		                                        : "");
	switch (f->kind) {
	case SNAPCFG_U32:
		u32 = get32(v);
		memcpy(p, &u32, 4);
		break;
	case SNAPCFG_U64:
		u64 = get64(v);
		memcpy(p, &u64, 8);
		break;
	case SNAPCFG_BOOL:
		*(bool *)p = v[0];
		break;
	case SNAPCFG_BUCKET:
		*(struct bucket_config *)p =
		        (struct bucket_config){ .set = true,
			                        .size = get64(v),
			                        .one_time_burst = get64(v + 8),
			                        .refill_time_ms =
			                                get64(v + 16) };
		break;
	case SNAPCFG_CUSTOM:
		f->set(item, v);
		break;
	case SNAPCFG_STR:
		break;
	}
	return 0;
}

/* The record at byte @at: tag @tag, slot @index, value @v of @n bytes. */
static int record(struct dec *d, size_t at, uint16_t tag, uint16_t index,
                  const uint8_t *v, uint32_t n, char *err, size_t errlen)
{
	const struct snapcfg_field *f = NULL;
	struct table *t = NULL, *counted = NULL;
	struct snapcfg_field count;
	char what[96], name[64];
	uint32_t *mask, bit;
	uint8_t *item;

	for (unsigned k = 0; k < d->n && !f; k++) {
		const struct snapcfg_type *st = d->t[k].st;

		for (unsigned j = 0; j < st->nfields && !f; j++) {
			if (st->fields[j].tag != tag)
				continue;
			t = &d->t[k];
			f = &st->fields[j];
		}
	}
	for (unsigned k = 1; k < d->n && !f; k++) {
		if (!d->t[k].st->count_tag || d->t[k].st->count_tag != tag)
			continue;
		/* A type's count: a u32 of the machine, kept until the end. */
		counted = &d->t[k];
		t = &d->t[0];
		count = (struct snapcfg_field){
			.tag = tag,
			.kind = SNAPCFG_U32,
			.size = 4,
			.name = counted->st->count_name
		};
		f = &count;
	}
	/* A newer wisp's field, which it says a reader may do without. */
	if (!f && (tag & SNAPCFG_SKIPPABLE))
		return 0;
	if (!f)
		return util_err(
		        err, errlen,
		        "record at byte %zu: tag 0x%04x is unknown to this "
		        "wisp (a newer wisp's snapshot?)",
		        at, tag);
	if (index >= t->slots)
		return util_err(
		        err, errlen,
		        "record at byte %zu (tag 0x%04x): slot %u is out of "
		        "range",
		        at, tag, index);
	snprintf(what, sizeof(what), "record at byte %zu (%s)", at,
	         field_name(t, f->name, index, name, sizeof(name)));
	if (counted) {
		if (counted->counted)
			return util_err(err, errlen, "%s: given twice", what);
		counted->counted = true;
		return set_value(f, (uint8_t *)&counted->count, v, n, what, err,
		                 errlen);
	}
	mask = &t->seen[index];
	bit = 1u << (f - t->st->fields);
	if (*mask & bit)
		return util_err(err, errlen, "%s: given twice", what);
	*mask |= bit;
	item = item_of(d, t, index);
	return set_value(f, item, v, n, what, err, errlen);
}

/* Required fields of slot @i of @t that no record gave. */
static int complete(const struct table *t, unsigned i, char *err, size_t errlen)
{
	char name[64];

	for (unsigned k = 0; k < t->st->nfields; k++) {
		const struct snapcfg_field *f = &t->st->fields[k];

		if (f->required && !(t->seen[i] & 1u << k))
			return util_err(
			        err, errlen, "%s is missing",
			        field_name(t, f->name, i, name, sizeof(name)));
	}
	return 0;
}

/* How many instances of @t's type the records give, checked. */
static int instances(struct dec *d, const struct table *t, char *err,
                     size_t errlen)
{
	const struct snapcfg_type *st = t->st;
	unsigned n = st->count_tag ? t->count : t->seen[0] != 0;

	for (unsigned i = 0; i < t->slots; i++) {
		if (i >= n && t->seen[i])
			return util_err(err, errlen,
			                "records for %s %u, of %u %ss",
			                st->name, i, n, st->name);
		if (i < n && complete(t, i, err, errlen) < 0)
			return -1;
	}
	t->ty->conf->set_count(d->c, n);
	return 0;
}

/*
 * A count above its type's max. The machine's own fields are checked
 * first, as they were when the counts were fields of the machine:
 * snapcfg_check() sees no device yet.
 */
static int too_many(struct dec *d, char *err, size_t errlen)
{
	for (unsigned k = 1; k < d->n; k++) {
		const struct table *t = &d->t[k];

		if (t->st->count_tag && t->count > t->slots)
			return snapcfg_check(d->c, err, errlen) < 0
			               ? -1
			               : util_err(err, errlen,
			                          "%u %s, at most %u", t->count,
			                          t->st->plural, t->slots);
	}
	return 0;
}

int snapcfg_decode(const void *buf, size_t len, struct config *c, char *err,
                   size_t errlen)
{
	const uint8_t *p = buf;
	struct dec d;
	uint32_t version;
	size_t at = 4;

	memset(c, 0, sizeof(*c));
	dec_init(&d, c);
	if (len < 4)
		return util_err(
		        err, errlen,
		        "%zu bytes, too short for the encoding's version", len);
	version = get32(p);
	if (version == 0 || version > SNAPCFG_VERSION)
		return util_err(
		        err, errlen,
		        "encoding version %u; this wisp reads version %d "
		        "(a newer wisp's snapshot?)",
		        version, SNAPCFG_VERSION);
	while (at < len) {
		size_t left = len - at;
		uint32_t n;

		if (left < SNAPCFG_RECORD_HEAD)
			return util_err(
			        err, errlen,
			        "record at byte %zu is cut short (%zu bytes "
			        "left, a record's head is %d)",
			        at, left, SNAPCFG_RECORD_HEAD);
		n = get32(p + at + 4);
		if (n > left - SNAPCFG_RECORD_HEAD)
			return util_err(
			        err, errlen,
			        "record at byte %zu (tag 0x%04x) has a value "
			        "of %u bytes, past the section's end (%zu "
			        "left)",
			        at, get16(p + at), n,
			        left - SNAPCFG_RECORD_HEAD);
		if (record(&d, at, get16(p + at), get16(p + at + 2),
		           p + at + SNAPCFG_RECORD_HEAD, n, err, errlen) < 0)
			return -1;
		at += SNAPCFG_RECORD_HEAD + n;
	}
	if (complete(&d.t[0], 0, err, errlen) < 0 ||
	    too_many(&d, err, errlen) < 0)
		return -1;
	for (unsigned k = 1; k < d.n; k++)
		if (instances(&d, &d.t[k], err, errlen) < 0)
			return -1;
	return snapcfg_check(c, err, errlen);
}
