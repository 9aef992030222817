/*
 * The snapshot state file: a versioned, checksummed container of typed
 * sections (vCPU registers, device states, ...), written so that a crash
 * or a full disk never leaves a half-written file where a good one was.
 *
 * Layout, every integer little-endian, every section 8-byte aligned:
 *
 *	offset 0   u8  magic[8]    "WISPSNAP"
 *	       8   u32 version     SNAP_VERSION (2)
 *	      12   u32 flags       0
 *	      16   sections, one after the other:
 *	             u32 type      anything but SNAP_END
 *	             u32 index     tells apart sections of one type (vCPU n)
 *	             u64 length    of the payload, in bytes
 *	             u8  payload[length], then zeros up to a multiple of 8
 *	           trailer, the last 24 bytes of the file:
 *	             u32 type      SNAP_END
 *	             u32 0
 *	             u64 count     number of sections
 *	             u64 crc       CRC-64/XZ of every byte before it
 *
 * CRC-64/XZ (also called CRC-64/GO-ECMA) is the ECMA-182 polynomial
 * 0x42f0e1eba9ea3693, reflected, initial value and final xor all ones: the
 * CRC of xz files, check value 0x995dc9bbdf1939fa for "123456789". A
 * (type, index) pair appears at most once. The header and trailer carry
 * no payload sizes of their own, so a reader walks the sections from the
 * header and must land exactly on the trailer.
 *
 * The version is the layout of the sections' payloads, which the
 * container does not look into; the container is the same in every
 * version. It changes when a section's payload changes so that an older
 * reader would misread it, and a reader accepts every version from
 * SNAP_VERSION_MIN up (snap_reader.version says which it got). Version 2:
 * the CONFIG section is records (vmm/snapconfig.h); version 1 held a raw
 * C structure there.
 */
#ifndef WISP_SNAPFILE_H
#define WISP_SNAPFILE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC        "WISPSNAP"
#define SNAP_VERSION      2
#define SNAP_VERSION_MIN  1 /* the oldest version a reader accepts */
#define SNAP_END          0xffffffffu
#define SNAP_HEADER_SIZE  16
#define SNAP_SECTION_HEAD 16
#define SNAP_TRAILER_SIZE 24

/*
 * CRC-64/XZ of @len bytes, continuing from @crc: start with 0, feed the
 * result back in for the next piece. snap_crc64(0, "123456789", 9) is
 * 0x995dc9bbdf1939fa. Thread-safe.
 */
uint64_t snap_crc64(uint64_t crc, const void *buf, size_t len);

/* ---- writing -------------------------------------------------------- */

struct snap_writer {
	int fd;    /* -1 when no write is under way */
	int error; /* the first error met, an errno; reported by commit */
	uint64_t crc;
	uint64_t count;
	uint8_t *buf; /* 64 KiB, flushed when full */
	size_t used;
	struct snap_key *keys; /* (type, index) pairs written, for duplicates */
	size_t nkeys, capkeys;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	char msg[PATH_MAX + 128]; /* what the first error was */
};

/*
 * Start writing the snapshot @path: creates "<path>.tmp.<pid>" (O_EXCL,
 * mode 0600) in the same directory, so the final rename is atomic. One
 * writer per @path at a time in a process: a file already at the
 * temporary name is taken for the leftover of a dead process with the
 * same pid and replaced. A process killed while writing leaves its
 * temporary file (never the final name) behind. Returns 0, or -1 with
 * one line naming the file and the errno text in @err (missing
 * directory, no permission, ...); nothing is left behind.
 */
int snap_write_begin(struct snap_writer *w, const char *path, char *err,
                     size_t errlen);

/*
 * Append a section. Writes are buffered; the first error (I/O, a type of
 * SNAP_END, a (type, index) already written) is remembered and reported
 * by snap_write_commit(), so callers need not check each call. Returns 0,
 * or -1 once an error has been met.
 */
int snap_write_section(struct snap_writer *w, uint32_t type, uint32_t index,
                       const void *data, uint64_t len);

/*
 * Finish: the trailer, fsync the file, rename it over @path, fsync the
 * directory. Returns 0, or -1 with "snapshot 'path': cannot <step> 'file':
 * <errno text>" in @err; the temporary file is then removed and a file
 * already at @path is untouched, except when only the final directory
 * fsync failed (the new file is in place but may not survive a crash;
 * the message says so). The writer is finished either way.
 */
int snap_write_commit(struct snap_writer *w, char *err, size_t errlen);

/*
 * snap_write_commit() but for the rename: the complete, synced file is
 * left at the temporary name put in @tmp, for snap_tmp_place()
 * (snaptmp.h) or unlink(). On failure nothing is left.
 */
int snap_write_finish(struct snap_writer *w, char *tmp, size_t tmplen,
                      char *err, size_t errlen);

/* Give up: remove the temporary file. Safe after commit and twice. */
void snap_write_abort(struct snap_writer *w);

/* ---- reading -------------------------------------------------------- */

struct snap_section {
	uint32_t type;
	uint32_t index;
	uint64_t offset; /* of the payload in the file */
	uint64_t len;
};

struct snap_reader {
	const uint8_t *data;
	size_t size;
	uint8_t *owned; /* what snap_read_close() frees (NULL: borrowed) */
	uint32_t version;
	unsigned count;
	struct snap_section *sections; /* in file order */
};

/*
 * Read and check the whole snapshot @path, refusing a file larger than
 * @max_size. Checked, in order: the size (at least a header and a
 * trailer), the magic ("not a wisp snapshot"), the version (the message
 * names the file's and the supported ones), the CRC ("corrupted"), then
 * that every section lies inside the file, the walk lands on the trailer
 * and its count matches, and no (type, index) repeats. No input makes
 * the reader touch a byte outside the file. Returns 0, or -1 with one
 * line naming the file in @err and @r zeroed (closing it is harmless).
 */
int snap_read_open(struct snap_reader *r, const char *path, uint64_t max_size,
                   char *err, size_t errlen);

/*
 * The same checks on @len bytes at @buf, which @r borrows: @buf must
 * outlive @r. @name is the file name used in messages.
 */
int snap_read_buffer(struct snap_reader *r, const void *buf, size_t len,
                     const char *name, char *err, size_t errlen);

/*
 * The payload of section (@type, @index) and its length in *@len (if
 * @len is not NULL), or NULL when absent. The pointer lies in the
 * reader's buffer, 8-byte aligned relative to the file's start; copy out
 * with memcpy and convert from little-endian.
 */
const void *snap_read_section(const struct snap_reader *r, uint32_t type,
                              uint32_t index, uint64_t *len);

/* How many sections of @type the file holds. */
unsigned snap_read_count(const struct snap_reader *r, uint32_t type);

/* The @i-th section in file order, or NULL past the last (for listings). */
const struct snap_section *snap_read_nth(const struct snap_reader *r,
                                         unsigned i);

void snap_read_close(struct snap_reader *r);

#endif
