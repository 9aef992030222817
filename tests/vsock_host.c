/*
 * The host side of the probe guest's vsock scenarios (tests/guest/vsock.c)
 * and of perf/vsockbench.sh: a program like a Firecracker user's, speaking
 * to wisp over Unix sockets only.
 *
 *   vsock_host echo UDS PORT BYTES REFUSED
 *       "CONNECT REFUSED" must be closed without an OK; "CONNECT PORT"
 *       (sent with the first data in one write) must answer "OK <p>" with
 *       p >= 2^30; BYTES go out, each must come back XORed with 0x5a;
 *       after a half close, EOF must follow the last byte.
 *   vsock_host serve PATH RECV SEND DELAY_MS
 *       listen on PATH (uds_path_PORT), take one connection, wait
 *       DELAY_MS before reading (so the guest runs out of credit), check
 *       RECV bytes of the guest's pattern then EOF, send SEND bytes of
 *       ours and half close.
 *   vsock_host resets PATH ROUNDS
 *       listen on PATH; ROUNDS times, take a connection and send into it
 *       until it ends (EOF or a reset: the guest reset its device),
 *       having sent something first; then one more, served as serve
 *       does with RECV = SEND = 4096 and no delay.
 *   vsock_host bench-recv PATH | bench-send PATH BYTES
 *       one connection; read until EOF, or write BYTES and wait for EOF;
 *       print MiB/s from the first byte to the EOF.
 *
 * Byte i of a stream is byte i % 8 of pat(i / 8); the guest's stream
 * repeats every 64 KiB. Exit 0 and one "host: ..." line on success.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 30000
#define CHUNK      (256 * 1024)
#define STEP       (64 * 1024) /* written at a time while also reading */

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt,
                                                                ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "host: FAIL ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static uint64_t pat(uint64_t k)
{
	return k * 0x9e3779b97f4a7c15ULL + 0x0123456789abcdefULL;
}

static uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)(pat(i / 8) >> (i % 8 * 8));
}

static uint8_t guest_byte(uint64_t i)
{
	return stream_byte(i % 65536);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(off + i);
}

static struct sockaddr_un addr(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path))
		die("path too long: %s", path);
	strcpy(a.sun_path, path);
	return a;
}

/* Connect to wisp's uds_path, waiting for it to appear. */
static int connect_uds(const char *path)
{
	struct sockaddr_un a = addr(path);

	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		usleep(10000);
	}
	die("cannot connect to %s: %s", path, strerror(errno));
}

static int listen_uds(const char *path)
{
	struct sockaddr_un a = addr(path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0)
		die("listen on %s: %s", path, strerror(errno));
	return fd;
}

static int accept_one(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, TIMEOUT_MS) != 1)
		die("no connection from the guest");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	return fd;
}

/* Wait for @fd to be ready for @events or die. */
static short wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, TIMEOUT_MS) != 1)
		die("timed out waiting on the socket");
	return p.revents;
}

/* Without blocking: the other direction must go on being read. */
static ssize_t send_some(int fd, const void *buf, size_t n)
{
	ssize_t r = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r < 0 && errno != EAGAIN)
		die("write: %s", strerror(errno));
	return r < 0 ? 0 : r;
}

/* A CONNECT to a port nobody listens on: closed, and no OK first. */
static void refused(const char *uds, const char *port)
{
	char line[64], c;
	int fd = connect_uds(uds);
	ssize_t r;

	snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		die("write: %s", strerror(errno));
	wait_fd(fd, POLLIN);
	r = read(fd, &c, 1);
	if (r != 0 && !(r < 0 && errno == ECONNRESET))
		die("CONNECT %s: answered instead of closed", port);
	close(fd);
}

static void echo(const char *uds, const char *port, uint64_t total,
                 const char *refused_port)
{
	static uint8_t out[STEP], in[CHUNK];
	char line[64 + 1000], ok[32];
	uint64_t sent, got = 0;
	size_t oklen = 0, first = total < 1000 ? (size_t)total : 1000;
	unsigned long hport;
	int fd, n;

	refused(uds, refused_port);
	fd = connect_uds(uds);
	/* The first data bytes travel in the CONNECT line's write. */
	n = snprintf(line, 64, "CONNECT %s\n", port);
	fill((uint8_t *)line + n, 0, first);
	if (write(fd, line, (size_t)n + first) != (ssize_t)(n + first))
		die("write: %s", strerror(errno));
	sent = first;
	/* "OK <port>\n", read a byte at a time: echo data follows. */
	while (oklen < sizeof(ok) - 1) {
		wait_fd(fd, POLLIN);
		if (read(fd, ok + oklen, 1) != 1)
			die("closed before OK");
		if (ok[oklen++] == '\n')
			break;
	}
	ok[oklen] = '\0';
	if (sscanf(ok, "OK %lu\n", &hport) != 1 || hport < (1ul << 30))
		die("CONNECT %s: answered '%s'", port, ok);
	while (got < total) {
		struct pollfd p = { .fd = fd,
			            .events = POLLIN |
			                      (sent < total ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, TIMEOUT_MS) != 1)
			die("echo stalled at %llu of %llu bytes back",
			    (unsigned long long)got, (unsigned long long)total);
		if (p.revents & POLLOUT) {
			size_t k = total - sent < STEP ? total - sent : STEP;

			fill(out, sent, k);
			r = send_some(fd, out, k);
			sent += (uint64_t)r;
			if (sent == total)
				shutdown(fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			r = read(fd, in, sizeof(in));
			if (r <= 0)
				die("EOF after %llu of %llu bytes back",
				    (unsigned long long)got,
				    (unsigned long long)total);
			for (ssize_t i = 0; i < r; i++)
				if (in[i] != (stream_byte(got + i) ^ 0x5a))
					die("byte %llu came back as 0x%02x",
					    (unsigned long long)(got + i),
					    in[i]);
			got += (uint64_t)r;
		}
	}
	wait_fd(fd, POLLIN);
	if (read(fd, in, 1) != 0)
		die("no EOF after the echo");
	printf("host: refused ok, echo %llu bytes ok, host port %lu\n",
	       (unsigned long long)total, hport);
	close(fd);
}

/* serve's exchange on connection @fd; prints its line. */
static void exchange(int fd, uint64_t want, uint64_t total, unsigned delay_ms)
{
	static uint8_t out[STEP], in[CHUNK];
	uint64_t sent = 0, got = 0;
	bool eof = false;

	usleep(delay_ms * 1000);
	while (!eof || sent < total) {
		struct pollfd p = { .fd = fd,
			            .events = (eof ? 0 : POLLIN) |
			                      (sent < total ? POLLOUT : 0) };
		ssize_t r;

		if (poll(&p, 1, TIMEOUT_MS) != 1)
			die("stalled: received %llu, sent %llu",
			    (unsigned long long)got, (unsigned long long)sent);
		if (p.revents & POLLOUT) {
			size_t k = total - sent < STEP ? total - sent : STEP;

			fill(out, sent, k);
			r = send_some(fd, out, k);
			sent += (uint64_t)r;
			if (sent == total)
				shutdown(fd, SHUT_WR);
		}
		if (!eof && (p.revents & (POLLIN | POLLHUP))) {
			r = read(fd, in, sizeof(in));
			if (r < 0)
				die("read: %s", strerror(errno));
			eof = r == 0;
			for (ssize_t i = 0; i < r; i++)
				if (in[i] != guest_byte(got + i))
					die("guest byte %llu is 0x%02x",
					    (unsigned long long)(got + i),
					    in[i]);
			got += (uint64_t)(r > 0 ? r : 0);
		}
	}
	if (got != want)
		die("received %llu bytes before EOF, want %llu",
		    (unsigned long long)got, (unsigned long long)want);
	printf("host: received %llu sent %llu eof ok\n",
	       (unsigned long long)got, (unsigned long long)sent);
	close(fd);
}

static void serve(const char *path, uint64_t want, uint64_t total,
                  unsigned delay_ms)
{
	int lfd = listen_uds(path);

	exchange(accept_one(lfd), want, total, delay_ms);
	close(lfd);
	unlink(path);
}

/* Send into @fd until the guest's side goes away; returns bytes sent. */
static uint64_t send_until_reset(int fd, unsigned round)
{
	static uint8_t out[STEP], in[4096];
	uint64_t sent = 0;

	for (;;) {
		short ev = wait_fd(fd, POLLIN | POLLOUT);
		ssize_t r;

		if (ev & POLLOUT) {
			fill(out, sent, STEP);
			r = send(fd, out, STEP, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r < 0 && (errno == EPIPE || errno == ECONNRESET))
				break;
			if (r < 0 && errno != EAGAIN)
				die("round %u: send: %s", round,
				    strerror(errno));
			sent += (uint64_t)(r > 0 ? r : 0);
		}
		if (ev & (POLLIN | POLLHUP | POLLERR)) {
			r = read(fd, in, sizeof(in));
			if (r == 0 || (r < 0 && errno == ECONNRESET))
				break;
			if (r > 0)
				die("round %u: the guest sent data", round);
			if (errno != EAGAIN)
				die("round %u: read: %s", round,
				    strerror(errno));
		}
	}
	close(fd);
	return sent;
}

static void resets(const char *path, unsigned rounds)
{
	int lfd = listen_uds(path);
	uint64_t total = 0;

	for (unsigned i = 0; i < rounds; i++) {
		uint64_t n = send_until_reset(accept_one(lfd), i);

		if (!n)
			die("round %u: ended before the host sent a byte", i);
		total += n;
	}
	printf("host: %u connections ended by resets after %llu bytes\n",
	       rounds, (unsigned long long)total);
	exchange(accept_one(lfd), 4096, 4096, 0);
	close(lfd);
	unlink(path);
}

static void bench(const char *path, bool send_dir, uint64_t total)
{
	static uint8_t buf[CHUNK];
	uint64_t bytes = 0;
	int lfd = listen_uds(path), fd;
	double t0 = 0, t1;

	fd = accept_one(lfd);
	if (send_dir) {
		t0 = now_s();
		while (bytes < total) {
			size_t k =
			        total - bytes < CHUNK ? total - bytes : CHUNK;
			ssize_t r = write(fd, buf, k);

			if (r < 0)
				die("write: %s", strerror(errno));
			bytes += (uint64_t)r;
		}
		wait_fd(fd, POLLIN);
		if (read(fd, buf, 1) != 0)
			die("no EOF after the data");
	} else {
		for (;;) {
			ssize_t r;

			wait_fd(fd, POLLIN);
			r = read(fd, buf, sizeof(buf));
			if (r < 0)
				die("read: %s", strerror(errno));
			if (r == 0)
				break;
			if (!bytes)
				t0 = now_s();
			bytes += (uint64_t)r;
		}
	}
	t1 = now_s();
	printf("host: %s %llu bytes in %.3f s: %.1f MiB/s\n",
	       send_dir ? "h2g" : "g2h", (unsigned long long)bytes, t1 - t0,
	       (double)bytes / (1 << 20) / (t1 - t0));
	close(fd);
	close(lfd);
	unlink(path);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "echo"))
		echo(argv[2], argv[3], strtoull(argv[4], NULL, 0), argv[5]);
	else if (argc == 6 && !strcmp(argv[1], "serve"))
		serve(argv[2], strtoull(argv[3], NULL, 0),
		      strtoull(argv[4], NULL, 0),
		      (unsigned)strtoul(argv[5], NULL, 0));
	else if (argc == 4 && !strcmp(argv[1], "resets"))
		resets(argv[2], (unsigned)strtoul(argv[3], NULL, 0));
	else if (argc == 3 && !strcmp(argv[1], "bench-recv"))
		bench(argv[2], false, 0);
	else if (argc == 4 && !strcmp(argv[1], "bench-send"))
		bench(argv[2], true, strtoull(argv[3], NULL, 0));
	else
		die("usage: see tests/vsock_host.c");
	return 0;
}
