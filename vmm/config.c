#include "config.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ini_ctx {
	struct config *c;
	const char *path;
	char dir[CONFIG_PATH_MAX]; /* relative paths are relative to this */
	char *err;
	size_t errlen;
	bool failed;
	unsigned seen; /* bit per key, to refuse repeated keys */
};

enum key_id {
	K_VCPUS,
	K_MEM,
	K_KERNEL,
	K_INITRD,
	K_CMDLINE,
	K_SERIAL_OUT,
	K_SERIAL_IN,
	K_VSOCK_CID,
	K_VSOCK_UDS,
};

struct key_desc {
	const char *section;
	const char *name;
	enum key_id id;
};

static const struct key_desc keys[] = {
	{ "machine", "vcpus", K_VCPUS },
	{ "machine", "mem_mib", K_MEM },
	{ "boot", "kernel", K_KERNEL },
	{ "boot", "initrd", K_INITRD },
	{ "boot", "cmdline", K_CMDLINE },
	{ "serial", "output", K_SERIAL_OUT },
	{ "serial", "input", K_SERIAL_IN },
	{ "vsock", "guest_cid", K_VSOCK_CID },
	{ "vsock", "uds_path", K_VSOCK_UDS },
};

static const char *const sections[] = { "machine", "boot", "serial", "vsock" };

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpus = 1;
	c->mem_mib = 128;
	c->serial_in = true;
}

void config_free(struct config *c)
{
	free(c->cmdline);
	c->cmdline = NULL;
}

/* Record the first error only; inih reports its line number. */
__attribute__((format(printf, 2, 3))) static int fail(struct ini_ctx *x,
                                                      const char *fmt, ...)
{
	va_list ap;

	if (x->failed)
		return 0;
	x->failed = true;
	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
	return 0;
}

/* Resolve @value against the config file's directory into @out. */
static int set_path(struct ini_ctx *x, const char *sec, const char *key,
                    const char *value, char *out, bool must_read)
{
	int n;

	if (!*value)
		return fail(x, "[%s] %s: empty path", sec, key);
	if (value[0] == '/')
		n = snprintf(out, CONFIG_PATH_MAX, "%s", value);
	else
		n = snprintf(out, CONFIG_PATH_MAX, "%s/%s", x->dir, value);
	if (n < 0 || n >= CONFIG_PATH_MAX)
		return fail(x, "[%s] %s: path too long", sec, key);
	if (must_read && access(out, R_OK) < 0)
		return fail(x, "[%s] %s: '%s': %s", sec, key, out,
		            strerror(errno));
	return 1;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") ||
	    !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
	         !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int append_cmdline(struct ini_ctx *x, const char *value)
{
	size_t old = x->c->cmdline ? strlen(x->c->cmdline) : 0;
	char *p = realloc(x->c->cmdline, old + strlen(value) + 2);

	if (!p)
		return fail(x, "out of memory");
	if (old)
		p[old++] = ' ';
	strcpy(p + old, value);
	x->c->cmdline = p;
	return 1;
}

int config_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char end;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &end) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) ||
		    !isxdigit((unsigned char)s[3 * i + 1]) ||
		    (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

bool config_ifname_ok(const char *name)
{
	return *name && strlen(name) < CONFIG_IFNAME_MAX &&
	       !strpbrk(name, "/: \t\n");
}

bool config_id_ok(const char *id)
{
	return *id && strlen(id) < CONFIG_ID_MAX &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                  "0123456789_-") == strlen(id);
}

bool config_partuuid_ok(const char *s)
{
	return *s && strlen(s) < sizeof(((struct drive_config *)0)->partuuid) &&
	       strspn(s, "0123456789abcdefABCDEF-") == strlen(s);
}

bool config_cid_ok(uint64_t cid)
{
	return cid >= 3 && cid <= UINT32_MAX - 1;
}

/* "SIZE REFILL_MS [ONE_TIME_BURST]": one token bucket. */
static int parse_bucket(struct ini_ctx *x, const char *sec, const char *key,
                        const char *value, struct bucket_config *b)
{
	unsigned long long size, refill, burst = 0;
	int used = 0;

	if ((sscanf(value, "%llu %llu%n %llu%n", &size, &refill, &used, &burst,
	            &used) < 2) ||
	    value[used] != '\0' || strchr(value, '-'))
		return fail(x,
		            "[%s] %s: '%s' is not 'SIZE REFILL_MS "
		            "[ONE_TIME_BURST]'",
		            sec, key, value);
	*b = (struct bucket_config){ .set = true,
		                     .size = size,
		                     .refill_time_ms = refill,
		                     .one_time_burst = burst };
	return 1;
}

/* Is @id (of [PREFIX.ID]) a valid id? If not, the error is recorded. */
static bool section_id_ok(struct ini_ctx *x, const char *sec, const char *id,
                          const char *what)
{
	if (config_id_ok(id))
		return true;
	fail(x, "[%s]: %s id must be 1-%d letters, digits, '_' or '-'", sec,
	     what, CONFIG_ID_MAX - 1);
	return false;
}

enum net_key { N_TAP, N_MAC, N_RX_BW, N_RX_OPS, N_TX_BW, N_TX_OPS };

/* A [net.ID] key: a virtio-net interface on a tap device. */
static int net_key(struct ini_ctx *x, const char *sec, const char *name,
                   const char *value)
{
	static const char *const names[] = {
		[N_TAP] = "tap",
		[N_MAC] = "mac",
		[N_RX_BW] = "rx_bandwidth",
		[N_RX_OPS] = "rx_ops",
		[N_TX_BW] = "tx_bandwidth",
		[N_TX_OPS] = "tx_ops",
	};
	struct config *c = x->c;
	const char *id = sec + strlen("net.");
	struct net_config *n = NULL;
	unsigned k;

	if (!section_id_ok(x, sec, id, "interface"))
		return 0;
	for (unsigned i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].id, id))
			n = &c->nets[i];
	if (!n) {
		if (c->nnets == CONFIG_MAX_NETS)
			return fail(x, "[%s]: more than %d interfaces", sec,
			            CONFIG_MAX_NETS);
		n = &c->nets[c->nnets++];
		snprintf(n->id, sizeof(n->id), "%s", id);
	}
	for (k = 0; k < ARRAY_SIZE(names); k++)
		if (!strcmp(name, names[k]))
			break;
	if (k == ARRAY_SIZE(names))
		return fail(x, "[%s] %s: unknown key", sec, name);
	if (n->seen & (1u << k))
		return fail(x, "[%s] %s: given twice", sec, name);
	n->seen |= 1u << k;
	switch ((enum net_key)k) {
	case N_TAP:
		if (!config_ifname_ok(value))
			return fail(x,
			            "[%s] %s: '%s' is not an interface name "
			            "(1-%d characters, no '/', ':' or spaces)",
			            sec, name, value, CONFIG_IFNAME_MAX - 1);
		snprintf(n->host_dev_name, sizeof(n->host_dev_name), "%s",
		         value);
		break;
	case N_MAC:
		if (config_parse_mac(value, n->mac) < 0 || (n->mac[0] & 1))
			return fail(
			        x,
			        "[%s] %s: '%s' is not a unicast MAC address "
			        "(xx:xx:xx:xx:xx:xx)",
			        sec, name, value);
		n->has_mac = true;
		break;
	case N_RX_BW:
		return parse_bucket(x, sec, name, value, &n->rx.bandwidth);
	case N_RX_OPS:
		return parse_bucket(x, sec, name, value, &n->rx.ops);
	case N_TX_BW:
		return parse_bucket(x, sec, name, value, &n->tx.bandwidth);
	case N_TX_OPS:
		return parse_bucket(x, sec, name, value, &n->tx.ops);
	}
	return 1;
}

enum drive_key { D_PATH, D_ROOT, D_RO, D_CACHE, D_BW, D_OPS };

/* A [drive.ID] key. IDs: 1-31 characters of [A-Za-z0-9_-]. */
static int drive_key(struct ini_ctx *x, const char *sec, const char *name,
                     const char *value)
{
	struct config *c = x->c;
	const char *id = sec + strlen("drive.");
	struct drive_config *d = NULL;
	enum drive_key k;
	bool b;

	if (!section_id_ok(x, sec, id, "drive"))
		return 0;
	for (unsigned i = 0; i < c->ndrives; i++)
		if (!strcmp(c->drives[i].id, id))
			d = &c->drives[i];
	if (!d) {
		if (c->ndrives == CONFIG_MAX_DRIVES)
			return fail(x, "[%s]: more than %d drives", sec,
			            CONFIG_MAX_DRIVES);
		d = &c->drives[c->ndrives++];
		snprintf(d->id, sizeof(d->id), "%s", id);
	}
	if (!strcmp(name, "path"))
		k = D_PATH;
	else if (!strcmp(name, "root"))
		k = D_ROOT;
	else if (!strcmp(name, "read_only"))
		k = D_RO;
	else if (!strcmp(name, "cache"))
		k = D_CACHE;
	else if (!strcmp(name, "bandwidth"))
		k = D_BW;
	else if (!strcmp(name, "ops"))
		k = D_OPS;
	else
		return fail(x, "[%s] %s: unknown key", sec, name);
	if (d->seen & (1u << k))
		return fail(x, "[%s] %s: given twice", sec, name);
	d->seen |= 1u << k;

	switch (k) {
	case D_PATH:
		return set_path(x, sec, name, value, d->path, true);
	case D_ROOT:
	case D_RO:
		if (parse_bool(value, &b) < 0)
			return fail(x, "[%s] %s: '%s' is not yes or no", sec,
			            name, value);
		*(k == D_ROOT ? &d->root : &d->read_only) = b;
		break;
	case D_CACHE:
		if (!strcmp(value, "writeback"))
			d->direct = false;
		else if (!strcmp(value, "none"))
			d->direct = true;
		else
			return fail(x, "[%s] %s: '%s' is not writeback or none",
			            sec, name, value);
		break;
	case D_BW:
		return parse_bucket(x, sec, name, value, &d->rl.bandwidth);
	case D_OPS:
		return parse_bucket(x, sec, name, value, &d->rl.ops);
	}
	return 1;
}

static int handler(void *user, const char *sec, const char *name,
                   const char *value)
{
	struct ini_ctx *x = user;
	struct config *c = x->c;
	const struct key_desc *k = NULL;
	uint64_t v;
	bool known_section = false;

	if (x->failed)
		return 1; /* keep inih's line of the first error */
	if (!strncmp(sec, "drive.", 6))
		return drive_key(x, sec, name, value);
	if (!strncmp(sec, "net.", 4))
		return net_key(x, sec, name, value);
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		known_section |= !strcmp(sec, sections[i]);
	if (!known_section)
		return fail(x, "unknown section [%s]", sec);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(sec, keys[i].section) &&
		    !strcmp(name, keys[i].name))
			k = &keys[i];
	if (!k)
		return fail(x, "[%s] %s: unknown key", sec, name);
	/*
	 * inih hands each indented continuation line over as the same key
	 * again; cmdline uses that to go past inih's line limit.
	 */
	if ((x->seen & (1u << k->id)) && k->id != K_CMDLINE)
		return fail(x, "[%s] %s: given twice", sec, name);
	x->seen |= 1u << k->id;

	switch (k->id) {
	case K_VCPUS:
		if (!util_parse_u64(value, &v) || v < 1 || v > CONFIG_MAX_VCPUS)
			return fail(x, "[%s] %s: '%s' is not a number in 1..%d",
			            sec, name, value, CONFIG_MAX_VCPUS);
		c->vcpus = (unsigned)v;
		break;
	case K_MEM:
		if (!util_parse_u64(value, &v) || v < CONFIG_MIN_MEM_MIB ||
		    v > CONFIG_MAX_MEM_MIB)
			return fail(
			        x,
			        "[%s] %s: '%s' is not a number in %llu..%llu",
			        sec, name, value, CONFIG_MIN_MEM_MIB,
			        CONFIG_MAX_MEM_MIB);
		c->mem_mib = v;
		break;
	case K_KERNEL:
		return set_path(x, sec, name, value, c->kernel, true);
	case K_INITRD:
		return set_path(x, sec, name, value, c->initrd, true);
	case K_CMDLINE:
		return append_cmdline(x, value);
	case K_SERIAL_OUT:
		if (!strcmp(value, "stdout")) {
			c->serial_out[0] = '\0';
			break;
		}
		return set_path(x, sec, name, value, c->serial_out, false);
	case K_SERIAL_IN:
		if (!strcmp(value, "stdin"))
			c->serial_in = true;
		else if (!strcmp(value, "none"))
			c->serial_in = false;
		else if (parse_bool(value, &c->serial_in) < 0)
			return fail(x, "[%s] %s: '%s' is not stdin or none",
			            sec, name, value);
		break;
	case K_VSOCK_CID:
		if (!util_parse_u64(value, &v) || !config_cid_ok(v))
			return fail(x,
			            "[%s] %s: '%s' is not a number in "
			            "3..4294967294",
			            sec, name, value);
		c->vsock.present = true;
		c->vsock.guest_cid = (uint32_t)v;
		break;
	case K_VSOCK_UDS:
		if (!*value || strlen(value) >= CONFIG_UDS_MAX)
			return fail(
			        x,
			        "[%s] %s: must be 1-%d bytes (a Unix socket "
			        "path)",
			        sec, name, CONFIG_UDS_MAX - 1);
		c->vsock.present = true;
		snprintf(c->vsock.uds_path, sizeof(c->vsock.uds_path), "%s",
		         value);
		break;
	}
	return 1;
}

/*
 * Debian's inih reads at most CONFIG_INI_LINE_MAX - 1 bytes a line and
 * parses the rest as a new line; refuse such files with a message that
 * says so instead of a confusing syntax error.
 */
static int check_line_lengths(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	int line = 1, len = 0, ch;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((ch = getc(f)) != EOF) {
		if (ch == '\n') {
			line++;
			len = 0;
			continue;
		}
		if (++len >= CONFIG_INI_LINE_MAX) {
			snprintf(err, errlen,
			         "%s:%d: line longer than %d characters; "
			         "continue "
			         "a long value on indented lines",
			         path, line, CONFIG_INI_LINE_MAX - 2);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int config_load_ini(struct config *c, const char *path, char *err,
                    size_t errlen)
{
	struct ini_ctx x = {
		.c = c, .path = path, .err = err, .errlen = errlen
	};
	const char *slash = strrchr(path, '/');
	char msg[CONFIG_PATH_MAX + 256];
	int line;

	if (slash)
		snprintf(x.dir, sizeof(x.dir), "%.*s", (int)(slash - path),
		         path);
	else
		strcpy(x.dir, ".");
	if (slash == path)
		strcpy(x.dir, "/");

	if (check_line_lengths(path, err, errlen) < 0)
		return -1;
	x.err = msg;
	x.errlen = sizeof(msg);
	line = ini_parse(path, handler, &x);
	if (line == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (line == -2) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (line > 0 && !x.failed)
		snprintf(msg, sizeof(msg), "syntax error");
	if (line > 0 || x.failed) {
		snprintf(err, errlen, "%s:%d: %s", path, line, msg);
		return -1;
	}
	return 0;
}

int config_validate(const struct config *c, char *err, size_t errlen)
{
	unsigned roots = 0;

	if (!c->kernel[0]) {
		snprintf(err, errlen, "no kernel: set [boot] kernel");
		return -1;
	}
	for (unsigned i = 0; i < c->ndrives; i++) {
		if (!c->drives[i].path[0]) {
			snprintf(err, errlen, "[drive.%s]: no path",
			         c->drives[i].id);
			return -1;
		}
		roots += c->drives[i].root;
	}
	if (roots > 1) {
		snprintf(err, errlen, "more than one drive has root = yes");
		return -1;
	}
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct net_config *n = &c->nets[i];

		if (!n->host_dev_name[0]) {
			snprintf(err, errlen, "[net.%s]: no tap", n->id);
			return -1;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct net_config *o = &c->nets[j];

			if (!strcmp(o->host_dev_name, n->host_dev_name) ||
			    (n->has_mac && o->has_mac &&
			     !memcmp(n->mac, o->mac, 6))) {
				snprintf(err, errlen,
				         "[net.%s]: same tap or MAC as "
				         "[net.%s]",
				         n->id, o->id);
				return -1;
			}
		}
	}
	if (c->vsock.present &&
	    (c->vsock.guest_cid < 3 || !c->vsock.uds_path[0])) {
		snprintf(err, errlen,
		         "[vsock]: needs both guest_cid and uds_path");
		return -1;
	}
	return 0;
}
