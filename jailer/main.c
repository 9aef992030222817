/*
 * wisp-jailer: the order of the steps (docs/security.md). Everything that
 * reads the host comes first and creates nothing; every step after it is
 * recorded in struct jail so that a failure anywhere, up to and including
 * the exec, is undone by jail_undo().
 */
#include "jailer.h"
#include "vmm.h" /* WISP_VERSION */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int jail_report_fd = 2;

/* Append to @buf of @size at *@n, clamped so one byte is left for '\n'. */
static void append(char *buf, size_t size, size_t *n, int r)
{
	if (r > 0)
		*n = *n + (size_t)r < size - 1 ? *n + (size_t)r : size - 2;
}

void jail_err(int err, const char *fmt, ...)
{
	char buf[2048];
	size_t n = 0;
	va_list ap;

	append(buf, sizeof(buf), &n,
	       snprintf(buf, sizeof(buf) - 1, "wisp-jailer: "));
	va_start(ap, fmt);
	append(buf, sizeof(buf), &n,
	       vsnprintf(buf + n, sizeof(buf) - 1 - n, fmt, ap));
	va_end(ap);
	if (err)
		append(buf, sizeof(buf), &n,
		       snprintf(buf + n, sizeof(buf) - 1 - n, ": %s",
		                strerror(err)));
	/* Values are echoed as given: no control character splits the line. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n++] = '\n';
	if (write(jail_report_fd, buf, n) < 0) {
		/* nowhere left to say it */
	}
}

void jail_undo(struct jail *j)
{
	if (j->unshared) {
		/* Host paths again; the jail root is no mount point there. */
		if (setns(j->host_mnt_fd, CLONE_NEWNS) < 0) {
			jail_err(errno,
			         "undo: back to the host's mount namespace (%s "
			         "and the cgroups stay)",
			         j->id_dir);
			return;
		}
		j->unshared = false;
	}
	jail_cgroup_undo(j);
	jail_dir_undo(j);
}

/* The host fds the jail needs, opened while host paths still resolve. */
static int open_host_fds(struct jail *j)
{
	if (j->a.netns) {
		j->netns_fd = open(j->a.netns, O_RDONLY | O_CLOEXEC);
		if (j->netns_fd < 0) {
			jail_err(errno, "--netns '%s'", j->a.netns);
			return -1;
		}
	}
	if (j->a.daemonize) {
		j->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (j->null_fd < 0) {
			jail_err(errno, "opening /dev/null");
			return -1;
		}
	}
	return 0;
}

/* <root>/<exec name>.pid: wisp's pid, when it is not the jailer's. */
static int write_pidfile(struct jail *j, pid_t pid)
{
	const char *name = j->pidfile;
	char s[24];
	int fd, n;

	/* A tiny fsize limit makes this an error, not a death by SIGXFSZ. */
	signal(SIGXFSZ, SIG_IGN);
	snprintf(j->pidfile, sizeof(j->pidfile), "%s.pid", j->exec_name);
	fd = openat(j->root_fd, name,
	            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		jail_err(errno, "creating %s/%s", j->root, name);
		return -1;
	}
	if (jail_made_add(j, j->root_fd, -1, name, name, false) < 0) {
		close(fd);
		return -1;
	}
	n = snprintf(s, sizeof(s), "%d\n", (int)pid);
	if (write(fd, s, (size_t)n) != n) {
		jail_err(errno, "writing %s/%s", j->root, name);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * --daemonize, --new-pid-ns: fork (after unshare(CLONE_NEWPID), the child
 * is pid 1 of the new namespace). The child returns 0 and goes on to
 * exec, its messages sent up a close-on-exec pipe; the parent writes the
 * pid file and waits for that pipe: EOF alone means wisp was exec'd (the
 * parent exits 0), a message means the child failed (the parent undoes
 * the jail and exits 1). Returns -1 on failure in the parent.
 */
static int spawn(struct jail *j)
{
	char msg[4096];
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		jail_err(errno, "pipe");
		return -1;
	}
	if (j->a.new_pid_ns && unshare(CLONE_NEWPID) < 0) {
		jail_err(errno, "--new-pid-ns: unshare(CLONE_NEWPID)");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		jail_err(errno, "fork");
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		jail_report_fd = p[1];
		return 0;
	}
	close(p[1]);
	if (write_pidfile(j, pid) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		return -1;
	}
	while (len < sizeof(msg) &&
	       ((n = read(p[0], msg + len, sizeof(msg) - len)) > 0 ||
	        (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(p[0]);
	if (len == 0)
		exit(0);
	if (write(2, msg, len) < 0) {
		/* the caller closed our stderr */
	}
	waitpid(pid, NULL, 0);
	return -1;
fail:
	close(p[0]);
	close(p[1]);
	return -1;
}

static uint64_t clock_us(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * /<exec name> --id ID --start-time-us T0 --start-time-cpu-us C0
 * --parent-cpu-time-us P [wisp's arguments], as Firecracker's jailer
 * starts Firecracker (its startup metrics add them up): returns only on
 * failure.
 */
static void exec_wisp(const struct jail *j)
{
	char path[NAME_MAX + 2], t0[24], c0[24], pc[24];
	char **argv = calloc((size_t)j->a.vmm_argc + 10, sizeof(*argv));
	char *envp[] = { NULL };

	if (!argv) {
		jail_err(ENOMEM, "exec");
		return;
	}
	snprintf(path, sizeof(path), "/%s", j->exec_name);
	snprintf(t0, sizeof(t0), "%llu", (unsigned long long)j->start_us);
	snprintf(c0, sizeof(c0), "%llu",
	         (unsigned long long)clock_us(CLOCK_PROCESS_CPUTIME_ID));
	snprintf(pc, sizeof(pc), "%llu", (unsigned long long)j->parent_cpu_us);
	argv[0] = path;
	argv[1] = "--id";
	argv[2] = (char *)j->a.id;
	argv[3] = "--start-time-us"; /* wisp keeps the last one given */
	argv[4] = t0;
	argv[5] = "--start-time-cpu-us";
	argv[6] = c0;
	argv[7] = "--parent-cpu-time-us";
	argv[8] = pc;
	for (int i = 0; i < j->a.vmm_argc; i++)
		argv[9 + i] = j->a.vmm_argv[i];
	execve(path, argv, envp);
	jail_err(errno, "exec %s in the jail as uid %u gid %u", path, j->a.uid,
	         j->a.gid);
	free(argv);
}

static uint64_t now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

int main(int argc, char **argv)
{
	static struct jail j = {
		.exec_fd = -1,
		.base_fd = -1,
		.exec_dir_fd = -1,
		.id_fd = -1,
		.root_fd = -1,
		.host_mnt_fd = -1,
		.netns_fd = -1,
		.null_fd = -1,
	};
	bool forked = false;
	int rc;

	j.start_us = now_us();
	j.start_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	jail_std_fds();
	rc = jail_parse_args(&j.a, argc, argv);
	if (rc > 0 && j.a.version)
		printf("wisp-jailer %s\n", WISP_VERSION);
	if (rc)
		return rc > 0 ? 0 : JAIL_EXIT_USAGE;
	/* First: the fds the check keeps open are the jailer's own. */
	if (jail_close_fds() < 0)
		return JAIL_EXIT_FAILED;
	if (jail_check(&j) < 0)
		return JAIL_EXIT_USAGE;
	if (!j.a.uid || !j.a.gid)
		fprintf(stderr,
		        "wisp-jailer: warning: --uid %u --gid %u: wisp keeps "
		        "root's %s in the jail (its chroot, namespaces and "
		        "seccomp filters still hold)\n",
		        j.a.uid, j.a.gid, !j.a.uid ? "user id" : "group id");
	clearenv();

	if (jail_dir_build(&j) < 0 || jail_set_rlimits(&j) < 0 ||
	    jail_cgroup_apply(&j) < 0 || open_host_fds(&j) < 0 ||
	    jail_enter(&j) < 0 || jail_join_netns(&j) < 0)
		goto fail;
	/* The CPU time of a parent that forks is not the child's: counted. */
	j.parent_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID) - j.start_cpu_us;
	if (j.a.daemonize || j.a.new_pid_ns) {
		if (spawn(&j) < 0)
			goto fail;
		forked = true; /* only the child gets here */
		j.parent_cpu_us += clock_us(CLOCK_PROCESS_CPUTIME_ID);
	}
	if (j.a.daemonize &&
	    (setsid() < 0 || dup2(j.null_fd, 0) < 0 || dup2(j.null_fd, 1) < 0 ||
	     dup2(j.null_fd, 2) < 0)) {
		jail_err(errno, "--daemonize: setsid and stdio on /dev/null");
		goto failed_late;
	}
	if (jail_drop_privileges(&j) == 0)
		exec_wisp(&j);
failed_late:
	if (forked)
		_exit(JAIL_EXIT_FAILED); /* the parent undoes the jail */
	if (jail_regain_root() < 0)
		return JAIL_EXIT_FAILED;
fail:
	jail_undo(&j);
	jail_err(0, "jail '%s' not started; what this run created is removed",
	         j.a.id);
	return JAIL_EXIT_FAILED;
}
