/*
 * apibench: the REST API's figures.
 *
 *   apibench WISP PROBE RUNS
 *
 * prints three lines of microseconds, one value per run:
 *   socket V...   exec of `wisp --api-sock` to the first accepted connect()
 *   put V...      round trip of PUT /machine-config on a kept-alive
 *                 connection (RUNS * 20 requests)
 *   start V...    InstanceStart sent to the probe guest's boot-timer write
 *                 (wisp logs that write against --start-time-us 0, i.e.
 *                 in absolute CLOCK_MONOTONIC µs)
 *   qmp V...      for comparison: exec of QEMU microvm (-S, stopped before
 *                 the guest runs) to the first accepted connect() on its
 *                 QMP socket
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"

static const char *sock_path = "/tmp/wisp-apibench.sock";

static pid_t spawn(const char *wisp, int errfd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", 0);

		dup2(null, 0);
		dup2(null, 1);
		dup2(errfd, 2);
		execl(wisp, wisp, "--api-sock", sock_path, "--start-time-us",
		      "0", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_qemu(const char *probe)
{
	pid_t pid = fork();

	if (pid == 0) {
		char qmp[128];
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off",
		         sock_path);
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-M",
		       "microvm,x-option-roms=off,rtc=off,acpi=off",
		       "-enable-kvm", "-cpu", "EPYC", "-m", "128",
		       "-nodefaults", "-no-user-config", "-display", "none",
		       "-S", "-kernel", probe, "-qmp", qmp, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int try_connect(void)
{
	return unix_connect(sock_path);
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* µs from exec of wisp (or QEMU with @qemu) to its socket accepting. */
static uint64_t time_to_socket(const char *file, bool qemu)
{
	uint64_t t0, t;
	pid_t pid;
	int fd;

	unlink(sock_path);
	t0 = now_us();
	pid = qemu ? spawn_qemu(file) : spawn(file, 2);
	while ((fd = try_connect()) < 0)
		usleep(20);
	t = now_us() - t0;
	close(fd);
	stop(pid);
	return t;
}

int main(int argc, char **argv)
{
	const char *wisp = argv[1], *probe = argv[2];
	int runs = argc > 3 ? atoi(argv[3]) : 20;
	char body[4096], log[] = "/tmp/wisp-apibench-log.XXXXXX";

	if (argc < 3) {
		fprintf(stderr, "usage: apibench WISP PROBE [RUNS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	printf("socket");
	for (int i = 0; i < runs; i++)
		printf(" %llu",
		       (unsigned long long)time_to_socket(wisp, false));
	printf("\nput");
	{
		pid_t pid = spawn(wisp, 2);
		int fd;

		while ((fd = try_connect()) < 0)
			usleep(100);
		for (int i = 0; i < runs * 20; i++) {
			uint64_t t0 = now_us();

			if (http_request(
			            fd, "PUT", "/machine-config",
			            "{\"vcpu_count\": 1, \"mem_size_mib\": "
			            "128}") != 204) {
				fprintf(stderr, "apibench: PUT failed\n");
				return 1;
			}
			printf(" %llu", (unsigned long long)(now_us() - t0));
		}
		close(fd);
		stop(pid);
	}
	printf("\nstart");
	snprintf(body, sizeof(body),
	         "{\"kernel_image_path\": \"%s\", \"boot_args\": "
	         "\"probe=boot-timer\"}",
	         probe);
	for (int i = 0; i < runs; i++) {
		int lfd = mkstemp(log), fd;
		pid_t pid = spawn(wisp, lfd);
		uint64_t t0, boot = 0;
		char line[512];
		FILE *f;

		while ((fd = try_connect()) < 0)
			usleep(100);
		if (http_request(fd, "PUT", "/boot-source", body) != 204) {
			fprintf(stderr, "apibench: boot-source failed\n");
			return 1;
		}
		t0 = now_us();
		if (http_request(fd, "PUT", "/actions",
		                 "{\"action_type\": \"InstanceStart\"}") !=
		    204) {
			fprintf(stderr, "apibench: InstanceStart failed\n");
			return 1;
		}
		close(fd);
		waitpid(pid, NULL, 0); /* the probe resets when done */
		f = fdopen(lfd, "r");
		rewind(f);
		while (fgets(line, sizeof(line), f)) {
			char *p = strstr(line, "guest boot: ");

			if (p)
				boot = strtoull(p + 12, NULL, 10);
		}
		fclose(f);
		unlink(log);
		strcpy(log, "/tmp/wisp-apibench-log.XXXXXX");
		if (!boot || boot < t0) {
			fprintf(stderr, "apibench: no boot-timer line\n");
			return 1;
		}
		printf(" %llu", (unsigned long long)(boot - t0));
	}
	printf("\nqmp");
	for (int i = 0; i < runs; i++)
		printf(" %llu",
		       (unsigned long long)time_to_socket(probe, true));
	printf("\n");
	unlink(sock_path);
	return 0;
}
