/*
 * What the C benchmarks share: a monotonic clock in µs, a connect() to
 * a Unix socket, and one HTTP request on a kept-alive connection.
 * Header-only: each benchmark is one file built by perf/run.sh.
 */
#ifndef WISP_BENCHLIB_H
#define WISP_BENCHLIB_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A connected stream to @path, or -1 (nothing listening yet). */
static inline int unix_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Send a request, read its whole response; its status, or -1. */
static inline int http_request(int fd, const char *method, const char *path,
                               const char *body)
{
	char buf[8192];
	int n = snprintf(buf, sizeof(buf),
	                 "%s %s HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
	                 method, path, strlen(body), body);
	size_t got = 0;

	if (n < 0 || (size_t)n >= sizeof(buf) || write(fd, buf, (size_t)n) != n)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		char *end, *cl;

		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		if (!cl || cl > end ||
		    got >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
			return atoi(buf + 9); /* "HTTP/1.1 204" */
	}
}

#endif
