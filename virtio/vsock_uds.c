/*
 * vsock's host side, as Firecracker's: the listening socket at uds_path
 * and its "CONNECT <port>" lines (host-initiated connections), and the
 * connects to "<uds_path>_<port>" (guest-initiated ones).
 */
#include "vsock_conn.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * A socket file left by a dead process refuses connections: remove it.
 * One that accepts belongs to a live process, and anything that is not a
 * socket is not ours to delete.
 */
static int clear_path(const struct sockaddr_un *addr, char *err, size_t errlen)
{
	const char *path = addr->sun_path;
	struct stat st;
	int fd, rc, e;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
		         "vsock uds_path '%s' exists and is not a socket",
		         path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN) {
		snprintf(err, errlen,
		         "vsock uds_path '%s' is in use by another process",
		         path);
		return -1;
	}
	if (e == ENOENT)
		return 0;
	if (e != ECONNREFUSED || unlink(path) < 0) {
		errno = e == ECONNREFUSED ? errno : e;
		return -1;
	}
	log_info("virtio-vsock: removed stale socket %s", path);
	return 0;
}

int vsock_uds_listen(struct vsock *v, const char *path, char *err,
                     size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t n = strlen(path);

	if (!n || n >= sizeof(addr.sun_path)) {
		snprintf(
		        err, errlen,
		        "vsock uds_path '%s' is %zu bytes; it must be 1 to %zu",
		        path, n, sizeof(addr.sun_path) - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, n);
	err[0] = '\0';
	if (clear_path(&addr, err, errlen) < 0) {
		if (!err[0])
			snprintf(err, errlen, "vsock uds_path '%s': %s", path,
			         strerror(errno));
		return -1;
	}
	v->listen_fd =
	        socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0 ||
	    bind(v->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(err, errlen, "vsock uds_path '%s': bind: %s", path,
		         strerror(errno));
		return -1;
	}
	memcpy(v->uds_path, path, n + 1); /* ours now: destroy unlinks it */
	if (listen(v->listen_fd, SOMAXCONN) < 0) {
		snprintf(err, errlen, "vsock uds_path '%s': listen: %s", path,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* The guest's REQUEST for no connection: RESPONSE once connected. */
void vsock_uds_connect(struct vsock *v, const struct vsock_hdr *h)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int n, fd;

	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", v->uds_path,
	             h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path)) {
		log_limited(&v->rl, LOG_INFO,
		            "virtio-vsock: guest connect to port %u: %s_%u is "
		            "too long for a socket path",
		            h->dst_port, v->uds_path, h->dst_port);
		goto refuse;
	}
	if (v->nconns >= VSOCK_MAX_CONNS) {
		log_limited(&v->rl, LOG_WARN,
		            "virtio-vsock: guest connect to port %u: %u "
		            "connections already",
		            h->dst_port, VSOCK_MAX_CONNS);
		goto refuse;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		v->stats.muxer_event_fails++;
		goto refuse;
	}
	/* A Unix connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		log_limited(&v->rl, LOG_DEBUG, "virtio-vsock: %s: %s",
		            addr.sun_path, strerror(errno));
		close(fd);
		goto refuse;
	}
	c = vsock_conn_alloc(v);
	if (!c) {
		close(fd);
		goto refuse;
	}
	c->fd = fd;
	c->state = VSOCK_PEER_INIT;
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending = VSOCK_PEND_RESPONSE;
	c->counted = true;
	v->stats.conns_added++;
	vsock_conn_hash(v, c);
	if (vsock_conn_watch(v, c, false) < 0) {
		vsock_conn_kill(v, c, NULL);
		return;
	}
	vsock_conn_sched(v, c);
	return;
refuse:
	vsock_queue_rst(v, h->dst_port, h->src_port);
}

bool vsock_parse_connect(const char *line, size_t len, uint32_t *port)
{
	static const char kw[] = "connect";
	size_t i = 0, digits = 0;
	uint64_t p = 0;

	for (; kw[i]; i++)
		if (i >= len || (line[i] | 0x20) != kw[i])
			return false;
	if (i >= len || (line[i] != ' ' && line[i] != '\t'))
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++, digits++) {
		p = p * 10 + (uint64_t)(line[i] - '0');
		if (p > UINT32_MAX)
			return false;
	}
	while (i < len &&
	       (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (!digits || i != len)
		return false;
	*port = (uint32_t)p;
	return true;
}

static uint32_t alloc_port(struct vsock *v)
{
	/* Firecracker's: round robin over [2^30, 2^31), skipping ports in
	 * use (at most VSOCK_MAX_CONNS of a billion). */
	do
		v->last_local_port = ((v->last_local_port + 1) & ~(1u << 31)) |
		                     VSOCK_LOCAL_PORT0;
	while (vsock_port_used(v, v->last_local_port));
	return v->last_local_port;
}

/*
 * The host's "CONNECT <port>\n". Peek, then take exactly the bytes up to
 * the newline: what follows is data for the guest and stays in the socket.
 */
void vsock_uds_read_line(struct vsock *v, struct vsock_conn *c)
{
	char peek[VSOCK_LINE_MAX];
	uint32_t port;

	for (;;) {
		size_t room = VSOCK_LINE_MAX - c->line_len, take;
		ssize_t n = recv(c->fd, peek, room, MSG_PEEK | MSG_DONTWAIT);
		char *nl;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			vsock_conn_free(v, c); /* closed before its line */
			return;
		}
		nl = memchr(peek, '\n', (size_t)n);
		take = nl ? (size_t)(nl - peek) + 1 : (size_t)n;
		if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) !=
		    (ssize_t)take) {
			vsock_conn_free(v, c);
			return;
		}
		c->line_len += (unsigned)take;
		if (nl)
			break;
		if (c->line_len == VSOCK_LINE_MAX) {
			log_limited(
			        &v->rl, LOG_INFO,
			        "virtio-vsock: host sent %u bytes without a "
			        "CONNECT line: closed",
			        VSOCK_LINE_MAX);
			vsock_conn_free(v, c);
			return;
		}
	}
	if (!vsock_parse_connect(c->line, c->line_len - 1, &port)) {
		log_limited(&v->rl, LOG_INFO,
		            "virtio-vsock: host sent '%.*s', not 'CONNECT "
		            "<port>': closed",
		            (int)(c->line_len - 1), c->line);
		vsock_conn_free(v, c);
		return;
	}
	c->local_port = alloc_port(v);
	c->peer_port = port;
	vsock_conn_hash(v, c);
	c->state = VSOCK_LOCAL_INIT;
	c->pending = VSOCK_PEND_REQUEST;
	c->expiry_us = 0; /* the REQUEST's own timer starts when it is sent */
	c->counted = true;
	v->stats.conns_added++;
	vsock_conn_sched(v, c);
}

static void accepted(struct vsock *v, int fd)
{
	struct vsock_conn *c = vsock_conn_alloc(v);

	if (!c) {
		log_limited(&v->rl, LOG_WARN,
		            "virtio-vsock: %u connections already: host "
		            "connection refused",
		            VSOCK_MAX_CONNS);
		close(fd);
		return;
	}
	c->fd = fd;
	c->state = VSOCK_LINE;
	if (vsock_conn_watch(v, c, false) < 0) {
		vsock_conn_free(v, c);
		return;
	}
	vsock_conn_expire_in(v, c, v->timeout_ms);
}

void vsock_listen_resume(struct vsock *v)
{
	if (!v->listen_paused)
		return;
	if (evloop_add(v->loop, &v->h_listen, EPOLLIN) == 0)
		v->listen_paused = false;
}

void vsock_uds_accept(struct ev_handler *h, uint32_t events)
{
	struct vsock *v = h->opaque;

	pthread_mutex_lock(&v->t.lock);
	vsock_settle(v);
	for (unsigned i = 0; i < 16; i++) {
		int fd = accept4(v->listen_fd, NULL, NULL,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accepted(v, fd);
			continue;
		}
		int e = errno;

		if (e == EAGAIN || e == EINTR || e == ECONNABORTED)
			break;
		v->stats.muxer_event_fails++;
		log_limited(&v->rl, LOG_WARN, "virtio-vsock: accept on %s: %s",
		            v->uds_path, strerror(e));
		/* Out of descriptors: the listener would fire on and on. */
		if ((e == EMFILE || e == ENFILE || e == ENOBUFS ||
		     e == ENOMEM) &&
		    evloop_del(v->loop, &v->h_listen) == 0)
			v->listen_paused = true;
		break;
	}
	vsock_run(v);
	pthread_mutex_unlock(&v->t.lock);
}
