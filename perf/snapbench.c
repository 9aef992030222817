/*
 * snapbench: snapshot figures (make perf; perf/run.sh turns them into
 * docs/perf.md). Every time is in µs, one value per run.
 *
 *   snapbench probe WISP PROBE DIR RUNS MIB
 *     The probe guest's dots scenario (one '.' on the serial port after
 *     another) with MIB of RAM, snapshotted once, then loaded RUNS times
 *     into a fresh wisp:
 *       create US STATE_BYTES MEM_BYTES MEM_ALLOCATED_BYTES
 *       load V...    PUT /snapshot/load (resume_vm) sent -> its 204
 *       dot V...     the same request sent -> the guest's next '.' on
 *                    wisp's stdout: the restored guest is running
 *       exec V...    exec of wisp -> that '.' (socket, load, resume)
 *       run V...     wisp's log: the load's start -> vCPU 0 in KVM_RUN
 *
 *   snapbench snap WISP PROBE DIR MIB SCENARIO
 *     Only the snapshot, of another probe scenario, to
 *     DIR/SCENARIO-MIB.state and .mem (for clones: halt).
 *
 *   snapbench qemu PROBE DIR RUNS MIB
 *     The same guest under QEMU microvm, migrated to a file ("exec:cat >
 *     FILE"; QEMU's way to snapshot a VM to a plain file), then RUNS
 *     times started with -incoming from it:
 *       exec V...    exec of QEMU -> the guest's next '.'
 *
 *   snapbench loads WISP DIR STATE MEM RUNS VSOCK
 *     A snapshot of a guest serving "ping" on vsock port VSOCK (the Linux
 *     guest's wisp-vsock echo), loaded RUNS times with its vsock socket
 *     at DIR/l.vsock:
 *       load V...    PUT /snapshot/load (resume_vm) -> its 204
 *       run V...     wisp's log: the load's start -> vCPU 0 in KVM_RUN
 *       pong V...    the 204 -> the guest's "pong" over vsock
 *
 *   snapbench clones WISP DIR STATE MEM N [VSOCK]
 *     N wisp processes started at once, each loading STATE/MEM with
 *     resume_vm (with VSOCK, a vsock_override of DIR/cK.vsock each):
 *       all US       the first exec -> the last 204
 *       pss KIB...   each process's PSS once all are running (smaps_rollup)
 *       rss KIB...   and its RSS
 *     then, with VSOCK, each clone's guest pinged through its socket:
 *       ping V...    the load's 204 -> "pong" from the guest's echo server
 *                    (wisp-vsock echo VSOCK)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchlib.h"

#define MAX_CLONES 256

static void die(const char *what)
{
	fprintf(stderr, "snapbench: %s\n", what);
	exit(1);
}

/* One figure's line: NAME V... */
static void series(const char *name, const uint64_t *v, int n)
{
	printf("%s", name);
	for (int i = 0; i < n; i++)
		printf(" %llu", (unsigned long long)v[i]);
	printf("\n");
}

/* wisp --api-sock SOCK, stdout to @out_fd (-1: /dev/null), stderr to @err. */
static pid_t spawn_wisp(const char *wisp, const char *sock, int out_fd,
                        const char *err)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* A bench that dies leaves no VM behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(out_fd >= 0 ? out_fd : null, 1);
		dup2(e >= 0 ? e : null, 2);
		execl(wisp, wisp, "--api-sock", sock, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_socket(const char *sock, pid_t pid)
{
	int fd;

	while ((fd = unix_connect(sock)) < 0) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			die("wisp ended before its socket answered");
		usleep(20);
	}
	return fd;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void put(int fd, const char *path, const char *body)
{
	char msg[256];

	if (http_request(fd, "PUT", path, body) != 204) {
		snprintf(msg, sizeof(msg), "PUT %s failed", path);
		die(msg);
	}
}

/* Read until a '.' arrives on @fd; die after 10 s. */
static void wait_dot(int fd)
{
	char buf[4096];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			die("no '.' from the guest in 10 s");
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			die("the guest's output ended");
		if (memchr(buf, '.', (size_t)n))
			return;
	}
}

/*
 * Boot the probe's @scenario with @mib of RAM, let it run 0.2 s, pause,
 * snapshot to DIR/SCENARIO-MIB.{state,mem}; prints the create line.
 */
static void make_snap(const char *wisp, const char *kernel, const char *dir,
                      unsigned mib, const char *scenario, char *state,
                      char *mem, size_t len)
{
	char sock[512], err[512], body[2048];
	struct stat ss, ms;
	uint64_t t0;
	pid_t pid;
	int fd;

	snprintf(sock, sizeof(sock), "%s/bench.sock", dir);
	snprintf(err, sizeof(err), "%s/bench.err", dir);
	snprintf(state, len, "%s/%s-%u.state", dir, scenario, mib);
	snprintf(mem, len, "%s/%s-%u.mem", dir, scenario, mib);
	unlink(sock);
	pid = spawn_wisp(wisp, sock, -1, err);
	fd = wait_socket(sock, pid);
	snprintf(body, sizeof(body),
	         "{\"vcpu_count\": 1, \"mem_size_mib\": %u}", mib);
	put(fd, "/machine-config", body);
	snprintf(body, sizeof(body),
	         "{\"kernel_image_path\": \"%s\", \"boot_args\": "
	         "\"probe=%s\"}",
	         kernel, scenario);
	put(fd, "/boot-source", body);
	put(fd, "/actions", "{\"action_type\": \"InstanceStart\"}");
	usleep(200000);
	if (http_request(fd, "PATCH", "/vm", "{\"state\": \"Paused\"}") != 204)
		die("pause failed");
	snprintf(body, sizeof(body),
	         "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
	         state, mem);
	t0 = now_us();
	put(fd, "/snapshot/create", body);
	t0 = now_us() - t0;
	close(fd);
	stop(pid);
	if (stat(state, &ss) < 0 || stat(mem, &ms) < 0)
		die("no snapshot files");
	printf("create %llu %lld %lld %lld\n", (unsigned long long)t0,
	       (long long)ss.st_size, (long long)ms.st_size,
	       (long long)ms.st_blocks * 512);
	unlink(sock);
}

/* The "runs the restored guest N us after" figure from a wisp log. */
static uint64_t logged_run(const char *err)
{
	char line[512];
	uint64_t v = 0;
	FILE *f = fopen(err, "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "runs the restored guest ");

		if (p && !v)
			v = strtoull(p + 24, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

static void probe(const char *wisp, const char *kernel, const char *dir,
                  int runs, unsigned mib)
{
	char sock[512], err[512], state[512], mem[512], body[2048];
	uint64_t load[runs], dot[runs], exec[runs], run[runs];
	pid_t pid;
	int fd;

	make_snap(wisp, kernel, dir, mib, "dots", state, mem, sizeof(state));
	snprintf(sock, sizeof(sock), "%s/bench.sock", dir);
	snprintf(err, sizeof(err), "%s/bench.err", dir);

	snprintf(body, sizeof(body),
	         "{\"snapshot_path\": \"%s\", \"mem_backend\": "
	         "{\"backend_type\": \"File\", \"backend_path\": \"%s\"}, "
	         "\"resume_vm\": true}",
	         state, mem);
	for (int i = 0; i < runs; i++) {
		int out[2];
		uint64_t te, tr;

		if (pipe2(out, O_CLOEXEC) < 0)
			die("pipe");
		unlink(sock);
		te = now_us();
		pid = spawn_wisp(wisp, sock, out[1], err);
		close(out[1]);
		fd = wait_socket(sock, pid);
		tr = now_us();
		if (http_request(fd, "PUT", "/snapshot/load", body) != 204)
			die("load failed (see the .err file)");
		load[i] = now_us() - tr;
		wait_dot(out[0]);
		dot[i] = now_us() - tr;
		exec[i] = now_us() - te;
		close(fd);
		close(out[0]);
		stop(pid);
		run[i] = logged_run(err);
	}
	series("load", load, runs);
	series("dot", dot, runs);
	series("exec", exec, runs);
	series("run", run, runs);
	unlink(sock);
}

/* ---- QEMU ----------------------------------------------------------- */

static pid_t spawn_qemu(const char *kernel, unsigned mib, const char *qmp,
                        const char *incoming, int out_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char m[16], q[600], in[600];
		int null = open("/dev/null", O_RDWR);
		const char *argv[40];
		int n = 0;

		snprintf(m, sizeof(m), "%u", mib);
		snprintf(q, sizeof(q), "unix:%s,server=on,wait=off", qmp);
		dup2(null, 0);
		dup2(out_fd >= 0 ? out_fd : null, 1);
		dup2(null, 2);
		argv[n++] = "qemu-system-x86_64";
		argv[n++] = "-M";
		argv[n++] = "microvm,x-option-roms=off,isa-serial=on,rtc=off";
		argv[n++] = "-enable-kvm";
		argv[n++] = "-cpu";
		argv[n++] = "EPYC";
		argv[n++] = "-m";
		argv[n++] = m;
		argv[n++] = "-nodefaults";
		argv[n++] = "-no-user-config";
		argv[n++] = "-display";
		argv[n++] = "none";
		argv[n++] = "-kernel";
		argv[n++] = kernel;
		argv[n++] = "-append";
		argv[n++] = "probe=dots";
		argv[n++] = "-serial";
		argv[n++] = "stdio";
		if (qmp) {
			argv[n++] = "-qmp";
			argv[n++] = q;
		}
		if (incoming) {
			snprintf(in, sizeof(in), "exec:cat %s", incoming);
			argv[n++] = "-incoming";
			argv[n++] = in;
		}
		argv[n] = NULL;
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	return pid;
}

/* Send one QMP command; the reply line (events skipped) into @reply. */
static void qmp_cmd(FILE *f, const char *cmd, char *reply, size_t len)
{
	fprintf(f, "%s\n", cmd);
	fflush(f);
	while (fgets(reply, (int)len, f))
		if (strstr(reply, "\"return\"") || strstr(reply, "\"error\""))
			return;
	die("QMP connection closed");
}

static void qemu(const char *kernel, const char *dir, int runs, unsigned mib)
{
	char qmp[512], file[512], reply[4096];
	uint64_t exec[runs];
	pid_t pid;
	FILE *f;
	int fd;

	snprintf(qmp, sizeof(qmp), "%s/qmp.sock", dir);
	snprintf(file, sizeof(file), "%s/qemu-%u.mig", dir, mib);
	unlink(qmp);
	pid = spawn_qemu(kernel, mib, qmp, NULL, -1);
	while ((fd = unix_connect(qmp)) < 0) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			die("QEMU ended before its QMP socket answered");
		usleep(100);
	}
	f = fdopen(fd, "r+");
	if (!fgets(reply, sizeof(reply), f)) /* the greeting */
		die("no QMP greeting");
	qmp_cmd(f, "{\"execute\": \"qmp_capabilities\"}", reply, sizeof(reply));
	usleep(200000);
	/*
	 * Migrated running: a stream from a stopped VM leaves the incoming
	 * one stopped too. The dots guest dirties no memory, so it converges
	 * at once, and the source then stops.
	 */
	snprintf(reply, sizeof(reply),
	         "{\"execute\": \"migrate\", \"arguments\": {\"uri\": "
	         "\"exec:cat > %s\"}}",
	         file);
	qmp_cmd(f, reply, reply, sizeof(reply));
	for (;;) {
		qmp_cmd(f, "{\"execute\": \"query-migrate\"}", reply,
		        sizeof(reply));
		if (strstr(reply, "\"completed\""))
			break;
		if (strstr(reply, "\"failed\""))
			die("QEMU's migration to a file failed");
		usleep(1000);
	}
	fclose(f);
	stop(pid);
	for (int i = 0; i < runs; i++) {
		int out[2];
		uint64_t te;

		if (pipe2(out, O_CLOEXEC) < 0)
			die("pipe");
		te = now_us();
		pid = spawn_qemu(kernel, mib, NULL, file, out[1]);
		close(out[1]);
		wait_dot(out[0]);
		exec[i] = now_us() - te;
		close(out[0]);
		stop(pid);
	}
	series("exec", exec, runs);
	unlink(qmp);
}

/* ---- clones --------------------------------------------------------- */

static long rollup(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen))
			v = strtol(line + klen, NULL, 10);
	fclose(f);
	return v;
}

/* "ping X" to the guest's echo server through the vsock socket. */
static bool vsock_ping(const char *uds, unsigned port)
{
	char buf[256];
	size_t got = 0;
	int fd = unix_connect(uds);
	int n;

	if (fd < 0)
		return false;
	n = snprintf(buf, sizeof(buf), "CONNECT %u\nping 1\n", port);
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return false;
	}
	/* "OK <port>\n", then "pong 1 ...\n" */
	while (got < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = 0;
		if (strstr(buf, "pong 1") &&
		    strchr(strstr(buf, "pong 1"), '\n'))
			break;
	}
	close(fd);
	return got && strstr(buf, "pong 1");
}

static void clones(const char *wisp, const char *dir, const char *state,
                   const char *mem, int n, unsigned vport)
{
	static pid_t pid[MAX_CLONES];
	static int fd[MAX_CLONES];
	static uint64_t done[MAX_CLONES];
	char sock[512], err[512], body[2048], uds[512];
	uint64_t t0 = now_us(), last = 0;

	if (n < 1 || n > MAX_CLONES)
		die("1 to 256 clones");
	for (int i = 0; i < n; i++) {
		snprintf(sock, sizeof(sock), "%s/c%d.sock", dir, i);
		snprintf(err, sizeof(err), "%s/c%d.err", dir, i);
		unlink(sock);
		pid[i] = spawn_wisp(wisp, sock, -1, err);
	}
	for (int i = 0; i < n; i++) {
		char vs[700] = "";
		int len;

		snprintf(sock, sizeof(sock), "%s/c%d.sock", dir, i);
		fd[i] = wait_socket(sock, pid[i]);
		if (vport)
			snprintf(vs, sizeof(vs),
			         ", \"vsock_override\": {\"uds_path\": "
			         "\"%s/c%d.vsock\"}",
			         dir, i);
		snprintf(body, sizeof(body),
		         "{\"snapshot_path\": \"%s\", \"mem_backend\": "
		         "{\"backend_type\": \"File\", \"backend_path\": "
		         "\"%s\"}, \"resume_vm\": true%s}",
		         state, mem, vs);
		len = snprintf(sock, sizeof(sock),
		               "PUT /snapshot/load HTTP/1.1\r\n"
		               "Content-Length: %zu\r\n\r\n",
		               strlen(body));
		/* Sent now, answered below: the loads run side by side. */
		if (write(fd[i], sock, (size_t)len) != len ||
		    write(fd[i], body, strlen(body)) != (ssize_t)strlen(body))
			die("cannot send a load");
	}
	for (int i = 0; i < n; i++) {
		char buf[1024];
		ssize_t r = read(fd[i], buf, sizeof(buf) - 1);

		if (r < 12 || strncmp(buf + 9, "204", 3))
			die("a clone's load failed (see its .err file)");
		done[i] = now_us();
		last = done[i] > last ? done[i] : last;
		close(fd[i]);
	}
	printf("all %llu\n", (unsigned long long)(last - t0));
	usleep(500000); /* let the guests run a little */
	printf("pss");
	for (int i = 0; i < n; i++)
		printf(" %ld", rollup(pid[i], "Pss:"));
	printf("\nrss");
	for (int i = 0; i < n; i++)
		printf(" %ld", rollup(pid[i], "Rss:"));
	printf("\n");
	if (vport) {
		printf("ping");
		for (int i = 0; i < n; i++) {
			snprintf(uds, sizeof(uds), "%s/c%d.vsock", dir, i);
			while (!vsock_ping(uds, vport)) {
				if (now_us() - done[i] > 600000000ULL)
					die("a clone never answered over "
					    "vsock");
				usleep(1000);
			}
			printf(" %llu",
			       (unsigned long long)(now_us() - done[i]));
			fflush(stdout);
		}
		printf("\n");
	}
	for (int i = 0; i < n; i++)
		stop(pid[i]);
}

/*
 * A snapshot of a guest that serves "ping" on vsock port @vport, loaded
 * @runs times: load (request -> 204), run (wisp's own figure: the load's
 * start -> vCPU 0 in KVM_RUN), pong (204 -> the guest's answer).
 */
static void linux_loads(const char *wisp, const char *dir, const char *state,
                        const char *mem, int runs, unsigned vport)
{
	char sock[512], err[512], uds[512], body[2048];
	uint64_t load[runs], run[runs], pong[runs];

	snprintf(sock, sizeof(sock), "%s/l.sock", dir);
	snprintf(err, sizeof(err), "%s/l.err", dir);
	snprintf(uds, sizeof(uds), "%s/l.vsock", dir);
	snprintf(body, sizeof(body),
	         "{\"snapshot_path\": \"%s\", \"mem_backend\": "
	         "{\"backend_type\": \"File\", \"backend_path\": \"%s\"}, "
	         "\"resume_vm\": true, \"vsock_override\": {\"uds_path\": "
	         "\"%s\"}}",
	         state, mem, uds);
	for (int i = 0; i < runs; i++) {
		uint64_t t;
		pid_t pid;
		int fd;

		unlink(sock);
		pid = spawn_wisp(wisp, sock, -1, err);
		fd = wait_socket(sock, pid);
		t = now_us();
		if (http_request(fd, "PUT", "/snapshot/load", body) != 204)
			die("load failed (see l.err)");
		load[i] = now_us() - t;
		t = now_us();
		while (!vsock_ping(uds, vport)) {
			if (now_us() - t > 600000000ULL)
				die("the guest never answered over vsock");
			usleep(1000);
		}
		pong[i] = now_us() - t;
		close(fd);
		stop(pid);
		run[i] = logged_run(err);
	}
	series("load", load, runs);
	series("run", run, runs);
	series("pong", pong, runs);
	unlink(sock);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 7 && !strcmp(argv[1], "probe")) {
		probe(argv[2], argv[3], argv[4], atoi(argv[5]),
		      (unsigned)atoi(argv[6]));
		return 0;
	}
	if (argc == 7 && !strcmp(argv[1], "snap")) {
		char state[512], mem[512];

		make_snap(argv[2], argv[3], argv[4], (unsigned)atoi(argv[5]),
		          argv[6], state, mem, sizeof(state));
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "qemu")) {
		qemu(argv[2], argv[3], atoi(argv[4]), (unsigned)atoi(argv[5]));
		return 0;
	}
	if (argc == 8 && !strcmp(argv[1], "loads")) {
		linux_loads(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]),
		            (unsigned)atoi(argv[7]));
		return 0;
	}
	if ((argc == 7 || argc == 8) && !strcmp(argv[1], "clones")) {
		clones(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]),
		       argc == 8 ? (unsigned)atoi(argv[7]) : 0);
		return 0;
	}
	fprintf(stderr,
	        "usage: snapbench probe WISP PROBE DIR RUNS MIB\n"
	        "       snapbench snap WISP PROBE DIR MIB SCENARIO\n"
	        "       snapbench qemu PROBE DIR RUNS MIB\n"
	        "       snapbench loads WISP DIR STATE MEM RUNS VSOCK_PORT\n"
	        "       snapbench clones WISP DIR STATE MEM N [VSOCK_PORT]\n");
	return 2;
}
