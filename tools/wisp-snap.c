/*
 * wisp-snap: offline tools for wisp snapshots.
 *
 *	wisp-snap merge BASE DIFF   copy the data of the diff memory file
 *	                            DIFF over BASE (Firecracker's rebase-snap)
 *	wisp-snap info STATE_FILE   the state file's version and sections
 *
 * Exit status: 0, 1 when a merge fails part-way, 2 for a bad command
 * line or a file that is not a valid snapshot.
 */
#include "snapfile.h"
#include "snapmem.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* State files hold registers and device states: far below this. */
#define INFO_MAX_SIZE (1ULL << 30)

static int usage(void)
{
	fprintf(stderr,
	        "usage: wisp-snap merge BASE DIFF\n"
	        "       wisp-snap info STATE_FILE\n"
	        "merge copies the data extents of the diff memory file DIFF\n"
	        "over the full memory file BASE, in place; info lists a state\n"
	        "file's sections.\n");
	return WISP_EXIT_USAGE;
}

/* A type's four bytes as the file holds them, when they are printable. */
static void print_type(uint32_t type)
{
	char s[5];

	for (int i = 0; i < 4; i++) {
		s[i] = (char)(type >> 8 * i);
		if (s[i] < 0x20 || s[i] > 0x7e) {
			printf("  0x%08x       ", type);
			return;
		}
	}
	s[4] = 0;
	printf("  0x%08x \"%s\"", type, s);
}

static int info(const char *path)
{
	struct snap_reader r;
	char err[PATH_MAX + 256];
	uint64_t payload = 0;

	if (snap_read_open(&r, path, INFO_MAX_SIZE, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp-snap: %s\n", err);
		return WISP_EXIT_USAGE;
	}
	for (unsigned i = 0; i < r.count; i++)
		payload += snap_read_nth(&r, i)->len;
	printf("%s: wisp snapshot, format version %u, %zu bytes, %u "
	       "sections, %llu bytes of payload\n",
	       path, r.version, r.size, r.count, (unsigned long long)payload);
	if (r.count)
		printf("  type              index       offset       length\n");
	for (unsigned i = 0; i < r.count; i++) {
		const struct snap_section *s = snap_read_nth(&r, i);

		print_type(s->type);
		printf(" %10u %12llu %12llu\n", s->index,
		       (unsigned long long)s->offset,
		       (unsigned long long)s->len);
	}
	snap_read_close(&r);
	return WISP_EXIT_OK;
}

int main(int argc, char **argv)
{
	char err[2 * PATH_MAX + 256];

	if (argc == 3 && !strcmp(argv[1], "info"))
		return info(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "merge")) {
		if (snap_mem_merge(argv[2], argv[3], err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp-snap: %s\n", err);
			return WISP_EXIT_ERROR;
		}
		return WISP_EXIT_OK;
	}
	return usage();
}
