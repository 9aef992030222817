#include "config.h"
#include "util.h"
#include "vdev.h"

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
	/* "section\nkey" of the device sections' keys so far, likewise */
	char **dev_seen;
	size_t ndev_seen;
};

enum key_id {
	K_VCPUS,
	K_MEM,
	K_KERNEL,
	K_INITRD,
	K_CMDLINE,
	K_SERIAL_OUT,
	K_SERIAL_IN,
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
};

static const char *const sections[] = { "machine", "boot", "serial" };

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

/* The key's path into @out (config_ini_path()). */
static int set_path(struct ini_ctx *x, const char *sec, const char *key,
                    const char *value, char *out, bool must_read)
{
	struct config_ini_key k = { sec, NULL, key, value, x->dir };

	if (config_ini_path(&k, out, must_read, x->err, x->errlen) < 0)
		x->failed = true;
	return !x->failed;
}

int config_ini_bool(const char *v, bool *out)
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

bool config_id_ok(const char *id)
{
	size_t n = strlen(id);

	return n && n < CONFIG_ID_MAX &&
	       strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                  "0123456789_") == n;
}

int config_ini_err(const struct config_ini_key *k, char *err, size_t errlen,
                   const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "[%s] %s: ", k->section, k->key);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

int config_ini_path(const struct config_ini_key *k, char *out, bool must_read,
                    char *err, size_t errlen)
{
	int n;

	if (!*k->value)
		return config_ini_err(k, err, errlen, "empty path");
	if (k->value[0] == '/')
		n = snprintf(out, CONFIG_PATH_MAX, "%s", k->value);
	else
		n = snprintf(out, CONFIG_PATH_MAX, "%s/%s", k->dir, k->value);
	if (n < 0 || n >= CONFIG_PATH_MAX)
		return config_ini_err(k, err, errlen, "path too long");
	if (must_read && access(out, R_OK) < 0)
		return config_ini_err(k, err, errlen, "'%s': %s", out,
		                      strerror(errno));
	return 0;
}

int config_ini_bucket(const struct config_ini_key *k, struct bucket_config *b,
                      char *err, size_t errlen)
{
	unsigned long long size, refill, burst = 0;
	int used = 0;

	if ((sscanf(k->value, "%llu %llu%n %llu%n", &size, &refill, &used,
	            &burst, &used) < 2) ||
	    k->value[used] != '\0' || strchr(k->value, '-'))
		return config_ini_err(k, err, errlen,
		                      "'%s' is not 'SIZE REFILL_MS "
		                      "[ONE_TIME_BURST]'",
		                      k->value);
	*b = (struct bucket_config){ .set = true,
		                     .size = size,
		                     .refill_time_ms = refill,
		                     .one_time_burst = burst };
	return 0;
}

/* Has key @name of section @sec been seen? If not, it is now. */
static bool dev_key_seen(struct ini_ctx *x, const char *sec, const char *name)
{
	size_t n = strlen(sec) + strlen(name) + 2;
	char *k = malloc(n), **p;

	if (!k)
		return false; /* the key's handler runs: no harm */
	snprintf(k, n, "%s\n%s", sec, name);
	for (size_t i = 0; i < x->ndev_seen; i++) {
		if (!strcmp(x->dev_seen[i], k)) {
			free(k);
			return true;
		}
	}
	p = realloc(x->dev_seen, (x->ndev_seen + 1) * sizeof(*p));
	if (!p) {
		free(k);
		return false;
	}
	x->dev_seen = p;
	x->dev_seen[x->ndev_seen++] = k;
	return false;
}

/*
 * A key of a device type's section ([drive.ID], [vsock] ...): 1 when
 * @sec is one, its result in x->failed; 0 when no type has @sec.
 */
static int dev_key(struct ini_ctx *x, const char *sec, const char *name,
                   const char *value)
{
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct vdev_conf *f = (*ty)->conf;
		size_t n = f->ini_section ? strlen(f->ini_section) : 0;
		struct config_ini_key k = { sec, NULL, name, value, x->dir };

		if (!n || strncmp(sec, f->ini_section, n) ||
		    (f->ini_id ? sec[n] != '.' : sec[n] != '\0'))
			continue;
		if (f->ini_id) {
			k.id = sec + n + 1;
			if (!config_id_ok(k.id)) {
				fail(x,
				     "[%s]: %s id must be 1-%d letters, "
				     "digits or '_'",
				     sec, f->ini_section, CONFIG_ID_MAX - 1);
				return 1;
			}
		}
		if (dev_key_seen(x, sec, name)) {
			fail(x, "[%s] %s: given twice", sec, name);
			return 1;
		}
		if (f->ini_key(x->c, &k, x->err, x->errlen) < 0)
			x->failed = true;
		return 1;
	}
	return 0;
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
	if (dev_key(x, sec, name, value))
		return x->failed ? 0 : 1;
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
		else if (config_ini_bool(value, &c->serial_in) < 0)
			return fail(x, "[%s] %s: '%s' is not stdin or none",
			            sec, name, value);
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
	for (size_t i = 0; i < x.ndev_seen; i++)
		free(x.dev_seen[i]);
	free(x.dev_seen);
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
	if (!c->kernel[0]) {
		snprintf(err, errlen, "no kernel: set [boot] kernel");
		return -1;
	}
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++)
		for (unsigned i = 0; i < (*ty)->count(c); i++)
			if ((*ty)->conf->check(c, i, err, errlen) < 0)
				return -1;
	return 0;
}
