/*
 * The HTTP/1.1 request parser and response formatter. The parser is
 * stateless: it walks the lines of the head in order and the first bad
 * line decides the error, so a prefix of a request either asks for more
 * or fails exactly as the whole request would (the split tests and the
 * fuzz target hold it to that). Heads are at most HTTP_HEAD_MAX bytes, so
 * reparsing from the start on every read costs little.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum http_method method;
} methods[] = {
	{ "GET", HTTP_METHOD_GET },         { "PUT", HTTP_METHOD_PUT },
	{ "PATCH", HTTP_METHOD_PATCH },     { "POST", HTTP_METHOD_POST },
	{ "DELETE", HTTP_METHOD_DELETE },   { "HEAD", HTTP_METHOD_HEAD },
	{ "OPTIONS", HTTP_METHOD_OPTIONS },
};

/* What the header lines said so far. */
struct head_state {
	int minor; /* HTTP/1.<minor> */
	unsigned nheaders;
	bool have_clen, conn_close, conn_keep, expect;
	size_t clen;
};

__attribute__((format(printf, 3, 4))) static enum http_parse_result
fail(struct http_request *req, int status, const char *fmt, ...)
{
	va_list ap;

	req->error_status = status;
	req->keep_alive = false;
	va_start(ap, fmt);
	vsnprintf(req->error, sizeof(req->error), fmt, ap);
	va_end(ap);
	return HTTP_PARSE_ERROR;
}

/* RFC 9110 tchar: the bytes a header name or method may hold. */
static bool is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Does [p, p+n) equal @s, ignoring ASCII case? */
static bool token_is(const uint8_t *p, size_t n, const char *s)
{
	return strlen(s) == n && !strncasecmp((const char *)p, s, n);
}

static void trim_ows(const uint8_t **p, size_t *n)
{
	while (*n && is_ows((*p)[0])) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_ows((*p)[*n - 1]))
		(*n)--;
}

static enum http_parse_result parse_request_line(const uint8_t *p, size_t n,
                                                 struct http_request *req,
                                                 struct head_state *st)
{
	const uint8_t *sp1, *sp2, *target, *ver;
	size_t mlen, tlen, vlen, plen;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return fail(req, 400,
			            "control character in the request line");
		if (p[i] >= 0x80)
			return fail(req, 400,
			            "non-ASCII byte in the request line");
	}
	sp1 = memchr(p, ' ', n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p)) : NULL;
	if (!sp1 || !sp2 || sp1 == p || sp2 == sp1 + 1 ||
	    memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - p)))
		return fail(req, 400, "malformed request line");
	mlen = (size_t)(sp1 - p);
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	ver = sp2 + 1;
	vlen = n - (size_t)(ver - p);

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == mlen &&
		    !memcmp(methods[i].name, p, mlen))
			req->method = methods[i].method;
	if (!req->method)
		return fail(req, 400, "unsupported HTTP method");

	if (vlen != 8 || memcmp(ver, "HTTP/", 5) || ver[6] != '.' ||
	    ver[5] < '0' || ver[5] > '9' || ver[7] < '0' || ver[7] > '9')
		return fail(req, 400, "malformed HTTP version");
	if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
		return fail(req, 505, "HTTP version not supported (use 1.1)");
	st->minor = ver[7] - '0';

	/* Origin-form only: no absolute URIs, no authority, no '*'. */
	if (target[0] != '/')
		return fail(req, 400,
		            "request target must be a path starting with '/'");
	if (tlen > HTTP_PATH_MAX)
		return fail(req, 400, "request target longer than %d bytes",
		            HTTP_PATH_MAX);
	plen = tlen;
	for (size_t i = 0; i < tlen; i++)
		if (target[i] == '?' || target[i] == '#') {
			plen = i;
			break;
		}
	memcpy(req->path, target, plen);
	req->path[plen] = '\0';
	return HTTP_PARSE_MORE;
}

static enum http_parse_result parse_clen(const uint8_t *v, size_t n,
                                         size_t max_body,
                                         struct http_request *req,
                                         struct head_state *st)
{
	size_t x = 0;

	if (st->have_clen)
		return fail(req, 400, "duplicate Content-Length header");
	if (!n)
		return fail(req, 400, "empty Content-Length header");
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(req, 400, "Content-Length is not a number");
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (size_t)(v[i] - '0'), &x))
			return fail(req, 400, "Content-Length is too large");
	}
	if (x > max_body)
		return fail(req, 413,
		            "request body of %zu bytes is over the limit of "
		            "%zu bytes",
		            x, max_body);
	st->have_clen = true;
	st->clen = x;
	return HTTP_PARSE_MORE;
}

/* "Connection: close, Upgrade": a list of tokens. */
static void parse_connection(const uint8_t *v, size_t n, struct head_state *st)
{
	while (n) {
		const uint8_t *comma = memchr(v, ',', n);
		size_t tn = comma ? (size_t)(comma - v) : n;
		const uint8_t *t = v;
		size_t skip = comma ? tn + 1 : tn;

		trim_ows(&t, &tn);
		if (token_is(t, tn, "close"))
			st->conn_close = true;
		else if (token_is(t, tn, "keep-alive"))
			st->conn_keep = true;
		v += skip;
		n -= skip;
	}
}

static enum http_parse_result parse_header(const uint8_t *p, size_t n,
                                           size_t max_body,
                                           struct http_request *req,
                                           struct head_state *st)
{
	const uint8_t *colon, *v;
	size_t nlen, vlen;

	if (++st->nheaders > HTTP_HEADERS_MAX)
		return fail(req, 400, "more than %d header lines",
		            HTTP_HEADERS_MAX);
	if (is_ows(p[0]))
		return fail(req, 400, "obsolete header line folding");
	colon = memchr(p, ':', n);
	if (!colon)
		return fail(req, 400, "header line %u has no ':'",
		            st->nheaders);
	nlen = (size_t)(colon - p);
	if (!nlen)
		return fail(req, 400, "header line %u has an empty name",
		            st->nheaders);
	for (size_t i = 0; i < nlen; i++)
		if (!is_tchar(p[i]))
			return fail(req, 400,
			            "invalid character in the name of header "
			            "line %u",
			            st->nheaders);
	v = colon + 1;
	vlen = n - nlen - 1;
	for (size_t i = 0; i < vlen; i++)
		if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return fail(req, 400,
			            "control character in header line %u",
			            st->nheaders);
	trim_ows(&v, &vlen);

	if (token_is(p, nlen, "Content-Length"))
		return parse_clen(v, vlen, max_body, req, st);
	if (token_is(p, nlen, "Transfer-Encoding"))
		return fail(req, 400,
		            "Transfer-Encoding is not supported; send "
		            "Content-Length");
	if (token_is(p, nlen, "Connection"))
		parse_connection(v, vlen, st);
	else if (token_is(p, nlen, "Expect") &&
	         token_is(v, vlen, "100-continue"))
		st->expect = true;
	return HTTP_PARSE_MORE;
}

enum http_parse_result http_parse(const uint8_t *buf, size_t len,
                                  size_t max_body, struct http_request *req)
{
	/* Every line of the head must end within the first HEAD_MAX bytes. */
	size_t win = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	struct head_state st = { .minor = -1 };
	size_t pos = 0;

	memset(req, 0, sizeof(*req));
	for (;;) {
		/* pos == win covers http_parse(NULL, 0): no memchr(NULL). */
		const uint8_t *nl =
		        pos < win ? memchr(buf + pos, '\n', win - pos) : NULL;
		const uint8_t *line = buf + pos;
		size_t n;
		enum http_parse_result r;

		if (!nl) {
			if (len >= HTTP_HEAD_MAX)
				return fail(req, 400,
				            "request head over %d bytes",
				            HTTP_HEAD_MAX);
			return HTTP_PARSE_MORE;
		}
		if (nl == line || nl[-1] != '\r')
			return fail(req, 400, "line not ended by CRLF");
		n = (size_t)(nl - 1 - line);
		pos = (size_t)(nl + 1 - buf);
		if (st.minor < 0) {
			/* RFC 9112 2.2: ignore empty lines before the
			 * request line (some clients send a CRLF after a
			 * body). They still count towards HEAD_MAX. */
			if (!n)
				continue;
			r = parse_request_line(line, n, req, &st);
		} else if (!n) {
			break;
		} else {
			r = parse_header(line, n, max_body, req, &st);
		}
		if (r == HTTP_PARSE_ERROR)
			return r;
	}

	req->head_done = true;
	req->keep_alive =
	        st.minor == 1 ? !st.conn_close : st.conn_keep && !st.conn_close;
	/* RFC 9110 10.1.1: 100-continue from HTTP/1.0 is ignored. */
	req->expect_continue = st.expect && st.minor == 1;
	req->need = pos + st.clen; /* clen <= max_body: no overflow */
	if (len < req->need)
		return HTTP_PARSE_MORE;
	req->body = buf + pos;
	req->body_len = st.clen;
	req->consumed = req->need;
	return HTTP_PARSE_DONE;
}

int http_buf_append(struct http_buf *b, const void *p, size_t n)
{
	size_t want, cap = b->cap ? b->cap : 256;
	uint8_t *d;

	if (!n)
		return 0;
	if (__builtin_add_overflow(b->len, n, &want))
		return -1;
	while (cap < want)
		if (__builtin_mul_overflow(cap, 2, &cap))
			return -1;
	if (cap != b->cap) {
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len = want;
	return 0;
}

void http_buf_consume(struct http_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void http_buf_free(struct http_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 204, "No Content" },
	{ 400, "Bad Request" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 409, "Conflict" },
	{ 411, "Length Required" },
	{ 413, "Payload Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Entity" },
	{ 429, "Too Many Requests" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

const char *http_reason(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

int http_format_response(struct http_buf *out, int status, const char *body,
                         size_t body_len, bool keep_alive)
{
	char head[256];
	size_t old = out->len;
	int n;

	/* A status line needs three digits; a bad one is our bug. */
	if (status < 100 || status > 599)
		status = 500;
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: wisp\r\n%s",
	             status, http_reason(status),
	             keep_alive ? "" : "Connection: close\r\n");
	/* RFC 9110 8.6: 1xx and 204 carry neither a body nor its length. */
	if (status < 200 || status == 204)
		body_len = 0;
	else if (body_len)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
		              "Content-Length: %zu\r\nContent-Type: "
		              "application/json\r\n",
		              body_len);
	else
		n += snprintf(head + n, sizeof(head) - (size_t)n,
		              "Content-Length: 0\r\n");
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	/* All or nothing: half a response would desynchronise the client. */
	if (http_buf_append(out, head, (size_t)n) < 0 ||
	    http_buf_append(out, body, body_len) < 0) {
		out->len = old;
		return -1;
	}
	return 0;
}
