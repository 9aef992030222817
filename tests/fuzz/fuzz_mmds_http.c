/*
 * libFuzzer target: what a guest sends the metadata service. The first
 * byte chooses the service: bit 0 version 2, bit 1 imds_compat, bits 2-3
 * the store (a metadata tree, never written, a scalar, an array of
 * awkward keys and values), bit 4 a valid token: every "TOKEN" in the
 * request is replaced by one, so authorised V2 GETs are reached too;
 * bit 5 a merge patch first: the next byte is its length, then its
 * JSON, applied to the store (kept within a 4 KiB limit). The rest is a
 * request head, handed to mmds_http() as the network stack hands it.
 *
 * Every answer must be one well-formed response: "HTTP/1.x NNN ", the
 * fixed headers, a Content-Length equal to the body that follows.
 * FUZZ_MMDS_TRACE=1 prints each answer: the way to read a reproducer.
 */
#include "metrics.h"
#include "mmds.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The counters mmds_serve.c bumps; metrics.c is not linked. */
struct metrics metrics;

#define check(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

static const char *const stores[] = {
	"{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"ids\": "
	"{\"a\": \"1\"}, \"n\": 4.5}, \"user-data\": \"x\"}, \"list\": [1, "
	"{\"b\": null}]}",
	NULL,
	"\"just a string\"",
	"{\"a/b\": {\"m~n\": [\"\\u0000\", true, -0.0, 1e300]}, \"\": {}, "
	"\"\\u00e9\": \"\\n\", \"~1\": [[[]]]}",
};

/* Parse the response: status line, headers, Content-Length, body. */
static void check_response(const uint8_t *r, size_t n)
{
	const char *end = memmem(r, n, "\r\n\r\n", 4), *cl;
	unsigned long clen;
	char *num_end;

	check(n > 12 &&
	      (!memcmp(r, "HTTP/1.0 ", 9) || !memcmp(r, "HTTP/1.1 ", 9)));
	check(r[9] >= '1' && r[9] <= '5' && r[12] == ' ');
	check(!memcmp(r + 13, "\r\nServer: Firecracker API\r\n", 27));
	check(end);
	cl = memmem(r, (size_t)(end - (const char *)r) + 2,
	            "\r\nContent-Length: ", 18);
	check(cl);
	clen = strtoul(cl + 18, &num_end, 10);
	check(!memcmp(num_end, "\r\n", 2));
	check(clen == n - (size_t)(end + 4 - (const char *)r));
}

/* @req with every "TOKEN" replaced by @tok, malloc'd; its length. */
static uint8_t *substitute(const uint8_t *req, size_t n, const char *tok,
                           size_t *out_len)
{
	size_t tl = strlen(tok), o = 0;
	uint8_t *out = malloc(n * (tl > 5 ? tl / 5 + 1 : 1) + 1);

	check(out);
	for (size_t i = 0; i < n;) {
		if (n - i >= 5 && !memcmp(req + i, "TOKEN", 5)) {
			memcpy(out + o, tok, tl);
			o += tl;
			i += 5;
		} else {
			out[o++] = req[i++];
		}
	}
	*out_len = o;
	return out;
}

static char *make_token(struct mmds *m)
{
	static const char put[] = "PUT /latest/api/token HTTP/1.1\r\n"
	                          "X-metadata-token-ttl-seconds: 600\r\n\r\n";
	uint8_t *out;
	size_t n = mmds_http(m, (const uint8_t *)put, sizeof(put) - 1, &out);
	char *tok;

	check(n > 48);
	tok = strndup((const char *)out + n - 48, 48);
	free(out);
	check(tok);
	return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static char id[] = "fuzz-vm";
	struct mmds *m;
	uint8_t flags, *req = NULL, *out;
	char err[256], *tok = NULL;
	size_t n, rlen;
	int status;

	if (!len)
		return 0;
	flags = data[0];
	data++;
	len--;
	m = mmds_new(id);
	check(m);
	mmds_set_size_limit(m, 4096);
	mmds_set_version(m, flags & 1 ? 2 : 1, flags & 2);
	if (stores[(flags >> 2) & 3]) {
		json_t *v = json_loads(stores[(flags >> 2) & 3],
		                       JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		check(v && mmds_put(m, v, &status, err, sizeof(err)) == 0);
		json_decref(v);
	}
	if ((flags & 0x20) && len) {
		size_t plen = data[0] < len - 1 ? data[0] : len - 1;
		json_t *p = json_loadb((const char *)data + 1, plen,
		                       JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		if (p) {
			if (mmds_patch(m, p, &status, err, sizeof(err)) < 0)
				check(status == 400 || status == 413);
			json_decref(p);
		}
		data += plen + 1;
		len -= plen + 1;
	}
	if (flags & 0x10) {
		tok = make_token(m);
		req = substitute(data, len, tok, &rlen);
	}
	n = mmds_http(m, req ? req : data, req ? rlen : len, &out);
	check(n && out);
	if (getenv("FUZZ_MMDS_TRACE"))
		fprintf(stderr, "%.*s\n----\n", (int)n, (const char *)out);
	check_response(out, n);
	free(out);
	free(req);
	free(tok);
	mmds_free(m);
	return 0;
}
