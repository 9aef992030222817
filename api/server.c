/*
 * The API server: a listening Unix socket and its connections in one
 * level-triggered epoll set. Each connection keeps the bytes of its
 * unfinished request (in) and its unsent answers (out); both are freed
 * when empty so an idle connection costs one small struct and an fd.
 *
 * Bounds that keep a hostile client cheap: in never holds more than one
 * unfinished request (the parser refuses heads over HTTP_HEAD_MAX and
 * bodies over max_body) plus one read; out is not added to while it holds
 * over API_OUT_HIGH, and meanwhile the connection is not read at all, so
 * a client that pipelines without reading only fills its socket buffer.
 */
#include "server.h"
#include "log.h"
#include "seccomp_policy.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define API_READ_CHUNK        16384
#define API_READS_PER_EVENT   4 /* then other clients get a turn */
#define API_ACCEPTS_PER_EVENT 64
#define API_OUT_HIGH          (64 * 1024)
#define API_BACKLOG           SOMAXCONN
#define API_ACCEPT_RETRY_MS   100 /* after EMFILE: try accepting again */

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

struct api_conn {
	struct ev_handler h;
	struct api_server *s;
	struct api_conn *prev, *next;
	struct http_buf in, out;
	uint32_t events;    /* what epoll watches now */
	bool closing;       /* send what out holds, then close */
	bool sent_continue; /* 100 Continue went out for the request in in */
};

/* Clients can provoke these lines at will. Shared by every server: a
 * lost update between two of them costs one line at most. */
static struct log_ratelimit api_rl = LOG_RATELIMIT_INIT(10);

/* Checked first so a disabled level does not spend tokens (and then
 * report them as suppressed). */
#define api_log(level, ...)                                                    \
	do {                                                                   \
		if (log_get_level() >= (level))                                \
			log_limited(&api_rl, level, __VA_ARGS__);              \
	} while (0)

static void conn_free(struct api_conn *c)
{
	struct api_server *s = c->s;

	evloop_del(&s->loop, &c->h);
	close(c->h.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	if (s->accept_resume_us)
		s->accept_resume_us = 1; /* an fd is free: accept again now */
	http_buf_free(&c->in);
	http_buf_free(&c->out);
	free(c);
}

/* evloop has no "modify"; the set is ours, so change the watch directly. */
static int conn_watch(struct api_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &c->h };

	if (events == c->events)
		return 0;
	if (epoll_ctl(c->s->loop.epfd, EPOLL_CTL_MOD, c->h.fd, &ev) < 0)
		return -1;
	c->events = events;
	return 0;
}

/* Write what the socket takes now. -1: the peer is gone. */
static int conn_flush(struct api_conn *c)
{
	while (c->out.len) {
		ssize_t n = send(c->h.fd, c->out.data, c->out.len,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		http_buf_consume(&c->out, (size_t)n);
	}
	http_buf_free(&c->out);
	return 0;
}

/* A parse error: {"fault_message": ...} and close once it is sent. */
static void conn_fault(struct api_conn *c, int status, const char *msg)
{
	json_t *j = json_pack("{s:s}", "fault_message", msg);
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	const char *text = body ? body : "{\"fault_message\":\"bad request\"}";

	json_decref(j);
	if (http_format_response(&c->out, status, text, strlen(text), false))
		api_log(LOG_WARN, "api: out of memory for an error answer");
	free(body);
	c->closing = true;
}

static void conn_handle(struct api_conn *c, const struct http_request *req)
{
	struct api_server *s = c->s;
	struct api_response resp = { .status = 500 };
	size_t body_len;

	s->handler(s->opaque, req, &resp);
	if (resp.status < 200 || resp.status > 599) {
		api_log(LOG_WARN,
		        "api: handler answered %d for %s; sending 500",
		        resp.status, req->path);
		resp.status = 500;
	}
	api_log(LOG_DEBUG, "api: %s -> %d", req->path, resp.status);
	body_len = resp.body ? strlen(resp.body) : 0;
	if (http_format_response(&c->out, resp.status, resp.body, body_len,
	                         req->keep_alive) < 0) {
		api_log(LOG_WARN, "api: out of memory for an answer");
		c->closing = true;
	} else if (req->method == HTTP_METHOD_HEAD && resp.status != 204) {
		/* RFC 9110 9.3.2: the GET headers, without the body. */
		c->out.len -= body_len;
	}
	free(resp.body);
	if (!req->keep_alive)
		c->closing = true; /* later pipelined requests are dropped */
}

/*
 * Answer the complete requests in in, in order, while out has room.
 * Returns how many were answered.
 */
static unsigned conn_process(struct api_conn *c)
{
	struct http_request req;
	size_t off = 0;
	unsigned done = 0;

	while (!c->closing && c->out.len <= API_OUT_HIGH && off < c->in.len) {
		enum http_parse_result r =
		        http_parse(c->in.data + off, c->in.len - off,
		                   c->s->max_body, &req);

		if (r == HTTP_PARSE_MORE) {
			/* curl waits a second for this before sending a body */
			if (req.head_done && req.expect_continue &&
			    !c->sent_continue) {
				if (http_buf_append(&c->out, continue_100,
				                    sizeof(continue_100) - 1))
					c->closing = true;
				c->sent_continue = true;
			}
			break;
		}
		if (r == HTTP_PARSE_ERROR) {
			api_log(LOG_WARN, "api: bad request (%d): %s",
			        req.error_status, req.error);
			conn_fault(c, req.error_status, req.error);
			break;
		}
		c->sent_continue = false;
		conn_handle(c, &req);
		off += req.consumed;
		done++;
	}
	if (c->closing)
		http_buf_free(&c->in); /* nothing more is read or answered */
	else
		http_buf_consume(&c->in, off);
	if (!c->in.len)
		http_buf_free(&c->in);
	return done;
}

/*
 * Answer and send until nothing more can be answered now: when out was
 * full but the socket took it all, the requests held back in in would
 * otherwise wait for an event that never comes. -1: the peer is gone.
 */
static int conn_pump(struct api_conn *c)
{
	unsigned done;

	do {
		done = conn_process(c);
		if (conn_flush(c) < 0)
			return -1;
	} while (done && c->in.len && c->out.len <= API_OUT_HIGH);
	return 0;
}

/* Read a few chunks and answer what they complete. -1: drop the client. */
static int conn_read(struct api_conn *c)
{
	uint8_t buf[API_READ_CHUNK];

	for (int i = 0; i < API_READS_PER_EVENT; i++) {
		ssize_t n;

		if (c->closing || c->out.len > API_OUT_HIGH)
			return 0;
		n = recv(c->h.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		if (n == 0) {
			/* Half-closed: answers already queued can still be
			 * read, but a partial request can never complete. */
			if (c->in.len)
				return -1;
			c->closing = true;
			return 0;
		}
		if (http_buf_append(&c->in, buf, (size_t)n) < 0 ||
		    conn_pump(c) < 0)
			return -1;
	}
	return 0;
}

static void conn_cb(struct ev_handler *h, uint32_t events)
{
	struct api_conn *c = h->opaque;
	uint32_t want;

	/* HUP: the peer closed both ways, no answer can reach it. */
	if (events & (EPOLLERR | EPOLLHUP))
		goto drop;
	/* requests held back while out was full */
	if ((events & EPOLLOUT) && (conn_flush(c) < 0 || conn_pump(c) < 0))
		goto drop;
	if ((events & EPOLLIN) && conn_read(c) < 0)
		goto drop;
	if (conn_flush(c) < 0)
		goto drop;
	if (c->closing && !c->out.len)
		goto drop;
	want = c->out.len ? EPOLLOUT : 0;
	if (!c->closing && c->out.len <= API_OUT_HIGH)
		want |= EPOLLIN;
	if (conn_watch(c, want) == 0)
		return;
drop:
	conn_free(c);
}

static void conn_new(struct api_server *s, int fd)
{
	struct api_conn *c;

	if (s->nconns >= API_MAX_CONNS) {
		api_log(LOG_WARN, "api: %u connections open; refusing another",
		        s->nconns);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->h = (struct ev_handler){ .fd = fd, .cb = conn_cb, .opaque = c };
	c->s = s;
	c->events = EPOLLIN;
	if (evloop_add(&s->loop, &c->h, EPOLLIN) < 0) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
}

static void listen_cb(struct ev_handler *h, uint32_t events)
{
	struct api_server *s = h->opaque;

	for (int i = 0; i < API_ACCEPTS_PER_EVENT; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			conn_new(s, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/*
		 * Out of fds or memory: the pending connection stays
		 * pending and would wake a level-triggered loop forever.
		 * Unwatch the socket; the serve loop retries in a while.
		 */
		api_log(LOG_WARN, "api: accept: %s; pausing for %d ms",
		        strerror(errno), API_ACCEPT_RETRY_MS);
		if (evloop_del(&s->loop, &s->h_listen) == 0)
			s->accept_resume_us =
			        util_now_us() + API_ACCEPT_RETRY_MS * 1000;
		return;
	}
}

static void stop_cb(struct ev_handler *h, uint32_t events)
{
	struct api_server *s = h->opaque;
	uint64_t v;

	if (read(s->stop_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		s->stopping = true;
}

/* Milliseconds until accepting resumes, or -1 when it is not paused. */
static int accept_wait_ms(const struct api_server *s)
{
	uint64_t now = util_now_us();

	if (!s->accept_resume_us)
		return -1;
	if (now >= s->accept_resume_us)
		return 0;
	return (int)((s->accept_resume_us - now + 999) / 1000);
}

void api_server_serve(struct api_server *s)
{
	s->stopping = false;
	while (!s->stopping) {
		if (evloop_run_once(&s->loop, accept_wait_ms(s)) < 0) {
			log_err("api: epoll_wait: %s", strerror(errno));
			return;
		}
		if (accept_wait_ms(s) == 0 &&
		    evloop_add(&s->loop, &s->h_listen, EPOLLIN) == 0)
			s->accept_resume_us = 0;
	}
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;
	ssize_t n = write(s->stop_fd, &one, sizeof(one));

	(void)n; /* only fails when 2^64-2 stops are already pending */
}

/*
 * A socket file left by a dead process refuses connections: remove it.
 * One that accepts (even with a full backlog: EAGAIN) belongs to a live
 * process, and anything that is not a socket is not ours to delete.
 */
static int clear_path(const struct sockaddr_un *addr, char *err, size_t errlen)
{
	const char *path = addr->sun_path;
	struct stat st;
	int fd, rc, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "API socket %s: %s", path,
		         strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
		         "API socket %s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "API socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
		snprintf(err, errlen,
		         "API socket %s is already in use by another process",
		         path);
		return -1;
	}
	if (e == ENOENT)
		return 0; /* gone meanwhile */
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "API socket %s: connect: %s", path,
		         strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen,
		         "API socket %s is stale and cannot be "
		         "removed: %s",
		         path, strerror(errno));
		return -1;
	}
	log_info("api: removed stale socket %s", path);
	return 0;
}

int api_server_init(struct api_server *s, const char *path, size_t max_body,
                    api_handler_fn handler, void *opaque, char *err,
                    size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t n = strlen(path);

	memset(s, 0, sizeof(*s));
	s->listen_fd = s->stop_fd = s->loop.epfd = -1;
	s->max_body = max_body ? max_body : HTTP_BODY_MAX_DEFAULT;
	s->handler = handler;
	s->opaque = opaque;
	if (!n || n >= sizeof(addr.sun_path) || n >= sizeof(s->path)) {
		snprintf(err, errlen,
		         "API socket path '%s' is %zu bytes; it must be 1 to "
		         "%zu",
		         path, n, sizeof(addr.sun_path) - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, n);
	if (clear_path(&addr, err, errlen) < 0)
		return -1;

	s->listen_fd =
	        socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 ||
	    bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "API socket %s: bind: %s", path,
		         strerror(errno));
		goto fail;
	}
	memcpy(s->path, path, n + 1); /* ours now: destroy unlinks it */
	if (listen(s->listen_fd, API_BACKLOG) < 0) {
		snprintf(err, errlen, "API socket %s: listen: %s", path,
		         strerror(errno));
		goto fail;
	}
	s->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->stop_fd < 0 || evloop_init(&s->loop) < 0) {
		snprintf(err, errlen, "API server: %s", strerror(errno));
		goto fail;
	}
	s->h_listen = (struct ev_handler){ .fd = s->listen_fd,
		                           .cb = listen_cb,
		                           .opaque = s };
	s->h_stop = (struct ev_handler){ .fd = s->stop_fd,
		                         .cb = stop_cb,
		                         .opaque = s };
	if (evloop_add(&s->loop, &s->h_listen, EPOLLIN) < 0 ||
	    evloop_add(&s->loop, &s->h_stop, EPOLLIN) < 0) {
		snprintf(err, errlen, "API server: epoll: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	api_server_destroy(s);
	return -1;
}

static void *api_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "wisp-api");
	/* The socket is bound: from here on only the server's calls. */
	if (seccomp_install(
	            SECCOMP_API,
	            &(struct seccomp_fds){ .vm_fd = -1, .vcpu_fd = -1 }) < 0) {
		api_log(LOG_ERROR, "api: cannot install its seccomp filter");
		_exit(WISP_EXIT_ERROR);
	}
	api_server_serve(arg);
	return NULL;
}

int api_server_start(struct api_server *s)
{
	sigset_t all, old;
	int rc;

	/* Process signals (SIGTERM, vCPU kicks) belong to other threads;
	 * the new thread inherits this mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, api_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		errno = rc;
		return -1;
	}
	s->running = true;
	return 0;
}

void api_server_destroy(struct api_server *s)
{
	if (s->running) {
		api_server_stop(s);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	while (s->conns)
		conn_free(s->conns);
	evloop_destroy(&s->loop);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	s->listen_fd = s->stop_fd = -1;
	if (s->path[0])
		unlink(s->path);
	s->path[0] = '\0';
}
