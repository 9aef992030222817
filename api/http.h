/*
 * HTTP/1.1 for the API socket: a request parser that works on whatever
 * bytes have arrived so far, and a response formatter. No I/O here; the
 * server (server.c) owns the sockets. Everything a client sends is
 * hostile: every length is checked before use.
 */
#ifndef WISP_HTTP_H
#define WISP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX         8192  /* request line + headers + CRLFCRLF */
#define HTTP_PATH_MAX         1024  /* bytes of the request target */
#define HTTP_HEADERS_MAX      64    /* header lines */
#define HTTP_BODY_MAX_DEFAULT 51200 /* --http-api-max-payload-size */

enum http_method {
	HTTP_METHOD_GET = 1,
	HTTP_METHOD_PUT,
	HTTP_METHOD_PATCH,
	HTTP_METHOD_POST,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_OPTIONS,
};

enum http_parse_result {
	HTTP_PARSE_MORE,  /* need more bytes; see http_request.need */
	HTTP_PARSE_DONE,  /* one whole request; see http_request.consumed */
	HTTP_PARSE_ERROR, /* answer error_status, then close the connection */
};

struct http_request {
	enum http_method method;
	/*
	 * The path of the request target, NUL-terminated, query and
	 * fragment dropped; not percent-decoded (routes compare it raw).
	 */
	char path[HTTP_PATH_MAX + 1];
	bool keep_alive;      /* HTTP/1.1 without "Connection: close" ... */
	bool expect_continue; /* "Expect: 100-continue" was sent */
	bool head_done;       /* the head is complete (MORE: body pending) */
	/* DONE: the body (points into the caller's buffer) and its length. */
	const uint8_t *body;
	size_t body_len;
	/* DONE: bytes of the buffer this request took (head + body). */
	size_t consumed;
	/* MORE with head_done: total bytes the request needs (else 0). */
	size_t need;
	/* ERROR: 400, 413 or 505, and a message for fault_message. */
	int error_status;
	char error[160];
};

/*
 * Parse the request at the start of @buf[0..@len). Stateless: call again
 * with the same buffer start and more bytes. Bodies need Content-Length
 * (absent means none); Transfer-Encoding is refused (400), as are heads
 * over HTTP_HEAD_MAX, more than HTTP_HEADERS_MAX headers, bad or repeated
 * Content-Length, bad request lines, unknown methods (all 400), versions
 * other than HTTP/1.0 and 1.1 (505) and bodies over @max_body (413, as
 * soon as the head says so). Lines are judged in order and the first bad
 * one decides, so a prefix of the bytes either returns MORE or the very
 * error the whole request gets: feeding bytes in any split gives the same
 * answers. Empty lines before the request line are skipped (RFC 9112 2.2).
 */
enum http_parse_result http_parse(const uint8_t *buf, size_t len,
                                  size_t max_body, struct http_request *req);

/* A growable byte buffer; all appends fail (-1) only when out of memory. */
struct http_buf {
	uint8_t *data;
	size_t len, cap;
};

int http_buf_append(struct http_buf *b, const void *p, size_t n);
/* Drop the first @n bytes. */
void http_buf_consume(struct http_buf *b, size_t n);
void http_buf_free(struct http_buf *b);

/*
 * Append a whole response: status line, Server, Content-Length (and
 * Content-Type: application/json when @body_len), "Connection: close"
 * when !@keep_alive, then @body. 204 and 1xx carry no body.
 */
int http_format_response(struct http_buf *out, int status, const char *body,
                         size_t body_len, bool keep_alive);

/* "OK", "No Content", "Bad Request" ... for @status. */
const char *http_reason(int status);

#endif
