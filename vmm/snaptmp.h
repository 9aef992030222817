/*
 * Writing a snapshot file by rename, shared by the state file
 * (snapfile.c) and the memory files (snapmem.c): the data goes to
 * "<path>.tmp.<pid>" in the same directory, which is fsynced, renamed
 * over <path>, and the directory fsynced, so <path> is at every moment
 * either the old file or the complete new one.
 */
#ifndef WISP_SNAPTMP_H
#define WISP_SNAPTMP_H

#include <stddef.h>

/*
 * Create the temporary file of @path (O_EXCL, mode 0600) and put its
 * name in @tmp. A file already at that name is the leftover of a dead
 * process that had our pid (wisp is often pid 1 of a jail's namespace)
 * and is replaced. Returns the fd, or -errno (-ENAMETOOLONG when the
 * name does not fit in @tmplen).
 */
int snap_tmp_open(const char *path, char *tmp, size_t tmplen);

/*
 * Finish the file @fd open on @tmp: fsync, close, rename over @path,
 * fsync the directory. Returns 0, or -1 with "<what> '<path>': cannot
 * <step> '<file>': <errno text>" in @err; failing before the rename
 * removes @tmp and leaves @path untouched, and only a failed directory
 * fsync leaves the new file in place (the message says so). @fd is
 * closed either way.
 */
int snap_tmp_commit(int fd, const char *tmp, const char *path, const char *what,
                    char *err, size_t errlen);

/*
 * The two halves of snap_tmp_commit(), for a pair of files that go into
 * place one right after the other once both are written: finish (fsync,
 * close; on failure @tmp is removed), then place (rename, fsync the
 * directory). Same messages.
 */
int snap_tmp_finish(int fd, const char *tmp, const char *path, const char *what,
                    char *err, size_t errlen);
int snap_tmp_place(const char *tmp, const char *path, const char *what,
                   char *err, size_t errlen);

#endif
