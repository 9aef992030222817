/*
 * The device manager: every virtio device type is described once, by a
 * const struct vdev_type (its lifecycle next to the virtio_ops its
 * transport serves), and listed once, in vdev_types[] (vdev.c). The VMM,
 * snapshots, metrics and the API loop over the devices a VM has; none of
 * them knows which types exist.
 *
 * Slots: virtio devices sit in MMIO slots after the boot timer (slot 0),
 * in the order of vdev_types[] and, within a type, of the configuration
 * (drives, network interfaces, vsock); device n (from 0) is at
 * VDEV_BASE(n) on VDEV_IRQ(n). The order follows from the configuration
 * alone, so the kernel command line announces the devices before they
 * exist, and a snapshot's SEC_VIRTIO section n is device n again when
 * the same configuration is built on load.
 */
#ifndef WISP_VDEV_H
#define WISP_VDEV_H

#include "config.h"
#include "devices.h"
#include "evloop.h"
#include "mmio.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uring;
struct vm;
struct vmm;
struct mmds;
struct json_t;
struct snapcfg_type;
struct vdev_conf;

/* The first virtio device's IRQ; IRQs up to 23 are in the MP table. */
#define VMM_FIRST_VIRTIO_IRQ 5
#define VMM_MAX_VIRTIO       (24 - VMM_FIRST_VIRTIO_IRQ)
_Static_assert(CONFIG_MAX_DRIVES + CONFIG_MAX_NETS + 2 <= VMM_MAX_VIRTIO,
               "every configurable virtio device needs an I/O APIC pin");

#define VDEV_BASE(n) (BOOT_TIMER_ADDR + VIRTIO_MMIO_SLOT * ((n) + 1))
#define VDEV_IRQ(n)  (VMM_FIRST_VIRTIO_IRQ + (n))

/*
 * The most a device keeps in a snapshot beyond its transport (a type's
 * snap_size). Fixed: it sizes every SEC_VIRTIO section of the state file.
 */
#define VDEV_SNAP_MAX 520
/* The most counters one device reports to metrics. */
#define VDEV_MAX_STATS 32

/* What a device is built from and where it sits. */
struct vdev_env {
	struct vm *vm;
	struct uring *uring; /* set up when any device's type has .uring */
	struct evloop *loop;
	const struct config *cfg;
	const char *vm_id; /* the VMM's --id */
	struct mmds *mmds; /* the metadata store, for net (mmds.h) */
	uint64_t base;     /* VIRTIO_MMIO_SLOT bytes of MMIO space */
	unsigned irq;
};

struct vdev_type {
	const char *name; /* "block": for messages */
	/* Instances the configuration asks for. */
	unsigned (*count)(const struct config *c);
	/* The configured id of instance @i (metrics' group, API paths). */
	const char *(*id)(const struct config *c, unsigned i);
	bool uring; /* its I/O goes through the VM's io_uring */

	/*
	 * Optional, before anything is built: check the configuration
	 * against the host (may reorder the type's entries) and append
	 * kernel command-line words (" root=..." with a leading blank) to
	 * @out. @user is the command line the user gave. 0, or -1 with
	 * the reason in @err.
	 */
	int (*boot_args)(struct config *c, const char *user, char *out,
	                 size_t len, char *err, size_t errlen);
	/*
	 * Build instance @i at env->base/irq: its state (allocated here)
	 * with the transport inside. NULL with the reason in @err, and
	 * nothing left behind.
	 */
	struct virtio_mmio *(*create)(const struct vdev_env *env, unsigned i,
	                              char *err, size_t errlen);
	/* Undo create(): close what it opened, free the state. */
	void (*destroy)(struct virtio_mmio *t);

	/*
	 * Snapshots: save the device's state beyond the transport into
	 * @snap (snap_size bytes, zeroed) with the VM paused and the device
	 * quiesced; restore it after virtio_mmio_restore(), 0 or -1 with
	 * the reason in @err. Optional quiesce: @on stops host I/O that
	 * writes guest RAM (a snapshot, the end of the VM), !@on resumes.
	 */
	size_t snap_size;
	void (*save)(struct virtio_mmio *t, void *snap);
	int (*restore)(struct virtio_mmio *t, const void *snap, char *err,
	               size_t errlen);
	void (*quiesce)(struct virtio_mmio *t, bool on);

	/*
	 * Metrics: Firecracker's aggregate group (@group, every counter
	 * present even with no device) and, with @dev_prefix, one group per
	 * device, "<dev_prefix><id>". stats() copies the counters into @now
	 * (nstats of them, named by @stat_names) and points @reported at
	 * the values of the last line, which the caller moves on.
	 */
	const char *group, *dev_prefix;
	const char *const *stat_names;
	unsigned nstats;
	void (*stats)(struct virtio_mmio *t, uint64_t *now,
	              uint64_t **reported);

	/*
	 * Optional: a host fd the event loop's seccomp filter lets it
	 * ioctl (a tap's offloads), or -1; files to remove at exit when
	 * no teardown runs (a socket the device listens on).
	 */
	int (*filter_fd)(struct virtio_mmio *t);
	void (*exit_cleanup)(struct virtio_mmio *t);

	/*
	 * Its configuration (the type's *_conf.c): where it sits in struct
	 * config, how each way in (INI file, Firecracker JSON, REST API,
	 * snapshot) reads and checks it. config.c, fcjson.c, routes.c,
	 * vmconfig.c and snapconfig.c loop over the types.
	 */
	const struct vdev_conf *conf;
};

/*
 * A device type's configuration schema. Its instances are slots 0 ..
 * count()-1 of an array of @max structures of @size bytes in struct
 * config (a type with @max 1, like vsock, has one or none).
 */
struct vdev_conf {
	unsigned max;
	size_t size;
	/* Slot @i (< max), to read or fill. */
	void *(*item)(struct config *c, unsigned i);
	/* Set how many slots are in use (0..max). */
	void (*set_count)(struct config *c, unsigned n);
	/*
	 * The API's rules on slot @i of a whole configuration, as PUT
	 * requests would have applied them one by one: its strings end
	 * within their arrays, every value is one a request could give,
	 * what a request must give is there, and nothing clashes with
	 * slots 0..@i-1 (ids, host resources, one root). For a
	 * configuration that did not come through the API (an INI file, a
	 * snapshot). 0, or -1 with the reason in @err.
	 */
	int (*check)(const struct config *c, unsigned i, char *err,
	             size_t errlen);

	/*
	 * INI: [@ini_section.ID] per instance when @ini_id (the id is
	 * checked before), else one [@ini_section]. ini_key() takes one key
	 * of the section (repeated keys are refused before): 0, or -1 with
	 * the message in @err (config_ini_err() names file line's section
	 * and key).
	 */
	const char *ini_section;
	bool ini_id;
	int (*ini_key)(struct config *c, const struct config_ini_key *k,
	               char *err, size_t errlen);

	/*
	 * Firecracker JSON: @json_key in a --config-file and GET
	 * /vm/config (an array of PUT bodies when @json_array, else one
	 * body or null); the API resource @api_path ("/drives/" takes an
	 * id, "/vsock" not). put() adds or replaces an instance from a PUT
	 * body (@path_id: the URL's id, NULL from a config file) and
	 * checks the whole body before it changes @c; patch() (NULL: no
	 * PATCH) changes a running VM's instance; get() is the value under
	 * @json_key (a new reference).
	 */
	const char *json_key;
	bool json_array;
	const char *api_path;
	int (*put)(struct config *c, const char *path_id, struct json_t *body,
	           char *err, size_t errlen);
	int (*patch)(struct vmm *m, const char *path_id, struct json_t *body,
	             char *err, size_t errlen);
	struct json_t *(*get)(const struct config *c);
	/* The API's request counters (metrics), or NULL. */
	_Atomic uint64_t *put_count, *put_fails, *patch_count, *patch_fails;

	/*
	 * Optional: PUT /snapshot/load's field @override_key (new host
	 * resources for a restored instance, e.g. a tap per clone) applied
	 * by override() to the snapshot's configuration @c; 0, or -1 with
	 * the reason (a bad value, an instance the snapshot lacks).
	 */
	const char *override_key;
	int (*override)(struct config *c, struct json_t *v, char *err,
	                size_t errlen);

	/* The snapshot CONFIG section's records of the type (snapconfig.h). */
	const struct snapcfg_type *snap;
};

/* Every device type, in slot order; NULL-terminated. */
extern const struct vdev_type *const vdev_types[];

/* The device types; each defined in its device's *_vdev.c. */
extern const struct vdev_type vdev_blk, vdev_net, vdev_vsock, vdev_rng;
/* Their configuration schemas; each in its device's *_conf.c. */
extern const struct vdev_conf blk_conf, net_conf, vsock_conf, rng_conf;
/* Their snapshot records (snapconfig.h); each in its *_snapcfg.c. */
extern const struct snapcfg_type blk_snapcfg, net_snapcfg, vsock_snapcfg,
        rng_snapcfg;

/* A device of the VM. */
struct vdev {
	const struct vdev_type *type;
	struct virtio_mmio *t;
	unsigned index; /* among its type's, in the configuration */
};

/* A virtqueue's notify eventfd on the event loop. */
struct vq_watch {
	struct ev_handler h;
	struct virtio_mmio *t;
	unsigned q;
};

/* Virtio devices the configuration asks for. */
unsigned vdev_count(const struct config *c);

/*
 * The command line's device words: the announcement of every device
 * (virtio_mmio.device=...) and what the types add (root=), after the
 * types' checks of the configuration. 0 or -1 with @err.
 */
int vdev_cmdline(struct config *c, char *out, size_t len, char *err,
                 size_t errlen);

/*
 * Build every configured device (and the io_uring they share, locked
 * down once every file is in it); vdev_teardown undoes it, also half
 * done. vdev_attach serves the queues from the event loop.
 */
int vdev_build(struct vmm *m, char *err, size_t errlen);
void vdev_teardown(struct vmm *m);
int vdev_attach(struct vmm *m);

/* Instance @index of @type, or NULL when the VM has none (not built). */
struct virtio_mmio *vdev_find(struct vmm *m, const struct vdev_type *type,
                              unsigned index);

/* Each device's quiesce hook, @on or off. */
void vdev_quiesce(struct vmm *m, bool on);

/* The devices' filter_fd()s into @fds (VMM_MAX_VIRTIO); their count. */
unsigned vdev_filter_fds(struct vmm *m, int *fds);

/* Each device's exit_cleanup hook (the process ends, no teardown). */
void vdev_exit_cleanup(struct vmm *m);

#endif
