/*
 * The jail's file system: <base>/<exec name>/<id>/root with the wisp
 * binary, run/ and dev/, entered through a private mount namespace and
 * pivot_root so that the host's tree is not reachable from inside at all
 * (a chroot alone leaves it one fchdir away).
 *
 * Everything is built before pivot_root, below the base directory fd
 * that jail_check() opened, one directory checked by jail_dir_at() at a
 * time (walk.c). What the kernel only takes as a path (a bind mount, a
 * hard link, chmod of a device node) gets the fd's own path,
 * /proc/self/fd/N, which names that inode whatever happens to the names
 * on the way to it. The root stays root's, mode 0700, until it is built:
 * a root the caller gave to the jail's uid cannot be filled with links
 * behind the jailer's back.
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

int jail_made_add(struct jail *j, int dfd, int fd, const char *name,
                  const char *path, bool dir)
{
	if (j->n_made == JAIL_MAX_MADE) {
		jail_err(0, "creating %s: more entries than the jailer records",
		         path);
		return -1;
	}
	j->made[j->n_made++] = (struct jail_made){
		.dfd = dfd,
		.fd = fd,
		.name = name,
		.path = path,
		.in_root = dfd != j->base_fd && dfd != j->exec_dir_fd &&
		           dfd != j->id_fd,
		.dir = dir,
		.shared = dfd == j->base_fd,
	};
	return 0;
}

/*
 * The directory @rel below the root, @name in @dfd: recorded with its fd
 * when this call made it (*@made), else the caller's to close.
 */
static int root_dir(struct jail *j, int dfd, const char *name, const char *rel,
                    unsigned how, mode_t mode, bool *made)
{
	char path[PATH_MAX + 64];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", j->root, rel);
	fd = jail_dir_at(j, dfd, name, path, how, mode, made);
	if (*made && jail_made_add(j, dfd, fd, name, rel, true) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int copy_exec(struct jail *j, const struct stat *st)
{
	char p[JAIL_FD_PATH];
	int src, dst = -1, ret = -1;
	off_t off = 0;

	src = open(jail_fd_path(p, j->exec_fd), O_RDONLY | O_CLOEXEC);
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
	if (jail_made_add(j, j->root_fd, -1, j->exec_name, j->exec_name,
	                  false) < 0)
		goto out;
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
 * The exec file checked, through its fd. A hard link is the same inode
 * as the host's binary, so it is used only when that inode is root's and
 * nobody else may write it; otherwise, and across file systems, a
 * root-owned copy.
 */
static int place_exec(struct jail *j)
{
	char p[JAIL_FD_PATH];
	struct stat st;

	if (fstat(j->exec_fd, &st) < 0) {
		jail_err(errno, "stat %s", j->exec_path);
		return -1;
	}
	if (st.st_uid == 0 && !(st.st_mode & 022)) {
		if (linkat(AT_FDCWD, jail_fd_path(p, j->exec_fd), j->root_fd,
		           j->exec_name, AT_SYMLINK_FOLLOW) == 0)
			return jail_made_add(j, j->root_fd, -1, j->exec_name,
			                     j->exec_name, false);
		if (errno != EXDEV && errno != EPERM) {
			jail_err(errno, "hard-linking %s into %s", j->exec_path,
			         j->root);
			return -1;
		}
	}
	return copy_exec(j, &st);
}

/* run/: wisp's sockets; the caller's own run/ is left as it is. */
static int make_run(struct jail *j)
{
	bool made;
	int fd = root_dir(j, j->root_fd, "run", "run", JAIL_DIR_MAKE, 0700,
	                  &made);

	if (fd < 0)
		return -1;
	if (!made) {
		close(fd);
		return 0;
	}
	if (fchown(fd, j->a.uid, j->a.gid) < 0) {
		jail_err(errno, "chown %s/run", j->root);
		return -1;
	}
	return 0;
}

/* A copy of the host's node @d, in @dfd: uid:gid's, 0600. */
static int make_node(struct jail *j, int dfd, const struct jail_dev *d)
{
	const char *leaf = strrchr(d->path, '/') + 1;
	char p[JAIL_FD_PATH];
	struct stat st;
	int fd, ret = -1;

	if (mknodat(dfd, leaf, S_IFCHR | 0600, d->rdev) < 0) {
		jail_err(errno, "mknod %s%s (%u:%u)", j->root, d->path,
		         major(d->rdev), minor(d->rdev));
		return -1;
	}
	if (jail_made_add(j, dfd, -1, leaf, d->path + 1, false) < 0)
		return -1;
	/* chown and chmod the node made, not whatever has its name now. */
	fd = openat(dfd, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		jail_err(errno, "opening %s%s", j->root, d->path);
		goto out;
	}
	if (!S_ISCHR(st.st_mode) || st.st_rdev != d->rdev) {
		jail_err(0, "%s%s is not the node just made", j->root, d->path);
		goto out;
	}
	if (fchownat(fd, "", j->a.uid, j->a.gid, AT_EMPTY_PATH) < 0 ||
	    chmod(jail_fd_path(p, fd), 0600) < 0) {
		jail_err(errno, "chown %s%s", j->root, d->path);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* dev/ and its nodes (those the host has); dev/ itself is root's. */
static int make_nodes(struct jail *j)
{
	int dev, net = -1;
	bool made;

	dev = root_dir(j, j->root_fd, "dev", "dev", JAIL_DIR_NEW, 0755, &made);
	if (dev < 0)
		return -1;
	for (unsigned i = 0; i < JAIL_NDEVS; i++) {
		const struct jail_dev *d = &j->dev[i];
		bool in_net = !strncmp(d->path, "/dev/net/", 9);

		if (!d->present)
			continue;
		if (in_net && net < 0 &&
		    (net = root_dir(j, dev, "net", "dev/net", JAIL_DIR_NEW,
		                    0755, &made)) < 0)
			return -1;
		if (make_node(j, in_net ? net : dev, d) < 0)
			return -1;
	}
	return 0;
}

/*
 * wisp applies the kvm-pvm host quirks when /sys/module/kvm_pvm exists
 * (vmm/vm.c); the jail has no sysfs, so it gets the one fact.
 */
static int make_pvm(struct jail *j)
{
	int sys, mod;
	bool made;

	if (!j->host_pvm)
		return 0;
	sys = root_dir(j, j->root_fd, "sys", "sys", JAIL_DIR_NEW, 0555, &made);
	mod = sys < 0 ? -1
	              : root_dir(j, sys, "module", "sys/module", JAIL_DIR_NEW,
	                         0555, &made);
	if (mod < 0 || root_dir(j, mod, "kvm_pvm", "sys/module/kvm_pvm",
	                        JAIL_DIR_NEW, 0555, &made) < 0)
		return -1;
	return 0;
}

int jail_dir_build(struct jail *j)
{
	bool made;

	j->exec_dir_fd =
	        jail_dir_at(j, j->base_fd, j->exec_name, j->exec_dir,
	                    JAIL_DIR_ROOTS | JAIL_DIR_MAKE, 0755, &made);
	if (made && jail_made_add(j, j->base_fd, -1, j->exec_name, j->exec_dir,
	                          true) < 0)
		return -1;
	if (j->exec_dir_fd < 0)
		return -1;
	j->id_fd = jail_dir_at(j, j->exec_dir_fd, j->a.id, j->id_dir,
	                       JAIL_DIR_ROOTS | JAIL_DIR_MAKE, 0755, &made);
	if (made &&
	    jail_made_add(j, j->exec_dir_fd, -1, j->a.id, j->id_dir, true) < 0)
		return -1;
	if (j->id_fd < 0)
		return -1;
	/* The caller's root may be anyone's: the id directory is root's. */
	j->root_fd = jail_dir_at(j, j->id_fd, "root", j->root, JAIL_DIR_MAKE,
	                         0700, &made);
	if (made && jail_made_add(j, j->id_fd, -1, "root", j->root, true) < 0)
		return -1;
	if (j->root_fd < 0)
		return -1;
	if (!made) {
		if (fstat(j->root_fd, &j->root_was) < 0) {
			jail_err(errno, "stat %s", j->root);
			return -1;
		}
		j->root_chowned = true;
	}
	if (fchown(j->root_fd, 0, 0) < 0 || fchmod(j->root_fd, 0700) < 0) {
		jail_err(errno, "chown 0:0 %s while it is built", j->root);
		return -1;
	}
	if (place_exec(j) < 0 || make_run(j) < 0 || make_nodes(j) < 0 ||
	    make_pvm(j) < 0)
		return -1;
	/* wisp creates its sockets in its root (and in run/). */
	if (fchown(j->root_fd, j->a.uid, j->a.gid) < 0) {
		jail_err(errno, "chown %u:%u %s", j->a.uid, j->a.gid, j->root);
		return -1;
	}
	return 0;
}

/*
 * The bind mount goes by fd alone. The cwd is the one path that follows
 * a process into its new mount namespace (unshare moves it to the copy
 * of its mount), so the jail root is the cwd across unshare; its clone,
 * attached on it, is entered through the clone's own fd (a
 * /proc/self/fd link of the directory underneath would not lead into
 * the mount on top of it).
 */
int jail_enter(struct jail *j)
{
	char p[JAIL_FD_PATH];
	int top = -1;

	j->host_mnt_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (j->host_mnt_fd < 0) {
		jail_err(errno, "opening /proc/self/ns/mnt");
		return -1;
	}
	if (fchdir(j->root_fd) < 0) {
		jail_err(errno, "chdir %s", j->root);
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
	/* pivot_root needs a mount point; recursive keeps the caller's binds.
	 */
	top = open_tree(AT_FDCWD, ".",
	                OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC);
	if (top < 0 ||
	    move_mount(top, "", AT_FDCWD, ".", MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		jail_err(errno, "bind-mounting %s on itself", j->root);
		goto fail;
	}
	if (mount(NULL, jail_fd_path(p, top), NULL,
	          MS_REMOUNT | MS_BIND | MS_NOSUID, NULL) < 0) {
		jail_err(errno, "remounting %s nosuid", j->root);
		goto fail;
	}
	if (fchdir(top) < 0) {
		jail_err(errno, "chdir %s", j->root);
		goto fail;
	}
	close(top);
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
fail:
	if (top >= 0)
		close(top);
	return -1;
}

static void undo_one(struct jail *j, const struct jail_made *m)
{
	if (unlinkat(m->dfd, m->name, m->dir ? AT_REMOVEDIR : 0) < 0 &&
	    errno != ENOENT &&
	    /* Shared by every jail of this binary: another may be using it. */
	    !(m->shared && (errno == ENOTEMPTY || errno == EEXIST)))
		jail_err(errno, "undo: removing %s%s%s",
		         m->in_root ? j->root : "", m->in_root ? "/" : "",
		         m->path);
	if (m->fd >= 0)
		close(m->fd);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void jail_dir_undo(struct jail *j)
{
	while (j->n_made && j->made[j->n_made - 1].in_root)
		undo_one(j, &j->made[--j->n_made]);
	if (j->root_chowned &&
	    (fchown(j->root_fd, j->root_was.st_uid, j->root_was.st_gid) < 0 ||
	     fchmod(j->root_fd, j->root_was.st_mode & 07777) < 0))
		jail_err(errno, "undo: chown %s back", j->root);
	j->root_chowned = false;
	while (j->n_made)
		undo_one(j, &j->made[--j->n_made]);
	close_fd(&j->root_fd);
	close_fd(&j->id_fd);
	close_fd(&j->exec_dir_fd);
}
