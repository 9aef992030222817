/*
 * The guest's side of the metadata service, byte for byte as Firecracker
 * answers: GET paths as JSON pointers (normalisation, escapes, arrays,
 * what is not decoded), IMDS text and JSON, imds_compat, the methods,
 * every class of malformed request with its status and body, V1 and V2
 * token rules, the token's life (made, echoed, tampered with, forged,
 * from another store or VM, expired), TTL values and X-Forwarded-For;
 * and every prefix and one-byte corruption of a request answered.
 */
#include "unit.h"
#include "metrics.h"
#include "mmds.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mmds *s;
static char id[16];
static char resp[8192];
static size_t rlen;

static const char doc[] =
        "{\"latest\": {\"meta-data\": {\"ami-id\": \"x\", \"ids\": {\"a\": "
        "\"1\"}}}, \"list\": [{\"b\": 1}, \"two\"], \"a/b\": \"slash\", "
        "\"m~n\": \"tilde\", \"~1\": \"tilde-one\", \"num\": 43, \"t\": "
        "true, \"n\": null, \"empty\": {}, \"q?x\": \"query\", \"nul\": "
        "\"a\\u0000b\", \"\xc3\xa9\": \"utf8\"}";

static void setup(void)
{
	json_error_t e;
	json_t *v = json_loads(doc, JSON_ALLOW_NUL, &e);
	char err[128];
	int st;

	ck_assert_msg(v != NULL, "%s", e.text);
	snprintf(id, sizeof(id), "vm-a");
	s = mmds_new(id);
	ck_assert_int_eq(mmds_put(s, v, &st, err, sizeof(err)), 0);
	json_decref(v);
}

static void teardown(void)
{
	mmds_free(s);
}

static const char *askn(const void *req, size_t len)
{
	uint8_t *out;

	rlen = mmds_http(s, req, len, &out);
	ck_assert(rlen > 0 && rlen < sizeof(resp));
	memcpy(resp, out, rlen);
	resp[rlen] = '\0';
	free(out);
	return resp;
}

static const char *ask(const char *req)
{
	return askn(req, strlen(req));
}

static const char *body(void)
{
	return strstr(resp, "\r\n\r\n") + 4;
}

/* The whole answer to @req: @status ("HTTP/1.1 200"), @type, @extra
 * header lines (or ""), then @text. */
static void expect(const char *req, const char *status, const char *type,
                   const char *extra, const char *text)
{
	char want[4096];

	snprintf(want, sizeof(want),
	         "%s \r\nServer: Firecracker API\r\nConnection: "
	         "keep-alive\r\n%sContent-Type: %s\r\nContent-Length: "
	         "%zu\r\n\r\n%s",
	         status, extra, type, strlen(text), text);
	ask(req);
	ck_assert_msg(!strcmp(resp, want), "%s\n--- got:\n%s\n--- want:\n%s",
	              req, resp, want);
}

#define PLAIN "text/plain"
#define JSON  "application/json"

/* GET @path (V1, no token) must give 200 with @text in @type. */
static void get_ok(const char *path, bool json, const char *text)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n%s\r\n", path,
	         json ? "Accept: application/json\r\n" : "");
	expect(req, "HTTP/1.1 200", json ? JSON : PLAIN, "", text);
}

static void get_404(const char *path)
{
	char req[512], text[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", path);
	snprintf(text, sizeof(text), "Resource not found: %s.", path);
	expect(req, "HTTP/1.1 404", PLAIN, "", text);
}

#define UNSUPPORTED "Cannot retrieve value. The value has an unsupported type."

START_TEST(get_paths_and_formats)
{
	expect("GET /latest HTTP/1.1\r\n\r\n", "HTTP/1.1 200", PLAIN, "",
	       "meta-data/");
	expect("GET /latest/meta-data/ HTTP/1.0\r\n\r\n", "HTTP/1.0 200", PLAIN,
	       "", "ami-id\nids/");
	get_ok("/latest/meta-data/ami-id", false, "x");
	get_ok("/latest/meta-data/ami-id", true, "\"x\"");
	get_ok("/", false,
	       "a/b\nempty/\nlatest/\nlist\nm~n\nn\nnul\nnum\nq?x\nt\n~1\n"
	       "\xc3\xa9");
	get_ok("/empty", false, "");
	get_ok("/empty", true, "{}");
	/* Only objects and strings have an IMDS form. */
	expect("GET /num HTTP/1.1\r\n\r\n", "HTTP/1.1 501", PLAIN, "",
	       UNSUPPORTED);
	get_ok("/num", true, "43");
	expect("GET /t HTTP/1.1\r\n\r\n", "HTTP/1.1 501", PLAIN, "",
	       UNSUPPORTED);
	expect("GET /n HTTP/1.1\r\n\r\n", "HTTP/1.1 501", PLAIN, "",
	       UNSUPPORTED);
	get_ok("/n", true, "null");
	expect("GET /list HTTP/1.1\r\n\r\n", "HTTP/1.1 501", PLAIN, "",
	       UNSUPPORTED);
	get_ok("/list", true, "[{\"b\":1},\"two\"]");
	get_ok("/list/0", true, "{\"b\":1}");
	get_ok("/list/0/b", true, "1");
	get_ok("/list/1", false, "two");
	get_404("/list/00");
	get_404("/list/+1");
	get_404("/list/-1");
	get_404("/list/2");
	get_404("/list/18446744073709551616");
	/* RFC 6901 escapes; "~01" is "~1", not "/". */
	get_ok("/a~1b", false, "slash");
	get_404("/a/b");
	get_ok("/m~0n", false, "tilde");
	get_ok("/~01", false, "tilde-one");
	/* Nothing is decoded or stripped: queries, percent escapes. */
	get_ok("/q?x", false, "query");
	get_404("/q");
	get_404("/%C3%A9");
	get_ok("/\xc3\xa9", false, "utf8");
	ask("GET /nul HTTP/1.1\r\n\r\n");
	ck_assert(strstr(resp, "Content-Length: 3\r\n"));
	ck_assert(!memcmp(body(), "a\0b", 3));
	/* Runs of '/' collapse, one trailing '/' goes; 404 quotes the path
	 * as sent. */
	get_ok("//latest///meta-data//ami-id//", false, "x");
	get_404("//nope//");
	get_ok("http://169.254.169.254/latest/meta-data/ami-id", false, "x");
	get_ok("http://169.254.169.254:80/latest", false, "meta-data/");
	get_ok("http://whatever/", false,
	       "a/b\nempty/\nlatest/\nlist\nm~n\nn\nnul\nnum\nq?x\nt\n~1\n"
	       "\xc3\xa9");
	static const char *const bad_uri[] = { "http://169.254.169.254",
		                               "http://", "latest", "*" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_uri); i++) {
		char req[128];

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n",
		         bad_uri[i]);
		expect(req, "HTTP/1.1 400", PLAIN, "", "Invalid URI.");
	}
}
END_TEST

START_TEST(accept_and_imds_compat)
{
	static const char *const r =
	        "GET /latest/meta-data/ami-id HTTP/1.1\r\n";
	char req[256];

	/* Exactly one of the two types, trimmed; anything else ignored. */
	snprintf(req, sizeof(req), "%sAccept: */*\r\n\r\n", r);
	expect(req, "HTTP/1.1 200", PLAIN, "", "x");
	snprintf(req, sizeof(req),
	         "%sAccept: application/json, text/plain\r\n\r\n", r);
	expect(req, "HTTP/1.1 200", PLAIN, "", "x");
	snprintf(req, sizeof(req), "%sACCEPT:   application/json \t\r\n\r\n",
	         r);
	expect(req, "HTTP/1.1 200", JSON, "", "\"x\"");
	/* Unicode white space trims too (Rust's trim). */
	snprintf(req, sizeof(req),
	         "%sAccept:\xc2\xa0"
	         "application/json\xe3\x80\x80\r\n\r\n",
	         r);
	expect(req, "HTTP/1.1 200", JSON, "", "\"x\"");
	snprintf(req, sizeof(req),
	         "%sAccept: application/json\r\naccept: text/plain\r\n\r\n", r);
	expect(req, "HTTP/1.1 200", PLAIN, "", "x");
	/* imds_compat: IMDS text whatever the Accept, whose type is still
	 * named (Firecracker's quirk). */
	mmds_set_version(s, 1, true);
	snprintf(req, sizeof(req), "%sAccept: application/json\r\n\r\n", r);
	expect(req, "HTTP/1.1 200", JSON, "", "x");
	expect("GET /num HTTP/1.1\r\nAccept: application/json\r\n\r\n",
	       "HTTP/1.1 501", PLAIN, "", UNSUPPORTED);
}
END_TEST

#define ALLOW "Allow: GET, PUT\r\n"

START_TEST(methods_and_malformed_requests)
{
	expect("PATCH / HTTP/1.1\r\n\r\n", "HTTP/1.1 405", PLAIN, ALLOW,
	       "Not allowed HTTP method.");
	expect("DELETE /latest HTTP/1.0\r\n\r\n", "HTTP/1.0 405", PLAIN, ALLOW,
	       "Not allowed HTTP method.");
	/* Parse errors: HTTP/1.1 and application/json whatever was sent. */
	static const char *const t[][3] = {
		{ "POST / HTTP/1.0\r\n\r\n", "501",
		  "Unsupported HTTP method." },
		{ "HEAD / HTTP/1.1\r\n\r\n", "501",
		  "Unsupported HTTP method." },
		{ "get / HTTP/1.1\r\n\r\n", "501", "Unsupported HTTP method." },
		{ "GET / HTTP/2.0\r\n\r\n", "501",
		  "Unsupported HTTP version." },
		{ "GET / HTTP/1.1 \r\n\r\n", "501",
		  "Unsupported HTTP version." },
		{ "GET / http/1.1\r\n\r\n", "501",
		  "Unsupported HTTP version." },
		/* Shorter than "GET / HTTP/1.1": refused before it is read. */
		{ "GET  HTTP/1.1\r\n\r\n", "400", "Invalid request." },
		{ "PATCH  HTTP/1.1\r\n\r\n", "400", "Empty URI not allowed." },
		{ "GET /\xff\xfe HTTP/1.1\r\n\r\n", "400",
		  "Cannot parse URI as UTF-8." },
		{ "GET /\xed\xa0\x80 HTTP/1.1\r\n\r\n", "400",
		  "Cannot parse URI as UTF-8." },
		{ "GET / HTTP/1.1\n\n", "400", "Invalid request." },
		{ "GET / HTTP/1.1\r\n\n", "400", "Invalid request." },
		{ "GET / HTTP/1.1\r\nA: b\n\r\n", "400", "Invalid request." },
		{ "GET / HTTP/1\r\n\r\n", "400", "Invalid request." },
		{ "GET/HTTP/1.1xxx\r\n\r\n", "400", "Invalid request." },
		{ "", "400", "Invalid request." },
		{ "GET / HTTP/1.1\r\nfoo\r\n\r\n", "400",
		  "Header is incorrectly formatted. Key: foo" },
		{ "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", "400",
		  "Invalid value. Key:Content-Length; Value: abc" },
		{ "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "400",
		  "Invalid request." },
		{ "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 1\r\n\r\n",
		  "400", "Invalid request." },
		{ "GET / HTTP/1.1\r\nAccept-Encoding: gzip, "
		  "identity;q=0\r\n\r\n",
		  "400",
		  "Invalid value. Key:Accept-Encoding; Value: identity;q=0" },
		{ "GET / HTTP/1.1\r\nAccept-Encoding: *;q=0\r\n\r\n", "400",
		  "Invalid value. Key:Accept-Encoding; Value:*;q=0" },
		{ "GET / HTTP/1.1\r\nAccept-Encoding:   \r\n\r\n", "400",
		  "Invalid request." },
		{ "GET / HTTP/1.1\r\nX-A: \xff\r\n\r\n", "400",
		  "Invalid request." },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char status[16];

		snprintf(status, sizeof(status), "HTTP/1.1 %s", t[i][1]);
		expect(t[i][0], status, JSON, "", t[i][2]);
	}
	/* What is understood and harmless. */
	static const char *const fine[] = {
		"Content-Length: 0",
		"Content-Length: +0",
		"Accept-Encoding: *;q=0, identity",
		"Transfer-Encoding: chunked",
		"Expect: 100-continue",
		"Content-Type: text/html",
		"Server: x",
		"X-Custom: a:b:c",
		"X-Empty:",
	};
	for (size_t i = 0; i < ARRAY_SIZE(fine); i++) {
		char req[256];

		snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\n%s\r\n\r\n",
		         fine[i]);
		expect(req, "HTTP/1.1 200", PLAIN, "", "meta-data/");
	}
}
END_TEST

static uint64_t counter(_Atomic uint64_t *c)
{
	return atomic_load(c);
}

/* PUT a token for @ttl through header @hdr; returns it (static). */
static const char *token(const char *hdr, const char *ttl)
{
	static char tok[128];
	char req[256], echo[128];

	snprintf(req, sizeof(req),
	         "PUT /latest/api/token HTTP/1.1\r\n%s: %s\r\n\r\n", hdr, ttl);
	ask(req);
	ck_assert_msg(!strncmp(resp, "HTTP/1.1 200 \r\n", 15), "%s", resp);
	snprintf(echo, sizeof(echo), "\r\n%s: %s\r\n", hdr, ttl);
	ck_assert_msg(strstr(resp, echo), "no '%s' in %s", echo, resp);
	ck_assert(strstr(resp, "Content-Type: text/plain\r\n"));
	ck_assert_uint_eq(strlen(body()), 48);
	snprintf(tok, sizeof(tok), "%s", body());
	return tok;
}

static void get_with(const char *hdr, const char *tok, const char *status,
                     const char *text)
{
	char req[512];

	snprintf(req, sizeof(req), "GET /latest HTTP/1.1\r\n%s: %s\r\n\r\n",
	         hdr, tok);
	expect(req, status, PLAIN, "", text);
}

#define NO_TOKEN                                                               \
	"No MMDS token provided. Use `X-metadata-token` or "                   \
	"`X-aws-ec2-metadata-token` header to specify the session token."
#define BAD_TOKEN "MMDS token not valid."

START_TEST(v2_token_flow)
{
	uint64_t none = counter(&metrics.mmds_rx_no_token);
	uint64_t bad = counter(&metrics.mmds_rx_invalid_token);
	struct mmds *other = mmds_new(id);
	char tok[64], forged[128], req[256];
	uint8_t *out;

	mmds_set_version(s, 2, false);
	expect("GET /latest HTTP/1.1\r\n\r\n", "HTTP/1.1 401", PLAIN, "",
	       NO_TOKEN);
	ck_assert_uint_eq(counter(&metrics.mmds_rx_no_token), none + 1);
	snprintf(tok, sizeof(tok), "%s",
	         token("X-metadata-token-ttl-seconds", "60"));
	get_with("X-metadata-token", tok, "HTTP/1.1 200", "meta-data/");
	get_with("x-AWS-ec2-metadata-TOKEN", tok, "HTTP/1.1 200", "meta-data/");
	/* Any change to any byte: refused. */
	for (size_t i = 0; i < 48; i++) {
		snprintf(forged, sizeof(forged), "%s", tok);
		forged[i] = forged[i] == 'A' ? 'B' : 'A';
		get_with("X-metadata-token", forged, "HTTP/1.1 401", BAD_TOKEN);
	}
	ck_assert_uint_eq(counter(&metrics.mmds_rx_invalid_token), bad + 48);
	/* Not base64, too long, the right shape without the key. */
	get_with("X-metadata-token", "!!!!", "HTTP/1.1 401", BAD_TOKEN);
	get_with("X-metadata-token", "", "HTTP/1.1 401", BAD_TOKEN);
	snprintf(forged, sizeof(forged), "%sAAAAAAAAAAAAAAAAAAAAAA==", tok);
	get_with("X-metadata-token", forged, "HTTP/1.1 401", BAD_TOKEN);
	get_with("X-metadata-token",
	         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	         "HTTP/1.1 401", BAD_TOKEN);
	/* Another process's store (another key) made it: refused. */
	snprintf(req, sizeof(req),
	         "PUT /latest/api/token HTTP/1.1\r\n"
	         "X-metadata-token-ttl-seconds: 60\r\n\r\n");
	rlen = mmds_http(other, (const uint8_t *)req, strlen(req), &out);
	ck_assert(rlen > 48);
	memcpy(forged, out + rlen - 48, 48);
	forged[48] = '\0';
	free(out);
	mmds_free(other);
	ck_assert_uint_eq(strlen(forged), 48);
	get_with("X-metadata-token", forged, "HTTP/1.1 401", BAD_TOKEN);
	/* Bound to the VM id. */
	snprintf(id, sizeof(id), "vm-b");
	get_with("X-metadata-token", tok, "HTTP/1.1 401", BAD_TOKEN);
	snprintf(id, sizeof(id), "vm-a");
	get_with("X-metadata-token", tok, "HTTP/1.1 200", "meta-data/");
	/* Expiry: well inside its 60 s, then at its end. */
	mmds_test_advance_clock(s, 30 * 1000);
	get_with("X-metadata-token", tok, "HTTP/1.1 200", "meta-data/");
	mmds_test_advance_clock(s, 30 * 1000);
	get_with("X-metadata-token", tok, "HTTP/1.1 401", BAD_TOKEN);
	/* Each token differs; a fresh one works. */
	snprintf(forged, sizeof(forged), "%s",
	         token("X-aws-ec2-metadata-token-ttl-seconds", "60"));
	ck_assert_str_ne(forged, tok);
	get_with("X-aws-ec2-metadata-token", forged, "HTTP/1.1 200",
	         "meta-data/");
	mmds_test_advance_clock(s, 60 * 1000);
	get_with("X-aws-ec2-metadata-token", forged, "HTTP/1.1 401", BAD_TOKEN);
}
END_TEST

#define TTL_RANGE(n)                                                           \
	"Invalid time to live value provided for token: " n                    \
	". Please provide a value between 1 and 21600."

START_TEST(token_requests)
{
	static const char *const t[][3] = {
		{ "", "400",
		  "Token time to live value not found. Use "
		  "`X-metadata-token-ttl-seconds` or "
		  "`X-aws-ec2-metadata-token-ttl-seconds` header to specify "
		  "the token's lifetime." },
		{ "X-metadata-token-ttl-seconds: abc\r\n", "400",
		  "Invalid header. Reason: Invalid value. "
		  "Key:X-metadata-token-ttl-seconds; Value:abc" },
		{ "X-metadata-token-ttl-seconds: -1\r\n", "400",
		  "Invalid header. Reason: Invalid value. "
		  "Key:X-metadata-token-ttl-seconds; Value:-1" },
		{ "X-metadata-token-ttl-seconds: 4294967296\r\n", "400",
		  "Invalid header. Reason: Invalid value. "
		  "Key:X-metadata-token-ttl-seconds; Value:4294967296" },
		{ "X-metadata-token-ttl-seconds:\r\n", "400",
		  "Invalid header. Reason: Invalid value. "
		  "Key:X-metadata-token-ttl-seconds; Value:" },
		{ "X-metadata-token-ttl-seconds: 0\r\n", "400",
		  TTL_RANGE("0") },
		{ "X-metadata-token-ttl-seconds: 21601\r\n", "400",
		  TTL_RANGE("21601") },
		{ "X-metadata-token-ttl-seconds: 4294967295\r\n", "400",
		  TTL_RANGE("4294967295") },
		/* Refused first, whatever else the request has. */
		{ "x-forwarded-FOR: 10.0.0.1\r\nX-metadata-token-ttl-seconds: "
		  "60\r\n",
		  "400",
		  "Invalid header. Reason: Unsupported header name. Key: "
		  "x-forwarded-FOR" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char req[512], status[16];

		snprintf(req, sizeof(req),
		         "PUT /latest/api/token HTTP/1.1\r\n%s\r\n", t[i][0]);
		snprintf(status, sizeof(status), "HTTP/1.1 %s", t[i][1]);
		expect(req, status, PLAIN, "", t[i][2]);
	}
	expect("PUT /other HTTP/1.1\r\nX-Forwarded-For: a\r\n\r\n",
	       "HTTP/1.1 400", PLAIN, "",
	       "Invalid header. Reason: Unsupported header name. Key: "
	       "X-Forwarded-For");
	expect("PUT /latest/api/token/ HTTP/1.0\r\n"
	       "X-metadata-token-ttl-seconds: 5\r\n\r\n",
	       "HTTP/1.0 404", PLAIN, "",
	       "Resource not found: /latest/api/token/.");
	/* Accepted values, echoed as numbers under the name as sent. */
	token("X-metadata-token-ttl-seconds", "21600");
	token("x-METADATA-token-ttl-seconds", "1");
	ask("PUT /latest/api/token HTTP/1.1\r\n"
	    "X-metadata-token-ttl-seconds:  +0007 \r\n\r\n");
	ck_assert(strstr(resp, "\r\nX-metadata-token-ttl-seconds: 7\r\n"));
	ask("PUT //latest//api///token HTTP/1.1\r\n"
	    "X-metadata-token-ttl-seconds: 5\r\n\r\n");
	ck_assert(!strncmp(resp, "HTTP/1.1 200 ", 13));
	ask("PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n"
	    "X-metadata-token-ttl-seconds: 5\r\n\r\n");
	ck_assert(!strncmp(resp, "HTTP/1.0 200 ", 13));
}
END_TEST

/* V1: tokens optional; missing and bad ones only counted. */
START_TEST(v1_counts_tokens)
{
	uint64_t none = counter(&metrics.mmds_rx_no_token);
	uint64_t bad = counter(&metrics.mmds_rx_invalid_token);
	char tok[64];

	get_ok("/latest", false, "meta-data/");
	ck_assert_uint_eq(counter(&metrics.mmds_rx_no_token), none + 1);
	get_with("X-metadata-token", "nonsense", "HTTP/1.1 200", "meta-data/");
	ck_assert_uint_eq(counter(&metrics.mmds_rx_invalid_token), bad + 1);
	snprintf(tok, sizeof(tok), "%s",
	         token("X-metadata-token-ttl-seconds", "10"));
	get_with("X-metadata-token", tok, "HTTP/1.1 200", "meta-data/");
	ck_assert_uint_eq(counter(&metrics.mmds_rx_invalid_token), bad + 1);
	ck_assert_uint_eq(counter(&metrics.mmds_rx_no_token), none + 1);
}
END_TEST

/* Every prefix and every one-byte change of a request: an answer. */
START_TEST(hostile_bytes)
{
	static const char r[] =
	        "GET http://169.254.169.254//latest/meta-data/ HTTP/1.1\r\n"
	        "Accept: application/json\r\nX-metadata-token: abc\r\n"
	        "Accept-Encoding: gzip\r\nContent-Length: 0\r\n\r\n";
	static const uint8_t bytes[] = { 0,   '\r', '\n', ' ',  ':',
		                         '/', '~',  0x80, 0xc3, 0xff };
	uint8_t buf[sizeof(r)];

	mmds_set_version(s, 2, false);
	for (size_t n = 0; n < sizeof(r); n++) {
		askn(r, n);
		ck_assert(!strncmp(resp, "HTTP/1.", 7));
	}
	for (size_t i = 0; i < sizeof(r) - 1; i++)
		for (size_t b = 0; b < ARRAY_SIZE(bytes); b++) {
			memcpy(buf, r, sizeof(r) - 1);
			buf[i] = bytes[b];
			askn(buf, sizeof(r) - 1);
			ck_assert(!strncmp(resp, "HTTP/1.", 7));
		}
}
END_TEST

Suite *mmds_http_suite(void)
{
	Suite *su = suite_create("mmds-http");
	TCase *tc = tcase_create("guest");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, get_paths_and_formats);
	tcase_add_test(tc, accept_and_imds_compat);
	tcase_add_test(tc, methods_and_malformed_requests);
	tcase_add_test(tc, v2_token_flow);
	tcase_add_test(tc, token_requests);
	tcase_add_test(tc, v1_counts_tokens);
	tcase_add_test(tc, hostile_bytes);
	suite_add_tcase(su, tc);
	return su;
}
