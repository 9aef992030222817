/* The probe guest's shared helpers (probe.c) and device drivers. */
#ifndef WISP_PROBE_H
#define WISP_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PVH start_info and its tables (Xen's public hvm/start_info.h). */
struct start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

#define PVH_MAGIC 0x336ec578

/* Linux boot_params ("zero page") fields the probe reads. */
#define BP_E820_ENTRIES 0x1e8
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE   0x2d0

enum boot_kind { BOOT_PVH, BOOT_LINUX64 };

#define MAX_MEM 16

/* What the probe needs from either boot protocol. */
struct boot {
	const char *cmdline;
	unsigned nmem;
	struct memmap_entry mem[MAX_MEM];
};

void probe_main(uint64_t info, uint32_t kind);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/*
 * A pointer to guest physical address @a (identity-mapped). Laundered
 * through asm so the compiler does not treat low addresses as NULL.
 */
static inline void *phys(uint64_t a)
{
	void *p;

	__asm__("" : "=r"(p) : "0"(a));
	return p;
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

void put_str(const char *s);
void put_u64(uint64_t v);
void put_hex(uint64_t v);
__attribute__((noreturn)) void probe_exit(int status);
__attribute__((noreturn)) void fail(const char *why);
/* Poll the i8042 for Ctrl-Alt-Del (wisp's SendCtrlAltDel), then exit 0. */
__attribute__((noreturn)) void wait_ctrl_alt_del(void);

/* virtio-blk scenarios (blk.c): the device in the first virtio slot. */
void scenario_blk_rw(const struct boot *b);
void scenario_blk_ro(const struct boot *b);
void count_blk_init(const struct boot *b);
void count_blk_step(uint64_t n);
void scenario_blk_hostile(const struct boot *b);
void scenario_blk_requeue(const struct boot *b);
void scenario_blk_bench(const struct boot *b);

/* virtio-net scenarios (net.c): the first virtio-net device. */
void scenario_net_tx(const struct boot *b);
void scenario_net_rx(const struct boot *b);
void scenario_net_hostile(const struct boot *b);
void scenario_mmds(const struct boot *b);
void scenario_mmds_bench(const struct boot *b);
void scenario_mmds_hostile(const struct boot *b);
void scenario_net_bench(const struct boot *b);
/* virtio-vsock scenarios (vsock.c): the device announced with id 19. */
void scenario_vsock_host(const struct boot *b);
void scenario_vsock_guest(const struct boot *b);
void scenario_vsock_hostile(const struct boot *b);
void scenario_vsock_bench(const struct boot *b);
void scenario_vsock_reset(const struct boot *b);
/* rng.c */
void scenario_rng(const struct boot *b);

/* Continue in ring 3 at fn(arg) on @stack; never returns (start.S). */
__attribute__((noreturn)) void enter_user(void (*fn)(void *), void *arg,
                                          void *stack);

/*
 * Run hot loops in ring 3, where kvm-pvm runs guest code natively: fn(arg)
 * runs there and ends with user_exit(NULL) or user_exit(why); back in
 * ring 0 the run fails with @why, or @report() prints and the probe exits
 * with success. Ring 3 cannot print (kvm-pvm ignores IOPL).
 */
__attribute__((noreturn)) void run_user(void (*fn)(void *), void *arg,
                                        void (*report)(void));
__attribute__((noreturn)) void user_exit(const char *why);

#endif
