/* Files written by rename (snaptmp.h). */
#include "snaptmp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int snap_tmp_open(const char *path, char *tmp, size_t tmplen)
{
	int n = snprintf(tmp, tmplen, "%s.tmp.%d", path, (int)getpid());
	int fd;

	if (n < 0 || (size_t)n >= tmplen)
		return -ENAMETOOLONG;
	/* O_EXCL: never write through a link someone planted at the name. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

/* fsync the directory holding @path, so the rename itself is durable. */
static int sync_dir(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, dirlen, ".");
	else if (slash == path)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int snap_tmp_finish(int fd, const char *tmp, const char *path, const char *what,
                    char *err, size_t errlen)
{
	const char *step = NULL;
	int e = 0;

	if (fsync(fd) < 0) {
		e = errno;
		step = "fsync";
	}
	/* Some file systems (NFS) report write-back errors only here. */
	if (close(fd) < 0 && !step) {
		e = errno;
		step = "close";
	}
	if (step) {
		snprintf(err, errlen, "%s '%s': cannot %s '%s': %s", what, path,
		         step, tmp, strerror(e));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int snap_tmp_place(const char *tmp, const char *path, const char *what,
                   char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int rc;

	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s '%s': cannot rename '%s' over it: %s",
		         what, path, tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	rc = sync_dir(path, dir, sizeof(dir));
	if (rc < 0) {
		snprintf(
		        err, errlen,
		        "%s '%s' written, but cannot fsync its directory '%s': "
		        "%s",
		        what, path, dir, strerror(-rc));
		return -1;
	}
	return 0;
}

int snap_tmp_commit(int fd, const char *tmp, const char *path, const char *what,
                    char *err, size_t errlen)
{
	if (snap_tmp_finish(fd, tmp, path, what, err, errlen) < 0)
		return -1;
	return snap_tmp_place(tmp, path, what, err, errlen);
}
