/*
 * PVH entry of the probe guest. A PVH loader (wisp, QEMU) enters here in
 * 32-bit protected mode with paging off and EBX pointing at hvm_start_info.
 * We switch to long mode with a static identity map of the low 4 GiB and
 * call probe_main(start_info).
 *
 * The page tables are assembled into the image, not built at run time: on
 * a kvm-pvm host every instruction run at CPL 0 with interrupts off is
 * emulated, so the fewer the better.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define BOOT_PVH     0
#define BOOT_LINUX64 1

#ifndef PROBE_NO_PVH_NOTE
	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* name size */
	.long 8				/* descriptor size */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.quad pvh_start
	.balign 4
#endif

	.section .text.entry, "ax"
	.code32
	.globl pvh_start
pvh_start:
	/*
	 * First instruction: an OUT to the POST port, which every monitor
	 * ignores, so the monitor sees when the guest started running.
	 */
	outb %al, $0x80
	cli
	movl %ebx, %esi			/* keep start_info for probe_main */
	lgdt gdt_ptr
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0x620, %eax		/* PAE, OSFXSR, OSXMMEXCPT */
	movl %eax, %cr4
	movl $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl $0x80000011, %eax		/* PG, ET, PE */
	movl %eax, %cr0
	ljmp $0x08, $start64

	.code64
start64:
	movl $BOOT_PVH, %edx
common64:
	movl $0x10, %eax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movq $stack_top, %rsp
	movl %esi, %edi			/* start_info or boot_params */
	movl %edx, %esi			/* which of the two */
	call probe_main
1:	cli
	hlt
	jmp 1b

/*
 * Linux 64-bit boot protocol entry (the build without the PVH note): long
 * mode with the monitor's page tables, RSI = boot_params. Switch to our
 * own 4 GiB map and GDT, then join the PVH path.
 */
	.globl linux64_start
linux64_start:
	outb %al, $0x80
	cli
	movq $pml4, %rax
	movq %rax, %cr3
	lgdt gdt_ptr64
	pushq $0x08
	pushq $1f
	lretq
1:	movl $BOOT_LINUX64, %edx
	jmp common64

	.section .rodata
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x10: data */
gdt_end:
gdt_ptr:				/* lgdt in 32-bit mode: 4-byte base */
	.word gdt_end - gdt - 1
	.long gdt
gdt_ptr64:				/* lgdt in 64-bit mode: 8-byte base */
	.word gdt_end - gdt - 1
	.quad gdt

	.section .data
	.balign 4096
pml4:
	.quad pdpt + 0x3
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x3
	.quad pd + 0x1000 + 0x3
	.quad pd + 0x2000 + 0x3
	.quad pd + 0x3000 + 0x3
	.fill 508, 8, 0
pd:					/* 2048 x 2 MiB = 4 GiB, identity */
	.set page, 0
	.rept 2048
	.quad (page << 21) | 0x83	/* present, writable, 2 MiB */
	.set page, page + 1
	.endr

	.section .bss
	.balign 16
	.space 16384
stack_top:
