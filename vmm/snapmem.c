/*
 * Guest memory files (snapmem.h): runs of consecutive pages go out in
 * one pwrite each, zero pages of a full snapshot and clean pages of a
 * diff stay holes, and a merge copies a diff's data extents in the
 * kernel (copy_file_range) where it can.
 */
#include "snapmem.h"
#include "snaptmp.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Linux moves at most 0x7ffff000 bytes a call; stay well below. */
#define MEM_IO_MAX (1ULL << 30)
#define MERGE_BUF  (1 << 20)

/*
 * 64 bytes a step with one branch: the scan runs at memory speed (1 GiB
 * of zeros in 0.3 s here, as long as a memset of it takes), a page with
 * data usually stops at its first word, and the pwrites dominate.
 */
static bool page_is_zero(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += 64) {
		uint64_t w[8];

		memcpy(w, p + i, sizeof(w));
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return false;
	}
	return true;
}

/* The first page at or after @i whose dirty bit is @set, or @n. */
static uint64_t next_bit(const uint64_t *map, uint64_t i, uint64_t n, bool set)
{
	while (i < n) {
		uint64_t w = set ? map[i / 64] : ~map[i / 64];

		w >>= i % 64;
		if (w)
			return MIN(i + (uint64_t)__builtin_ctzll(w), n);
		i = ALIGN_DOWN(i, 64) + 64;
	}
	return n;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, MIN(len, MEM_IO_MAX), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* The next run [*start, *end) of pages to write, false when none is left. */
static bool next_run(const uint8_t *mem, uint64_t npages, uint64_t ps,
                     const uint64_t *dirty, uint64_t *start, uint64_t *end)
{
	uint64_t i = *end;

	if (dirty) {
		i = next_bit(dirty, i, npages, true);
		*start = i;
		*end = next_bit(dirty, i, npages, false);
		return i < npages;
	}
	while (i < npages && page_is_zero(mem + i * ps, ps))
		i++;
	*start = i;
	while (i < npages && !page_is_zero(mem + i * ps, ps))
		i++;
	*end = i;
	return *start < npages;
}

/*
 * A diff is sound only if every data extent the file system reports
 * covers dirty pages alone; otherwise a merge would copy clean pages'
 * zeros over the base. Returns 0, -errno, or 1 with the offending page.
 */
static int check_extents(int fd, uint64_t size, const uint64_t *dirty,
                         uint64_t ps, uint64_t *bad)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;
		uint64_t first, end, clean;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		first = (uint64_t)data / ps;
		end = MIN(ALIGN_UP((uint64_t)hole, ps), size) / ps;
		clean = next_bit(dirty, first, end, false);
		if (clean < end) {
			*bad = clean;
			return 1;
		}
		off = hole;
	}
	return 0;
}

int snap_mem_tag_get(int fd, struct snap_mem_tag *tag)
{
	ssize_t n = fgetxattr(fd, SNAP_MEM_XATTR, tag, sizeof(*tag));

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? 0 : -errno;
	if (n != sizeof(*tag))
		return -EINVAL;
	return 1;
}

/* Tag the file, or untag it (@tag NULL); no xattrs there is no error. */
static int tag_set(int fd, const struct snap_mem_tag *tag)
{
	int rc = tag ? fsetxattr(fd, SNAP_MEM_XATTR, tag, sizeof(*tag), 0)
	             : fremovexattr(fd, SNAP_MEM_XATTR);

	if (rc < 0 && errno != ENOTSUP && (tag || errno != ENODATA))
		return -errno;
	return 0;
}

int snap_mem_write(const char *path, const uint8_t *mem, uint64_t size,
                   const uint64_t *dirty, uint64_t page_size,
                   const struct snap_mem_tag *tag, char *err, size_t errlen)
{
	char tmp[PATH_MAX];

	if (snap_mem_write_tmp(path, mem, size, dirty, page_size, tag, tmp,
	                       sizeof(tmp), err, errlen) < 0)
		return -1;
	return snap_tmp_place(tmp, path, "memory file", err, errlen);
}

int snap_mem_write_tmp(const char *path, const uint8_t *mem, uint64_t size,
                       const uint64_t *dirty, uint64_t page_size,
                       const struct snap_mem_tag *tag, char *tmp, size_t tmplen,
                       char *err, size_t errlen)
{
	uint64_t npages, start = 0, end = 0, bad = 0;
	const char *step = "write";
	int fd, rc = 0;

	if (page_size < 4096 || (page_size & (page_size - 1)) || !size ||
	    size % page_size || size > (uint64_t)INT64_MAX) {
		snprintf(err, errlen,
		         "memory file '%s': %llu bytes are not whole pages of "
		         "%llu (a power of two, 4096 at least)",
		         path, (unsigned long long)size,
		         (unsigned long long)page_size);
		return -1;
	}
	npages = size / page_size;
	fd = snap_tmp_open(path, tmp, tmplen);
	if (fd < 0) {
		snprintf(err, errlen,
		         "memory file '%s': cannot create '%s': %s", path, tmp,
		         strerror(-fd));
		return -1;
	}
	/* The length first: what is never written stays a hole. */
	if (ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		step = "extend";
	}
	while (!rc && next_run(mem, npages, page_size, dirty, &start, &end))
		rc = pwrite_all(fd, mem + start * page_size,
		                (end - start) * page_size, start * page_size);
	if (!rc && dirty && fsync(fd) < 0) {
		rc = -errno;
		step = "fsync";
	}
	if (!rc && dirty) {
		rc = check_extents(fd, size, dirty, page_size, &bad);
		step = "seek in";
	}
	if (!rc && tag) {
		rc = tag_set(fd, tag);
		step = "tag";
	}
	if (rc) {
		if (rc > 0)
			snprintf(err, errlen,
			         "memory file '%s': the file system does not "
			         "keep "
			         "holes at %llu-byte pages (clean page %llu "
			         "reads "
			         "as data), so a diff there cannot be merged",
			         path, (unsigned long long)page_size,
			         (unsigned long long)bad);
		else
			snprintf(err, errlen,
			         "memory file '%s': cannot %s '%s': %s", path,
			         step, tmp, strerror(-rc));
		close(fd);
		unlink(tmp);
		return -1;
	}
	return snap_tmp_finish(fd, tmp, path, "memory file", err, errlen);
}

/* Copy [@off, @off + @len) of @in to the same offsets of @out. */
static int copy_range(int in, int out, uint64_t off, uint64_t len,
                      uint8_t **buf, const char **what)
{
	while (len) {
		ssize_t n;

		if (!*buf) {
			loff_t i = (loff_t)off, o = (loff_t)off;

			*what = "copy";
			n = copy_file_range(in, &i, out, &o,
			                    MIN(len, MEM_IO_MAX), 0);
			if (n < 0 && errno == EINTR)
				continue;
			/* Not between these files: do it by hand from now on.
			 */
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
			              errno == EOPNOTSUPP || errno == ENOSYS)) {
				*buf = malloc(MERGE_BUF);
				if (!*buf)
					return -ENOMEM;
				continue;
			}
		} else {
			int e;

			*what = "read";
			n = pread(in, *buf, MIN(len, MERGE_BUF), (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			*what = "write";
			e = n > 0 ? pwrite_all(out, *buf, (uint64_t)n, off) : 0;
			if (e < 0)
				return e;
			*what = "read";
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA; /* the diff shrank under us */
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int snap_mem_merge(const char *base, const char *diff, char *err, size_t errlen)
{
	int in = -1, out = -1, rc = -1, e, tagged;
	struct snap_mem_tag tag, merging = { .kind = SNAP_MEM_MERGING };
	const char *what = "read";
	uint8_t *buf = NULL;
	struct stat si, so;
	off_t off = 0, data = 0, hole;

	in = open(diff, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "cannot open diff '%s': %s", diff,
		         strerror(errno));
		goto out;
	}
	out = open(base, O_WRONLY | O_CLOEXEC);
	if (out < 0) {
		snprintf(err, errlen, "cannot open base '%s': %s", base,
		         strerror(errno));
		goto out;
	}
	if (fstat(in, &si) < 0 || fstat(out, &so) < 0) {
		snprintf(err, errlen, "cannot stat '%s' or '%s': %s", diff,
		         base, strerror(errno));
		goto out;
	}
	if (!S_ISREG(si.st_mode) || !S_ISREG(so.st_mode) ||
	    si.st_size != so.st_size ||
	    (si.st_dev == so.st_dev && si.st_ino == so.st_ino)) {
		snprintf(err, errlen,
		         "cannot merge '%s' (%lld bytes) into '%s' (%lld "
		         "bytes): not two memory files of one VM",
		         diff, (long long)si.st_size, base,
		         (long long)so.st_size);
		goto out;
	}
	tagged = snap_mem_tag_get(in, &tag);
	if (tagged < 0) {
		snprintf(err, errlen, "cannot read the tag of diff '%s': %s",
		         diff, strerror(-tagged));
		goto out;
	}
	if (tagged && tag.kind != SNAP_MEM_DIFF) {
		snprintf(err, errlen,
		         "'%s' is not the memory file of a Diff snapshot",
		         diff);
		goto out;
	}
	e = tag_set(out, &merging);
	if (e < 0 || (e = fsync(out) < 0 ? -errno : 0) < 0) {
		snprintf(err, errlen, "cannot tag base '%s': %s", base,
		         strerror(-e));
		goto out;
	}
	while (off < si.st_size) {
		data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only holes from here */
		hole = data < 0 ? -1 : lseek(in, data, SEEK_HOLE);
		if (hole < 0) {
			snprintf(err, errlen, "cannot seek in diff '%s': %s",
			         diff, strerror(errno));
			goto out;
		}
		e = copy_range(in, out, (uint64_t)data, (uint64_t)(hole - data),
		               &buf, &what);
		if (e < 0) {
			snprintf(err, errlen,
			         "cannot %s diff '%s' into base '%s' near "
			         "offset "
			         "0x%llx: %s",
			         what, diff, base, (unsigned long long)data,
			         strerror(-e));
			goto out;
		}
		off = hole;
	}
	if (fsync(out) < 0) {
		snprintf(err, errlen, "cannot fsync base '%s': %s", base,
		         strerror(errno));
		goto out;
	}
	if (tagged)
		tag.kind = SNAP_MEM_FULL;
	e = tag_set(out, tagged ? &tag : NULL);
	if (e < 0 || (e = fsync(out) < 0 ? -errno : 0) < 0) {
		snprintf(err, errlen, "cannot tag base '%s': %s", base,
		         strerror(-e));
		goto out;
	}
	rc = 0;
out:
	free(buf);
	if (out >= 0 && close(out) < 0 && rc == 0) {
		snprintf(err, errlen, "cannot close base '%s': %s", base,
		         strerror(errno));
		rc = -1;
	}
	if (in >= 0)
		close(in);
	return rc;
}
