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
 * enter_user(fn, arg, stack): continue in ring 3 at fn(arg) on @stack,
 * with IOPL 3 (port I/O allowed) and interrupts off. kvm-pvm runs guest
 * ring-3 code natively, where CPL-0 code is emulated instruction by
 * instruction, so hot loops (benchmarks) belong here. Never returns: the
 * code ends the VM through the i8042 or by faulting.
 */
	.globl enter_user
enter_user:
	/*
	 * The way back: a page fault (or int $0x80) from ring 3 lands in
	 * user_return on the TSS's ring-0 stack. kvm-pvm ignores IOPL, so
	 * ring 3 cannot do port I/O itself and must come back to print and
	 * exit; and it does not deliver int $0x80, only faults.
	 */
	movq $tss, %rax
	movw %ax, gdt_tss + 2		/* TSS base, bits 0-23 */
	shrq $16, %rax
	movb %al, gdt_tss + 4
	movb %ah, gdt_tss + 7		/* bits 24-31 (the rest is 0) */
	movq $user_return, %rax
	movw %ax, idt_0x80		/* offset 0-15 */
	shrq $16, %rax
	movw %ax, idt_0x80 + 6		/* offset 16-31 */
	movq idt_0x80, %rax		/* the same gate for #PF (vector 14) */
	movq %rax, idt + 14 * 16
	movq idt_0x80 + 8, %rax
	movq %rax, idt + 14 * 16 + 8
	lidt idt_ptr
	movw $0x28, %ax
	ltr %ax
	movq %rdi, %rax
	movq %rsi, %rdi
	pushq $0x23			/* ss: user data, RPL 3 */
	pushq %rdx			/* rsp */
	pushq $0x3002			/* rflags: IOPL 3, IF 0 */
	pushq $0x1b			/* cs: user code, RPL 3 */
	pushq %rax			/* rip */
	iretq

/* Ring 0 again, after the fault or int $0x80: never returns. */
user_return:
	call probe_user_returned
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

	.section .data			/* GDT and IDT change at run time */
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x10: data */
	.quad 0x00affb000000ffff	/* 0x18: 64-bit user code */
	.quad 0x00cff3000000ffff	/* 0x20: user data */
gdt_tss:				/* 0x28: 64-bit TSS, base set at run time */
	.quad 0x0000890000000067
	.quad 0
gdt_end:
gdt_ptr:				/* lgdt in 32-bit mode: 4-byte base */
	.word gdt_end - gdt - 1
	.long gdt
gdt_ptr64:				/* lgdt in 64-bit mode: 8-byte base */
	.word gdt_end - gdt - 1
	.quad gdt

	.balign 16
idt:					/* vectors 14 and 0x80 only */
	.fill 0x80 * 2, 8, 0
idt_0x80:
	.word 0				/* offset 0-15, set at run time */
	.word 0x08			/* kernel code */
	.byte 0				/* no IST */
	.byte 0xee			/* present, DPL 3, interrupt gate */
	.word 0				/* offset 16-31 */
	.long 0				/* offset 32-63 */
	.long 0
idt_end:
idt_ptr:
	.word idt_end - idt - 1
	.quad idt
	.balign 16
tss:
	.long 0
	.quad kernel_stack_top		/* rsp0 */
	.fill 104 - 12, 1, 0

	.section .data
	.balign 4096
pml4:					/* U bit everywhere: ring 3 may run */
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x7
	.quad pd + 0x1000 + 0x7
	.quad pd + 0x2000 + 0x7
	.quad pd + 0x3000 + 0x7
	.fill 508, 8, 0
pd:					/* 2048 x 2 MiB = 4 GiB, identity */
	.set page, 0
	.rept 2048
	.quad (page << 21) | 0x87	/* present, writable, user, 2 MiB */
	.set page, page + 1
	.endr

	.section .bss
	.balign 16
	.space 16384
stack_top:
	.space 8192
kernel_stack_top:
