/*
 * libFuzzer target: kernel_parse() on arbitrary bytes, as a kernel image
 * file can hold anything. Whatever it accepts must describe segments that
 * lie inside the file and inside guest RAM, do not overlap, and hold the
 * entry point; whatever it rejects must come with a message.
 */
#include "x86/x86.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define RAM (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct kernel_image img;
	char err[512] = "";

	if (kernel_parse(data, len, RAM, &img, err, sizeof(err)) < 0) {
		if (!err[0])
			abort(); /* every refusal says why */
		return 0;
	}
	if (!img.nseg || img.nseg > KERNEL_MAX_SEGS)
		abort();
	for (unsigned i = 0; i < img.nseg; i++) {
		const struct kernel_seg *s = &img.seg[i];

		if (s->offset > len || s->filesz > len - s->offset ||
		    s->filesz > s->memsz || s->gpa < X86_HIMEM_START ||
		    s->memsz > RAM || s->gpa > RAM - s->memsz)
			abort();
		for (unsigned j = 0; j < i; j++)
			if (s->gpa < img.seg[j].gpa + img.seg[j].memsz &&
			    img.seg[j].gpa < s->gpa + s->memsz)
				abort();
	}
	if (img.kind == KERNEL_BZIMAGE &&
	    img.setup_hdr_off + img.setup_hdr_len > len)
		abort();
	return 0;
}
