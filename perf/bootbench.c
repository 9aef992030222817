/*
 * bootbench: run a command N times and report, per run, the wall time from
 * just before exec to its exit, its exit status and peak RSS. Each run's
 * stdout and stderr go to DIR/run-I.log, so callers can pull figures the
 * monitor logged (wisp's "guest boot: N us since start" counts from the
 * --start-time-us value this tool passes in place of {T0}).
 *
 * usage: bootbench -n RUNS -o DIR -- command args...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000 +
	       (unsigned long long)ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	int runs = 20, opt;
	const char *dir = ".";

	while ((opt = getopt(argc, argv, "n:o:")) != -1) {
		if (opt == 'n')
			runs = atoi(optarg);
		else if (opt == 'o')
			dir = optarg;
		else
			return 2;
	}
	if (optind >= argc || runs < 1) {
		fprintf(stderr, "usage: bootbench -n RUNS -o DIR -- cmd...\n");
		return 2;
	}
	char **cmd = &argv[optind];
	int ncmd = argc - optind;

	for (int i = 0; i < runs; i++) {
		char log[4096], t0s[32];
		char **args = calloc((size_t)ncmd + 1, sizeof(*args));
		struct rusage ru;
		int status, fd;
		pid_t pid;

		snprintf(log, sizeof(log), "%s/run-%d.log", dir, i);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || !args) {
			perror(log);
			return 1;
		}
		unsigned long long t0 = now_us();
		snprintf(t0s, sizeof(t0s), "%llu", t0);
		for (int j = 0; j < ncmd; j++)
			args[j] = strcmp(cmd[j], "{T0}") ? cmd[j] : t0s;
		pid = fork();
		if (pid == 0) {
			int null = open("/dev/null", O_RDONLY);

			dup2(null, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			execvp(args[0], args);
			_exit(127);
		}
		if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) {
			perror("fork/wait");
			return 1;
		}
		unsigned long long t1 = now_us();
		printf("%d %llu %d %ld\n", i, t1 - t0,
		       WIFEXITED(status) ? WEXITSTATUS(status)
		                         : 128 + WTERMSIG(status),
		       ru.ru_maxrss);
		fflush(stdout);
		close(fd);
		free(args);
	}
	return 0;
}
