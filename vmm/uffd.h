/*
 * The Uffd memory backend, with Firecracker's protocol: a VM restored
 * from a snapshot gets its guest memory on demand from a separate
 * page-fault handler process (tools/uffd-handler.c is one) instead of
 * reading the memory file up front.
 *
 * wisp maps guest RAM anonymous (MAP_PRIVATE | MAP_NORESERVE), registers
 * it with a userfaultfd for missing pages, connects to the handler's
 * Unix socket and sends one message: the JSON list of its memory regions,
 * with the userfaultfd attached as SCM_RIGHTS. Nothing else is ever said
 * on the socket. From then on the first touch of each page, by a vCPU,
 * by KVM on its behalf or by a device, waits until the handler fills it
 * (UFFDIO_COPY from the memory file). If the handler dies, that touch
 * waits forever: the handler's supervisor must kill the VM.
 *
 * The message is what Firecracker's send_uffd_handshake() sends (its
 * src/vmm/src/persist.rs and examples/uffd/uffd_utils.rs on main, and
 * docs/snapshotting/handling-page-faults-on-snapshot-resume.md): one
 * JSON array, one object per region, no spaces, for wisp exactly one
 * region since guest RAM is one host mapping:
 *
 *	[{"base_host_virt_addr":140245230419968,"size":268435456,
 *	  "offset":0,"page_size":4096,"page_size_kib":4096}]
 *
 * base_host_virt_addr is where the region is mapped in wisp, offset where
 * its bytes start in the memory file, page_size the mapping's page size
 * in bytes (4096, or 2 MiB for hugetlbfs). page_size_kib is Firecracker's
 * deprecated older name of the same field, also in bytes despite it,
 * still sent so handlers written against either name work. (Older
 * releases sent only the first three fields, or those and page_size_kib;
 * the handlers' JSON decoders ignore fields they do not know.)
 */
#ifndef WISP_UFFD_H
#define WISP_UFFD_H

#include <stddef.h>
#include <stdint.h>

/* sun_path holds 108 bytes with the terminating NUL. */
#define UFFD_SOCK_PATH_MAX 107

/*
 * A userfaultfd (O_CLOEXEC | O_NONBLOCK) past UFFDIO_API, with the
 * UFFD_FEATURE_* bits of @features required. Tries userfaultfd(2)
 * first, then /dev/userfaultfd (Linux 6.1+, where access is a file
 * permission rather than CAP_SYS_PTRACE). Returns the fd, or -1 with
 * one line naming both errors in @err.
 */
int uffd_open(uint64_t features, char *err, size_t errlen);

/*
 * Connect to the handler at @sock_path and send it the one-region
 * message for [@host_addr, +@size) at memory-file offset 0, with @uffd
 * attached. The socket is closed afterwards; @uffd stays the caller's.
 * Returns 0, or -1 with one line in @err ("is the handler running?").
 */
int uffd_handshake(int uffd, const char *sock_path, uint64_t host_addr,
                   uint64_t size, uint64_t page_size, char *err, size_t errlen);

/*
 * The whole backend set-up for guest RAM [@host_addr, +@size), mapped by
 * the caller (anonymous, MAP_PRIVATE | MAP_NORESERVE, or hugetlbfs with
 * @page_size its huge page size) and not touched yet: connect to the
 * handler (first, so a missing handler costs nothing), open a
 * userfaultfd, register the range for missing pages, send the message.
 * Call it before any vCPU runs and before wisp touches guest memory.
 * @page_size is a power of two, 4096 at least, dividing @host_addr and
 * @size. No non-cooperative events are enabled (wisp has no balloon), so
 * the caller must not madvise(MADV_DONTNEED) the range: the handler
 * would serve the file's page again, not zeros.
 *
 * Returns 0 with the userfaultfd in *@uffd_out, which the caller keeps
 * open for the VM's life (closing it changes nothing while the handler
 * holds its copy). On failure, -1 with one line in @err and nothing
 * registered.
 */
int uffd_attach(void *host_addr, uint64_t size, uint64_t page_size,
                const char *sock_path, int *uffd_out, char *err, size_t errlen);

#endif
