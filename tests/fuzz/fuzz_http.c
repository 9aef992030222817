/*
 * libFuzzer target: the bytes an API client sends. They are parsed as a
 * stream of pipelined requests twice, once whole and once cut into chunks
 * at points derived from the data, the way the server's reads would cut
 * them. Every result must stay inside the buffer and within the limits,
 * and both runs must give the same requests and the same first error.
 * Then a response is formatted around part of the input.
 */
#include "http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define check(x)                                                               \
	do {                                                                   \
		if (!(x))                                                      \
			abort();                                               \
	} while (0)

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
	return h;
}

static void check_request(const struct http_request *r,
                          enum http_parse_result res, const uint8_t *buf,
                          size_t len, size_t max_body)
{
	check(memchr(r->path, '\0', sizeof(r->path)));
	check(memchr(r->error, '\0', sizeof(r->error)));
	switch (res) {
	case HTTP_PARSE_DONE:
		check(r->head_done && r->consumed && r->consumed <= len);
		check(r->body >= buf && r->body_len <= max_body);
		check(r->body + r->body_len == buf + r->consumed);
		check(r->path[0] == '/' && strlen(r->path) <= HTTP_PATH_MAX);
		check(r->method >= HTTP_METHOD_GET &&
		      r->method <= HTTP_METHOD_OPTIONS);
		check(!r->error_status);
		break;
	case HTTP_PARSE_MORE:
		check(!r->head_done ||
		      (r->need > len && r->need <= HTTP_HEAD_MAX + max_body));
		check(len < HTTP_HEAD_MAX || r->head_done);
		break;
	case HTTP_PARSE_ERROR:
		check(r->error_status == 400 || r->error_status == 413 ||
		      r->error_status == 505);
		check(r->error[0] && !r->keep_alive);
		break;
	default:
		abort();
	}
}

/* Fold one outcome into @h: what a server would act on. */
static uint64_t outcome(uint64_t h, const struct http_request *r,
                        enum http_parse_result res)
{
	int flags = r->keep_alive | r->expect_continue << 1;

	h = mix(h, &res, sizeof(res));
	if (res == HTTP_PARSE_ERROR) {
		h = mix(h, &r->error_status, sizeof(r->error_status));
		return mix(h, r->error, strlen(r->error));
	}
	h = mix(h, &r->method, sizeof(r->method));
	h = mix(h, r->path, strlen(r->path));
	h = mix(h, &flags, sizeof(flags));
	h = mix(h, &r->consumed, sizeof(r->consumed));
	return mix(h, r->body, r->body_len);
}

/*
 * Parse @data as a server would, reading it in chunks whose sizes come
 * from @seed (0: all at once). Returns a hash of the outcomes.
 */
static uint64_t drive(const uint8_t *data, size_t len, size_t max_body,
                      uint64_t seed)
{
	struct http_buf in = { 0 };
	struct http_request r;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t at = 0;

	while (at < len) {
		size_t n = len - at;

		if (seed) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			/* Mostly small reads, sometimes large ones; enough of
			 * them to cut heads anywhere, few enough to be fast. */
			n = 1 + seed % (seed & 1 ? 8 : 64 + len / 8);
			if (n > len - at)
				n = len - at;
		}
		check(http_buf_append(&in, data + at, n) == 0);
		at += n;
		for (;;) {
			enum http_parse_result res =
			        http_parse(in.data, in.len, max_body, &r);

			check_request(&r, res, in.data, in.len, max_body);
			if (res == HTTP_PARSE_MORE)
				break;
			h = outcome(h, &r, res);
			if (res == HTTP_PARSE_ERROR)
				goto out;
			http_buf_consume(&in, r.consumed);
		}
	}
	h = mix(h, &in.len, sizeof(in.len)); /* the unfinished tail */
out:
	http_buf_free(&in);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const size_t limits[] = { 0, 7, 100, HTTP_BODY_MAX_DEFAULT };
	static const int statuses[] = { 100, 200, 204, 400, 413, 505, 0, 999 };
	uint64_t seed = mix(0xcbf29ce484222325ULL, data, len) | 1;
	size_t max_body = limits[seed >> 60 & 3];
	struct http_buf out = { 0 };
	int status = statuses[seed >> 56 & 7];
	size_t body_len = len / 2;

	check(drive(data, len, max_body, 0) ==
	      drive(data, len, max_body, seed));

	check(http_format_response(&out, status, (const char *)data, body_len,
	                           seed >> 55 & 1) == 0);
	check(out.len >= 17 && !memcmp(out.data, "HTTP/1.1 ", 9));
	check(!memcmp(out.data + out.len - 4, "\r\n\r\n", 4) ||
	      (body_len &&
	       !memcmp(out.data + out.len - body_len, data, body_len)));
	http_buf_free(&out);
	return 0;
}
