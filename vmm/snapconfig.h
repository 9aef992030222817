/*
 * The CONFIG section of a snapshot state file: the machine as configured
 * (vCPUs, RAM, drives, network interfaces, vsock), which a load builds
 * again before it restores any state. docs/snapshots.md has the format
 * for users; this is the contract.
 *
 * From state file format version 2 the section is a list of records, so
 * a field can be added without making earlier files unloadable. Every
 * integer little-endian, nothing aligned:
 *
 *	u32 version          SNAPCFG_VERSION (1): of this encoding
 *	records, back to back up to the section's end:
 *	  u16 tag            enum snapcfg_tag; bit SNAPCFG_SKIPPABLE set:
 *	                     a reader that does not know the tag ignores it
 *	  u16 index          the drive's or interface's slot; 0 otherwise
 *	  u32 length         of the value, in bytes
 *	  u8  value[length]
 *
 * Values: u8, u32, u64; a boolean is one byte, 0 or 1; a string carries
 * its NUL (length = strlen + 1, no other NUL, at most the field's size);
 * a MAC is 6 bytes; a token bucket is u64 size, u64 one_time_burst, u64
 * refill_time_ms. A (tag, index) appears at most once.
 *
 * A reader refuses a section whose version is higher than its own, an
 * unknown tag without SNAPCFG_SKIPPABLE (a field it cannot do without:
 * the machine would not be the one the guest knew), a record cut short
 * or running past the section, a value of the wrong length or out of
 * range. A field that is absent takes its default (the tag list says
 * which); a required one missing is refused. A writer adds a field as a
 * new tag, SNAPCFG_SKIPPABLE when a reader that ignores it still builds
 * the machine the guest knew. SNAPCFG_VERSION changes only when a tag's
 * meaning does, and then older readers refuse the section by its
 * version.
 *
 * Format version 1 state files hold the raw C structure of wisp before
 * this encoding (SNAPCFG_LEGACY_SIZE bytes), read by
 * snapcfg_decode_legacy(). Both decoders check every field as the API
 * checks a fresh value (ids, paths, interface names, MACs, CID, ranges,
 * one root drive, no id, tap or MAC used twice).
 */
#ifndef WISP_SNAPCONFIG_H
#define WISP_SNAPCONFIG_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPCFG_VERSION     1
#define SNAPCFG_SKIPPABLE   0x8000
#define SNAPCFG_RECORD_HEAD 8
/* The format-version-1 section: struct snap_config of wisp before. */
#define SNAPCFG_LEGACY_SIZE 35696

/*
 * The tags; the high byte names what the index counts. "required": no
 * default, refused when absent.
 */
enum snapcfg_tag {
	SNAPCFG_VCPUS = 0x0001,      /* u32, required: vcpu_count */
	SNAPCFG_MEM_MIB = 0x0002,    /* u64, required: mem_size_mib */
	SNAPCFG_HUGE_PAGES = 0x0003, /* u8 enum huge_pages; default None */
	SNAPCFG_DRIVES = 0x0004,     /* u32: how many drives; default 0 */
	SNAPCFG_NETS = 0x0005,       /* u32: how many interfaces; default 0 */
	SNAPCFG_SMT = 0x0006, /* u8 1 (written only when on); default 0 */

	/* index: the drive's slot, below SNAPCFG_DRIVES */
	SNAPCFG_DRIVE_ID = 0x0101,        /* string, required */
	SNAPCFG_DRIVE_PATH = 0x0102,      /* string, required */
	SNAPCFG_DRIVE_ROOT = 0x0103,      /* bool; default 0 */
	SNAPCFG_DRIVE_READ_ONLY = 0x0104, /* bool; default 0 */
	SNAPCFG_DRIVE_CACHE = 0x0105,     /* u8 enum snapcfg_cache; default
	                                     Writeback */
	SNAPCFG_DRIVE_IO_SYNC = 0x0106,   /* bool (io_engine Sync); default 0 */
	SNAPCFG_DRIVE_PARTUUID = 0x0107,  /* string; default none */
	SNAPCFG_DRIVE_BANDWIDTH = 0x0108, /* bucket; default no limit */
	SNAPCFG_DRIVE_OPS = 0x0109,       /* bucket; default no limit */

	/* index: the interface's slot, below SNAPCFG_NETS */
	SNAPCFG_NET_ID = 0x0201,           /* string, required */
	SNAPCFG_NET_TAP = 0x0202,          /* string, required */
	SNAPCFG_NET_MAC = 0x0203,          /* 6 bytes; default none */
	SNAPCFG_NET_RX_BANDWIDTH = 0x0204, /* bucket; default no limit */
	SNAPCFG_NET_RX_OPS = 0x0205,       /* bucket; default no limit */
	SNAPCFG_NET_TX_BANDWIDTH = 0x0206, /* bucket; default no limit */
	SNAPCFG_NET_TX_OPS = 0x0207,       /* bucket; default no limit */
	SNAPCFG_NET_MTU = 0x0208, /* u16, 68..65535; default the tap's */

	/* any of these: the VM has vsock; then CID and UDS are required */
	SNAPCFG_VSOCK_CID = 0x0301, /* u32 */
	SNAPCFG_VSOCK_UDS = 0x0302, /* string */
	SNAPCFG_VSOCK_ID = 0x0303,  /* string; default none */

	/* the VM has an entropy device: SNAPCFG_ENTROPY is there */
	SNAPCFG_ENTROPY = 0x0401,           /* bool, required: 1 */
	SNAPCFG_ENTROPY_BANDWIDTH = 0x0402, /* bucket; default no limit */
	SNAPCFG_ENTROPY_OPS = 0x0403,       /* bucket; default no limit */
};

/* SNAPCFG_DRIVE_CACHE: the host cache mode the drive was opened with. */
enum snapcfg_cache {
	SNAPCFG_CACHE_WRITEBACK, /* page cache, FLUSH offered */
	SNAPCFG_CACHE_UNSAFE,    /* page cache, no FLUSH (drive no_flush) */
	SNAPCFG_CACHE_NONE,      /* O_DIRECT (drive direct) */
};

/*
 * Who writes which records: the machine's own (vcpus, mem_mib,
 * huge_pages) are snapconfig.c's; a device type's are listed by its
 * struct snapcfg_type (virtio/<device>_snapcfg.c), the .snap of its
 * struct vdev_conf (vdev.h). The encoder and the decoder loop over
 * vdev_types[]: the machine's records, the types' count records, then
 * each type's instances, all in registry order. A new type takes the
 * next free scope and adds its tags to the list above.
 */

/* How a field is kept in its structure and in its record. */
enum snapcfg_kind {
	SNAPCFG_U32,    /* an unsigned or uint32_t; u32 */
	SNAPCFG_U64,    /* a uint64_t; u64 */
	SNAPCFG_BOOL,   /* a bool; one byte, 0 or 1 */
	SNAPCFG_STR,    /* a char array; no record when "" and optional */
	SNAPCFG_BUCKET, /* a struct bucket_config; no record when not set */
	SNAPCFG_CUSTOM, /* the field's get() and set(), a value of @len */
};

/* The longest value of a field that is not a string. */
#define SNAPCFG_VALUE_MAX 24

struct snapcfg_field {
	uint16_t tag; /* high byte: its type's scope */
	enum snapcfg_kind kind;
	size_t off, size; /* the member, in the type's instance (item()) */
	bool required;    /* no default: a section without it is refused */
	const char *name; /* the API's name, for messages */
	/*
	 * SNAPCFG_CUSTOM: a value of exactly @len bytes (<=
	 * SNAPCFG_VALUE_MAX); one byte above @top (when not 0) is refused.
	 * get() writes the value of instance @item to @v, false: none (no
	 * record); set() puts a value so checked into @item.
	 */
	uint32_t len;
	uint8_t top;
	bool (*get)(const void *item, uint8_t *v);
	void (*set)(void *item, const uint8_t *v);
};

/* A field kept in member @member of @type (struct drive_config ...). */
#define SNAPCFG_FIELD(type, member, tag_, kind_, required_, name_)             \
	{                                                                      \
		.tag = (tag_), .kind = (kind_), .off = offsetof(type, member), \
		.size = sizeof(((type *)0)->member), .required = (required_),  \
		.name = (name_)                                                \
	}

/* An optional field of @len bytes that get_ and set_ convert. */
#define SNAPCFG_CUSTOM_FIELD(tag_, len_, top_, get_, set_, name_)              \
	{                                                                      \
		.tag = (tag_), .kind = SNAPCFG_CUSTOM, .len = (len_),          \
		.top = (top_), .get = (get_), .set = (set_), .name = (name_)   \
	}

/* The records of a device type (struct vdev_conf's .snap). */
struct snapcfg_type {
	uint8_t scope; /* its tags' high byte (0 is the machine's) */
	/*
	 * The machine's record of how many instances there are (u32,
	 * default 0); 0 for a type of one or none (max 1), which is there
	 * when any of its records is.
	 */
	uint16_t count_tag;
	const char *count_name; /* the count record's API name: "drives" */
	const char *plural;     /* with a count: "9 drives, at most 8" */
	/* "drive 2: path_on_host", or "vsock: uds_path" without a count */
	const char *name;
	const struct snapcfg_field *fields; /* in the order written */
	unsigned nfields; /* at most 32: a bit each in the decoder's masks */
};

/*
 * The section for @c's machine: vcpus, mem_mib, huge_pages, the drives,
 * the interfaces and vsock; nothing else of @c is saved. Returns a
 * malloc'd buffer and its length in *@len, or NULL (out of memory).
 */
uint8_t *snapcfg_encode(const struct config *c, size_t *len);

/*
 * Decode a format-version-2 section of @len bytes at @buf into @c (which
 * is zeroed first; the fields above are set, the rest stay zero) and
 * check it with snapcfg_check(). Returns 0, or -1 with one line in @err
 * naming the record (its byte offset, tag and slot) or the field. Never
 * reads outside @buf.
 */
int snapcfg_decode(const void *buf, size_t len, struct config *c, char *err,
                   size_t errlen);

/* The same for a format-version-1 section (the raw structure). */
int snapcfg_decode_legacy(const void *buf, size_t len, struct config *c,
                          char *err, size_t errlen);

/*
 * The API's rules on @c's machine, as PUT requests would apply them one
 * by one: vCPUs 1..CONFIG_MAX_VCPUS, RAM in range (even with 2 MiB
 * pages), ids, paths, interface names, unicast MACs, partition UUIDs,
 * the CID, the vsock socket path, at most one root drive, no drive id,
 * interface id, tap or MAC twice. Returns 0, or -1 with the reason in
 * @err.
 */
int snapcfg_check(const struct config *c, char *err, size_t errlen);

#endif
