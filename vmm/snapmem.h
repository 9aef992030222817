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

#include <stddef.h>
#include <stdint.h>

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
 * Returns 0, or -1 with one line naming the file and the errno text in
 * @err; a file already at @path is then untouched.
 */
int snap_mem_write(const char *path, const uint8_t *mem, uint64_t size,
                   const uint64_t *dirty, uint64_t page_size, char *err,
                   size_t errlen);

/*
 * Copy every data extent of the sparse diff @diff over @base at the same
 * offsets, then fsync @base. Both must have the same size. Not atomic:
 * if it fails half-way @base holds part of the diff (copy it first to
 * keep the old image). Returns 0, or -1 with one line in @err.
 */
int snap_mem_merge(const char *base, const char *diff, char *err,
                   size_t errlen);

#endif
