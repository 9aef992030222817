/*
 * The API server over a real Unix socket in a temporary directory, served
 * by api_server_serve() on a thread, with a handler that echoes what it
 * got. Clients here are as rude as real ones: pipelining, not reading,
 * sending a byte at a time, vanishing, or sending far too much.
 */
#include "unit.h"
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
/* From <sanitizer/allocator_interface.h>, which gcc does not install. */
size_t __sanitizer_get_current_allocated_bytes(void);
#define heap_bytes() __sanitizer_get_current_allocated_bytes()
#else
#define heap_bytes() ((size_t)0) /* nothing to compare without ASan */
#endif

static char dir[] = "/tmp/wisp-api-XXXXXX";
static char sock[128];
static struct api_server srv;
static pthread_t thr;
static unsigned handled;

static void handler(void *opaque, const struct http_request *req,
                    struct api_response *resp)
{
	unsigned n = __atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);

	resp->status = 200;
	if (!strcmp(req->path, "/none")) {
		resp->status = 204;
		return;
	}
	if (asprintf(&resp->body, "{\"n\":%u,\"len\":%zu,\"path\":\"%s\"}", n,
	             req->body_len, req->path) < 0)
		resp->body = NULL;
}

static void *serve(void *arg)
{
	api_server_serve(arg);
	return NULL;
}

static void setup(void)
{
	char err[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	handled = 0;
	ck_assert_int_eq(
	        api_server_init(&srv, sock, 0, handler, NULL, err, sizeof(err)),
	        0);
	ck_assert_int_eq(pthread_create(&thr, NULL, serve, &srv), 0);
}

static void teardown(void)
{
	char cmd[300];

	api_server_stop(&srv);
	pthread_join(thr, NULL);
	api_server_destroy(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/wisp-api-XXXXXX");
}

/* A client with its own read buffer; every read gives up after 5 s. */
struct client {
	int fd;
	size_t len;
	char buf[1 << 16];
};

struct resp {
	int status;
	char head[1024];
	char body[4096];
	size_t body_len;
};

static struct client *cl_open(const char *path)
{
	struct client *c = calloc(1, sizeof(*c));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };

	strcpy(a.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return c;
}

static void cl_close(struct client *c)
{
	close(c->fd);
	free(c);
}

static void cl_send(struct client *c, const void *p, size_t n)
{
	ck_assert_int_eq(send(c->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void cl_sends(struct client *c, const char *s)
{
	cl_send(c, s, strlen(s));
}

/* Read one response (@head_req: its body is not sent). False at EOF. */
static bool cl_resp(struct client *c, struct resp *r, bool head_req)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		ssize_t n;

		if (end) {
			size_t hl = (size_t)(end + 4 - c->buf), cl = 0;
			const char *p;

			ck_assert_uint_lt(hl, sizeof(r->head));
			memcpy(r->head, c->buf, hl);
			r->head[hl] = '\0';
			ck_assert_int_eq(
			        sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
			p = strstr(r->head, "\r\nContent-Length: ");
			if (p && !head_req)
				cl = strtoul(p + 18, NULL, 10);
			ck_assert_uint_lt(cl, sizeof(r->body));
			if (c->len >= hl + cl) {
				memcpy(r->body, c->buf + hl, cl);
				r->body[cl] = '\0';
				r->body_len = cl;
				c->len -= hl + cl;
				memmove(c->buf, c->buf + hl + cl, c->len);
				return true;
			}
		}
		ck_assert_uint_lt(c->len, sizeof(c->buf));
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EAGAIN)
			ck_abort_msg("no response within 5 s");
		if (n <= 0)
			return false;
		c->len += (size_t)n;
	}
}

/* The server closed: EOF (or a reset, when it left our bytes unread). */
static void ck_eof(struct client *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, 0);

	ck_assert_int_eq(c->len, 0);
	ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET),
	              "expected EOF, got %zd (%s)", n, strerror(errno));
}

static void ck_get(const char *path)
{
	struct client *c = cl_open(path);
	struct resp r;

	cl_sends(c, "GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"path\":\"/ping\""));
	cl_close(c);
}

START_TEST(get_answered)
{
	struct client *c = cl_open(sock);
	struct resp r;

	cl_sends(c, "GET /machine-config HTTP/1.1\r\nHost: localhost\r\n"
	            "Accept: */*\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"n\":1,\"len\":0,\"path\":\"/machine-"
	                         "config\"}");
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nServer: wisp\r\n"));
	ck_assert_ptr_nonnull(
	        strstr(r.head, "\r\nContent-Type: application/json\r\n"));
	ck_assert_ptr_null(strstr(r.head, "Connection"));
	/* Keep-alive: a body, a 204 and a HEAD on the same connection. */
	cl_sends(c, "PUT /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_ptr_nonnull(strstr(r.body, "\"len\":4"));
	cl_sends(c, "DELETE /none HTTP/1.1\r\n\r\nHEAD /h HTTP/1.1\r\n\r\n"
	            "GET /after HTTP/1.1\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 204);
	ck_assert_ptr_null(strstr(r.head, "Content-Length"));
	ck_assert(cl_resp(c, &r, true));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "Content-Length: 27"));
	ck_assert(cl_resp(c, &r, false));
	ck_assert_str_eq(r.body, "{\"n\":5,\"len\":0,\"path\":\"/after\"}");
	cl_close(c);
}
END_TEST

START_TEST(pipelined_burst_in_order)
{
	struct client *c = cl_open(sock);
	char *all = malloc(100 * 64);
	size_t n = 0;
	struct resp r;

	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(all + n, "GET /p/%d HTTP/1.1\r\n\r\n", i);
	cl_send(c, all, n);
	for (int i = 0; i < 100; i++) {
		char want[64];

		ck_assert(cl_resp(c, &r, false));
		snprintf(want, sizeof(want),
		         "{\"n\":%d,\"len\":0,\"path\":\"/p/%d\"}", i + 1, i);
		ck_assert_str_eq(r.body, want);
	}
	free(all);
	cl_close(c);
}
END_TEST

START_TEST(close_ends_the_connection)
{
	struct client *c = cl_open(sock);
	struct resp r;

	cl_sends(c, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"
	            "GET /b HTTP/1.1\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	ck_eof(c);
	ck_assert_uint_eq(__atomic_load_n(&handled, __ATOMIC_RELAXED), 1);
	cl_close(c);

	c = cl_open(sock); /* HTTP/1.0 closes by default */
	cl_sends(c, "GET /c HTTP/1.0\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_eof(c);
	cl_close(c);
}
END_TEST

START_TEST(parse_error_is_fault_json_then_close)
{
	struct client *c = cl_open(sock);
	struct resp r;

	cl_sends(c, "GET /ok HTTP/1.1\r\n\r\nBREW /pot HTTP/1.1\r\n\r\n"
	            "GET /never HTTP/1.1\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(r.body, "{\"fault_message\":\"unsupported HTTP "
	                         "method\"}");
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	ck_eof(c);
	cl_close(c);

	c = cl_open(sock);
	cl_sends(c, "GET / HTTP/3.0\r\n\r\n");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 505);
	ck_eof(c);
	cl_close(c);
	ck_assert_uint_eq(__atomic_load_n(&handled, __ATOMIC_RELAXED), 1);
}
END_TEST

START_TEST(big_body_413_and_close)
{
	struct client *c = cl_open(sock);
	size_t big = 1 << 20, sent = 0;
	char *body = calloc(1, big);
	struct resp r;

	cl_sends(c,
	         "PUT /drives/x HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n");
	/* The server stops reading after the head: sending the body fails
	 * part way, as it does for curl. */
	while (sent < big) {
		ssize_t n = send(c->fd, body + sent, big - sent,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN) {
			usleep(1000);
			if (c->len == 0 &&
			    recv(c->fd, c->buf, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
				break; /* the answer came */
			continue;
		}
		if (n < 0)
			break;
		sent += (size_t)n;
	}
	ck_assert_uint_lt(sent, big);
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 413);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(r.body, "over the limit of 51200 bytes"));
	ck_eof(c);
	free(body);
	cl_close(c);
	ck_get(sock);
}
END_TEST

START_TEST(expect_100_continue)
{
	struct client *c = cl_open(sock);
	char got[64] = { 0 };
	const char *want = "HTTP/1.1 100 Continue\r\n\r\n";
	struct resp r;

	cl_sends(c, "PUT /big HTTP/1.1\r\nExpect: 100-continue\r\n"
	            "Content-Length: 6\r\n\r\n");
	ck_assert_int_eq(recv(c->fd, got, strlen(want), MSG_WAITALL),
	                 (ssize_t)strlen(want));
	ck_assert_str_eq(got, want);
	cl_sends(c, "abc");
	usleep(20000);
	cl_sends(c, "def");
	ck_assert(cl_resp(c, &r, false));
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "\"len\":6"));
	cl_close(c);
}
END_TEST

START_TEST(slow_client_does_not_block_others)
{
	const char *req = "PUT /slow HTTP/1.1\r\nContent-Length: 2\r\n\r\nok";
	struct client *a = cl_open(sock);
	struct resp r;

	for (size_t i = 0; req[i]; i++) {
		cl_send(a, req + i, 1);
		usleep(2000);
		if (i == 10) {
			ck_get(sock); /* served while a is mid-request */
			ck_assert_uint_eq(
			        __atomic_load_n(&handled, __ATOMIC_RELAXED), 1);
		}
	}
	ck_assert(cl_resp(a, &r, false));
	ck_assert_str_eq(r.body, "{\"n\":2,\"len\":2,\"path\":\"/slow\"}");
	cl_close(a);
}
END_TEST

START_TEST(ten_thousand_on_one_connection)
{
	struct client *c = cl_open(sock);
	struct resp r;

	for (int i = 0; i < 10000; i++) {
		cl_sends(c, "GET /none HTTP/1.1\r\n\r\n");
		ck_assert(cl_resp(c, &r, false));
		ck_assert_int_eq(r.status, 204);
	}
	cl_close(c);
}
END_TEST

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Wait up to 2 s for the server to have noticed every hang-up. */
static void ck_settles(unsigned fds)
{
	for (int i = 0; i < 200; i++) {
		if (count_fds() == fds &&
		    !__atomic_load_n(&srv.nconns, __ATOMIC_RELAXED))
			return;
		usleep(10000);
	}
	ck_assert_uint_eq(count_fds(), fds);
	ck_assert_uint_eq(__atomic_load_n(&srv.nconns, __ATOMIC_RELAXED), 0);
}

START_TEST(dropped_connections_leave_nothing)
{
	struct client *c[200];
	unsigned fds;
	size_t heap;

	ck_get(sock); /* first-use allocations (jansson, stdio) happen now */
	for (int i = 0; i < 200 && __atomic_load_n(&srv.nconns, 0); i++)
		usleep(10000); /* until the server saw that client go */
	fds = count_fds();
	heap = heap_bytes();

	for (int i = 0; i < 200; i++) {
		c[i] = cl_open(sock);
		if (i % 3 == 1) /* vanish mid-request */
			cl_sends(c[i],
			         "PUT /x HTTP/1.1\r\nContent-Length: 9\r\n"
			         "\r\nabc");
		else if (i % 3 == 2) /* vanish without reading the answer */
			cl_sends(c[i], "GET /x HTTP/1.1\r\n\r\n");
	}
	for (int i = 0; i < 200; i++)
		cl_close(c[i]);
	ck_get(sock);
	ck_settles(fds);
	ck_assert_uint_le(heap_bytes(), heap + 4096);
}
END_TEST

START_TEST(connections_over_the_limit_are_closed)
{
	struct rlimit rl;
	struct client **c;
	unsigned fds = count_fds();

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * API_MAX_CONNS + 100)
		return; /* not enough fds here for both ends */
	c = calloc(API_MAX_CONNS + 1, sizeof(*c));
	for (int i = 0; i <= API_MAX_CONNS; i++)
		c[i] = cl_open(sock);
	ck_eof(c[API_MAX_CONNS]); /* accepted and closed at once */
	for (int i = 0; i <= API_MAX_CONNS; i++)
		cl_close(c[i]);
	free(c);
	ck_get(sock);
	ck_settles(fds);
}
END_TEST

struct flood {
	struct client *c;
	char *data;
	size_t len;
};

static void *flood_writer(void *arg)
{
	struct flood *f = arg;

	cl_send(f->c, f->data, f->len);
	return NULL;
}

START_TEST(greedy_client_is_held_back)
{
	enum { N = 20000 };
	struct flood f = { .c = cl_open(sock), .data = malloc(N * 32) };
	unsigned a, b;
	pthread_t t;
	struct resp r;

	for (int i = 0; i < N; i++)
		f.len += (size_t)sprintf(f.data + f.len,
		                         "GET /g HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(pthread_create(&t, NULL, flood_writer, &f), 0);
	/* We do not read: the server must stop handling, not buffer. */
	usleep(300000);
	a = __atomic_load_n(&handled, __ATOMIC_RELAXED);
	usleep(200000);
	b = __atomic_load_n(&handled, __ATOMIC_RELAXED);
	ck_assert_uint_eq(a, b);
	ck_assert_uint_lt(a, N / 2);
	ck_get(sock); /* others are still served */
	for (int i = 0; i < N; i++) {
		ck_assert(cl_resp(f.c, &r, false));
		ck_assert_int_eq(r.status, 200);
	}
	pthread_join(t, NULL);
	free(f.data);
	cl_close(f.c);
}
END_TEST

START_TEST(stale_socket_removed_live_refused)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct api_server s2;
	char err[256], path[160], lng[200];
	int fd;
	FILE *fp;

	/* A socket bound and closed without unlink: stale. */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	ck_assert_int_eq(
	        api_server_init(&s2, path, 0, handler, NULL, err, sizeof(err)),
	        0);
	api_server_destroy(&s2);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* The fixture's socket is alive. */
	ck_assert_int_eq(
	        api_server_init(&s2, sock, 0, handler, NULL, err, sizeof(err)),
	        -1);
	ck_assert_ptr_nonnull(strstr(err, "already in use by another process"));
	api_server_destroy(&s2); /* harmless after a failed init */
	ck_get(sock);

	snprintf(path, sizeof(path), "%s/file", dir);
	fp = fopen(path, "w");
	fclose(fp);
	ck_assert_int_eq(
	        api_server_init(&s2, path, 0, handler, NULL, err, sizeof(err)),
	        -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a socket"));
	ck_assert_int_eq(access(path, F_OK), 0);

	memset(lng, 'a', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	ck_assert_int_eq(
	        api_server_init(&s2, lng, 0, handler, NULL, err, sizeof(err)),
	        -1);
	ck_assert_ptr_nonnull(strstr(err, "it must be 1 to 107"));
}
END_TEST

START_TEST(start_and_destroy)
{
	struct api_server s2;
	char err[256], path[160];

	snprintf(path, sizeof(path), "%s/second.sock", dir);
	ck_assert_int_eq(
	        api_server_init(&s2, path, 0, handler, NULL, err, sizeof(err)),
	        0);
	ck_assert_int_eq(api_server_start(&s2), 0);
	ck_get(path);
	api_server_destroy(&s2);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

Suite *server_suite(void)
{
	Suite *s = suite_create("api-server");
	TCase *tc = tcase_create("socket");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, get_answered);
	tcase_add_test(tc, pipelined_burst_in_order);
	tcase_add_test(tc, close_ends_the_connection);
	tcase_add_test(tc, parse_error_is_fault_json_then_close);
	tcase_add_test(tc, big_body_413_and_close);
	tcase_add_test(tc, expect_100_continue);
	tcase_add_test(tc, slow_client_does_not_block_others);
	tcase_add_test(tc, ten_thousand_on_one_connection);
	tcase_add_test(tc, dropped_connections_leave_nothing);
	tcase_add_test(tc, connections_over_the_limit_are_closed);
	tcase_add_test(tc, greedy_client_is_held_back);
	tcase_add_test(tc, stale_socket_removed_live_refused);
	tcase_add_test(tc, start_and_destroy);
	suite_add_tcase(s, tc);
	return s;
}
