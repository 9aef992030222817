/*
 * What the jailed process inherits: fds, rlimits, the network namespace,
 * and its credentials. The drop leaves wisp with uid:gid everywhere
 * (real, effective, saved, fs), no supplementary groups, every
 * capability set empty and no_new_privs.
 */
#include "jailer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

void jail_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			open("/dev/null", O_RDWR); /* the lowest free: fd */
}

int jail_close_fds(void)
{
	DIR *d;
	struct dirent *e;

	if (close_range(3, ~0U, 0) == 0)
		return 0;
	/* Kernels before 5.9: what /proc/self/fd lists. */
	d = opendir("/proc/self/fd");
	if (!d) {
		jail_err(errno, "closing inherited fds: /proc/self/fd");
		return -1;
	}
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
	return 0;
}

static int set_limit(int res, rlim_t v, const char *name)
{
	struct rlimit r = { .rlim_cur = v, .rlim_max = v };

	if (setrlimit(res, &r) < 0) {
		jail_err(errno, "--resource-limit %s=%llu: setrlimit", name,
		         (unsigned long long)v);
		return -1;
	}
	return 0;
}

int jail_set_rlimits(const struct jail *j)
{
	if (set_limit(RLIMIT_NOFILE,
	              j->a.nofile_set ? j->a.nofile : JAIL_DEFAULT_NOFILE,
	              "no-file") < 0)
		return -1;
	if (j->a.fsize_set && set_limit(RLIMIT_FSIZE, j->a.fsize, "fsize") < 0)
		return -1;
	return 0;
}

int jail_join_netns(struct jail *j)
{
	if (j->netns_fd < 0)
		return 0;
	if (setns(j->netns_fd, CLONE_NEWNET) < 0) {
		jail_err(errno, "--netns '%s': setns", j->a.netns);
		return -1;
	}
	close(j->netns_fd);
	j->netns_fd = -1;
	return 0;
}

int jail_drop_privileges(const struct jail *j)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
		                                0 };
	struct __user_cap_data_struct data[2];
	uid_t u = j->a.uid;
	gid_t g = j->a.gid;
	int cap;

	if (setgroups(0, NULL) < 0 || setresgid(g, g, g) < 0) {
		jail_err(errno, "dropping to gid %u", g);
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) {
		jail_err(errno, "clearing the ambient capabilities");
		return -1;
	}
	/* The bounding set bounds what any later exec can gain. */
	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			jail_err(errno,
			         "dropping capability %d from the bounding "
			         "set",
			         cap);
			return -1;
		}
	}
	if (syscall(SYS_capget, &hdr, data) < 0) {
		jail_err(errno, "capget");
		return -1;
	}
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0) {
		jail_err(errno, "clearing the inheritable capabilities");
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		jail_err(errno, "PR_SET_NO_NEW_PRIVS");
		return -1;
	}
	/*
	 * Saved uid 0 keeps the permitted set (capabilities(7)) until exec
	 * sets saved := effective and, with ruid and euid not 0 and every
	 * other set empty, permitted := empty.
	 */
	if (setresuid(u, u, 0) < 0) {
		jail_err(errno, "dropping to uid %u", u);
		return -1;
	}
	return 0;
}

int jail_regain_root(void)
{
	if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0) {
		jail_err(errno, "undo: becoming root again");
		return -1;
	}
	return 0;
}
