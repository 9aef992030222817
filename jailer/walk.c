/*
 * The way to the jail, one directory fd at a time. The base directory
 * may sit in a directory others can write (/tmp): a name there can be
 * replaced by a symlink, or by a directory of someone else's, at any
 * moment. So no path to or below the base is handed to the kernel twice:
 * each component is opened O_PATH|O_NOFOLLOW, what fstat says of that fd
 * decides, and the next step starts from the fd, never from the name.
 */
#include "jailer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINKS 40 /* as the kernel's own path walk */

char *jail_fd_path(char buf[JAIL_FD_PATH], int fd)
{
	snprintf(buf, JAIL_FD_PATH, "/proc/self/fd/%d", fd);
	return buf;
}

/*
 * Whoever may rename an entry of a directory may swap what is below it;
 * in a sticky directory only the entry's owner (or the directory's) may.
 */
static bool writable_by_others(const struct stat *st)
{
	return st->st_uid != 0 ||
	       ((st->st_mode & 022) && !(st->st_mode & S_ISVTX));
}

/* Refuse @st at @path as one line; false when it will do. */
static bool refused(const struct jail *j, const char *path,
                    const struct stat *st, bool roots)
{
	const char *b = j->a.base;

	if (S_ISLNK(st->st_mode))
		jail_err(0,
		         "--chroot-base-dir '%s': %s is a symlink (owner %u): "
		         "the jail is never built through a link",
		         b, path, (unsigned)st->st_uid);
	else if (!S_ISDIR(st->st_mode))
		jail_err(0, "--chroot-base-dir '%s': %s is not a directory", b,
		         path);
	else if (roots && writable_by_others(st))
		jail_err(0,
		         "--chroot-base-dir '%s': %s (owner %u, mode %04o) "
		         "must be root's and writable by nobody else",
		         b, path, (unsigned)st->st_uid,
		         (unsigned)st->st_mode & 07777);
	else
		return false;
	return true;
}

/* Append "/@name" to @out (PATH_MAX); false when it does not fit. */
static bool push_name(char *out, const char *name)
{
	size_t n = strlen(out);

	return snprintf(out + n, PATH_MAX - n, "/%s", name) <
	       (int)(PATH_MAX - n);
}

static void pop_name(char *out)
{
	char *slash = strrchr(out, '/');

	if (slash)
		*slash = 0;
}

/*
 * A root-owned symlink: its target, then what was left of the path, go
 * into @rest in place of both. Returns 0, or an errno.
 */
static int splice_link(int fd, char *rest, size_t size, const char *left)
{
	char target[PATH_MAX], joined[2 * PATH_MAX];
	ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);

	if (n < 0)
		return errno;
	target[n] = 0;
	if (snprintf(joined, sizeof(joined), "%s/%s", target, left) >=
	    (int)size)
		return ENAMETOOLONG;
	memcpy(rest, joined, strlen(joined) + 1);
	return 0;
}

int jail_walk_base(struct jail *j)
{
	const char *given = j->a.base;
	char rest[2 * PATH_MAX], name[NAME_MAX + 1], *p = rest, *out = j->base;
	unsigned links = 0;
	struct stat st;
	int cur, fd, err = 0;

	/* Relative: below the cwd, whose every directory is checked too. */
	if (given[0] == '/')
		snprintf(rest, sizeof(rest), "%s", given);
	else if (!getcwd(rest, PATH_MAX))
		err = errno;
	else if (strlen(rest) + strlen(given) + 2 > sizeof(rest))
		err = ENAMETOOLONG;
	else
		strcat(strcat(rest, "/"), given);
	cur = err ? -1 : open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	out[0] = 0;
	if (cur < 0 || fstat(cur, &st) < 0) {
		jail_err(err ? err : errno, "--chroot-base-dir '%s'", given);
		goto fail;
	}
	if (refused(j, "/", &st, true))
		goto fail;
	for (;;) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (!n)
			break;
		if (n > NAME_MAX) {
			jail_err(ENAMETOOLONG, "--chroot-base-dir '%s'", given);
			goto fail;
		}
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		if (!strcmp(name, "."))
			continue;
		fd = openat(cur, name,
		            O_PATH | O_NOFOLLOW | O_CLOEXEC |
		                    (strcmp(name, "..") ? 0 : O_DIRECTORY));
		if (fd < 0 || fstat(fd, &st) < 0) {
			jail_err(errno, "--chroot-base-dir '%s'", given);
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		if (!strcmp(name, ".."))
			pop_name(out);
		else if (!push_name(out, name)) {
			jail_err(ENAMETOOLONG, "--chroot-base-dir '%s'", given);
			close(fd);
			goto fail;
		}
		if (S_ISLNK(st.st_mode) && st.st_uid == 0) {
			/*
			 * Root's, in a directory that passed: nobody else
			 * could have made it or can replace it.
			 */
			err = ++links > MAX_LINKS
			              ? ELOOP
			              : splice_link(fd, rest, sizeof(rest), p);
			close(fd);
			if (err) {
				jail_err(err, "--chroot-base-dir '%s'", given);
				goto fail;
			}
			p = rest;
			pop_name(out);
			if (rest[0] == '/') {
				out[0] = 0;
				close(cur);
				cur = open("/",
				           O_PATH | O_DIRECTORY | O_CLOEXEC);
				if (cur < 0) {
					jail_err(errno,
					         "--chroot-base-dir '%s'",
					         given);
					goto fail;
				}
			}
			continue;
		}
		close(cur);
		cur = fd;
		if (refused(j, out[0] ? out : "/", &st, true))
			goto fail;
	}
	if (!out[0])
		snprintf(out, PATH_MAX, "/");
	return cur;
fail:
	if (cur >= 0)
		close(cur);
	return -1;
}

int jail_dir_at(const struct jail *j, int dfd, const char *name,
                const char *path, unsigned how, mode_t mode, bool *made)
{
	struct stat st;
	int pfd, fd;

	if (made)
		*made = false;
	if (how & (JAIL_DIR_MAKE | JAIL_DIR_NEW)) {
		if (mkdirat(dfd, name, mode) == 0)
			*made = true;
		else if (errno != EEXIST || (how & JAIL_DIR_NEW)) {
			jail_err(errno, "creating %s", path);
			return -1;
		}
	}
	pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		if (errno == ENOENT && !(how & (JAIL_DIR_MAKE | JAIL_DIR_NEW)))
			return -2;
		jail_err(errno, "opening %s", path);
		return -1;
	}
	if (fstat(pfd, &st) < 0) {
		jail_err(errno, "stat %s", path);
		close(pfd);
		return -1;
	}
	if (refused(j, path, &st, how & JAIL_DIR_ROOTS)) {
		close(pfd);
		return -1;
	}
	/* "." of the fd: the inode just checked, whatever the name is now. */
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(pfd);
	if (fd < 0) {
		jail_err(errno, "opening %s", path);
		return -1;
	}
	if (made && *made && fchmod(fd, mode) < 0) {
		jail_err(errno, "chmod %s", path);
		close(fd);
		return -1;
	}
	return fd;
}
