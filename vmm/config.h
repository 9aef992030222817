/*
 * The one internal configuration of a VM. The INI file (native format)
 * fills it; later the REST API and Firecracker JSON configs fill the same
 * structure.
 */
#ifndef WISP_CONFIG_H
#define WISP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_VCPUS   32
#define CONFIG_MIN_MEM_MIB 2ULL
/* 1 TiB; the host's overcommit decides what really fits. */
#define CONFIG_MAX_MEM_MIB (1ULL << 20)
#define CONFIG_PATH_MAX    4096
/* inih's INI_MAX_LINE as Debian builds it (line + newline + NUL). */
#define CONFIG_INI_LINE_MAX 200

/* Used when [boot] cmdline is absent (see docs/architecture.md). */
#define CONFIG_DEFAULT_CMDLINE                                                 \
	"console=ttyS0 reboot=k,panic_warm panic=1 nomodule"

/* 9: Kata's Firecracker configuration holds a root and 8 spare drives. */
#define CONFIG_MAX_DRIVES 9
#define CONFIG_MAX_NETS   8
#define CONFIG_ID_MAX     32
#define CONFIG_IFNAME_MAX 16  /* IFNAMSIZ */
#define CONFIG_UDS_MAX    108 /* sizeof(sun_path) */

/*
 * One token bucket of a rate limiter (Firecracker's TokenBucket): @size
 * tokens refilled every @refill_time_ms, plus a one-time burst. Stored and
 * enforced by the device's limiter (virtio/ratelimit.c).
 */
struct bucket_config {
	bool set;
	uint64_t size, one_time_burst, refill_time_ms;
};

struct rate_limiter_config {
	struct bucket_config bandwidth, ops;
};

/* [drive.ID]: a virtio-blk device backed by a raw image. */
struct drive_config {
	char id[CONFIG_ID_MAX];
	char path[CONFIG_PATH_MAX];
	bool root; /* the guest's root device: first, /dev/vda */
	bool read_only;
	bool direct;   /* cache = none: O_DIRECT, no host page cache */
	bool no_flush; /* cache = unsafe: FLUSH not offered to the guest */
	bool io_sync;  /* io_engine "Sync" asked; served by io_uring anyway */
	char partuuid[40]; /* root=PARTUUID=... instead of /dev/vda */
	struct rate_limiter_config rl;
};

/* A virtio-net interface on a host tap. */
struct net_config {
	char id[CONFIG_ID_MAX];
	char host_dev_name[CONFIG_IFNAME_MAX];
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu; /* told the guest (VIRTIO_NET_F_MTU); 0: the tap's */
	struct rate_limiter_config rx, tx;
};

struct vsock_config {
	bool present;
	uint32_t guest_cid; /* >= 3 */
	char uds_path[CONFIG_UDS_MAX];
	char id[CONFIG_ID_MAX]; /* Firecracker's deprecated vsock_id */
};

/* PUT /entropy: a virtio-rng device fed from the host's getrandom(). */
struct entropy_config {
	bool present;
	struct rate_limiter_config rl;
};

/* PUT /mmds/config: which interfaces reach the metadata service. */
struct mmds_config {
	bool set;
	int version;   /* 1 or 2 */
	uint32_t ipv4; /* host byte order; 169.254.x.y, x not 0 or 255 */
	bool imds_compat;
	unsigned nifaces;
	char ifaces[CONFIG_MAX_NETS][CONFIG_ID_MAX]; /* iface_ids */
};

/*
 * PUT /cpu-config: Firecracker's x86_64 custom CPU template. Each
 * modifier sets the bits of @filter to those of @value and keeps the rest
 * (a bitmap's 0 and 1 are in @filter, its x are not).
 */
#define CONFIG_CPU_MAX_LEAVES  128
#define CONFIG_CPU_MAX_REGMODS 512
#define CONFIG_CPU_MAX_MSRS    128
#define CONFIG_CPU_MAX_CAPS    64

enum cpu_reg { CPU_EAX, CPU_EBX, CPU_ECX, CPU_EDX };

struct cpu_reg_mod {
	enum cpu_reg reg;
	uint32_t filter, value;
};

/* One leaf and subleaf: its KVM flags, and regmods[first, first + n). */
struct cpu_leaf_mod {
	uint32_t leaf, subleaf, flags;
	unsigned first, n;
};

struct cpu_msr_mod {
	uint32_t addr;
	uint64_t filter, value;
};

/* kvm_capabilities: "N" must be there, "!N" need not be. */
struct cpu_kvm_cap {
	uint32_t cap;
	bool remove;
};

struct cpu_template {
	bool set; /* a PUT /cpu-config was made (even an empty one) */
	unsigned nleaves, nregmods, nmsrs, ncaps;
	struct cpu_leaf_mod leaves[CONFIG_CPU_MAX_LEAVES];
	struct cpu_reg_mod regmods[CONFIG_CPU_MAX_REGMODS];
	struct cpu_msr_mod msrs[CONFIG_CPU_MAX_MSRS];
	struct cpu_kvm_cap caps[CONFIG_CPU_MAX_CAPS];
};

/* The values are the snapshot CONFIG section's: append only. */
enum huge_pages { HUGE_PAGES_NONE, HUGE_PAGES_2M, HUGE_PAGES_THP };

struct config {
	unsigned vcpus;
	uint64_t mem_mib;
	bool smt;               /* two threads a core (vCPUs 1 or even) */
	bool track_dirty_pages; /* for diff snapshots */
	enum huge_pages huge_pages;
	char kernel[CONFIG_PATH_MAX];
	char initrd[CONFIG_PATH_MAX];     /* "" when none */
	char *cmdline;                    /* malloc'd; NULL means the default */
	char serial_out[CONFIG_PATH_MAX]; /* "" means stdout */
	bool serial_in;                   /* forward stdin to the guest */
	struct bucket_config serial_rl;   /* PUT /serial's rate_limiter */
	unsigned ndrives;
	struct drive_config drives[CONFIG_MAX_DRIVES];
	unsigned nnets;
	struct net_config nets[CONFIG_MAX_NETS];
	struct vsock_config vsock;
	struct entropy_config entropy;
	struct mmds_config mmds;
	struct cpu_template cpu;
};

/* Fill @c with defaults (1 vCPU, 128 MiB, serial on stdio). */
void config_init(struct config *c);
void config_free(struct config *c);

/*
 * Parse the INI file at @path into @c. On error returns -1 and writes one
 * line naming file, line, section, key and value into @err.
 */
int config_load_ini(struct config *c, const char *path, char *err,
                    size_t errlen);

/* A resource id (drive, interface, vsock): 1-31 of [A-Za-z0-9_-]. */
/* Firecracker's rule for drive and interface ids (letters, digits and
 * '_'), and wisp's length: 1 to CONFIG_ID_MAX - 1 bytes. */
bool config_id_ok(const char *id);

/*
 * One key of an INI section a device type reads (vdev.h, ini_key): the
 * section's name ("drive.root"), its id (after the '.', or NULL), the
 * key, its value, and the directory relative paths are relative to.
 */
struct config_ini_key {
	const char *section, *id, *key, *value, *dir;
};
/* "[section] key: " and the message into @err; returns -1. */
__attribute__((format(printf, 4, 5))) int
config_ini_err(const struct config_ini_key *k, char *err, size_t errlen,
               const char *fmt, ...);
/* yes/no, true/false, on/off, 1/0; -1 when none of them. */
int config_ini_bool(const char *v, bool *out);
/* The key's path (relative: to k->dir) into @out, CONFIG_PATH_MAX bytes;
 * @must_read: it must be readable now. 0 or -1 with the message. */
int config_ini_path(const struct config_ini_key *k, char *out, bool must_read,
                    char *err, size_t errlen);
/* "SIZE REFILL_MS [ONE_TIME_BURST]": a token bucket; 0 or -1 with the
 * message. */
int config_ini_bucket(const struct config_ini_key *k, struct bucket_config *b,
                      char *err, size_t errlen);

/* Checks that need the whole file (e.g. a kernel is given). */
int config_validate(const struct config *c, char *err, size_t errlen);

#endif
