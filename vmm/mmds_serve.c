/*
 * The guest's side of the metadata service: what a parsed request
 * (mmds_http.c) gets, as Firecracker answers it. GET reads the store at
 * the path taken as a JSON pointer, in IMDS text or JSON; PUT
 * /latest/api/token makes a session token (mmds_token.c); V2 wants a
 * valid token on every GET, V1 only counts missing and bad ones.
 *
 * Every answer is "HTTP/1.x NNN " (no reason phrase, the request's
 * version; 1.1 for a request that could not be parsed), Server,
 * Connection: keep-alive, then Allow or the token's TTL header when
 * there is one, Content-Type and Content-Length, and a body: text
 * without a trailing newline.
 */
#include "metrics.h"
#include "mmds_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN "text/plain"
#define JSON  "application/json"

#define TOKEN_PATH "/latest/api/token"

struct answer {
	bool http10;
	int status;
	const char *type;
	struct mmds_buf extra; /* header lines before Content-Type */
	struct mmds_buf body;
};

static void say(struct answer *a, int status, const char *type,
                const char *text)
{
	a->status = status;
	a->type = type;
	mmds_buf_str(&a->body, text);
}

/* "Resource not found: <path as sent>." */
static void not_found(struct answer *a, struct mmds_slice path)
{
	say(a, 404, PLAIN, "Resource not found: ");
	mmds_buf_put(&a->body, path.p, path.n);
	mmds_buf_str(&a->body, ".");
}

/*
 * The URI's absolute path: "http://host[:port]/path" gives "/path", a
 * URI that starts with '/' is one, anything else (an empty host and
 * path included) has none.
 */
static struct mmds_slice abs_path(struct mmds_slice u)
{
	static const char scheme[] = "http://";
	const size_t sl = sizeof(scheme) - 1;
	const uint8_t *slash;

	if (u.n >= sl && !memcmp(u.p, scheme, sl)) {
		slash = memchr(u.p + sl, '/', u.n - sl);
		if (!slash)
			return (struct mmds_slice){ NULL, 0 };
		return (struct mmds_slice){ slash,
			                    u.n - (size_t)(slash - u.p) };
	}
	if (u.n && u.p[0] == '/')
		return u;
	return (struct mmds_slice){ NULL, 0 };
}

/* Runs of '/' made one, into @out (u.n bytes); its length. */
static size_t collapse(struct mmds_slice u, uint8_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < u.n; i++)
		if (u.p[i] != '/' || !n || out[n - 1] != '/')
			out[n++] = u.p[i];
	return n;
}

/* serde_json's array index: digits, no sign, no leading zero. */
static bool array_index(const uint8_t *s, size_t n, size_t *out)
{
	size_t v = 0;

	if (!n || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "~1" to "/" first, then "~0" to "~" (serde_json's order), in place. */
static size_t unescape(uint8_t *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++, o++) {
		s[o] = s[i];
		if (s[i] == '~' && i + 1 < n && s[i + 1] == '1')
			s[o] = '/', i++;
	}
	n = o;
	o = 0;
	for (size_t i = 0; i < n; i++, o++) {
		s[o] = s[i];
		if (s[i] == '~' && i + 1 < n && s[i + 1] == '0')
			i++;
	}
	return o;
}

/*
 * RFC 6901: @p (@n bytes, scratch: unescaping writes into it) into the
 * document @v; "" is the whole document, anything else starts with '/'.
 */
static json_t *pointer(json_t *v, uint8_t *p, size_t n)
{
	size_t i = 0, idx;

	if (!n)
		return v;
	if (p[0] != '/')
		return NULL;
	while (v && i < n) {
		uint8_t *tok = p + i + 1;
		const uint8_t *next = memchr(tok, '/', n - i - 1);
		size_t raw = next ? (size_t)(next - tok) : n - i - 1;
		size_t len = unescape(tok, raw);

		if (json_is_object(v))
			v = json_object_getn(v, (const char *)tok, len);
		else if (json_is_array(v) && array_index(tok, len, &idx))
			v = json_array_get(v, idx);
		else
			v = NULL;
		i += raw + 1;
	}
	return v;
}

struct key {
	const char *s;
	size_t n;
	bool obj;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->s, y->s, MIN(x->n, y->n));

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* IMDS text: an object's keys in order, "/" after those of objects. */
static bool imds_text(json_t *v, struct mmds_buf *out)
{
	size_t n = json_object_size(v), i = 0;
	struct key *keys;
	const char *k;
	json_t *e;

	if (json_is_string(v)) {
		mmds_buf_put(out, json_string_value(v), json_string_length(v));
		return true;
	}
	if (!json_is_object(v))
		return false;
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		out->oom = true;
		return true;
	}
	json_object_foreach(v, k, e)
	{
		if (i < n)
			keys[i++] =
			        (struct key){ k, strlen(k), json_is_object(e) };
	}
	qsort(keys, i, sizeof(*keys), key_cmp);
	for (size_t j = 0; j < i; j++) {
		if (j)
			mmds_buf_put(out, "\n", 1);
		mmds_buf_put(out, keys[j].s, keys[j].n);
		if (keys[j].obj)
			mmds_buf_put(out, "/", 1);
	}
	free(keys);
	return true;
}

static void get_value(struct mmds *m, const struct mmds_req *r,
                      struct mmds_slice path, struct answer *a)
{
	uint8_t *p = malloc(path.n ? path.n : 1);
	size_t n;
	json_t *v;

	if (!p) {
		a->body.oom = true;
		return;
	}
	n = collapse(path, p);
	if (n && p[n - 1] == '/')
		n--;
	v = pointer(m->data, p, n);
	free(p);
	if (!v)
		return not_found(a, path);
	if (m->imds_compat || !r->accept_json) {
		/* imds_compat still names the Accept type: Firecracker's. */
		if (!imds_text(v, &a->body))
			return say(a, 501, PLAIN,
			           "Cannot retrieve value. The value has an "
			           "unsupported type.");
	} else {
		mmds_json_write(&a->body, v, false, 0);
	}
	a->status = 200;
	a->type = r->accept_json ? JSON : PLAIN;
}

static void get(struct mmds *m, const struct mmds_req *r,
                struct mmds_slice path, struct answer *a)
{
	if (!r->token.p) {
		METRIC_INC(mmds, rx_no_token);
		if (m->version == 2)
			return say(a, 401, PLAIN,
			           "No MMDS token provided. Use "
			           "`X-metadata-token` or "
			           "`X-aws-ec2-metadata-token` header to "
			           "specify the session token.");
	} else if (!mmds_token_valid(m, r->token.p, r->token.n)) {
		METRIC_INC(mmds, rx_invalid_token);
		if (m->version == 2)
			return say(a, 401, PLAIN, "MMDS token not valid.");
	}
	get_value(m, r, path, a);
}

static void put_token(struct mmds *m, const struct mmds_req *r,
                      struct mmds_slice path, struct answer *a)
{
	char tok[MMDS_TOKEN_CHARS + 1], num[16];
	uint8_t *p;
	uint32_t ttl = 0;
	size_t n;
	bool ok;

	if (r->xff_name.p) {
		say(a, 400, PLAIN,
		    "Invalid header. Reason: Unsupported header name. Key: ");
		mmds_buf_put(&a->body, r->xff_name.p, r->xff_name.n);
		return;
	}
	/* Runs of '/' collapse, but a trailing one stays: ".../token/"
	 * is not the token. */
	if (!(p = malloc(path.n))) {
		a->body.oom = true;
		return;
	}
	n = collapse(path, p);
	ok = n == strlen(TOKEN_PATH) && !memcmp(p, TOKEN_PATH, n);
	free(p);
	if (!ok)
		return not_found(a, path);
	if (!r->ttl_name.p)
		return say(a, 400, PLAIN,
		           "Token time to live value not found. Use "
		           "`X-metadata-token-ttl-seconds` or "
		           "`X-aws-ec2-metadata-token-ttl-seconds` header to "
		           "specify the token's lifetime.");
	if (!mmds_parse_u32(r->ttl_value, &ttl)) {
		say(a, 400, PLAIN,
		    "Invalid header. Reason: Invalid value. Key:");
		mmds_buf_put(&a->body, r->ttl_name.p, r->ttl_name.n);
		mmds_buf_str(&a->body, "; Value:");
		mmds_buf_put(&a->body, r->ttl_value.p, r->ttl_value.n);
		return;
	}
	if (ttl < 1 || ttl > MMDS_TOKEN_TTL_MAX) {
		char msg[160];

		snprintf(msg, sizeof(msg),
		         "Invalid time to live value provided for token: %u. "
		         "Please provide a value between 1 and %d.",
		         ttl, MMDS_TOKEN_TTL_MAX);
		return say(a, 400, PLAIN, msg);
	}
	mmds_token_new(m, ttl, tok);
	say(a, 200, PLAIN, tok);
	/* The TTL header echoed, under the name the guest gave it. */
	mmds_buf_put(&a->extra, r->ttl_name.p, r->ttl_name.n);
	snprintf(num, sizeof(num), ": %u\r\n", ttl);
	mmds_buf_str(&a->extra, num);
}

static void serve(struct mmds *m, const struct mmds_req *r, struct answer *a)
{
	struct mmds_slice path = abs_path(r->uri);

	a->http10 = r->http10;
	if (!path.n)
		return say(a, 400, PLAIN, "Invalid URI.");
	switch (r->method) {
	case MMDS_GET:
		return get(m, r, path, a);
	case MMDS_PUT:
		return put_token(m, r, path, a);
	default:
		mmds_buf_str(&a->extra, "Allow: GET, PUT\r\n");
		return say(a, 405, PLAIN, "Not allowed HTTP method.");
	}
}

size_t mmds_http(struct mmds *m, const uint8_t *req, size_t len, uint8_t **out)
{
	struct answer a = { .type = JSON };
	struct mmds_buf resp = { 0 };
	struct mmds_req r;
	char head[160];
	int st;

	*out = NULL;
	st = mmds_http_parse(req, len, &r, &a.body);
	if (st)
		a.status = st; /* HTTP/1.1, application/json: Firecracker's */
	else
		serve(m, &r, &a);
	snprintf(head, sizeof(head),
	         "HTTP/1.%d %d \r\nServer: Firecracker API\r\n"
	         "Connection: keep-alive\r\n",
	         a.http10 ? 0 : 1, a.status);
	mmds_buf_str(&resp, head);
	mmds_buf_put(&resp, a.extra.p, a.extra.len);
	snprintf(head, sizeof(head),
	         "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", a.type,
	         a.body.len);
	mmds_buf_str(&resp, head);
	mmds_buf_put(&resp, a.body.p, a.body.len);
	if (a.extra.oom || a.body.oom || resp.oom || !resp.len) {
		free(resp.p);
		resp = (struct mmds_buf){ 0 };
	}
	free(a.extra.p);
	free(a.body.p);
	*out = (uint8_t *)resp.p;
	return resp.len;
}
