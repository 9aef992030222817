/*
 * The HTTP parser and formatter: every error class with its status, the
 * limits at their exact edges, keep-alive and 100-continue rules, and the
 * property the server relies on: bytes split anywhere parse the same.
 */
#include "unit.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXB HTTP_BODY_MAX_DEFAULT

static struct http_request req;

static enum http_parse_result parse(const char *s)
{
	return http_parse((const uint8_t *)s, strlen(s), MAXB, &req);
}

#define ck_error(text, status, msg)                                            \
	do {                                                                   \
		ck_assert_int_eq(parse(text), HTTP_PARSE_ERROR);               \
		ck_assert_int_eq(req.error_status, status);                    \
		ck_assert_msg(strstr(req.error, msg), "'%s' lacks '%s'",       \
		              req.error, msg);                                 \
		ck_assert(!req.keep_alive);                                    \
	} while (0)

/*
 * Feed @n bytes of @s to the parser as a server would: in chunks ending at
 * @cuts, parsing every complete request after each chunk and stopping at
 * the first error. Writes one line per outcome to @out.
 */
static void drive(const char *s, size_t n, const size_t *cuts, size_t ncuts,
                  char *out, size_t outlen)
{
	struct http_buf in = { 0 };
	size_t at = 0, o = 0;

	out[0] = '\0';
	for (size_t c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : n;
		struct http_request r;

		ck_assert_int_eq(http_buf_append(&in, s + at, end - at), 0);
		at = end;
		for (;;) {
			enum http_parse_result res =
			        http_parse(in.data, in.len, MAXB, &r);

			if (res == HTTP_PARSE_MORE)
				break;
			if (res == HTTP_PARSE_ERROR) {
				snprintf(out + o, outlen - o, "E%d %s\n",
				         r.error_status, r.error);
				http_buf_free(&in);
				return;
			}
			ck_assert_uint_le(r.consumed, in.len);
			ck_assert(r.body >= in.data &&
			          r.body + r.body_len <= in.data + r.consumed);
			o += (size_t)snprintf(out + o, outlen - o,
			                      "%d %s ka=%d ec=%d c=%zu %.*s\n",
			                      r.method, r.path, r.keep_alive,
			                      r.expect_continue, r.consumed,
			                      (int)r.body_len, r.body);
			ck_assert_uint_lt(o, outlen);
			http_buf_consume(&in, r.consumed);
		}
	}
	http_buf_free(&in);
}

static const char *const streams[] = {
	"GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: "
	"*/*\r\n\r\n",
	"PUT /drives/rootfs HTTP/1.1\r\nContent-Type: application/json\r\n"
	"Content-Length: 21\r\nExpect: 100-continue\r\n\r\n"
	"{\"drive_id\":\"rootfs\"}",
	/* pipelined, with a close in the middle and CRLF after a body */
	"GET /a HTTP/1.1\r\n\r\nPATCH /vm HTTP/1.1\r\nContent-Length: 5\r\n"
	"\r\nhello\r\nGET /b?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
	"DELETE /c HTTP/1.1\r\nConnection: close\r\n\r\nGET /d HTTP/1.1\r\n"
	"\r\n",
	/* an error in the second request */
	"GET /ok HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nBad Header: 1\r\n\r\n",
	"POST /big HTTP/1.1\r\nContent-Length: 51201\r\n\r\nxxxxxxxx",
	"GET / HTTP/2.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
	"BREW /pot HTTP/1.1\r\n\r\n",
};

START_TEST(split_anywhere_same_result)
{
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		const char *s = streams[i];
		size_t n = strlen(s);
		char whole[4096], split[4096];

		drive(s, n, NULL, 0, whole, sizeof(whole));
		ck_assert_msg(whole[0], "stream %zu gave nothing", i);
		for (size_t k = 0; k <= n; k++) {
			size_t cuts[2] = { k, (k + n) / 2 };

			drive(s, n, cuts, 1, split, sizeof(split));
			ck_assert_str_eq(split, whole);
			drive(s, n, cuts, 2, split, sizeof(split));
			ck_assert_str_eq(split, whole);
		}
	}
}
END_TEST

START_TEST(one_byte_at_a_time)
{
	size_t cuts[1024];

	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		const char *s = streams[i];
		size_t n = strlen(s);
		char whole[4096], split[4096];

		ck_assert_uint_lt(n, 1024);
		for (size_t k = 0; k < n; k++)
			cuts[k] = k;
		drive(s, n, NULL, 0, whole, sizeof(whole));
		drive(s, n, cuts, n, split, sizeof(split));
		ck_assert_str_eq(split, whole);
	}
}
END_TEST

START_TEST(pipelined_in_order)
{
	char out[4096];

	drive(streams[2], strlen(streams[2]), NULL, 0, out, sizeof(out));
	ck_assert_str_eq(out, "1 /a ka=1 ec=0 c=19 \n"
	                      "3 /vm ka=1 ec=0 c=46 hello\n"
	                      "1 /b ka=1 ec=0 c=49 \n"
	                      "5 /c ka=0 ec=0 c=41 \n"
	                      "1 /d ka=1 ec=0 c=19 \n");
}
END_TEST

START_TEST(simple_requests)
{
	static const char *const m[] = { "GET",    "PUT",  "PATCH",  "POST",
		                         "DELETE", "HEAD", "OPTIONS" };
	const char *s = "PUT /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET";
	char buf[64];

	ck_assert_int_eq(parse(s), HTTP_PARSE_DONE);
	ck_assert_int_eq(req.method, HTTP_METHOD_PUT);
	ck_assert_str_eq(req.path, "/x");
	ck_assert_uint_eq(req.body_len, 3);
	ck_assert(req.body == (const uint8_t *)s + strlen(s) - 6);
	ck_assert_uint_eq(req.consumed, strlen(s) - 3);
	ck_assert(req.keep_alive && req.head_done && !req.expect_continue);

	for (unsigned i = 0; i < 7; i++) {
		snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\n\r\n", m[i]);
		ck_assert_int_eq(parse(buf), HTTP_PARSE_DONE);
		ck_assert_int_eq(req.method, HTTP_METHOD_GET + (int)i);
		ck_assert_uint_eq(req.body_len, 0);
	}
	ck_assert_int_eq(parse("GET /a/b?q=1&r#frag HTTP/1.1\r\n\r\n"),
	                 HTTP_PARSE_DONE);
	ck_assert_str_eq(req.path, "/a/b");
	ck_assert_int_eq(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
	                 HTTP_PARSE_DONE);
	ck_assert_uint_eq(req.consumed, 22);
	/* obs-text and tabs are allowed in values, case-blind names */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-A:\t\xc3\xa9 b \r\n"
	                       "content-LENGTH:2\r\n\r\nok"),
	                 HTTP_PARSE_DONE);
	ck_assert_uint_eq(req.body_len, 2);
}
END_TEST

START_TEST(more_until_complete)
{
	ck_assert_int_eq(parse(""), HTTP_PARSE_MORE);
	ck_assert(!req.head_done);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n"),
	                 HTTP_PARSE_MORE);
	ck_assert(!req.head_done);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r"),
	                 HTTP_PARSE_MORE);
	ck_assert_int_eq(
	        parse("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345"),
	        HTTP_PARSE_MORE);
	ck_assert(req.head_done);
	ck_assert_uint_eq(req.need, 39 + 10);
}
END_TEST

START_TEST(request_line_errors)
{
	ck_error("FOO / HTTP/1.1\r\n\r\n", 400, "method");
	ck_error("get / HTTP/1.1\r\n\r\n", 400, "method");
	ck_error("GET / HTTP/2.0\r\n\r\n", 505, "version");
	ck_error("GET / HTTP/1.2\r\n\r\n", 505, "version");
	ck_error("GET / HTTP/0.9\r\n\r\n", 505, "version");
	ck_error("GET / HTTP/1.1x\r\n\r\n", 400, "malformed HTTP version");
	ck_error("GET / http/1.1\r\n\r\n", 400, "malformed HTTP version");
	ck_error("GET / HTTP/11\r\n\r\n", 400, "malformed HTTP version");
	ck_error("GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line");
	ck_error("GET / HTTP/1.1 \r\n\r\n", 400, "malformed request line");
	ck_error("GET /\r\n\r\n", 400, "malformed request line");
	ck_error("GET\r\n\r\n", 400, "malformed request line");
	ck_error("GET http://h/ HTTP/1.1\r\n\r\n", 400, "starting with '/'");
	ck_error("OPTIONS * HTTP/1.1\r\n\r\n", 400, "starting with '/'");
	ck_error("GET /a\x01 HTTP/1.1\r\n\r\n", 400, "control character");
	ck_error("GET /a\tb HTTP/1.1\r\n\r\n", 400, "control character");
	ck_error("GET /\xff HTTP/1.1\r\n\r\n", 400, "non-ASCII");
	ck_error("GET / HTTP/1.1\rX\r\n\r\n", 400, "control character");
	ck_assert_int_eq(http_parse((const uint8_t *)"GET /\0 HTTP/1.1\r\n\r\n",
	                            19, MAXB, &req),
	                 HTTP_PARSE_ERROR);
	ck_assert_int_eq(req.error_status, 400);
	ck_error("GET / HTTP/1.1\n\n", 400, "CRLF");
	ck_error("\n", 400, "CRLF");
}
END_TEST

START_TEST(header_errors)
{
	ck_error("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400,
	         "line 2 has no ':'");
	ck_error("GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400, "folding");
	ck_error("GET / HTTP/1.1\r\n\tb: c\r\n\r\n", 400, "folding");
	ck_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "name");
	ck_error("GET / HTTP/1.1\r\n: a\r\n\r\n", 400, "empty name");
	ck_error("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400, "control");
	ck_error("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400, "control");
	ck_error("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, "control");
	ck_assert_int_eq(http_parse((const uint8_t *)"GET / HTTP/1.1\r\nX: "
	                                             "\0\r\n\r\n",
	                            24, MAXB, &req),
	                 HTTP_PARSE_ERROR);
	ck_assert_int_eq(req.error_status, 400);
	ck_error("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, "CRLF");
	ck_error("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
	         "Transfer-Encoding");
	ck_error("GET / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 400,
	         "Transfer-Encoding");
}
END_TEST

START_TEST(content_length_errors)
{
	ck_error("PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: "
	         "1\r\n\r\nx",
	         400, "duplicate");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400,
	         "not a number");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400,
	         "not a number");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400,
	         "not a number");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 400,
	         "not a number");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400,
	         "not a number");
	ck_error("PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, "empty");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: "
	         "184467440737095516160\r\n\r\n",
	         400, "too large");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: "
	         "99999999999999999999999999\r\n\r\n",
	         400, "too large");
}
END_TEST

START_TEST(body_limit_413)
{
	/* Decided from the head alone: the body never needs to arrive. */
	ck_error("PUT / HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 413,
	         "51201 bytes is over the limit of 51200");
	ck_error("PUT / HTTP/1.1\r\nContent-Length: 1048576\r\n", 413, "limit");
	ck_assert_int_eq(
	        parse("PUT / HTTP/1.1\r\nContent-Length: 51200\r\n\r\n"),
	        HTTP_PARSE_MORE);
	ck_assert(req.head_done);
	ck_assert_int_eq(
	        http_parse((const uint8_t *)"PUT / HTTP/1.1\r\n"
	                                    "Content-Length: 5\r\n\r\n",
	                   37, 4, &req),
	        HTTP_PARSE_ERROR);
	ck_assert_int_eq(req.error_status, 413);
}
END_TEST

/* A request whose head is exactly @head bytes, padded by one header. */
static char *head_of(size_t head)
{
	const char *pre = "GET / HTTP/1.1\r\nX: ";
	char *s = malloc(head + 1);
	size_t pad = head - strlen(pre) - 4;

	memcpy(s, pre, strlen(pre));
	memset(s + strlen(pre), 'a', pad);
	memcpy(s + strlen(pre) + pad, "\r\n\r\n", 5);
	return s;
}

START_TEST(head_size_limit)
{
	char *s = head_of(HTTP_HEAD_MAX);
	char *big;

	ck_assert_int_eq(parse(s), HTTP_PARSE_DONE);
	ck_assert_uint_eq(req.consumed, HTTP_HEAD_MAX);
	free(s);
	s = head_of(HTTP_HEAD_MAX + 1);
	ck_error(s, 400, "head over 8192 bytes");
	/* Even when more bytes than the window have arrived at once. */
	big = calloc(1, 3 * HTTP_HEAD_MAX);
	memcpy(big, s, HTTP_HEAD_MAX + 1);
	memset(big + HTTP_HEAD_MAX + 1, 'b', 2 * HTTP_HEAD_MAX - 2);
	ck_error(big, 400, "head over");
	free(s);
	free(big);
	/* A short head followed by a body larger than the window is fine. */
	big = calloc(1, 3 * HTTP_HEAD_MAX);
	strcpy(big, "PUT / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n");
	memset(big + strlen(big), 'z', 20000);
	ck_assert_int_eq(parse(big), HTTP_PARSE_DONE);
	ck_assert_uint_eq(req.body_len, 20000);
	free(big);
}
END_TEST

START_TEST(header_count_and_path_limits)
{
	char *s = malloc(HTTP_HEAD_MAX);
	size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");

	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		n += (size_t)sprintf(s + n, "H%d: v\r\n", i);
	strcpy(s + n, "\r\n");
	ck_assert_int_eq(parse(s), HTTP_PARSE_DONE);
	strcpy(s + n, "One: more\r\n\r\n");
	ck_error(s, 400, "more than 64 header lines");

	n = (size_t)sprintf(s, "GET /");
	memset(s + n, 'p', HTTP_PATH_MAX - 1);
	strcpy(s + n + HTTP_PATH_MAX - 1, " HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(parse(s), HTTP_PARSE_DONE);
	ck_assert_uint_eq(strlen(req.path), HTTP_PATH_MAX);
	s[4] = '/';
	memset(s + n, 'p', HTTP_PATH_MAX);
	strcpy(s + n + HTTP_PATH_MAX, " HTTP/1.1\r\n\r\n");
	ck_error(s, 400, "longer than 1024");
	free(s);
}
END_TEST

START_TEST(keep_alive_rules)
{
	static const struct {
		const char *text;
		bool keep;
	} t[] = {
		{ "GET / HTTP/1.1\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
		  false },
		{ "GET / HTTP/1.1\r\nConnection: Upgrade\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: x ,keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: "
		  "close\r\n\r\n",
		  false },
	};

	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(parse(t[i].text), HTTP_PARSE_DONE);
		ck_assert_msg(req.keep_alive == t[i].keep, "case %u", i);
	}
}
END_TEST

START_TEST(expect_continue)
{
	ck_assert_int_eq(parse("PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n"
	                       "Content-Length: 4\r\n\r\n"),
	                 HTTP_PARSE_MORE);
	ck_assert(req.head_done && req.expect_continue);
	ck_assert_uint_eq(req.need, 60 + 4);
	ck_assert_int_eq(parse("PUT /x HTTP/1.1\r\nExpect:  100-Continue \r\n"
	                       "Content-Length: 4\r\n\r\nabcd"),
	                 HTTP_PARSE_DONE);
	ck_assert(req.expect_continue);
	ck_assert_int_eq(parse("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n"
	                       "Content-Length: 4\r\n\r\n"),
	                 HTTP_PARSE_MORE);
	ck_assert(req.head_done && !req.expect_continue);
	ck_assert_int_eq(parse("PUT /x HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"),
	                 HTTP_PARSE_DONE);
	ck_assert(!req.expect_continue);
}
END_TEST

static void ck_format(int status, const char *body, bool keep, const char *want)
{
	struct http_buf b = { 0 };

	ck_assert_int_eq(http_format_response(&b, status, body,
	                                      body ? strlen(body) : 0, keep),
	                 0);
	ck_assert_uint_eq(b.len, strlen(want));
	ck_assert(!memcmp(b.data, want, b.len));
	http_buf_free(&b);
}

START_TEST(format_exact_bytes)
{
	struct http_buf b = { 0 };

	ck_format(200, "{}", true,
	          "HTTP/1.1 200 OK\r\nServer: wisp\r\nContent-Length: 2\r\n"
	          "Content-Type: application/json\r\n\r\n{}");
	ck_format(
	        200, NULL, true,
	        "HTTP/1.1 200 OK\r\nServer: wisp\r\nContent-Length: 0\r\n\r\n");
	ck_format(204, "{}", true,
	          "HTTP/1.1 204 No Content\r\nServer: wisp\r\n\r\n");
	ck_format(100, NULL, true,
	          "HTTP/1.1 100 Continue\r\nServer: wisp\r\n\r\n");
	ck_format(400, "{\"fault_message\":\"x\"}", false,
	          "HTTP/1.1 400 Bad Request\r\nServer: wisp\r\nConnection: "
	          "close\r\nContent-Length: 21\r\nContent-Type: "
	          "application/json\r\n\r\n{\"fault_message\":\"x\"}");
	ck_format(204, NULL, false,
	          "HTTP/1.1 204 No Content\r\nServer: wisp\r\nConnection: "
	          "close\r\n\r\n");
	ck_format(42, NULL, true,
	          "HTTP/1.1 500 Internal Server Error\r\nServer: wisp\r\n"
	          "Content-Length: 0\r\n\r\n");
	ck_assert_str_eq(http_reason(413), "Payload Too Large");
	ck_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
	ck_assert_str_eq(http_reason(299), "Unknown");

	/* Appends after what is there; consume keeps the rest in order. */
	ck_assert_int_eq(http_buf_append(&b, "abc", 3), 0);
	ck_assert_int_eq(http_format_response(&b, 204, NULL, 0, true), 0);
	ck_assert(!memcmp(b.data, "abcHTTP/1.1 204", 15));
	http_buf_consume(&b, 3);
	ck_assert(!memcmp(b.data, "HTTP/1.1 204", 12));
	http_buf_consume(&b, 1000);
	ck_assert_uint_eq(b.len, 0);
	http_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("parser");

	tcase_add_test(tc, split_anywhere_same_result);
	tcase_add_test(tc, one_byte_at_a_time);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, simple_requests);
	tcase_add_test(tc, more_until_complete);
	tcase_add_test(tc, request_line_errors);
	tcase_add_test(tc, header_errors);
	tcase_add_test(tc, content_length_errors);
	tcase_add_test(tc, body_limit_413);
	tcase_add_test(tc, head_size_limit);
	tcase_add_test(tc, header_count_and_path_limits);
	tcase_add_test(tc, keep_alive_rules);
	tcase_add_test(tc, expect_continue);
	tcase_add_test(tc, format_exact_bytes);
	suite_add_tcase(s, tc);
	return s;
}
