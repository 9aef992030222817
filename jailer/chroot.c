/*
 * The jail's file system: <base>/<exec name>/<id>/root with the wisp
 * binary, run/ and dev/, entered through a private mount namespace and
 * pivot_root so that the host's tree is not reachable from inside at all
 * (a chroot alone leaves it one fchdir away).
 *
 * Everything before pivot_root goes through directory fds opened with
 * O_NOFOLLOW, so a symlink left in a reused jail cannot send a root-owned
 * write elsewhere; after it, paths resolve inside the jail.
 */
#include "jailer.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* mkdirat + open without following a symlink; *made: this call created it. */
static int mkdir_open(int dfd, const char *name, mode_t mode, const char *path,
                      bool *made)
{
	int fd;

	if (mkdirat(dfd, name, mode) == 0)
		*made = true;
	else if (errno != EEXIST) {
		jail_err(errno, "creating %s", path);
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		jail_err(errno, "opening %s", path);
		return -1;
	}
	if (*made && fchmod(fd, mode) < 0) { /* whatever the umask */
		jail_err(errno, "chmod %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int copy_exec(struct jail *j, const struct stat *st)
{
	int src, dst = -1, ret = -1;
	off_t off = 0;

	src = open(j->exec_path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		jail_err(errno, "opening %s to copy it", j->exec_path);
		return -1;
	}
	dst = openat(j->root_fd, j->exec_name,
	             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	             0700);
	if (dst < 0) {
		jail_err(errno, "creating %s/%s", j->root, j->exec_name);
		goto out;
	}
	j->made_exec = true;
	while (off < st->st_size) {
		ssize_t n =
		        sendfile(dst, src, &off, (size_t)(st->st_size - off));

		if (n <= 0) {
			jail_err(n < 0 ? errno : EIO, "copying %s into %s",
			         j->exec_path, j->root);
			goto out;
		}
	}
	/* Never a set-id bit: the copy is root's. */
	if (fchmod(dst, st->st_mode & 0777) < 0) {
		jail_err(errno, "chmod %s/%s", j->root, j->exec_name);
		goto out;
	}
	ret = 0;
out:
	if (dst >= 0)
		close(dst);
	close(src);
	return ret;
}

/*
 * A hard link is the same inode as the host's binary, so it is used only
 * when that inode is root's and nobody else may write it; otherwise, and
 * across file systems, a root-owned copy.
 */
static int place_exec(struct jail *j)
{
	struct stat st;

	if (stat(j->exec_path, &st) < 0) {
		jail_err(errno, "stat %s", j->exec_path);
		return -1;
	}
	if (st.st_uid == 0 && !(st.st_mode & 022)) {
		if (linkat(AT_FDCWD, j->exec_path, j->root_fd, j->exec_name,
		           0) == 0) {
			j->made_exec = true;
			return 0;
		}
		if (errno != EXDEV && errno != EPERM) {
			jail_err(errno, "hard-linking %s into %s", j->exec_path,
			         j->root);
			return -1;
		}
	}
	return copy_exec(j, &st);
}

int jail_dir_build(struct jail *j)
{
	int base_fd;

	base_fd = open(j->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base_fd < 0) {
		jail_err(errno, "opening %s", j->base);
		return -1;
	}
	j->exec_dir_fd = mkdir_open(base_fd, j->exec_name, 0755, j->exec_dir,
	                            &j->made_exec_dir);
	close(base_fd);
	if (j->exec_dir_fd < 0)
		return -1;
	j->id_fd = mkdir_open(j->exec_dir_fd, j->a.id, 0755, j->id_dir,
	                      &j->made_id_dir);
	if (j->id_fd < 0)
		return -1;
	j->root_fd = mkdir_open(j->id_fd, "root", 0700, j->root, &j->made_root);
	if (j->root_fd < 0)
		return -1;
	if (!j->made_root) {
		if (fstat(j->root_fd, &j->root_was) < 0) {
			jail_err(errno, "stat %s", j->root);
			return -1;
		}
		j->root_chowned = true;
	}
	/* wisp creates its sockets in its root (and in run/). */
	if (fchown(j->root_fd, j->a.uid, j->a.gid) < 0 ||
	    fchmod(j->root_fd, 0700) < 0) {
		jail_err(errno, "chown %u:%u %s", j->a.uid, j->a.gid, j->root);
		return -1;
	}
	if (place_exec(j) < 0)
		return -1;
	if (mkdirat(j->root_fd, "run", 0700) == 0) {
		j->made_run = true;
		if (fchownat(j->root_fd, "run", j->a.uid, j->a.gid,
		             AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(j->root_fd, "run", 0700, 0) < 0) {
			jail_err(errno, "chown %s/run", j->root);
			return -1;
		}
	} else if (errno != EEXIST) {
		jail_err(errno, "creating %s/run", j->root);
		return -1;
	}
	return 0;
}

int jail_enter(struct jail *j)
{
	j->host_mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (j->host_mnt_fd < 0) {
		jail_err(errno, "opening /proc/self/ns/mnt");
		return -1;
	}
	if (unshare(CLONE_NEWNS) < 0) {
		jail_err(errno, "unshare(CLONE_NEWNS)");
		return -1;
	}
	j->unshared = true;
	/* Nothing done here may reach the host's mounts, and back. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		jail_err(errno, "making every mount private");
		return -1;
	}
	/* pivot_root needs a mount point; MS_REC keeps the caller's binds. */
	if (mount(j->root, j->root, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount(NULL, j->root, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID, NULL) <
	            0) {
		jail_err(errno, "bind-mounting %s on itself", j->root);
		return -1;
	}
	/* By path: root_fd is the directory under the new mount. */
	if (chdir(j->root) < 0) {
		jail_err(errno, "chdir %s", j->root);
		return -1;
	}
	/* The old root ends up stacked on ".", where it is detached. */
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		jail_err(errno, "pivot_root into %s", j->root);
		return -1;
	}
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		jail_err(errno, "detaching the old root");
		return -1;
	}
	return 0;
}

static int make_dir(const char *path, mode_t mode, bool *made)
{
	if (mkdir(path, mode) < 0) {
		jail_err(errno, "creating %s in the jail", path);
		return -1;
	}
	*made = true;
	if (chmod(path, mode) < 0) { /* whatever the umask */
		jail_err(errno, "chmod %s in the jail", path);
		return -1;
	}
	return 0;
}

int jail_make_nodes(struct jail *j)
{
	bool made;

	if (make_dir("/dev", 0755, &j->made_devdir) < 0)
		return -1;
	for (unsigned i = 0; i < JAIL_NDEVS; i++) {
		struct jail_dev *d = &j->dev[i];

		if (!d->present)
			continue;
		if (!strncmp(d->path, "/dev/net/", 9) && !j->made_netdir &&
		    make_dir("/dev/net", 0755, &j->made_netdir) < 0)
			return -1;
		if (mknod(d->path, S_IFCHR | 0600, d->rdev) < 0) {
			jail_err(errno, "mknod %s (%u:%u) in the jail", d->path,
			         major(d->rdev), minor(d->rdev));
			return -1;
		}
		d->made = true;
		if (chown(d->path, j->a.uid, j->a.gid) < 0 ||
		    chmod(d->path, 0600) < 0) {
			jail_err(errno, "chown %s in the jail", d->path);
			return -1;
		}
	}
	/*
	 * wisp applies the kvm-pvm host quirks when this directory exists
	 * (vmm/vm.c); the jail has no sysfs, so it gets the one fact.
	 */
	if (j->host_pvm && (make_dir("/sys", 0555, &j->made_sys) < 0 ||
	                    make_dir("/sys/module", 0555, &made) < 0 ||
	                    make_dir("/sys/module/kvm_pvm", 0555, &made) < 0))
		return -1;
	return 0;
}

static void undo_at(int dfd, const char *name, int flags, const struct jail *j)
{
	if (unlinkat(dfd, name, flags) < 0 && errno != ENOENT)
		jail_err(errno, "undo: removing %s/%s", j->root, name);
}

void jail_dir_undo(struct jail *j)
{
	char pidfile[NAME_MAX + 8];

	if (j->root_fd >= 0) {
		snprintf(pidfile, sizeof(pidfile), "%s.pid", j->exec_name);
		if (j->made_pidfile)
			undo_at(j->root_fd, pidfile, 0, j);
		if (j->made_sys) {
			undo_at(j->root_fd, "sys/module/kvm_pvm", AT_REMOVEDIR,
			        j);
			undo_at(j->root_fd, "sys/module", AT_REMOVEDIR, j);
			undo_at(j->root_fd, "sys", AT_REMOVEDIR, j);
		}
		for (unsigned i = JAIL_NDEVS; i-- > 0;)
			if (j->dev[i].made)
				undo_at(j->root_fd, j->dev[i].path + 1, 0, j);
		if (j->made_netdir)
			undo_at(j->root_fd, "dev/net", AT_REMOVEDIR, j);
		if (j->made_devdir)
			undo_at(j->root_fd, "dev", AT_REMOVEDIR, j);
		if (j->made_run)
			undo_at(j->root_fd, "run", AT_REMOVEDIR, j);
		if (j->made_exec)
			undo_at(j->root_fd, j->exec_name, 0, j);
		if (j->root_chowned &&
		    (fchown(j->root_fd, j->root_was.st_uid,
		            j->root_was.st_gid) < 0 ||
		     fchmod(j->root_fd, j->root_was.st_mode & 07777) < 0))
			jail_err(errno, "undo: chown %s back", j->root);
		close(j->root_fd);
		j->root_fd = -1;
	}
	if (j->made_root && unlinkat(j->id_fd, "root", AT_REMOVEDIR) < 0)
		jail_err(errno, "undo: removing %s", j->root);
	if (j->made_id_dir &&
	    unlinkat(j->exec_dir_fd, j->a.id, AT_REMOVEDIR) < 0)
		jail_err(errno, "undo: removing %s", j->id_dir);
	/* Shared by every jail of this binary: another may be using it. */
	if (j->made_exec_dir && rmdir(j->exec_dir) < 0 && errno != ENOTEMPTY &&
	    errno != EEXIST)
		jail_err(errno, "undo: removing %s", j->exec_dir);
	j->made_root = j->made_id_dir = j->made_exec_dir = false;
}
