/*
 * Snapshots of a running VM and restores from them (Firecracker's PUT
 * /snapshot/create and /snapshot/load). Format: docs/snapshots.md.
 *
 * A snapshot is two files: the state file (vmm/snapfile.h: the machine
 * configuration, KVM's vCPU and VM state, every device's state) and the
 * memory file (vmm/snapmem.h: guest RAM, whole, or only the pages written
 * since the last snapshot). Both are written to temporary names, synced
 * and renamed into place, the memory file first.
 *
 * A restore maps the memory file MAP_PRIVATE: nothing is read up front,
 * pages fault in from the page cache as the guest touches them, its
 * writes stay private, and clones of one snapshot share every page none
 * of them wrote. Or (Uffd) the memory is served by a page-fault handler
 * process over a userfaultfd.
 */
#ifndef WISP_SNAPSHOT_H
#define WISP_SNAPSHOT_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

struct vmm;
struct json_t;

#define SNAPSHOT_STATE_MAX (64ULL << 20) /* a state file is refused above */

struct snapshot_load {
	char state_path[CONFIG_PATH_MAX];
	char mem_path[CONFIG_PATH_MAX]; /* the file, or the handler's socket */
	bool uffd;                      /* backend_type "Uffd" */
	bool track_dirty_pages;
	bool resume;
	/* KVM_CLOCK_REALTIME: kvmclock moves on by the wall-clock time since
	 * the snapshot (the snapshot must hold that time). */
	bool clock_realtime;
	bool huge_set; /* huge_pages instead of the snapshot's */
	enum huge_pages huge_pages;
	/*
	 * The device types' overrides (network_overrides ...: vdev.h,
	 * override_key) by their keys, or NULL; the caller's reference.
	 */
	struct json_t *overrides;
};

/*
 * Write a snapshot of the paused VM: @diff writes only the pages the
 * guest wrote since the last snapshot (track_dirty_pages must be on).
 * Event loop thread. Returns 0, or -1 with the reason in @err; files
 * already at the two paths are then left as they were.
 */
int vmm_snapshot_create(struct vmm *m, const char *state_path,
                        const char *mem_path, bool diff, char *err,
                        size_t errlen);

/*
 * Build the VM from a snapshot instead of a kernel (before InstanceStart,
 * on the event loop thread): it ends Paused, or Running with @l->resume.
 * A file from another format, a truncated or corrupted one, a memory file
 * of the wrong size or another snapshot's, a host whose CPU lacks what
 * the guest was shown: refused with a message, nothing started.
 */
int vmm_snapshot_load(struct vmm *m, const struct snapshot_load *l, char *err,
                      size_t errlen);

/*
 * --describe-snapshot: the state file's format version as Firecracker
 * prints its own ("v2.0.0"), then a line about the machine it holds,
 * into @out. The file is checked whole (magic, CRC, sections) first.
 * 0, or -1 with the reason in @err.
 */
int snapshot_describe(const char *path, char *out, size_t len, char *err,
                      size_t errlen);

#endif
