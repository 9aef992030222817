/*
 * The CONFIG section of state file format version 1: wisp's struct
 * snap_config of then, copied byte for byte (x86-64 layout, zeroed
 * padding). Its layout is frozen here, apart from struct config, which
 * may change: the offsets below are the ones those files have. Booleans
 * are read as bytes, so a byte other than 0 or 1 is refused rather than
 * loaded into a C bool.
 */
#include "util.h"
#include "snapconfig.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct v1_bucket {
	uint8_t set;
	uint64_t size, one_time_burst, refill_time_ms;
};

struct v1_rl {
	struct v1_bucket bandwidth, ops;
};

struct v1_drive {
	char id[32];
	char path[4096];
	uint8_t root, read_only, direct, no_flush, io_sync;
	char partuuid[40];
	struct v1_rl rl;
	uint32_t seen; /* the INI parser's; meaningless in a file */
};

struct v1_net {
	char id[32];
	char host_dev_name[16];
	uint8_t has_mac;
	uint8_t mac[6];
	struct v1_rl rx, tx;
	uint32_t seen;
};

struct v1_vsock {
	uint8_t present;
	uint32_t guest_cid;
	char uds_path[108];
	char id[32];
};

/* The slots of version 1, whatever this wisp's limits are now. */
#define V1_DRIVES 8
#define V1_NETS   8

struct v1_config {
	uint32_t vcpus, huge_pages;
	uint64_t mem_mib;
	uint32_t ndrives, nnets;
	struct v1_drive drives[V1_DRIVES];
	struct v1_net nets[V1_NETS];
	struct v1_vsock vsock;
};

/* What format-version-1 files hold, measured on the structure itself. */
_Static_assert(sizeof(struct v1_config) == SNAPCFG_LEGACY_SIZE, "size");
_Static_assert(sizeof(struct v1_drive) == 4248 &&
                       offsetof(struct v1_drive, partuuid) == 4133 &&
                       offsetof(struct v1_drive, rl) == 4176,
               "drive");
_Static_assert(sizeof(struct v1_net) == 192 &&
                       offsetof(struct v1_net, rx) == 56,
               "net");
_Static_assert(offsetof(struct v1_config, nets) == 34008 &&
                       offsetof(struct v1_config, vsock) == 35544 &&
                       offsetof(struct v1_vsock, id) == 116,
               "config");
_Static_assert(offsetof(struct v1_bucket, size) == 8, "bucket");

/* A byte that was a C bool: 0 or 1, else -1 with @what in @err. */
static int flag(uint8_t v, bool *out, const char *what, unsigned i, char *err,
                size_t errlen)
{
	if (v > 1)
		return util_err(err, errlen,
		                "%s of slot %u is %u, not a boolean (0 or 1)",
		                what, i, v);
	*out = v;
	return 0;
}

/* A string array: terminated inside, copied into @dst of @size bytes. */
static int string(const char *src, size_t srclen, char *dst, size_t size,
                  const char *what, unsigned i, char *err, size_t errlen)
{
	const char *nul = memchr(src, 0, srclen);

	if (!nul || (size_t)(nul - src) >= size)
		return util_err(
		        err, errlen,
		        "%s of slot %u is not NUL-terminated in its %zu "
		        "bytes",
		        what, i, srclen);
	memcpy(dst, src, (size_t)(nul - src) + 1);
	return 0;
}

#define STRING(src, dst, what, i)                                              \
	string(src, sizeof(src), dst, sizeof(dst), what, i, err, errlen)

static int bucket(const struct v1_bucket *s, struct bucket_config *d,
                  const char *what, unsigned i, char *err, size_t errlen)
{
	if (flag(s->set, &d->set, what, i, err, errlen) < 0)
		return -1;
	if (d->set) {
		d->size = s->size;
		d->one_time_burst = s->one_time_burst;
		d->refill_time_ms = s->refill_time_ms;
	}
	return 0;
}

static int drive(const struct v1_drive *s, struct drive_config *d, unsigned i,
                 char *err, size_t errlen)
{
	if (STRING(s->id, d->id, "drive_id", i) < 0 ||
	    STRING(s->path, d->path, "path_on_host", i) < 0 ||
	    STRING(s->partuuid, d->partuuid, "partuuid", i) < 0 ||
	    flag(s->root, &d->root, "is_root_device", i, err, errlen) < 0 ||
	    flag(s->read_only, &d->read_only, "is_read_only", i, err, errlen) <
	            0 ||
	    flag(s->direct, &d->direct, "cache_type (O_DIRECT)", i, err,
	         errlen) < 0 ||
	    flag(s->no_flush, &d->no_flush, "cache_type (Unsafe)", i, err,
	         errlen) < 0 ||
	    flag(s->io_sync, &d->io_sync, "io_engine", i, err, errlen) < 0 ||
	    bucket(&s->rl.bandwidth, &d->rl.bandwidth,
	           "rate_limiter.bandwidth.set", i, err, errlen) < 0 ||
	    bucket(&s->rl.ops, &d->rl.ops, "rate_limiter.ops.set", i, err,
	           errlen) < 0)
		return -1;
	return 0;
}

static int net(const struct v1_net *s, struct net_config *d, unsigned i,
               char *err, size_t errlen)
{
	if (STRING(s->id, d->id, "iface_id", i) < 0 ||
	    STRING(s->host_dev_name, d->host_dev_name, "host_dev_name", i) <
	            0 ||
	    flag(s->has_mac, &d->has_mac, "guest_mac (given)", i, err, errlen) <
	            0 ||
	    bucket(&s->rx.bandwidth, &d->rx.bandwidth,
	           "rx_rate_limiter.bandwidth.set", i, err, errlen) < 0 ||
	    bucket(&s->rx.ops, &d->rx.ops, "rx_rate_limiter.ops.set", i, err,
	           errlen) < 0 ||
	    bucket(&s->tx.bandwidth, &d->tx.bandwidth,
	           "tx_rate_limiter.bandwidth.set", i, err, errlen) < 0 ||
	    bucket(&s->tx.ops, &d->tx.ops, "tx_rate_limiter.ops.set", i, err,
	           errlen) < 0)
		return -1;
	if (d->has_mac)
		memcpy(d->mac, s->mac, 6);
	return 0;
}

static int convert(const struct v1_config *s, struct config *c, char *err,
                   size_t errlen)
{
	if (s->huge_pages > HUGE_PAGES_2M)
		return util_err(err, errlen, "huge_pages %u is not None or 2M",
		                s->huge_pages);
	_Static_assert(V1_DRIVES <= CONFIG_MAX_DRIVES &&
	                       V1_NETS <= CONFIG_MAX_NETS,
	               "a version 1 machine fits this wisp's");
	if (s->ndrives > V1_DRIVES || s->nnets > V1_NETS)
		return util_err(
		        err, errlen,
		        "%u drives and %u network interfaces, at most %d "
		        "and %d",
		        s->ndrives, s->nnets, V1_DRIVES, V1_NETS);
	c->vcpus = s->vcpus;
	c->mem_mib = s->mem_mib;
	c->huge_pages = s->huge_pages;
	c->ndrives = s->ndrives;
	c->nnets = s->nnets;
	for (unsigned i = 0; i < s->ndrives; i++)
		if (drive(&s->drives[i], &c->drives[i], i, err, errlen) < 0)
			return -1;
	for (unsigned i = 0; i < s->nnets; i++)
		if (net(&s->nets[i], &c->nets[i], i, err, errlen) < 0)
			return -1;
	if (flag(s->vsock.present, &c->vsock.present, "vsock (present)", 0, err,
	         errlen) < 0)
		return -1;
	if (c->vsock.present) {
		c->vsock.guest_cid = s->vsock.guest_cid;
		if (STRING(s->vsock.uds_path, c->vsock.uds_path, "uds_path",
		           0) < 0 ||
		    STRING(s->vsock.id, c->vsock.id, "vsock_id", 0) < 0)
			return -1;
	}
	return snapcfg_check(c, err, errlen);
}

int snapcfg_decode_legacy(const void *buf, size_t len, struct config *c,
                          char *err, size_t errlen)
{
	struct v1_config *s;
	int rc;

	memset(c, 0, sizeof(*c));
	if (len != sizeof(*s))
		return util_err(err, errlen,
		                "%zu bytes; format version 1 has %zu (another "
		                "wisp's layout?)",
		                len, sizeof(*s));
	s = malloc(sizeof(*s)); /* aligned, unlike @buf may be */
	if (!s)
		return util_err(err, errlen, "out of memory");
	memcpy(s, buf, sizeof(*s));
	rc = convert(s, c, err, errlen);
	free(s);
	return rc;
}
