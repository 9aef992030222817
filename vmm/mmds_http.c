/*
 * The guest's HTTP request head, read the way Firecracker's HTTP library
 * (micro-http) reads it, so that every request, well formed or not, gets
 * the answer it would get there: the request line up to the first CRLF
 * (METHOD SP URI SP VERSION), then the header lines up to the first
 * CRLFCRLF, split at CRLF, names matched without regard to ASCII case and
 * names and values trimmed of Unicode white space (Rust's str::trim).
 *
 * The bytes are the guest's: every offset is checked against @len, and
 * nothing is read past it. The slices in struct mmds_req point into the
 * caller's buffer.
 */
#include "mmds_int.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Strict UTF-8 (Rust's from_utf8): no overlongs, surrogates or > 10FFFF. */
static bool utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			k = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			k = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* The code point at @p (valid UTF-8, @n > 0 bytes) and its length. */
static uint32_t decode(const uint8_t *p, size_t n, size_t *len)
{
	size_t k = p[0] < 0x80 ? 0 : p[0] < 0xe0 ? 1 : p[0] < 0xf0 ? 2 : 3;
	uint32_t cp = k ? p[0] & (0x3f >> k) : p[0];

	if (k >= n)
		k = n - 1;
	for (size_t j = 1; j <= k; j++)
		cp = cp << 6 | (p[j] & 0x3f);
	*len = k + 1;
	return cp;
}

/* Unicode White_Space, what Rust's trim() removes. */
static bool is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 ||
	       c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
	       c == 0x3000;
}

static struct mmds_slice trim(struct mmds_slice s)
{
	size_t len;

	while (s.n && is_space(decode(s.p, s.n, &len))) {
		s.p += len;
		s.n -= len;
	}
	while (s.n) {
		size_t start = s.n - 1;

		while (start && (s.p[start] & 0xc0) == 0x80 && s.n - start < 4)
			start--;
		if (!is_space(decode(s.p + start, s.n - start, &len)))
			break;
		s.n = start;
	}
	return s;
}

static bool is(struct mmds_slice s, const char *lit)
{
	return s.n == strlen(lit) && !memcmp(s.p, lit, s.n);
}

static bool is_nocase(struct mmds_slice s, const char *lit)
{
	return s.n == strlen(lit) && !strncasecmp((const char *)s.p, lit, s.n);
}

bool mmds_parse_u32(struct mmds_slice s, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = s.n && s.p[0] == '+';

	if (i == s.n)
		return false;
	for (; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (s.p[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

static int error(struct mmds_buf *msg, int status, const char *text)
{
	mmds_buf_str(msg, text);
	return status;
}

/* "Invalid value. Key:<name>; Value:<value>", both as sent. */
static int invalid_value(struct mmds_buf *msg, struct mmds_slice name,
                         struct mmds_slice value)
{
	mmds_buf_str(msg, "Invalid value. Key:");
	mmds_buf_put(msg, name.p, name.n);
	mmds_buf_str(msg, "; Value:");
	mmds_buf_put(msg, value.p, value.n);
	return 400;
}

/* Accept-Encoding: only a refusal of the identity encoding is an error. */
static int accept_encoding(struct mmds_slice v, struct mmds_buf *msg)
{
	static const struct mmds_slice name = { (const uint8_t *)"Accept-"
		                                                 "Encoding",
		                                15 };
	bool identity = memmem(v.p, v.n, "identity", 8) != NULL;
	size_t i = 0;

	if (!v.n)
		return error(msg, 400, "Invalid request.");
	while (i <= v.n) {
		const uint8_t *comma = memchr(v.p + i, ',', v.n - i);
		size_t end = comma ? (size_t)(comma - v.p) : v.n;
		struct mmds_slice piece = { v.p + i, end - i };
		struct mmds_slice t = trim(piece);

		if (is(t, "identity;q=0") || (is(t, "*;q=0") && !identity))
			return invalid_value(msg, name, piece);
		i = end + 1;
	}
	return 0;
}

/* One header line; 0 or an error status. */
static int header(struct mmds_slice line, struct mmds_req *r, uint32_t *clen,
                  struct mmds_buf *msg)
{
	const uint8_t *colon = memchr(line.p, ':', line.n);
	struct mmds_slice name, value, tn, tv;
	uint32_t v;

	if (!colon) {
		mmds_buf_str(msg, "Header is incorrectly formatted. Key: ");
		mmds_buf_put(msg, line.p, line.n);
		return 400;
	}
	name = (struct mmds_slice){ line.p, (size_t)(colon - line.p) };
	value = (struct mmds_slice){ colon + 1, line.n - name.n - 1 };
	tn = trim(name);
	tv = trim(value);
	if (is_nocase(tn, "content-length")) {
		if (!mmds_parse_u32(tv, &v))
			return invalid_value(msg, name, value);
		*clen = v;
	} else if (is_nocase(tn, "accept")) {
		/* Any other value, "*" and lists included, is ignored. */
		if (is(tv, "text/plain"))
			r->accept_json = false;
		else if (is(tv, "application/json"))
			r->accept_json = true;
	} else if (is_nocase(tn, "accept-encoding")) {
		return accept_encoding(tv, msg);
	} else if (is_nocase(tn, "content-type") ||
	           is_nocase(tn, "transfer-encoding") ||
	           is_nocase(tn, "expect") || is_nocase(tn, "server")) {
		/* Understood, and nothing to the metadata service. */
	} else if (is_nocase(tn, "x-metadata-token") ||
	           is_nocase(tn, "x-aws-ec2-metadata-token")) {
		r->token = tv;
	} else if (is_nocase(tn, "x-metadata-token-ttl-seconds") ||
	           is_nocase(tn, "x-aws-ec2-metadata-token-ttl-seconds")) {
		r->ttl_name = tn;
		r->ttl_value = tv;
	} else if (is_nocase(tn, "x-forwarded-for")) {
		r->xff_name = tn;
	}
	return 0;
}

/* The header block: lines between the request line and the blank one. */
static int headers(struct mmds_slice h, struct mmds_req *r, uint32_t *clen,
                   struct mmds_buf *msg)
{
	size_t i = 0;
	int st;

	if (!utf8_ok(h.p, h.n))
		return error(msg, 400, "Invalid request.");
	while (i < h.n) {
		const uint8_t *crlf = memmem(h.p + i, h.n - i, "\r\n", 2);
		size_t end = crlf ? (size_t)(crlf - h.p) : h.n;

		if (end == i)
			break;
		st = header((struct mmds_slice){ h.p + i, end - i }, r, clen,
		            msg);
		if (st)
			return st;
		i = end + 2;
	}
	return 0;
}

int mmds_http_parse(const uint8_t *p, size_t len, struct mmds_req *r,
                    struct mmds_buf *msg)
{
	const uint8_t *crlf = memmem(p, len, "\r\n", 2), *sp1, *sp2, *end;
	struct mmds_slice method, version;
	size_t line, rest, blank;
	uint32_t clen = 0;
	int st;

	memset(r, 0, sizeof(*r));
	/* "GET" SP 1-byte URI SP "HTTP/1.x" is the shortest request line. */
	if (!crlf || (line = (size_t)(crlf - p)) < 14)
		return error(msg, 400, "Invalid request.");
	sp1 = memchr(p, ' ', line);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', line - (size_t)(sp1 + 1 - p)) : NULL;
	if (!sp2)
		return error(msg, 400, "Invalid request.");
	method = (struct mmds_slice){ p, (size_t)(sp1 - p) };
	r->uri = (struct mmds_slice){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	version = (struct mmds_slice){ sp2 + 1, (size_t)(crlf - sp2 - 1) };
	if (is(method, "GET"))
		r->method = MMDS_GET;
	else if (is(method, "PUT"))
		r->method = MMDS_PUT;
	else if (is(method, "PATCH"))
		r->method = MMDS_PATCH;
	else if (is(method, "DELETE"))
		r->method = MMDS_DELETE;
	else
		return error(msg, 501, "Unsupported HTTP method.");
	if (!r->uri.n)
		return error(msg, 400, "Empty URI not allowed.");
	if (!utf8_ok(r->uri.p, r->uri.n))
		return error(msg, 400, "Cannot parse URI as UTF-8.");
	if (is(version, "HTTP/1.0"))
		r->http10 = true;
	else if (!is(version, "HTTP/1.1"))
		return error(msg, 501, "Unsupported HTTP version.");

	/* The blank line, searched from the request line's own CRLF. */
	rest = len - line;
	end = memmem(crlf, rest, "\r\n\r\n", 4);
	if (!end)
		return error(msg, 400, "Invalid request.");
	blank = (size_t)(end - crlf);
	/* Never 1 or 2: the request line's CRLF would end a blank line. */
	if (blank >= 2) {
		st = headers((struct mmds_slice){ crlf + 2, blank - 2 }, r,
		             &clen, msg);
		if (st)
			return st;
	}
	/* No body comes with a head; a GET or DELETE may not announce one. */
	if (clen && (r->method == MMDS_GET || r->method == MMDS_DELETE ||
	             rest - blank - 4 != clen))
		return error(msg, 400, "Invalid request.");
	return 0;
}
