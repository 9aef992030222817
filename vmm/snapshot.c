#include "snapshot.h"
#include "log.h"
#include "snapconfig.h"
#include "snapfile.h"
#include "snapmem.h"
#include "snaptmp.h"
#include "uffd.h"
#include "util.h"
#include "vmm.h"
#include "x86/state.h"

#include <errno.h>
#include <jansson.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* Section types of the state file (the layout is snapfile.h's). */
enum {
	SEC_INFO = 1,
	SEC_CONFIG, /* vmm/snapconfig.h */
	SEC_VM,
	SEC_VCPU, /* index: the vCPU */
	SEC_SERIAL,
	SEC_I8042,
	SEC_BOOT_TIMER,
	SEC_VIRTIO, /* index: the device's slot */
};

#define PAGE 4096ULL

struct snap_info {
	char version[16];  /* wisp's, for messages */
	uint64_t mem_size; /* guest RAM, bytes: the memory file's size */
	uint64_t created_ms;
	uint32_t nvcpus, ndev;
	uint32_t diff; /* the memory file holds only the pages written */
	uint32_t page_size;
	uint8_t id[SNAP_ID_LEN]; /* also in the memory file's tag */
};

/*
 * SEC_VIRTIO: the transport and what the device type keeps
 * (vdev_type.snap_size bytes, zeros after). The size is the file
 * format's: a 520-byte device part since the first version.
 */
struct snap_virtio {
	struct virtio_mmio_state t;
	union {
		uint8_t bytes[VDEV_SNAP_MAX];
		uint32_t align;
	} d;
};
_Static_assert(sizeof(struct snap_virtio) == 728,
               "SEC_VIRTIO sections of existing state files");

/* ---- create --------------------------------------------------------- */

#ifdef WISP_TEST_HOOKS
/*
 * Test builds: WISP_SNAPSHOT_STALL=POINT stops the event loop for good
 * at that point of a create, so a test can kill wisp there: mem-tmp (the
 * memory file written), state-tmp (both written), mem (the new memory
 * file in place, the state file not), state (both in place).
 */
static void test_stall(const char *point)
{
	const char *want = getenv("WISP_SNAPSHOT_STALL");
	static int never;

	if (!want || strcmp(want, point))
		return;
	log_warn("snapshot: stopped at %s (test hook)", point);
	for (;;)
		syscall(SYS_futex, &never, FUTEX_WAIT_PRIVATE, 0, NULL);
}
#else
static inline void test_stall(const char *point)
{
}
#endif

/* Nothing may write guest RAM while it is saved: drain the devices. */
static void quiesce(struct vmm *m, bool on)
{
	vdev_quiesce(m, on);
	if (on && m->uring.ready)
		uring_drain(&m->uring);
}

/* The state file, complete and synced at the temporary name @tmp. */
static int write_state(struct vmm *m, const char *path,
                       const struct snap_info *info, char *tmp, size_t tmplen,
                       char *err, size_t errlen)
{
	struct vm *vm = &m->vm;
	struct snap_writer w;
	size_t cfglen = 0;
	/* The machine as configured; paths are the host's at this moment. */
	uint8_t *cfg = snapcfg_encode(&m->cfg, &cfglen);
	struct x86_vcpu_state *vs = malloc(sizeof(*vs));
	struct x86_vm_state vms;
	struct serial_state ser;
	struct i8042_state kbd;
	uint32_t fired = m->boot_timer.fired;
	int rc = -1;

	if (!cfg || !vs) {
		snprintf(err, errlen, "snapshot: out of memory");
		goto out;
	}
	if (x86_vm_save(vm, &vms) < 0) {
		snprintf(err, errlen,
		         "snapshot: cannot read the VM's state "
		         "(the log says why)");
		goto out;
	}
	if (snap_write_begin(&w, path, err, errlen) < 0)
		goto out;
	snap_write_section(&w, SEC_INFO, 0, info, sizeof(*info));
	snap_write_section(&w, SEC_CONFIG, 0, cfg, cfglen);
	snap_write_section(&w, SEC_VM, 0, &vms, sizeof(vms));
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (x86_vcpu_save(&vm->vcpus[i], vs) < 0) {
			snap_write_abort(&w);
			snprintf(err, errlen,
			         "snapshot: cannot read vCPU %u (the log says "
			         "why)",
			         i);
			goto out;
		}
		snap_write_section(&w, SEC_VCPU, i, vs, sizeof(*vs));
	}
	serial_save(&m->serial, &ser);
	i8042_save(&m->i8042, &kbd);
	snap_write_section(&w, SEC_SERIAL, 0, &ser, sizeof(ser));
	snap_write_section(&w, SEC_I8042, 0, &kbd, sizeof(kbd));
	snap_write_section(&w, SEC_BOOT_TIMER, 0, &fired, sizeof(fired));
	for (unsigned n = 0; n < m->nvdev; n++) {
		const struct vdev *v = &m->vdev[n];
		struct snap_virtio d;

		memset(&d, 0, sizeof(d));
		virtio_mmio_save(v->t, &d.t);
		v->type->save(v->t, d.d.bytes);
		snap_write_section(&w, SEC_VIRTIO, n, &d, sizeof(d));
	}
	rc = snap_write_finish(&w, tmp, tmplen, err, errlen);
out:
	free(cfg);
	free(vs);
	return rc;
}

int vmm_snapshot_create(struct vmm *m, const char *state_path,
                        const char *mem_path, bool diff, char *err,
                        size_t errlen)
{
	struct vm *vm = &m->vm;
	struct snap_info info = { .mem_size = vm->mem_size,
		                  .nvcpus = vm->nvcpus,
		                  .ndev = m->nvdev,
		                  .diff = diff,
		                  .page_size = PAGE };
	uint64_t *dirty = NULL, t0 = util_now_us();
	char mem_tmp[PATH_MAX] = "", state_tmp[PATH_MAX] = "", prev[PATH_MAX];
	bool have_prev = false, placed = false;
	struct snap_mem_tag tag = { .kind = diff ? SNAP_MEM_DIFF
		                                 : SNAP_MEM_FULL };
	struct timeval tv;
	int rc = -1;

	if (vmm_state(m) != VMM_PAUSED) {
		snprintf(err, errlen,
		         "a snapshot is taken of a Paused microVM (it is %s)",
		         vmm_state_name(vmm_state(m)));
		return -1;
	}
	if (diff && !vm->dirty_log) {
		snprintf(err, errlen,
		         "a Diff snapshot needs track_dirty_pages "
		         "(machine-config, or snapshot/load)");
		return -1;
	}
	snprintf(info.version, sizeof(info.version), "%s", WISP_VERSION);
	gettimeofday(&tv, NULL);
	info.created_ms =
	        (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	if (getrandom(info.id, sizeof(info.id), 0) != sizeof(info.id)) {
		snprintf(err, errlen, "snapshot: getrandom: %s",
		         strerror(errno));
		return -1;
	}
	memcpy(tag.id, info.id, sizeof(tag.id));
	quiesce(m, true);
	/*
	 * The dirty log is read (and cleared) for a Full snapshot too, so the
	 * next Diff holds what changed after this one.
	 */
	if (vm->dirty_log) {
		dirty = calloc((vm->mem_size / PAGE + 63) / 64, sizeof(*dirty));
		if (!dirty || vm_dirty_log(vm, dirty) < 0) {
			snprintf(err, errlen,
			         "snapshot: cannot read the dirty "
			         "log (the log says why)");
			goto out;
		}
	}
	/*
	 * Both files are written and synced at temporary names, then go into
	 * place one right after the other, the memory first. Until the new
	 * state file is in place the old memory file stays reachable as
	 * "<mem_path>.prev", which a load of the old state file falls back
	 * to: whenever wisp dies, the pair at the two paths restores, the
	 * old one or the new. A failure puts the old memory file back.
	 */
	if (snap_mem_write_tmp(mem_path, vm->mem, vm->mem_size,
	                       diff ? dirty : NULL, PAGE, &tag, mem_tmp,
	                       sizeof(mem_tmp), err, errlen) < 0) {
		mem_tmp[0] = '\0';
		goto out;
	}
	test_stall("mem-tmp");
	if (write_state(m, state_path, &info, state_tmp, sizeof(state_tmp), err,
	                errlen) < 0) {
		state_tmp[0] = '\0';
		goto out;
	}
	test_stall("state-tmp");
	if ((size_t)snprintf(prev, sizeof(prev), "%s%s", mem_path,
	                     SNAP_MEM_PREV) >= sizeof(prev)) {
		snprintf(err, errlen, "memory file '%s': the name is too long",
		         mem_path);
		goto out;
	}
	if (unlink(prev) < 0 && errno != ENOENT) {
		snprintf(err, errlen,
		         "memory file '%s': cannot remove '%s': %s", mem_path,
		         prev, strerror(errno));
		goto out;
	}
	if (link(mem_path, prev) == 0) {
		have_prev = true;
	} else if (errno != ENOENT) {
		snprintf(
		        err, errlen,
		        "memory file '%s': cannot keep the old one as '%s': %s",
		        mem_path, prev, strerror(errno));
		goto out;
	}
	placed = snap_tmp_place(mem_tmp, mem_path, "memory file", err,
	                        errlen) == 0;
	mem_tmp[0] = '\0'; /* renamed, or removed by the failure */
	if (!placed)
		goto out;
	test_stall("mem");
	if (snap_tmp_place(state_tmp, state_path, "snapshot", err, errlen) <
	    0) {
		state_tmp[0] = '\0';
		goto out;
	}
	state_tmp[0] = '\0';
	test_stall("state");
	if (have_prev)
		unlink(prev);
	have_prev = placed = false;
	log_info("snapshot %s: '%s' and '%s' (%llu MiB of RAM) in %llu us",
	         diff ? "Diff" : "Full", state_path, mem_path,
	         (unsigned long long)(vm->mem_size >> 20),
	         (unsigned long long)(util_now_us() - t0));
	rc = 0;
out:
	/* Failed once the new memory file was in place: the old one back. */
	if (have_prev) {
		if (rename(prev, mem_path) < 0)
			log_warn("snapshot: cannot put '%s' back as '%s': %s",
			         prev, mem_path, strerror(errno));
		unlink(prev); /* left when both names were one file */
	} else if (placed) {
		unlink(mem_path); /* there was none before */
	}
	if (mem_tmp[0])
		unlink(mem_tmp);
	if (state_tmp[0])
		unlink(state_tmp);
	free(dirty);
	quiesce(m, false);
	return rc;
}

/* ---- load ----------------------------------------------------------- */

/* Section (@type, @index) of exactly @len bytes, copied into @dst. */
static int want(const struct snap_reader *r, const char *path, uint32_t type,
                uint32_t index, void *dst, uint64_t len, char *err,
                size_t errlen)
{
	uint64_t got;
	const void *p = snap_read_section(r, type, index, &got);

	if (!p || got != len) {
		snprintf(err, errlen,
		         "snapshot '%s': section %u.%u %s (want %llu bytes): "
		         "another wisp version's?",
		         path, type, index,
		         p ? "has the wrong size" : "missing",
		         (unsigned long long)len);
		return -1;
	}
	memcpy(dst, p, len);
	return 0;
}

/*
 * The configuration a snapshot brings (decoded as its format version
 * has it, every field checked), with the load's overrides, into @m's.
 */
static int load_config(struct vmm *m, const struct snap_reader *r,
                       const struct snapshot_load *l, char *err, size_t errlen)
{
	struct config *c = malloc(sizeof(*c)), *cfg = &m->cfg;
	const void *p;
	uint64_t len = 0;
	char why[512];
	int rc = -1;

	if (!c) {
		snprintf(err, errlen, "snapshot: out of memory");
		return -1;
	}
	if (!(p = snap_read_section(r, SEC_CONFIG, 0, &len))) {
		snprintf(err, errlen,
		         "snapshot '%s': section %u.0 (the configuration) "
		         "missing",
		         l->state_path, SEC_CONFIG);
		goto out;
	}
	if ((r->version == 1
	             ? snapcfg_decode_legacy(p, len, c, why, sizeof(why))
	             : snapcfg_decode(p, len, c, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "snapshot '%s': configuration: %s",
		         l->state_path, why);
		goto out;
	}
	if (l->overrides) {
		for (const struct vdev_type *const *ty = vdev_types; *ty;
		     ty++) {
			const struct vdev_conf *f = (*ty)->conf;
			json_t *v = f->override_key
			                    ? json_object_get(l->overrides,
			                                      f->override_key)
			                    : NULL;

			if (v && f->override(c, v, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "%s", why);
				goto out;
			}
		}
		if (snapcfg_check(c, why, sizeof(why)) < 0) {
			snprintf(err, errlen,
			         "snapshot '%s' with the overrides: %s",
			         l->state_path, why);
			goto out;
		}
	}
	if (l->huge_set && l->huge_pages == HUGE_PAGES_2M && c->mem_mib % 2) {
		snprintf(err, errlen,
		         "snapshot '%s': huge_pages 2M, but its %llu MiB are "
		         "not "
		         "a multiple of the 2 MiB page",
		         l->state_path, (unsigned long long)c->mem_mib);
		goto out;
	}
	cfg->vcpus = c->vcpus;
	cfg->smt = c->smt;
	cfg->mem_mib = c->mem_mib;
	cfg->huge_pages = l->huge_set ? l->huge_pages : c->huge_pages;
	cfg->track_dirty_pages = l->track_dirty_pages;
	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct vdev_conf *f = (*ty)->conf;

		for (unsigned i = 0; i < f->max; i++)
			memcpy(f->item(cfg, i), f->item(c, i), f->size);
		f->set_count(cfg, (*ty)->count(c));
	}
	rc = 0;
out:
	free(c);
	return rc;
}

/* The memory file: the right size, and this snapshot's where tagged. */
static int open_mem_at(const char *path, const struct snapshot_load *l,
                       const struct snap_info *info, bool prev_ok, char *err,
                       size_t errlen);

/*
 * A create that died after its new memory file went into place and
 * before its state file did leaves the old memory file as
 * "<mem>.prev": the old state file's pair. -1 when there is none.
 */
static int open_prev(const struct snapshot_load *l,
                     const struct snap_info *info)
{
	char prev[PATH_MAX], e[16];
	int fd;

	if ((size_t)snprintf(prev, sizeof(prev), "%s%s", l->mem_path,
	                     SNAP_MEM_PREV) >= sizeof(prev) ||
	    access(prev, F_OK) < 0)
		return -1;
	fd = open_mem_at(prev, l, info, true, e, sizeof(e));
	if (fd >= 0)
		log_warn("memory file '%s' is newer than '%s' (a snapshot "
		         "that did not complete): using '%s'",
		         l->mem_path, l->state_path, prev);
	return fd;
}

static int open_mem(const struct snapshot_load *l, const struct snap_info *info,
                    char *err, size_t errlen)
{
	return open_mem_at(l->mem_path, l, info, false, err, errlen);
}

/* @path: the memory file, or with @prev_ok its ".prev" (no fallback). */
static int open_mem_at(const char *path, const struct snapshot_load *l,
                       const struct snap_info *info, bool prev_ok, char *err,
                       size_t errlen)
{
	struct snap_mem_tag tag;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), tagged;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "memory file '%s': %s", path,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != info->mem_size) {
		snprintf(err, errlen,
		         "memory file '%s': %llu bytes, the snapshot's guest "
		         "has %llu",
		         path, (unsigned long long)st.st_size,
		         (unsigned long long)info->mem_size);
		close(fd);
		return -1;
	}
	tagged = snap_mem_tag_get(fd, &tag);
	if (tagged < 0) {
		snprintf(err, errlen,
		         "memory file '%s': cannot read its tag: %s", path,
		         strerror(-tagged));
		goto bad;
	}
	if (!tagged) {
		/* A file system without user xattrs: nothing to check. */
		if (info->diff)
			log_warn("snapshot '%s' is a Diff: its memory file "
			         "must have been merged onto its base "
			         "(wisp-snap "
			         "merge BASE DIFF)",
			         l->state_path);
		return fd;
	}
	if (tag.kind == SNAP_MEM_MERGING) {
		snprintf(err, errlen,
		         "memory file '%s': a merge into it did not finish",
		         path);
		goto bad;
	}
	if (memcmp(tag.id, info->id, sizeof(tag.id)) && !prev_ok) {
		int p = open_prev(l, info);

		if (p >= 0) {
			close(fd);
			return p;
		}
	}
	if (memcmp(tag.id, info->id, sizeof(tag.id))) {
		snprintf(err, errlen,
		         "memory file '%s' belongs to another snapshot than "
		         "'%s' (one that did not complete, or the diff's "
		         "base not merged yet?)",
		         path, l->state_path);
		goto bad;
	}
	if (tag.kind != SNAP_MEM_FULL) {
		snprintf(err, errlen,
		         "memory file '%s' holds only a Diff's pages: merge it "
		         "onto its base (wisp-snap merge BASE DIFF) and load "
		         "the base",
		         path);
		goto bad;
	}
	return fd;
bad:
	close(fd);
	return -1;
}

static int restore_devices(struct vmm *m, const struct snap_reader *r,
                           const struct snapshot_load *l, char *err,
                           size_t errlen)
{
	struct serial_state ser;
	struct i8042_state kbd;
	uint32_t fired;

	if (want(r, l->state_path, SEC_SERIAL, 0, &ser, sizeof(ser), err,
	         errlen) < 0 ||
	    want(r, l->state_path, SEC_I8042, 0, &kbd, sizeof(kbd), err,
	         errlen) < 0 ||
	    want(r, l->state_path, SEC_BOOT_TIMER, 0, &fired, sizeof(fired),
	         err, errlen) < 0)
		return -1;
	if (serial_restore(&m->serial, &ser) < 0 ||
	    i8042_restore(&m->i8042, &kbd) < 0) {
		snprintf(err, errlen, "snapshot '%s': bad legacy device state",
		         l->state_path);
		return -1;
	}
	m->boot_timer.fired = fired;
	for (unsigned n = 0; n < m->nvdev; n++) {
		const struct vdev *v = &m->vdev[n];
		struct snap_virtio d;

		if (want(r, l->state_path, SEC_VIRTIO, n, &d, sizeof(d), err,
		         errlen) < 0 ||
		    virtio_mmio_restore(v->t, &d.t, err, errlen) < 0 ||
		    v->type->restore(v->t, d.d.bytes, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int restore_cpus(struct vmm *m, const struct snap_reader *r,
                        const struct snapshot_load *l, char *err, size_t errlen)
{
	struct vm *vm = &m->vm;
	struct x86_vcpu_state *vs = malloc(sizeof(*vs));
	struct x86_vm_state vms;
	int rc = -1;

	if (!vs) {
		snprintf(err, errlen, "snapshot: out of memory");
		return -1;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (want(r, l->state_path, SEC_VCPU, i, vs, sizeof(*vs), err,
		         errlen) < 0)
			goto out;
		if (!i &&
		    x86_cpuid_compatible(&vm->vcpus[0], vs, err, errlen) < 0)
			goto out;
		if (x86_vcpu_restore(&vm->vcpus[i], vs) < 0) {
			snprintf(err, errlen,
			         "snapshot '%s': KVM refused vCPU %u's state "
			         "(the log says why)",
			         l->state_path, i);
			goto out;
		}
	}
	if (want(r, l->state_path, SEC_VM, 0, &vms, sizeof(vms), err, errlen) <
	    0)
		goto out;
	if (l->clock_realtime && !(vms.clock.flags & KVM_CLOCK_REALTIME)) {
		snprintf(err, errlen,
		         "snapshot '%s': clock_realtime, but the snapshot "
		         "holds no wall-clock time (its host's KVM gave none)",
		         l->state_path);
		goto out;
	}
	if (x86_vm_restore(vm, &vms, l->clock_realtime) < 0) {
		snprintf(err, errlen,
		         "snapshot '%s': KVM refused the VM's "
		         "state (the log says why)",
		         l->state_path);
		goto out;
	}
	rc = 0;
out:
	free(vs);
	return rc;
}

int vmm_snapshot_load(struct vmm *m, const struct snapshot_load *l, char *err,
                      size_t errlen)
{
	struct snap_reader r;
	struct config *before = NULL; /* put back if the load fails */
	struct snap_info info;
	uint64_t t0 = util_now_us();
	int fd = -1, rc = -1;

	if (vmm_state(m) != VMM_NOT_STARTED) {
		snprintf(err, errlen,
		         "a snapshot is loaded before the microVM "
		         "starts");
		return -1;
	}
	/* The snapshot brings the whole machine: nothing may be half set. */
	if (m->cfg.kernel[0] || vdev_count(&m->cfg)) {
		snprintf(err, errlen,
		         "Loading a microVM snapshot not allowed after "
		         "configuring boot-specific resources.");
		return -1;
	}
	if (snap_read_open(&r, l->state_path, SNAPSHOT_STATE_MAX, err, errlen) <
	    0)
		return -1;
	before = malloc(sizeof(*before));
	if (!before) {
		snprintf(err, errlen, "snapshot: out of memory");
		goto out;
	}
	*before = m->cfg;
	if (want(&r, l->state_path, SEC_INFO, 0, &info, sizeof(info), err,
	         errlen) < 0 ||
	    load_config(m, &r, l, err, errlen) < 0)
		goto out;
	info.version[sizeof(info.version) - 1] = '\0';
	if (strcmp(info.version, WISP_VERSION))
		log_warn("snapshot '%s' was made by wisp %s, this is %s",
		         l->state_path, info.version, WISP_VERSION);
	if (info.mem_size != m->cfg.mem_mib * MIB ||
	    info.nvcpus != m->cfg.vcpus || info.page_size != PAGE) {
		snprintf(err, errlen, "snapshot '%s': inconsistent sizes",
		         l->state_path);
		goto out;
	}
	if (!l->uffd && (fd = open_mem(l, &info, err, errlen)) < 0)
		goto out;
	if (vmm_build_machine(
	            m,
	            &(struct vm_mem){
	                    .huge = m->cfg.huge_pages == HUGE_PAGES_2M,
	                    .thp = m->cfg.huge_pages == HUGE_PAGES_THP,
	                    .dirty_log = l->track_dirty_pages,
	                    .file_fd = fd,
	                    .uffd = l->uffd },
	            NULL, err, errlen) < 0)
		goto fail;
	if (l->uffd &&
	    uffd_attach(m->vm.mem, m->vm.mem_size,
	                m->cfg.huge_pages == HUGE_PAGES_2M ? 2 * MIB : PAGE,
	                l->mem_path, &m->uffd_fd, err, errlen) < 0)
		goto fail;
	if (m->nvdev != info.ndev) {
		snprintf(err, errlen, "snapshot '%s': %u devices, %u expected",
		         l->state_path, m->nvdev, info.ndev);
		goto fail;
	}
	if (restore_cpus(m, &r, l, err, errlen) < 0 ||
	    restore_devices(m, &r, l, err, errlen) < 0 ||
	    vmm_attach_devices(m) < 0)
		goto fail;
	m->vm.restore_t0_us = t0;
	vmm_go(m, true);
	log_info("snapshot '%s' loaded in %llu us", l->state_path,
	         (unsigned long long)(util_now_us() - t0));
	if (l->resume)
		vmm_resume(m);
	rc = 0;
	goto out;
fail:
	vmm_teardown(m);
out:
	if (rc < 0 && before)
		m->cfg = *before;
	if (fd >= 0)
		close(fd); /* the mapping keeps the file */
	free(before);
	snap_read_close(&r);
	return rc;
}

int snapshot_describe(const char *path, char *out, size_t len, char *err,
                      size_t errlen)
{
	struct snap_reader r;
	struct snap_info info;
	const void *p;
	uint64_t n = 0;

	if (snap_read_open(&r, path, SNAPSHOT_STATE_MAX, err, errlen) < 0)
		return -1;
	p = snap_read_section(&r, SEC_INFO, 0, &n);
	if (!p || n != sizeof(info)) {
		snap_read_close(&r);
		return util_err(err, errlen,
		                "snapshot '%s': no information section", path);
	}
	memcpy(&info, p, sizeof(info));
	info.version[sizeof(info.version) - 1] = '\0';
	snprintf(out, len,
	         "v%u.0.0\nformat version %u, written by wisp %s; %u vCPUs, "
	         "%llu MiB of RAM, %u devices, %s memory file\n",
	         r.version, r.version, info.version, info.nvcpus,
	         (unsigned long long)(info.mem_size / MIB), info.ndev,
	         info.diff ? "a diff" : "a full");
	snap_read_close(&r);
	return 0;
}
