#include "vm.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/mman.h>
#include <sys/mman.h>
#include <unistd.h>

/* Above the MMIO hole's devices, where Firecracker puts them too. */
#define KVM_TSS_ADDR      0xfffbd000ULL
#define KVM_IDENTITY_ADDR 0xfffbc000ULL

bool vm_host_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

static int set_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
                    void *host)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = vm->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		log_err("KVM_SET_USER_MEMORY_REGION slot %u: %s", slot,
		        strerror(errno));
		return -1;
	}
	return 0;
}

static int check_caps(struct vm *vm, enum log_level lvl)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "SET_TSS_ADDR" },
		{ KVM_CAP_PIT2, "PIT2" },
		{ KVM_CAP_EXT_CPUID, "EXT_CPUID" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			log_at(lvl, "/dev/kvm lacks KVM_CAP_%s", need[i].name);
			return -1;
		}
	}
	return 0;
}

int vm_init(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	pthread_mutex_init(&vm->park_lock, NULL);
	pthread_cond_init(&vm->park_cond, NULL);
	vm->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_fd < 0) {
		log_err("eventfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void vm_fini(struct vm *vm)
{
	vm_destroy(vm);
	if (vm->exit_fd >= 0)
		close(vm->exit_fd);
	vm->exit_fd = -1;
}

/* Errors are the caller's to report when done ahead (@lvl LOG_DEBUG). */
static int open_vm(struct vm *vm, enum log_level lvl)
{
	int ret;

	vm->pvm = vm_host_is_pvm();
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		log_at(lvl, "/dev/kvm: %s", strerror(errno));
		return -1;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		log_at(lvl, "/dev/kvm: API version %d, need %d", ret,
		       KVM_API_VERSION);
		return -1;
	}
	if (check_caps(vm, lvl) < 0)
		return -1;
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		log_at(lvl, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	vm->run_size = (size_t)ret;
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		log_at(lvl, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int vm_prepare(struct vm *vm)
{
	if (vm->vm_fd >= 0)
		return 0;
	if (open_vm(vm, LOG_DEBUG) < 0) {
		vm_destroy(vm);
		return -1;
	}
	return 0;
}

/*
 * Guest RAM sits between two PROT_NONE guard regions of its own
 * reservation, so a device bug that runs past either end of guest RAM
 * faults at once instead of writing into the VMM's heap. The guards are
 * 2 MiB, which also keeps huge-page RAM 2 MiB aligned; they cost address
 * space only. @flags and @fd are the RAM mapping's (anonymous, huge
 * pages, or a snapshot's memory file).
 */
static int map_guarded(struct vm *vm, int flags, int fd)
{
	uint64_t size = vm->mem_size + 3 * VM_GUARD_SIZE;
	uint8_t *map, *ram;

	map = mmap(NULL, size, PROT_NONE,
	           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return -1;
	ram = (uint8_t *)ALIGN_UP((uintptr_t)map + VM_GUARD_SIZE,
	                          VM_GUARD_SIZE);
	if (mmap(ram, vm->mem_size, PROT_READ | PROT_WRITE, flags | MAP_FIXED,
	         fd, 0) == MAP_FAILED) {
		int e = errno;

		munmap(map, size);
		errno = e;
		return -1;
	}
	vm->mem_map = map;
	vm->mem_map_size = size;
	vm->mem = ram;
	return 0;
}

int vm_create(struct vm *vm, uint64_t mem_mib, unsigned nvcpus,
              const struct vm_mem *mem)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	bool huge = mem->huge;

	/* An empty VM made ahead by vm_prepare(), or one made now. */
	if (vm->vm_fd < 0 && open_vm(vm, LOG_ERROR) < 0)
		return -1;
	/*
	 * Memory slots first: each KVM memory or I/O bus change waits for an
	 * SRCU grace period, which is instant while the VM is fresh and costs
	 * milliseconds once the irqchip's devices have been registered.
	 */
	vm->mem_size = mem_mib * MIB;
	vm->low_size = MIN(vm->mem_size, VM_MMIO_HOLE_START);
	/*
	 * MAP_NORESERVE: guest RAM is committed only as the guest touches it,
	 * so a large, mostly idle VM costs what it uses.
	 */
	/*
	 * Huge pages are reserved at mmap time: without MAP_NORESERVE a host
	 * short of them fails here, cleanly, instead of SIGBUS on a touch.
	 */
	if (huge)
		flags = (flags & ~MAP_NORESERVE) | MAP_HUGETLB | MAP_HUGE_2MB;
	/*
	 * A snapshot's memory file: MAP_PRIVATE, so nothing is read now,
	 * pages fault in from the page cache, writes are copy-on-write and
	 * every clone of the same file shares the pages it has not written.
	 */
	if (mem->file_fd >= 0) {
		flags = MAP_PRIVATE | MAP_NORESERVE;
		if (huge)
			log_warn("huge pages: a memory file is mapped in 4 KiB "
			         "pages (the Uffd backend keeps 2 MiB ones)");
		huge = false;
	}
	vm->dirty_log = mem->dirty_log;
	if (vm->dirty_log) {
		vm->dirty_vmm = calloc((vm->mem_size / 4096 + 63) / 64,
		                       sizeof(*vm->dirty_vmm));
		if (!vm->dirty_vmm) {
			log_err("out of memory for the dirty log");
			return -1;
		}
	}
	if (map_guarded(vm, flags, mem->file_fd) < 0) {
		log_err("cannot map %llu MiB of guest memory%s: %s",
		        (unsigned long long)mem_mib,
		        huge ? " in 2 MiB huge pages (are there enough in "
		               "/proc/sys/vm/nr_hugepages?)"
		             : "",
		        strerror(errno));
		return -1;
	}
	/*
	 * Guest RAM never goes to a child; the flag also keeps the mapping
	 * one VMA of its own in /proc/PID/smaps instead of merging with a
	 * neighbouring heap mapping (perf/run.sh measures it there).
	 */
	if (madvise(vm->mem, vm->mem_size, MADV_DONTFORK) < 0)
		log_debug("madvise(MADV_DONTFORK): %s", strerror(errno));
	/* "Transparent": the kernel backs what it can with 2 MiB pages
	 * (RAM is 2 MiB aligned in its reservation). A host with THP off
	 * refuses it: a warning, the VM runs in 4 KiB pages. */
	if (mem->thp && madvise(vm->mem, vm->mem_size, MADV_HUGEPAGE) < 0)
		log_warn("huge_pages Transparent: madvise(MADV_HUGEPAGE): %s",
		         strerror(errno));
	if (set_slot(vm, 0, 0, vm->low_size, vm->mem) < 0)
		return -1;
	if (vm->mem_size > vm->low_size &&
	    set_slot(vm, 1, VM_MMIO_HOLE_END, vm->mem_size - vm->low_size,
	             vm->mem + vm->low_size) < 0)
		return -1;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0) {
		log_err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	uint64_t ident = KVM_IDENTITY_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0) {
		log_err("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}

	vm->nvcpus = nvcpus;
	vm->vcpus = calloc(nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		log_err("out of memory");
		return -1;
	}
	for (unsigned i = 0; i < nvcpus; i++)
		vm->vcpus[i].fd = -1;
	return 0;
}

int vm_dirty_log(struct vm *vm, uint64_t *bitmap)
{
	uint64_t low_pages = vm->low_size / 4096;
	struct kvm_dirty_log d = { .slot = 0, .dirty_bitmap = bitmap };

	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
		log_err("KVM_GET_DIRTY_LOG slot 0: %s", strerror(errno));
		return -1;
	}
	if (vm->mem_size == vm->low_size)
		goto vmm;
	/* Slot 0 ends on a 2 MiB boundary (3 GiB at most): whole words. */
	d = (struct kvm_dirty_log){ .slot = 1,
		                    .dirty_bitmap = bitmap + low_pages / 64 };
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
		log_err("KVM_GET_DIRTY_LOG slot 1: %s", strerror(errno));
		return -1;
	}
vmm:
	for (uint64_t i = 0;
	     vm->dirty_vmm && i < (vm->mem_size / 4096 + 63) / 64; i++)
		bitmap[i] |= atomic_exchange(&vm->dirty_vmm[i], 0);
	return 0;
}

void vm_mark_dirty(const struct vm *vm, const void *p, size_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - vm->mem), first, last;

	if (!vm->dirty_vmm || !len || (const uint8_t *)p < vm->mem ||
	    off >= vm->mem_size)
		return;
	first = off / 4096;
	last = (off + MIN(len, vm->mem_size - off) - 1) / 4096;
	for (uint64_t pg = first; pg <= last; pg++)
		atomic_fetch_or_explicit(&vm->dirty_vmm[pg / 64],
		                         1ULL << (pg % 64),
		                         memory_order_relaxed);
}

void vm_mark_dirty_iov(const struct vm *vm, const struct iovec *iov, unsigned n,
                       size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		size_t k = MIN(len, iov[i].iov_len);

		vm_mark_dirty(vm, iov[i].iov_base, k);
		len -= k;
	}
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, vm->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	free(vm->cpuid);
	free(vm->cpuid_kvm);
	vm->cpuid_kvm = NULL;
	free((void *)vm->dirty_vmm);
	vm->dirty_vmm = NULL;
	vm->vcpus = NULL;
	vm->nvcpus = 0;
	vm->cpuid = NULL;
	if (vm->mem_map)
		munmap(vm->mem_map, vm->mem_map_size);
	vm->mem = vm->mem_map = NULL;
	vm->mem_map_size = 0;
	vm->mem_size = vm->low_size = 0;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->kvm_fd = vm->vm_fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
}

void *vm_gpa(const struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (!util_add_ok(gpa, len, &end))
		return NULL;
	if (end <= vm->low_size)
		return vm->mem + gpa;
	if (gpa >= VM_MMIO_HOLE_END &&
	    end - VM_MMIO_HOLE_END <= vm->mem_size - vm->low_size)
		return vm->mem + vm->low_size + (gpa - VM_MMIO_HOLE_END);
	return NULL;
}

void vm_request_exit(struct vm *vm, int code)
{
	bool expected = false;
	uint64_t one = 1;

	if (atomic_compare_exchange_strong(&vm->exit_set, &expected, true))
		atomic_store(&vm->exit_code, code);
	/* Parked vCPUs must see it and leave. */
	pthread_mutex_lock(&vm->park_lock);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->park_lock);
	/* Cannot fail short of a closed fd; the counter never saturates. */
	if (write(vm->exit_fd, &one, sizeof(one)) < 0)
		log_err("exit eventfd: %s", strerror(errno));
}

void vm_irq_pulse(struct vm *vm, unsigned irq)
{
	struct kvm_irq_level l = { .irq = irq, .level = 1 };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_err("KVM_IRQ_LINE %u: %s", irq, strerror(errno));
	l.level = 0;
	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}
