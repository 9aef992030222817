/* The CONFIG section's records (snapconfig.h has the format). */
#include "snapconfig.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(unsigned) == 4, "vcpus, ndrives, nnets are u32");

/* What a record's index counts: the tag's high byte. */
enum scope { S_MACHINE, S_DRIVE, S_NET, S_VSOCK };

enum kind {
	K_U32,
	K_U64,
	K_BOOL,
	K_STR,
	K_HUGE,   /* enum huge_pages, one byte */
	K_CACHE,  /* drive_config direct/no_flush as enum snapcfg_cache */
	K_MAC,    /* net_config mac, and has_mac by its presence */
	K_BUCKET, /* bucket_config, and set by its presence */
};

/*
 * A field: where it lives in its scope's structure (struct config,
 * drive_config, net_config or vsock_config) and the API's name for it.
 */
struct field {
	uint16_t tag;
	enum kind kind;
	size_t off, size;
	bool required;
	const char *name;
};

#define F(type, tag, kind, member, required, name)                             \
	{                                                                      \
		tag, kind, offsetof(struct type, member),                      \
		        sizeof(((struct type *)0)->member), required, name     \
	}

static const struct field fields[] = {
	F(config, SNAPCFG_VCPUS, K_U32, vcpus, true, "vcpu_count"),
	F(config, SNAPCFG_MEM_MIB, K_U64, mem_mib, true, "mem_size_mib"),
	F(config, SNAPCFG_HUGE_PAGES, K_HUGE, huge_pages, false, "huge_pages"),
	F(config, SNAPCFG_DRIVES, K_U32, ndrives, false, "drives"),
	F(config, SNAPCFG_NETS, K_U32, nnets, false, "network-interfaces"),
	F(drive_config, SNAPCFG_DRIVE_ID, K_STR, id, true, "drive_id"),
	F(drive_config, SNAPCFG_DRIVE_PATH, K_STR, path, true, "path_on_host"),
	F(drive_config, SNAPCFG_DRIVE_ROOT, K_BOOL, root, false,
	  "is_root_device"),
	F(drive_config, SNAPCFG_DRIVE_READ_ONLY, K_BOOL, read_only, false,
	  "is_read_only"),
	F(drive_config, SNAPCFG_DRIVE_CACHE, K_CACHE, direct, false,
	  "cache_type"),
	F(drive_config, SNAPCFG_DRIVE_IO_SYNC, K_BOOL, io_sync, false,
	  "io_engine"),
	F(drive_config, SNAPCFG_DRIVE_PARTUUID, K_STR, partuuid, false,
	  "partuuid"),
	F(drive_config, SNAPCFG_DRIVE_BANDWIDTH, K_BUCKET, rl.bandwidth, false,
	  "rate_limiter.bandwidth"),
	F(drive_config, SNAPCFG_DRIVE_OPS, K_BUCKET, rl.ops, false,
	  "rate_limiter.ops"),
	F(net_config, SNAPCFG_NET_ID, K_STR, id, true, "iface_id"),
	F(net_config, SNAPCFG_NET_TAP, K_STR, host_dev_name, true,
	  "host_dev_name"),
	F(net_config, SNAPCFG_NET_MAC, K_MAC, mac, false, "guest_mac"),
	F(net_config, SNAPCFG_NET_RX_BANDWIDTH, K_BUCKET, rx.bandwidth, false,
	  "rx_rate_limiter.bandwidth"),
	F(net_config, SNAPCFG_NET_RX_OPS, K_BUCKET, rx.ops, false,
	  "rx_rate_limiter.ops"),
	F(net_config, SNAPCFG_NET_TX_BANDWIDTH, K_BUCKET, tx.bandwidth, false,
	  "tx_rate_limiter.bandwidth"),
	F(net_config, SNAPCFG_NET_TX_OPS, K_BUCKET, tx.ops, false,
	  "tx_rate_limiter.ops"),
	F(vsock_config, SNAPCFG_VSOCK_CID, K_U32, guest_cid, true, "guest_cid"),
	F(vsock_config, SNAPCFG_VSOCK_UDS, K_STR, uds_path, true, "uds_path"),
	F(vsock_config, SNAPCFG_VSOCK_ID, K_STR, id, false, "vsock_id"),
};

/* A bit per field in the masks of fields seen. */
_Static_assert(ARRAY_SIZE(fields) <= 32, "one bit per field");

static enum scope scope_of(uint16_t tag)
{
	return (enum scope)((tag & ~SNAPCFG_SKIPPABLE) >> 8);
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

/* The structure a field of @scope lives in: slot @i of its array. */
static uint8_t *base_of(struct config *c, enum scope scope, unsigned i)
{
	switch (scope) {
	case S_MACHINE:
		return (uint8_t *)c;
	case S_DRIVE:
		return (uint8_t *)&c->drives[i];
	case S_NET:
		return (uint8_t *)&c->nets[i];
	case S_VSOCK:
		break;
	}
	return (uint8_t *)&c->vsock;
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

/*
 * The value of @f in @base: its bytes at *@v (in @tmp or in @base), its
 * length returned; 0 when an optional field is not set (no record).
 */
static uint32_t value_of(const struct field *f, const uint8_t *base,
                         uint8_t tmp[24], const void **v)
{
	const uint8_t *p = base + f->off;
	const struct bucket_config *b = (const void *)p;
	const struct drive_config *d = (const void *)base;
	uint32_t u32;
	uint64_t u64;
	size_t n;

	*v = tmp;
	switch (f->kind) {
	case K_U32:
		memcpy(&u32, p, 4);
		put32(tmp, u32);
		return 4;
	case K_U64:
		memcpy(&u64, p, 8);
		put64(tmp, u64);
		return 8;
	case K_BOOL:
		tmp[0] = *(const bool *)p;
		return 1;
	case K_STR:
		n = strnlen((const char *)p, f->size - 1);
		*v = p;
		return n || f->required ? (uint32_t)n + 1 : 0;
	case K_HUGE:
		tmp[0] = (uint8_t)(*(const enum huge_pages *)p);
		return 1;
	case K_CACHE:
		tmp[0] = d->direct     ? SNAPCFG_CACHE_NONE
		         : d->no_flush ? SNAPCFG_CACHE_UNSAFE
		                       : SNAPCFG_CACHE_WRITEBACK;
		return 1;
	case K_MAC:
		*v = p;
		return ((const struct net_config *)base)->has_mac ? 6 : 0;
	case K_BUCKET:
		put64(tmp, b->size);
		put64(tmp + 8, b->one_time_burst);
		put64(tmp + 16, b->refill_time_ms);
		return b->set ? 24 : 0;
	}
	return 0;
}

static void put_scope(struct out *o, const struct config *c, enum scope scope,
                      unsigned i)
{
	const uint8_t *base = base_of((struct config *)c, scope, i);

	for (size_t k = 0; k < ARRAY_SIZE(fields); k++) {
		const struct field *f = &fields[k];
		uint8_t head[SNAPCFG_RECORD_HEAD], tmp[24];
		const void *v;
		uint32_t n;

		if (scope_of(f->tag) != scope ||
		    !(n = value_of(f, base, tmp, &v)))
			continue;
		put16(head, f->tag);
		put16(head + 2, (uint16_t)i);
		put32(head + 4, n);
		put(o, head, sizeof(head));
		put(o, v, n);
	}
}

uint8_t *snapcfg_encode(const struct config *c, size_t *len)
{
	struct out o = { 0 };
	uint8_t version[4];

	put32(version, SNAPCFG_VERSION);
	put(&o, version, sizeof(version));
	put_scope(&o, c, S_MACHINE, 0);
	for (unsigned i = 0; i < c->ndrives && i < CONFIG_MAX_DRIVES; i++)
		put_scope(&o, c, S_DRIVE, i);
	for (unsigned i = 0; i < c->nnets && i < CONFIG_MAX_NETS; i++)
		put_scope(&o, c, S_NET, i);
	if (c->vsock.present)
		put_scope(&o, c, S_VSOCK, 0);
	if (o.failed) {
		free(o.p);
		return NULL;
	}
	*len = o.len;
	return o.p;
}

/* ---- decoding ------------------------------------------------------- */

/* Fields seen, a bit per entry of fields[], per structure. */
struct seen {
	uint32_t machine, vsock;
	uint32_t drive[CONFIG_MAX_DRIVES], net[CONFIG_MAX_NETS];
};

static uint32_t *seen_of(struct seen *s, enum scope scope, unsigned i)
{
	switch (scope) {
	case S_MACHINE:
		return &s->machine;
	case S_DRIVE:
		return &s->drive[i];
	case S_NET:
		return &s->net[i];
	case S_VSOCK:
		break;
	}
	return &s->vsock;
}

/* "drive 2: path_on_host", for messages. */
static const char *field_name(const struct field *f, unsigned i, char *buf,
                              size_t len)
{
	switch (scope_of(f->tag)) {
	case S_MACHINE:
		snprintf(buf, len, "%s", f->name);
		break;
	case S_DRIVE:
		snprintf(buf, len, "drive %u: %s", i, f->name);
		break;
	case S_NET:
		snprintf(buf, len, "interface %u: %s", i, f->name);
		break;
	case S_VSOCK:
		snprintf(buf, len, "vsock: %s", f->name);
		break;
	}
	return buf;
}

/* The value @v of @n bytes of field @f into @base, checked. */
static int set_value(const struct field *f, uint8_t *base, const uint8_t *v,
                     uint32_t n, const char *what, char *err, size_t errlen)
{
	static const uint32_t sizes[] = {
		[K_U32] = 4,   [K_U64] = 8, [K_BOOL] = 1,    [K_HUGE] = 1,
		[K_CACHE] = 1, [K_MAC] = 6, [K_BUCKET] = 24,
	};
	/* The largest value of a one-byte field that has a range. */
	static const uint8_t tops[K_BUCKET + 1] = {
		[K_BOOL] = 1,
		[K_HUGE] = HUGE_PAGES_2M,
		[K_CACHE] = SNAPCFG_CACHE_NONE,
	};
	struct drive_config *d = (void *)base;
	struct bucket_config *b = (void *)(base + f->off);
	uint32_t u32;
	uint64_t u64;

	if (f->kind == K_STR) {
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
		memcpy(base + f->off, v, n);
		return 0;
	}
	if (n != sizes[f->kind])
		return util_err(err, errlen, "%s: %u bytes, want %u", what, n,
		                sizes[f->kind]);
	if (tops[f->kind] && v[0] > tops[f->kind])
		return util_err(
		        err, errlen, "%s: %u is not one of its values%s", what,
		        v[0], f->kind == K_BOOL ? " (a boolean: 0 or 1)" : "");
	switch (f->kind) {
	case K_U32:
		u32 = get32(v);
		memcpy(base + f->off, &u32, 4);
		break;
	case K_U64:
		u64 = get64(v);
		memcpy(base + f->off, &u64, 8);
		break;
	case K_BOOL:
		*(bool *)(base + f->off) = v[0];
		break;
	case K_HUGE:
		*(enum huge_pages *)(base + f->off) = v[0];
		break;
	case K_CACHE:
		d->direct = v[0] == SNAPCFG_CACHE_NONE;
		d->no_flush = v[0] == SNAPCFG_CACHE_UNSAFE;
		break;
	case K_MAC:
		memcpy(base + f->off, v, 6);
		((struct net_config *)base)->has_mac = true;
		break;
	case K_BUCKET:
		*b = (struct bucket_config){ .set = true,
			                     .size = get64(v),
			                     .one_time_burst = get64(v + 8),
			                     .refill_time_ms = get64(v + 16) };
		break;
	case K_STR:
		break;
	}
	return 0;
}

/* The record at byte @at: tag @tag, slot @index, value @v of @n bytes. */
static int record(struct config *c, struct seen *seen, size_t at, uint16_t tag,
                  uint16_t index, const uint8_t *v, uint32_t n, char *err,
                  size_t errlen)
{
	static const unsigned slots[] = { 1, CONFIG_MAX_DRIVES, CONFIG_MAX_NETS,
		                          1 };
	const struct field *f = NULL;
	char what[96], name[64];
	uint32_t *mask, bit;

	for (size_t k = 0; k < ARRAY_SIZE(fields) && !f; k++)
		if (fields[k].tag == tag)
			f = &fields[k];
	/* A newer wisp's field, which it says a reader may do without. */
	if (!f && (tag & SNAPCFG_SKIPPABLE))
		return 0;
	if (!f)
		return util_err(
		        err, errlen,
		        "record at byte %zu: tag 0x%04x is unknown to this "
		        "wisp (a newer wisp's snapshot?)",
		        at, tag);
	if (index >= slots[scope_of(tag)])
		return util_err(
		        err, errlen,
		        "record at byte %zu (tag 0x%04x): slot %u is out of "
		        "range",
		        at, tag, index);
	snprintf(what, sizeof(what), "record at byte %zu (%s)", at,
	         field_name(f, index, name, sizeof(name)));
	mask = seen_of(seen, scope_of(tag), index);
	bit = 1u << (f - fields);
	if (*mask & bit)
		return util_err(err, errlen, "%s: given twice", what);
	*mask |= bit;
	return set_value(f, base_of(c, scope_of(tag), index), v, n, what, err,
	                 errlen);
}

/* Required fields of slot @i of @scope that no record gave. */
static int complete(const struct seen *seen, enum scope scope, unsigned i,
                    char *err, size_t errlen)
{
	uint32_t mask = *seen_of((struct seen *)seen, scope, i);
	char name[64];

	for (size_t k = 0; k < ARRAY_SIZE(fields); k++) {
		const struct field *f = &fields[k];

		if (scope_of(f->tag) == scope && f->required &&
		    !(mask & 1u << k))
			return util_err(err, errlen, "%s is missing",
			                field_name(f, i, name, sizeof(name)));
	}
	return 0;
}

int snapcfg_decode(const void *buf, size_t len, struct config *c, char *err,
                   size_t errlen)
{
	const uint8_t *p = buf;
	struct seen seen = { 0 };
	uint32_t version;
	size_t at = 4;

	memset(c, 0, sizeof(*c));
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
		if (record(c, &seen, at, get16(p + at), get16(p + at + 2),
		           p + at + SNAPCFG_RECORD_HEAD, n, err, errlen) < 0)
			return -1;
		at += SNAPCFG_RECORD_HEAD + n;
	}
	if (complete(&seen, S_MACHINE, 0, err, errlen) < 0)
		return -1;
	if (c->ndrives > CONFIG_MAX_DRIVES || c->nnets > CONFIG_MAX_NETS)
		return snapcfg_check(c, err, errlen); /* says which */
	for (unsigned i = 0; i < CONFIG_MAX_DRIVES; i++) {
		if (i >= c->ndrives && seen.drive[i])
			return util_err(err, errlen,
			                "records for drive %u, of %u drives", i,
			                c->ndrives);
		if (i < c->ndrives &&
		    complete(&seen, S_DRIVE, i, err, errlen) < 0)
			return -1;
	}
	for (unsigned i = 0; i < CONFIG_MAX_NETS; i++) {
		if (i >= c->nnets && seen.net[i])
			return util_err(err, errlen,
			                "records for interface %u, of %u "
			                "interfaces",
			                i, c->nnets);
		if (i < c->nnets && complete(&seen, S_NET, i, err, errlen) < 0)
			return -1;
	}
	c->vsock.present = seen.vsock != 0;
	if (c->vsock.present && complete(&seen, S_VSOCK, 0, err, errlen) < 0)
		return -1;
	return snapcfg_check(c, err, errlen);
}
