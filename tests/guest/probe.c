/*
 * The probe guest: a tiny freestanding program that exercises one piece
 * of the VMM per scenario and reports over COM1. The scenario comes from
 * the command line as probe=NAME. Success ends with an i8042 reset (wisp
 * exits 0); failure prints "probe: FAIL ..." and triple-faults (wisp exits
 * 3). Under QEMU the isa-debug-exit port 0xf4 gets the status as well.
 */
#include "probe.h"
#include "virtio.h"

#define COM1            0x3f8
#define I8042_DATA      0x60
#define I8042_CMD       0x64
#define DEBUG_EXIT_PORT 0xf4
#define BOOT_TIMER_ADDR 0xc0000000UL
#define LOW_4G          0x100000000ULL

static size_t str_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/*
 * One "rep outsb" per string: KVM turns it into a single exit, where a
 * loop of outb would cost one exit (and on kvm-pvm, emulation) per byte.
 * The UART's transmitter is always ready in both wisp and QEMU.
 */
void put_str(const char *s)
{
	size_t n = str_len(s);

	__asm__ volatile("rep outsb"
	                 : "+S"(s), "+c"(n)
	                 : "d"((uint16_t)COM1)
	                 : "memory");
}

void put_u64(uint64_t v)
{
	char buf[21];
	int i = 20;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_str(&buf[i]);
}

void put_hex(uint64_t v)
{
	char buf[19];
	int i = 18;

	buf[i] = '\0';
	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	put_str(&buf[i]);
}

__attribute__((noreturn)) void probe_exit(int status)
{
	if (status == 0)
		outb(I8042_CMD, 0xfe); /* reset: wisp stops with status 0 */
	outb(DEBUG_EXIT_PORT, (uint8_t)status);
	/*
	 * Still running: a monitor without either device. Fault with no IDT,
	 * which escalates to a triple fault, so no monitor mistakes this for
	 * success. The address is outside the 4 GiB identity map.
	 */
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = { 0, 0 };
	__asm__ volatile("lidt %0" : : "m"(no_idt));
	*(volatile uint64_t *)0xdead000000000ULL = 0;
	for (;;)
		__asm__ volatile("cli; hlt");
}

__attribute__((noreturn)) void fail(const char *why)
{
	put_str("probe: FAIL ");
	put_str(why);
	put_str("\n");
	probe_exit(1);
}

static uint8_t user_stack[16384] __attribute__((aligned(16)));
static const char *user_error; /* set in ring 3, reported in ring 0 */
static void (*user_report)(void);

void probe_user_returned(void);

__attribute__((noreturn)) void run_user(void (*fn)(void *), void *arg,
                                        void (*report)(void))
{
	user_report = report;
	enter_user(fn, arg, user_stack + sizeof(user_stack));
}

/*
 * Back to ring 0, which reports and exits: touch an address outside the
 * probe's 4 GiB map, and the page fault enters start.S's user_return.
 */
__attribute__((noreturn)) void user_exit(const char *why)
{
	user_error = why;
	*(volatile uint8_t *)phys(0x400000000000ULL) = 0; /* PML4[128] */
	__builtin_unreachable();
}

void probe_user_returned(void)
{
	if (user_error)
		fail(user_error);
	user_report();
	probe_exit(0);
}

static bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

/* The value of probe= on the command line, copied into @out. */
static bool find_scenario(const char *cmdline, char *out, size_t len)
{
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (starts_with(p, "probe=")) {
			size_t n = 0;

			p += 6;
			while (p[n] && p[n] != ' ' && n + 1 < len) {
				out[n] = p[n];
				n++;
			}
			out[n] = '\0';
			return true;
		}
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void scenario_hello(const struct boot *b)
{
	put_str("probe: hello\n");
	probe_exit(0);
}

/*
 * CPUID leaves 0x1 and 0x80000002 (the brand string's first 16 bytes) and
 * the PAT MSR, for the custom CPU template's tests (api.sh, snapshot.sh):
 * one line each. With loop=1 again and again, each round ended by
 * "probe: cpuid round N", so a restored snapshot shows what its CPU is.
 */
static void cpuid_report(void)
{
	static const uint32_t leaves[] = { 0x1, 0x80000002 };
	uint32_t lo, hi;

	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		uint32_t r[4];

		__asm__ volatile("cpuid"
		                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]),
		                   "=d"(r[3])
		                 : "a"(leaves[i]), "c"(0));
		put_str("probe: cpuid ");
		put_hex(leaves[i]);
		for (unsigned k = 0; k < 4; k++) {
			put_str(k ? " " : " eax=");
			if (k)
				put_str(k == 1   ? "ebx="
				        : k == 2 ? "ecx="
				                 : "edx=");
			put_hex(r[k]);
		}
		put_str("\n");
	}
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x277));
	put_str("probe: msr 0x277 ");
	put_hex((uint64_t)hi << 32 | lo);
	put_str("\n");
}

static void scenario_cpuid(const struct boot *b)
{
	bool loop = arg_u64(b->cmdline, "loop=", 0);

	for (uint64_t n = 0;; n++) {
		cpuid_report();
		if (!loop)
			probe_exit(0);
		put_str("probe: cpuid round ");
		put_u64(n);
		put_str("\n");
		for (int d = 0; d < 20000; d++)
			(void)inb(0x80);
	}
}

static void scenario_boot_timer(const struct boot *b)
{
	*(volatile uint8_t *)BOOT_TIMER_ADDR = 123;
	put_str("probe: boot-timer written\n");
	probe_exit(0);
}

static void scenario_memory(const struct boot *b)
{
	const struct memmap_entry *e = b->mem;
	uint64_t ram = 0, top = 0, low_top = 0;

	if (!b->nmem)
		fail("no memory map");
	for (uint32_t i = 0; i < b->nmem; i++) {
		uint64_t end = e[i].addr + e[i].size;

		if (e[i].type != 1)
			continue;
		ram += e[i].size;
		if (end > top)
			top = end;
		if (end <= LOW_4G && end > low_top)
			low_top = end;
	}
	if (!low_top)
		fail("no RAM below 4 GiB");
	/* The last word of RAM below 4 GiB must hold what we write. */
	volatile uint64_t *last = (volatile uint64_t *)(uintptr_t)(low_top - 8);
	*last = 0x5157155151571551ULL;
	if (*last != 0x5157155151571551ULL)
		fail("last RAM word below 4 GiB does not hold data");
	put_str("probe: memory ram_kib=");
	put_u64(ram >> 10);
	put_str(" top_mib=");
	put_u64(top >> 20);
	put_str(" last_word=");
	put_hex(low_top - 8);
	put_str(" ok\n");
	probe_exit(0);
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Find the MP floating pointer in the EBDA or the BIOS area. */
static const uint8_t *find_mp(void)
{
	static const uint64_t ranges[][2] = { { 0x9fc00, 0xa0000 },
		                              { 0xf0000, 0x100000 } };

	for (unsigned r = 0; r < 2; r++)
		for (uint64_t a = ranges[r][0]; a < ranges[r][1]; a += 16) {
			const uint8_t *p = (const uint8_t *)(uintptr_t)a;

			if (starts_with((const char *)p, "_MP_") &&
			    sum8(p, 16) == 0)
				return p;
		}
	return NULL;
}

static void scenario_vcpus(const struct boot *b)
{
	const uint8_t *fp = find_mp(), *hdr, *p;
	uint16_t len, count;
	unsigned cpus = 0, bsp = 0;

	if (!fp)
		fail("no MP floating pointer");
	hdr = (const uint8_t *)(uintptr_t)(*(const uint32_t *)(fp + 4));
	if (!starts_with((const char *)hdr, "PCMP"))
		fail("MP config table signature");
	len = *(const uint16_t *)(hdr + 4);
	count = *(const uint16_t *)(hdr + 34);
	if (sum8(hdr, len) != 0)
		fail("MP config table checksum");
	p = hdr + 44;
	for (unsigned i = 0; i < count && p < hdr + len; i++) {
		if (p[0] == 0) { /* processor */
			if (p[3] & 1)
				cpus++;
			if (p[3] & 2)
				bsp++;
			p += 20;
		} else {
			p += 8;
		}
	}
	if (bsp != 1)
		fail("MP table does not name exactly one boot CPU");
	put_str("probe: vcpus ");
	put_u64(cpus);
	put_str("\n");
	probe_exit(0);
}

/*
 * What Linux does on a panic with reboot=panic_warm: set the BIOS warm-boot
 * flag, then reset through the i8042. wisp must report a crash (exit 3).
 */
static void scenario_panic(const struct boot *b)
{
	put_str("probe: panicking\n");
	*(volatile uint16_t *)phys(0x472) = 0x1234;
	outb(I8042_CMD, 0xfe);
	fail("still running after the reset");
}

/*
 * An int3 with no IDT. Real KVM delivers #BP, which escalates to a triple
 * fault (wisp exits 3); kvm-pvm cannot emulate int3 at CPL 0 and stops
 * with an emulation failure (wisp exits 4 and logs the instruction bytes).
 */
static void scenario_int3(const struct boot *b)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = { 0, 0 };

	put_str("probe: int3\n");
	__asm__ volatile("lidt %0; int3" : : "m"(no_idt));
	fail("int3 returned");
}

static void scenario_halt(const struct boot *b)
{
	put_str("probe: halting\n");
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Read one line from COM1 (polling) and print it back. */
static void scenario_echo(const struct boot *b)
{
	char line[64];
	unsigned n = 0;

	put_str("probe: echo ready\n");
	while (n + 1 < sizeof(line)) {
		while (!(inb(COM1 + 5) & 1)) /* LSR: data ready */
			;
		char c = (char)inb(COM1);
		if (c == '\n' || c == '\r')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	put_str("probe: echo ");
	put_str(line);
	put_str("\n");
	probe_exit(0);
}

/*
 * Print "probe: tick N" over and over (pausing shows as ticks stopping),
 * and poll the i8042 keyboard: the Ctrl-Alt-Del make codes (scan code set
 * 2: 14 11 e0 71) end the run with a reset.
 */
static void scenario_kbd(const struct boot *b)
{
	static const uint8_t cad[] = { 0x14, 0x11, 0xe0, 0x71 };
	unsigned matched = 0;
	uint64_t tick = 0;

	put_str("probe: kbd ready\n");
	for (uint64_t i = 0;; i++) {
		if (inb(I8042_CMD) & 1) { /* output buffer full */
			uint8_t c = inb(I8042_DATA);

			matched = c == cad[matched] ? matched + 1
			                            : (c == cad[0] ? 1 : 0);
			if (matched == sizeof(cad)) {
				put_str("probe: ctrl-alt-del\n");
				probe_exit(0);
			}
		}
		if (i % 256 == 0) {
			put_str("probe: tick ");
			put_u64(tick++);
			put_str("\n");
		}
	}
}

/*
 * count: a counter in guest memory, printed line by line ("probe: count
 * N"), and 256 KiB of a pattern written once and checked a page a line: a
 * restored snapshot must go on counting from where it was, with the
 * memory it had. With blk=1 each number also goes through virtio-blk. Each line
 * waits ~1000 port reads (VM exits), so the rate depends on exits, not on how
 * fast this host emulates CPL 0.
 */
#define COUNT_PATTERN_WORDS ((256u << 10) / 8)

static uint64_t count_pattern[COUNT_PATTERN_WORDS];
static volatile uint64_t counter;

static uint64_t pattern_word(uint64_t i)
{
	return i * 0x9e3779b97f4a7c15ULL ^ 0x5157155151571551ULL;
}

static void scenario_count(const struct boot *b)
{
	uint64_t page = 0;
	bool blk = arg_u64(b->cmdline, "blk=", 0);

	for (uint64_t i = 0; i < COUNT_PATTERN_WORDS; i++)
		count_pattern[i] = pattern_word(i);
	if (blk)
		count_blk_init(b);
	put_str("probe: count ready\n");
	for (;;) {
		uint64_t base = (page++ % (COUNT_PATTERN_WORDS / 512)) * 512;

		for (uint64_t i = base; i < base + 512; i++)
			if (count_pattern[i] != pattern_word(i))
				fail("the memory pattern changed");
		counter++;
		if (blk)
			count_blk_step(counter);
		put_str("probe: count ");
		put_u64(counter);
		put_str("\n");
		for (int d = 0; d < 1000; d++)
			(void)inb(0x80);
	}
}

/*
 * dots: '.' on COM1 without end, one port write each: a restored
 * snapshot shows the guest running again by its next byte (snapbench).
 */
static void scenario_dots(const struct boot *b)
{
	put_str("probe: dots\n");
	for (;;)
		outb(COM1, '.');
}

/* Poll the keyboard until the Ctrl-Alt-Del make codes, then exit 0. */
__attribute__((noreturn)) void wait_ctrl_alt_del(void)
{
	static const uint8_t cad[] = { 0x14, 0x11, 0xe0, 0x71 };
	unsigned matched = 0;

	for (;;) {
		if (!(inb(I8042_CMD) & 1)) /* output buffer empty */
			continue;
		uint8_t c = inb(I8042_DATA);

		matched =
		        c == cad[matched] ? matched + 1 : (c == cad[0] ? 1 : 0);
		if (matched == sizeof(cad))
			probe_exit(0);
	}
}

/*
 * flood: kib= KiB of numbered 64-byte lines ("probe: flood 000042 xxx..."),
 * 16 lines to a string. Then "probe: flood done" and, with wait, the boot
 * timer (wisp logs it: a sign of life that needs no console) and the
 * keyboard polled for Ctrl-Alt-Del; without, the exit.
 */
static void scenario_flood(const struct boot *b)
{
	uint64_t lines = arg_u64(b->cmdline, "kib=", 256) * 16;
	static char chunk[16 * 64 + 1];

	for (uint64_t i = 0; i < lines; i += 16) {
		for (unsigned k = 0; k < 16; k++) {
			char *l = chunk + 64 * k;
			uint64_t n = i + k;

			for (unsigned j = 0; j < 13; j++)
				l[j] = "probe: flood "[j];
			for (int d = 18; d >= 13; d--, n /= 10)
				l[d] = (char)('0' + n % 10);
			l[19] = ' ';
			for (unsigned j = 20; j < 63; j++)
				l[j] = 'x';
			l[63] = '\n';
		}
		chunk[64 * (lines - i < 16 ? lines - i : 16)] = '\0';
		put_str(chunk);
	}
	put_str("probe: flood done\n");
	if (!arg_is(b->cmdline, "wait"))
		probe_exit(0);
	*(volatile uint8_t *)BOOT_TIMER_ADDR = 123;
	wait_ctrl_alt_del();
}

static const struct {
	const char *name;
	void (*run)(const struct boot *b);
} scenarios[] = {
	{ "count", scenario_count },
	{ "dots", scenario_dots },
	{ "flood", scenario_flood },
	{ "kbd", scenario_kbd },
	{ "blk-rw", scenario_blk_rw },
	{ "blk-ro", scenario_blk_ro },
	{ "blk-hostile", scenario_blk_hostile },
	{ "blk-requeue", scenario_blk_requeue },
	{ "blk-bench", scenario_blk_bench },
	{ "net-tx", scenario_net_tx },
	{ "net-rx", scenario_net_rx },
	{ "net-hostile", scenario_net_hostile },
	{ "net-bench", scenario_net_bench },
	{ "mmds", scenario_mmds },
	{ "mmds-bench", scenario_mmds_bench },
	{ "mmds-hostile", scenario_mmds_hostile },
	{ "vsock-host", scenario_vsock_host },
	{ "vsock-guest", scenario_vsock_guest },
	{ "vsock-hostile", scenario_vsock_hostile },
	{ "vsock-bench", scenario_vsock_bench },
	{ "vsock-reset", scenario_vsock_reset },
	{ "rng", scenario_rng },
	{ "hello", scenario_hello },
	{ "cpuid", scenario_cpuid },
	{ "boot-timer", scenario_boot_timer },
	{ "memory", scenario_memory },
	{ "vcpus", scenario_vcpus },
	{ "halt", scenario_halt },
	{ "panic", scenario_panic },
	{ "echo", scenario_echo },
	{ "int3", scenario_int3 },
};

static void boot_from_pvh(const struct start_info *si, struct boot *b)
{
	const struct memmap_entry *e;

	if (si->magic != PVH_MAGIC)
		fail("bad start_info magic");
	b->cmdline = (const char *)(uintptr_t)si->cmdline_paddr;
	if (si->version < 1 || !si->memmap_paddr)
		return;
	e = (const struct memmap_entry *)(uintptr_t)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries && b->nmem < MAX_MEM; i++)
		b->mem[b->nmem++] = e[i];
}

static void boot_from_zero_page(const uint8_t *bp, struct boot *b)
{
	unsigned n = bp[BP_E820_ENTRIES];

	b->cmdline = (const char *)(uintptr_t)(*(
	        const uint32_t *)(bp + BP_CMD_LINE_PTR));
	for (unsigned i = 0; i < n && b->nmem < MAX_MEM; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + i * 20;

		b->mem[b->nmem].addr = *(const uint64_t *)e;
		b->mem[b->nmem].size = *(const uint64_t *)(e + 8);
		b->mem[b->nmem].type = *(const uint32_t *)(e + 16);
		b->nmem++;
	}
}

void probe_main(uint64_t info, uint32_t kind)
{
	static struct boot b;
	char name[32];

	if (kind == BOOT_PVH)
		boot_from_pvh(phys(info), &b);
	else
		boot_from_zero_page(phys(info), &b);
	if (!b.cmdline || !find_scenario(b.cmdline, name, sizeof(name)))
		fail("no probe=NAME on the command line");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (str_eq(name, scenarios[i].name))
			scenarios[i].run(&b);
	put_str("probe: unknown scenario ");
	put_str(name);
	put_str("\n");
	probe_exit(1);
}
