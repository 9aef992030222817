/*
 * Guest memory files of a snapshot. A memory file is the image of the
 * guest RAM mapping, byte for byte: file offset o holds the byte at
 * host address mem + o. (wisp's RAM is one contiguous host mapping, so
 * the 3 GiB device hole in guest physical addresses is not in the file:
 * the memory past 3 GiB follows at offset 3 GiB.) Ranges the guest never
 * wrote are holes, so files are as sparse as the guest left them.
 *
 * - Full snapshot: every page; all-zero pages are left as holes.
 * - Diff snapshot: only the pages marked dirty, at their offsets, in a
 *   sparse file of the same size; every other page is a hole. A dirty
 *   page that is all zero is written as data, since "this page became
 *   zero" must overwrite the base when the diff is merged.
 * - Merge: the data extents of a diff copied over its base, as
 *   Firecracker's rebase-snap does, giving the full image of the later
 *   moment.
 */
#ifndef WISP_SNAPMEM_H
#define WISP_SNAPMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The tag of a memory file, in its xattr SNAP_MEM_XATTR where the file
 * system keeps user xattrs: the id of the snapshot whose state file goes
 * with it (a random 16 bytes, also in that state file), and what the file
 * holds. A restore checks it, so a memory file left from another
 * snapshot (a create that died between its two renames), an unmerged
 * diff or a merge cut short is refused instead of run.
 */
#define SNAP_MEM_XATTR "user.wisp.snapshot"
/* The old memory file while a new snapshot goes into place (snapshot.c). */
#define SNAP_MEM_PREV ".prev"
#define SNAP_ID_LEN   16

enum snap_mem_kind {
	SNAP_MEM_FULL = 1,    /* every page: a Full snapshot, or a merge */
	SNAP_MEM_DIFF = 2,    /* only the pages written since the last one */
	SNAP_MEM_MERGING = 3, /* a merge into it has not finished */
};

struct snap_mem_tag {
	uint8_t id[SNAP_ID_LEN];
	uint8_t kind; /* enum snap_mem_kind */
};

/*
 * The tag of the file open on @fd: 1 with it in @tag, 0 when the file
 * has none (or its file system keeps no user xattrs), -errno.
 */
int snap_mem_tag_get(int fd, struct snap_mem_tag *tag);

/*
 * Write @size bytes of guest memory at @mem to @path, by rename as the
 * state file is (snaptmp.h). @page_size is a power of two of at least
 * 4 KiB that divides @size. @dirty == NULL writes a full snapshot;
 * otherwise bit i (bit i % 64 of dirty[i / 64], KVM_GET_DIRTY_LOG's
 * layout) says page i changed, and only those pages are written.
 *
 * The caller stops every writer of @mem first (the vCPUs paused, the
 * devices quiet). Every page is read: in a VM restored through Uffd
 * that fetches pages the guest never touched from the handler.
 *
 * A diff is only sound where holes are kept at page granularity: after
 * the fsync its data extents (SEEK_DATA/SEEK_HOLE) are checked to cover
 * dirty pages only, and a file system that allocates more (or knows no
 * holes) is refused with a message, rather than producing a diff whose
 * merge would overwrite the base with zeros.
 *
 * @tag (or NULL) is set on the file before it is renamed into place: a
 * crash never leaves an untagged new file beside an old state file.
 *
 * Returns 0, or -1 with one line naming the file and the errno text in
 * @err; a file already at @path is then untouched.
 */
int snap_mem_write(const char *path, const uint8_t *mem, uint64_t size,
                   const uint64_t *dirty, uint64_t page_size,
                   const struct snap_mem_tag *tag, char *err, size_t errlen);

/*
 * snap_mem_write() but for the rename: the complete, synced file is left
 * at the temporary name put in @tmp, for snap_tmp_place() (snaptmp.h) or
 * unlink(). On failure nothing is left.
 */
int snap_mem_write_tmp(const char *path, const uint8_t *mem, uint64_t size,
                       const uint64_t *dirty, uint64_t page_size,
                       const struct snap_mem_tag *tag, char *tmp, size_t tmplen,
                       char *err, size_t errlen);

/*
 * Copy every data extent of the sparse diff @diff over @base at the same
 * offsets, then fsync @base. Both must have the same size. Not atomic:
 * if it fails half-way @base holds part of the diff (copy it first to
 * keep the old image). Tags: a @diff tagged as anything but a diff is
 * refused; @base is tagged MERGING while the data goes in, and at the
 * end takes the diff's id as a FULL file (an untagged diff leaves it
 * untagged), so a restore takes it with the diff's state file and
 * refuses a merge cut short. Returns 0, or -1 with one line in @err.
 */
int snap_mem_merge(const char *base, const char *diff, char *err,
                   size_t errlen);

#endif
