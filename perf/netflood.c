/*
 * netflood: send test frames (EtherType 0x88b5, the probe guest's) into a
 * network interface as fast as it takes them, for the receive benchmark.
 *
 *   netflood IFACE SECONDS [FRAME_BYTES]
 *
 * Runs until SECONDS pass or it is killed; prints how many frames went.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static unsigned char frame[1514];
	struct sockaddr_ll sa = { .sll_family = AF_PACKET };
	struct mmsghdr msg[BATCH];
	struct iovec iov = { frame, sizeof(frame) };
	unsigned long long sent = 0;
	size_t len = argc > 3 ? strtoul(argv[3], NULL, 10) : sizeof(frame);
	double end;
	int s;

	if (argc < 3 || len < 60 || len > sizeof(frame)) {
		fprintf(stderr, "usage: netflood IFACE SECONDS [60..1514]\n");
		return 2;
	}
	s = socket(AF_PACKET, SOCK_RAW, 0);
	sa.sll_ifindex = (int)if_nametoindex(argv[1]);
	if (s < 0 || !sa.sll_ifindex ||
	    bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("netflood");
		return 1;
	}
	memset(frame, 0xff, 6);
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	iov.iov_len = len;
	for (int i = 0; i < BATCH; i++)
		msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov,
			                                .msg_iovlen = 1 } };
	end = now() + strtod(argv[2], NULL);
	while (now() < end) {
		int n = sendmmsg(s, msg, BATCH, 0);

		if (n > 0)
			sent += (unsigned long long)n;
		else
			usleep(100); /* the interface is down or full */
	}
	printf("%llu\n", sent);
	return 0;
}
