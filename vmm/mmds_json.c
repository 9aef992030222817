/*
 * The store's JSON as Firecracker writes it (serde_json, compact): the
 * size limit counts these bytes, GET /mmds returns them and a guest
 * asking for application/json reads them, so they must be the same
 * bytes. jansson's own writer differs in two ways that matter: it keeps
 * insertion order (serde_json's map is sorted by key bytes) and prints
 * doubles with 17 significant digits (serde_json prints the shortest
 * decimal that reads back as the same double, in ryu's layout).
 */
#include "mmds_int.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mmds_buf_put(struct mmds_buf *b, const void *p, size_t n)
{
	if (b->oom || !n)
		return;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void mmds_buf_str(struct mmds_buf *b, const char *s)
{
	mmds_buf_put(b, s, strlen(s));
}

struct out {
	struct mmds_buf *b;
	bool count_only;
	size_t max;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->count_only)
		o->b->len += n;
	else
		mmds_buf_put(o->b, p, n);
}

/* serde_json's escapes: the short ones, \u00xx for other controls. */
static void put_string(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	put(o, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 0 };
		size_t elen = 2;

		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			if (c >= 0x20)
				continue;
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		put(o, s + run, i - run);
		put(o, esc, elen);
		run = i + 1;
	}
	put(o, s + run, n - run);
	put(o, "\"", 1);
}

/*
 * A double the way ryu lays it out: the shortest digits that read back
 * as @d (the first precision whose %e form round-trips), then "123.0",
 * "12.34", "0.001234", "1e30" or "1.234e33" by the decimal exponent.
 */
static void put_real(struct out *o, double d)
{
	char e[40], digits[20], s[48];
	int exp10 = 0, n = 0, kk, len = 0;

	if (d == 0) {
		put(o, signbit(d) ? "-0.0" : "0.0", signbit(d) ? 4 : 3);
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	for (const char *c = e; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[n++] = *c;
	exp10 = atoi(strchr(e, 'e') + 1);
	kk = exp10 + 1; /* 10^(kk-1) <= |d| < 10^kk */
	if (d < 0)
		s[len++] = '-';
	if (kk >= n && kk <= 16) {
		memcpy(s + len, digits, (size_t)n);
		len += n;
		for (int i = n; i < kk; i++)
			s[len++] = '0';
		memcpy(s + len, ".0", 2);
		len += 2;
	} else if (kk > 0 && kk <= 16) {
		memcpy(s + len, digits, (size_t)kk);
		len += kk;
		s[len++] = '.';
		memcpy(s + len, digits + kk, (size_t)(n - kk));
		len += n - kk;
	} else if (kk > -5 && kk <= 0) {
		s[len++] = '0';
		s[len++] = '.';
		for (int i = 0; i < -kk; i++)
			s[len++] = '0';
		memcpy(s + len, digits, (size_t)n);
		len += n;
	} else {
		s[len++] = digits[0];
		if (n > 1) {
			s[len++] = '.';
			memcpy(s + len, digits + 1, (size_t)(n - 1));
			len += n - 1;
		}
		len += snprintf(s + len, sizeof(s) - (size_t)len, "e%d",
		                kk - 1);
	}
	put(o, s, (size_t)len);
}

struct key {
	const char *s;
	size_t n;
	json_t *v;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->s, y->s, MIN(x->n, y->n));

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

static void put_value(struct out *o, const json_t *v);

static void put_object(struct out *o, const json_t *v)
{
	size_t n = json_object_size(v), i = 0;
	struct key *keys;
	const char *k;
	json_t *e;

	put(o, "{", 1);
	if (o->count_only) {
		/* The order does not change the length. */
		json_object_foreach((json_t *)v, k, e)
		{
			if (o->b->len > o->max)
				return;
			if (i++)
				put(o, ",", 1);
			put_string(o, k, strlen(k));
			put(o, ":", 1);
			put_value(o, e);
		}
		put(o, "}", 1);
		return;
	}
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		o->b->oom = true;
		return;
	}
	json_object_foreach((json_t *)v, k, e)
	{
		if (i < n)
			keys[i++] = (struct key){ k, strlen(k), e };
	}
	qsort(keys, i, sizeof(*keys), key_cmp);
	for (size_t j = 0; j < i && !o->b->oom; j++) {
		if (j)
			put(o, ",", 1);
		put_string(o, keys[j].s, keys[j].n);
		put(o, ":", 1);
		put_value(o, keys[j].v);
	}
	free(keys);
	put(o, "}", 1);
}

static void put_value(struct out *o, const json_t *v)
{
	char num[32];
	size_t n;

	if (o->count_only && o->b->len > o->max)
		return;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		put_object(o, v);
		break;
	case JSON_ARRAY:
		put(o, "[", 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (o->count_only && o->b->len > o->max)
				return;
			if (i)
				put(o, ",", 1);
			put_value(o, json_array_get(v, i));
		}
		put(o, "]", 1);
		break;
	case JSON_STRING:
		put_string(o, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		                     json_integer_value(v));
		put(o, num, n);
		break;
	case JSON_REAL:
		put_real(o, json_real_value(v));
		break;
	case JSON_TRUE:
		put(o, "true", 4);
		break;
	case JSON_FALSE:
		put(o, "false", 5);
		break;
	case JSON_NULL:
		put(o, "null", 4);
		break;
	}
}

void mmds_json_write(struct mmds_buf *b, const json_t *v, bool count_only,
                     size_t max)
{
	struct out o = { b, count_only, max };

	put_value(&o, v);
}

char *mmds_json_dumps(const json_t *v, size_t *len)
{
	struct mmds_buf b = { 0 };

	mmds_json_write(&b, v, false, 0);
	mmds_buf_put(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len - 1;
	return b.p;
}

unsigned mmds_json_depth(const json_t *v, unsigned max)
{
	unsigned d = 0, c;
	const char *k;
	json_t *e;

	if (!max && (json_is_object(v) || json_is_array(v)))
		return 1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
		{
			if ((c = mmds_json_depth(e, max - 1)) > d)
				d = c;
			if (d >= max)
				break;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && d < max; i++)
			if ((c = mmds_json_depth(json_array_get(v, i),
			                         max - 1)) > d)
				d = c;
		return d + 1;
	}
	return 0;
}
