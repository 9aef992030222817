/*
 * wisp-vsock: the guest end of the Linux tier's vsock tests (busybox has
 * no AF_VSOCK). Built static into the rootfs.
 *
 *   wisp-vsock recv PORT          accept one connection on PORT, read to
 *                                 EOF, answer "<bytes> <crc32>\n", close
 *   wisp-vsock send CID PORT N    connect, send N pattern bytes, shut the
 *                                 write side, print the peer's answer
 *                                 line next to ours
 *   wisp-vsock echo PORT [TAG]    accept connections on PORT forever;
 *                                 answer each line "ping X" with "pong X"
 *                                 (or "pong X TAG")
 *
 * The pattern is byte i = base[i % 65536] ^ (i / 65536) with base[j] =
 * (j * 2654435761) >> 24 (low bytes), the checksum zlib's CRC-32, so the
 * host side (tests/integration/vsock_peer.py) makes and checks the same
 * quickly. Exit status 0 when the peer saw what we sent.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void pattern(uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t k = off + i;

		buf[i] = (uint8_t)(((uint32_t)(k & 0xffff) * 2654435761u) >>
		                   24) ^
		         (uint8_t)(k >> 16);
	}
}

static int listen_on(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
		                 .svm_cid = VMADDR_CID_ANY,
		                 .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s, 4) < 0) {
		perror("wisp-vsock: listen");
		exit(1);
	}
	return s;
}

static int do_recv(unsigned port)
{
	static uint8_t buf[65536];
	int s = listen_on(port), c;
	uint64_t total = 0;
	uint32_t crc = 0;
	char line[64];
	ssize_t n;

	printf("wisp-vsock: listening on %u\n", port);
	fflush(stdout);
	c = accept(s, NULL, NULL);
	if (c < 0) {
		perror("wisp-vsock: accept");
		return 1;
	}
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		crc = crc32_update(crc, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0) {
		perror("wisp-vsock: read");
		return 1;
	}
	snprintf(line, sizeof(line), "%llu %08x\n", (unsigned long long)total,
	         crc);
	if (write(c, line, strlen(line)) < 0)
		perror("wisp-vsock: write");
	printf("wisp-vsock: received %s", line);
	close(c);
	close(s);
	return 0;
}

static int do_send(unsigned cid, unsigned port, uint64_t len)
{
	static uint8_t buf[65536];
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
		                 .svm_cid = cid,
		                 .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);
	uint64_t sent = 0;
	uint32_t crc = 0;
	char got[64] = "", want[64];
	size_t have = 0;
	ssize_t n;

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("wisp-vsock: connect");
		return 1;
	}
	while (sent < len) {
		size_t k = len - sent < sizeof(buf) ? len - sent : sizeof(buf);

		pattern(buf, sent, k);
		crc = crc32_update(crc, buf, k);
		for (size_t off = 0; off < k; off += (size_t)n) {
			n = write(s, buf + off, k - off);
			if (n < 0) {
				perror("wisp-vsock: write");
				return 1;
			}
		}
		sent += k;
	}
	shutdown(s, SHUT_WR);
	while (have + 1 < sizeof(got) &&
	       (n = read(s, got + have, sizeof(got) - 1 - have)) > 0)
		have += (size_t)n;
	got[have] = '\0';
	snprintf(want, sizeof(want), "%llu %08x\n", (unsigned long long)len,
	         crc);
	printf("wisp-vsock: sent %s", want);
	printf("wisp-vsock: peer got %s", have ? got : "nothing\n");
	close(s);
	return strcmp(got, want) ? 1 : 0;
}

__attribute__((noreturn)) static void do_echo(unsigned port, const char *tag)
{
	int s = listen_on(port);

	printf("wisp-vsock: echo on %u\n", port);
	fflush(stdout);
	for (;;) {
		char buf[256];
		int c = accept(s, NULL, NULL);
		ssize_t n;

		if (c < 0)
			continue;
		while ((n = read(c, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			if (!strncmp(buf, "ping ", 5)) {
				char out[512];
				int len;

				buf[strcspn(buf, "\n")] = '\0';
				len = snprintf(out, sizeof(out),
				               "pong %s%s%s\n", buf + 5,
				               tag ? " " : "", tag ? tag : "");
				if (write(c, out, (size_t)len) < 0)
					break;
			}
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	crc_init();
	if (argc == 3 && !strcmp(argv[1], "recv"))
		return do_recv((unsigned)strtoul(argv[2], NULL, 10));
	if (argc == 5 && !strcmp(argv[1], "send"))
		return do_send((unsigned)strtoul(argv[2], NULL, 10),
		               (unsigned)strtoul(argv[3], NULL, 10),
		               strtoull(argv[4], NULL, 10));
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "echo"))
		do_echo((unsigned)strtoul(argv[2], NULL, 10),
		        argc == 4 ? argv[3] : NULL);
	fprintf(stderr, "usage: wisp-vsock recv PORT | send CID PORT BYTES | "
	                "echo PORT [TAG]\n");
	return 2;
}
