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

#define CONFIG_MAX_DRIVES 8
#define CONFIG_ID_MAX     32

/* [drive.ID]: a virtio-blk device backed by a raw image. */
struct drive_config {
	char id[CONFIG_ID_MAX];
	char path[CONFIG_PATH_MAX];
	bool root; /* the guest's root device: first, /dev/vda */
	bool read_only;
	bool direct;   /* cache = none: O_DIRECT, no host page cache */
	unsigned seen; /* keys given, to refuse repeats */
};

struct config {
	unsigned vcpus;
	uint64_t mem_mib;
	char kernel[CONFIG_PATH_MAX];
	char initrd[CONFIG_PATH_MAX];     /* "" when none */
	char *cmdline;                    /* malloc'd; NULL means the default */
	char serial_out[CONFIG_PATH_MAX]; /* "" means stdout */
	bool serial_in;                   /* forward stdin to the guest */
	unsigned ndrives;
	struct drive_config drives[CONFIG_MAX_DRIVES];
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

/* Checks that need the whole file (e.g. a kernel is given). */
int config_validate(const struct config *c, char *err, size_t errlen);

#endif
