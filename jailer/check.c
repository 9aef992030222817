/*
 * Checks of the host before anything is built: every refusal here is one
 * line and exit status 2, and nothing has been created yet.
 */
#include "jailer.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

static const struct {
	const char *path;
	bool required;
} dev_table[JAIL_NDEVS] = {
	{ "/dev/kvm", true },
	{ "/dev/net/tun", false },
	{ "/dev/urandom", false },
	{ "/dev/userfaultfd", false },
};

/*
 * A static x86-64 ELF: the jail holds no libraries and no loader, so a
 * dynamic binary would fail at exec with a bare ENOENT. Returns NULL or
 * the reason.
 */
static const char *elf_problem(int fd, char *why, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return "not an ELF file";
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		return "not an x86-64 ELF file";
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return "not an ELF executable";
	if (eh.e_phentsize != sizeof(ph) || eh.e_phnum > 256)
		return "bad ELF program headers";
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		off_t off = (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph));
		char interp[64] = "";

		if (pread(fd, &ph, sizeof(ph), off) != (ssize_t)sizeof(ph))
			return "truncated ELF program headers";
		if (ph.p_type != PT_INTERP)
			continue;
		if (pread(fd, interp, sizeof(interp) - 1, (off_t)ph.p_offset) <
		    0)
			interp[0] = 0;
		snprintf(why, len,
		         "dynamically linked (interpreter %s) and the jail has "
		         "no libraries: use the static build",
		         interp);
		return why;
	}
	return NULL;
}

/*
 * The exec file stays open (O_PATH, not following a link that took the
 * place of the resolved name): building links or copies this inode, not
 * whatever the path names by then.
 */
static int check_exec(struct jail *j)
{
	const char *f = j->a.exec_file, *bad;
	char why[160], p[JAIL_FD_PATH];
	struct stat st;
	int fd;

	if (!realpath(f, j->exec_path)) {
		jail_err(errno, "--exec-file '%s'", f);
		return -1;
	}
	j->exec_fd = open(j->exec_path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (j->exec_fd < 0 || fstat(j->exec_fd, &st) < 0) {
		jail_err(errno, "--exec-file '%s'", f);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		jail_err(0, "--exec-file '%s' is not a regular file", f);
		return -1;
	}
	if (!(st.st_mode & 0111)) {
		jail_err(0, "--exec-file '%s' is not executable (mode %04o)", f,
		         (unsigned)st.st_mode & 07777);
		return -1;
	}
	fd = open(jail_fd_path(p, j->exec_fd), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		jail_err(errno, "--exec-file '%s'", f);
		return -1;
	}
	bad = elf_problem(fd, why, sizeof(why));
	close(fd);
	if (bad) {
		jail_err(0, "--exec-file '%s': %s", f, bad);
		return -1;
	}
	j->exec_name = strrchr(j->exec_path, '/') + 1;
	return 0;
}

/*
 * <base>/<exec>/<id>/root may exist (the caller puts the kernel and the
 * drives there first, as with Firecracker), but not with the jailer's own
 * entries in it: those mean a jail with this id is running, or ended and
 * was not cleaned up. <base>/<exec> and <base>/<exec>/<id> must be root's
 * and writable by nobody else, as every directory above them (walk.c).
 */
static int check_base(struct jail *j)
{
	const char *b = j->a.base, *deepest_path = j->base;
	const char *mine[] = { j->exec_name, "dev", "sys" };
	int fd[3] = { -1, -1, -1 }, deepest, ret = -1;
	struct statvfs vfs;
	struct stat st;

	j->base_fd = jail_walk_base(j);
	if (j->base_fd < 0)
		return -1;
	if (snprintf(j->exec_dir, sizeof(j->exec_dir), "%s/%s", j->base,
	             j->exec_name) >= (int)sizeof(j->exec_dir) ||
	    snprintf(j->id_dir, sizeof(j->id_dir), "%s/%s", j->exec_dir,
	             j->a.id) >= (int)sizeof(j->id_dir) ||
	    snprintf(j->root, sizeof(j->root), "%s/root", j->id_dir) >=
	            (int)sizeof(j->root) - 64) {
		jail_err(0, "--chroot-base-dir '%s': the jail path is too long",
		         b);
		return -1;
	}
	const char *name[] = { j->exec_name, j->a.id, "root" };
	const char *path[] = { j->exec_dir, j->id_dir, j->root };
	deepest = j->base_fd;
	for (size_t i = 0; i < 3; i++) {
		fd[i] = jail_dir_at(j, deepest, name[i], path[i],
		                    i < 2 ? JAIL_DIR_ROOTS : 0, 0, NULL);
		if (fd[i] == -1)
			goto out;
		if (fd[i] < 0)
			break;
		deepest = fd[i];
		deepest_path = path[i];
	}
	for (size_t i = 0; fd[2] >= 0 && i < sizeof(mine) / sizeof(mine[0]);
	     i++) {
		if (fstatat(fd[2], mine[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			jail_err(0,
			         "--id '%s': %s/%s already exists: a jail with "
			         "this id is running or was not cleaned up",
			         j->a.id, j->root, mine[i]);
			goto out;
		}
		if (errno != ENOENT) {
			jail_err(errno, "--id '%s': %s/%s", j->a.id, j->root,
			         mine[i]);
			goto out;
		}
	}
	if (fstatvfs(deepest, &vfs) < 0) {
		jail_err(errno, "--chroot-base-dir '%s': statvfs %s", b,
		         deepest_path);
		goto out;
	}
	if (vfs.f_flag & (ST_NODEV | ST_NOEXEC | ST_RDONLY)) {
		jail_err(
		        0,
		        "--chroot-base-dir '%s': %s is on a %s mount: the jail "
		        "needs device nodes, exec and writes",
		        b, deepest_path,
		        vfs.f_flag & ST_RDONLY  ? "read-only"
		        : vfs.f_flag & ST_NODEV ? "nodev"
		                                : "noexec");
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < 3; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return ret;
}

static int check_devs(struct jail *j)
{
	for (unsigned i = 0; i < JAIL_NDEVS; i++) {
		struct jail_dev *d = &j->dev[i];
		struct stat st;
		int err = stat(dev_table[i].path, &st) < 0 ? errno
		          : S_ISCHR(st.st_mode)            ? 0
		                                           : ENODEV;

		d->path = dev_table[i].path;
		d->required = dev_table[i].required;
		if (!err) {
			d->present = true;
			d->rdev = st.st_rdev;
		} else if (d->required) {
			jail_err(err, "host %s (wisp needs it in the jail)",
			         d->path);
			return -1;
		}
	}
	return 0;
}

static int check_netns(struct jail *j)
{
	const char *p = j->a.netns;
	struct statfs fs;
	int fd, type;

	if (!p)
		return 0;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		jail_err(errno, "--netns '%s'", p);
		return -1;
	}
	type = fstatfs(fd, &fs) == 0 && fs.f_type == NSFS_MAGIC
	               ? ioctl(fd, NS_GET_NSTYPE)
	               : -1;
	close(fd);
	if (type != CLONE_NEWNET) {
		jail_err(0,
		         "--netns '%s' is not a network namespace (e.g. "
		         "/var/run/netns/NAME)",
		         p);
		return -1;
	}
	return 0;
}

int jail_check(struct jail *j)
{
	if (check_exec(j) < 0 || check_base(j) < 0 || check_devs(j) < 0 ||
	    check_netns(j) < 0)
		return -1;
	j->host_pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	return jail_cgroup_plan(j);
}
